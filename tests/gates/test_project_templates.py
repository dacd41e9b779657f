"""The gates of the estate's stacks, run on every SageMaker project template (Service Catalog product stack).

cdk-nag's validation plugins read every template of the cloud assembly, product templates included, so a finding
in a template already fails the default-estate synth (proved below on a deliberately bad product). cfn-lint (and
the pipeline-definition schema on build templates) are run here on each product template of the default estate
explicitly, and each template is snapshotted. Templates are named ``<model>-build`` and ``<model>-deploy``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stage
from aws_cdk import aws_servicecatalog as servicecatalog
from aws_cdk import aws_sns as sns
from cfnlint.api import ManualArgs, lint

from mlops_estate.nag import apply_nag_packs
from tests.gates.normalize import normalize
from tests.gates.test_cfn_lint import IGNORED
from tests.helpers import make_app, make_stack, resources_of_type
from tests.pipeline_schema import from_template, validate

PRODUCT_MODELS = ["churn", "spend-forecast"]
BUILD_TEMPLATES = [f"{m}-build" for m in PRODUCT_MODELS]
DEPLOY_TEMPLATES = [f"{m}-deploy" for m in PRODUCT_MODELS]
PRODUCT_TEMPLATES = BUILD_TEMPLATES + DEPLOY_TEMPLATES


def product_templates(estate) -> dict[str, dict[str, Any]]:
    """The product templates of the default estate's project portfolio, as ``<model>-build`` / ``<model>-deploy``."""
    assert estate.estate.projects is not None
    assembly = estate.outdir / "assembly-MlDev"
    out = {}
    for name, template in estate.estate.projects.templates.all_templates.items():
        out[name] = json.loads((Path(assembly) / template.template_file).read_text())
    return out


def test_default_estate_publishes_the_configured_models(default_estate):
    assert sorted(product_templates(default_estate)) == sorted(PRODUCT_TEMPLATES)


@pytest.mark.parametrize("product", PRODUCT_TEMPLATES)
def test_product_template_is_lint_clean(default_estate, product):
    template = product_templates(default_estate)[product]
    matches = lint(json.dumps(template), config=ManualArgs(regions=[default_estate.estate.ml_dev.region], ignore_checks=sorted(IGNORED)))
    assert [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches] == []


@pytest.mark.parametrize("product", BUILD_TEMPLATES)
def test_product_pipeline_definition_matches_the_schema(default_estate, product):
    (pipeline,) = resources_of_type(product_templates(default_estate)[product], "AWS::SageMaker::Pipeline").values()
    validate(from_template(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]))


@pytest.mark.parametrize("product", PRODUCT_TEMPLATES)
def test_product_template_snapshot(default_estate, snapshot, product):
    assert normalize(product_templates(default_estate)[product]) == snapshot


@pytest.mark.parametrize("product", PRODUCT_TEMPLATES)
def test_product_template_creates_no_data_store(default_estate, product):
    """A project could orphan a bucket or a key: the templates use the estate's, found through SSM."""
    types = {r["Type"] for r in product_templates(default_estate)[product]["Resources"].values()}
    assert not types & {"AWS::S3::Bucket", "AWS::KMS::Key"}


def test_nag_reads_product_templates():
    """A nag finding inside a product stack fails synthesis like one in an ordinary stack."""
    app = make_app()
    stack = make_stack(Stage(app, "Gate"))
    product = servicecatalog.ProductStack(stack, "BadTemplate")
    sns.Topic(product, "Unencrypted")
    servicecatalog.CloudFormationProduct(stack, "Product", product_name="bad", owner="tests", product_versions=[
        servicecatalog.CloudFormationProductVersion(
            cloud_formation_template=servicecatalog.CloudFormationTemplate.from_product_stack(product))])
    apply_nag_packs(app)
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    assert "Gate/Test/BadTemplate/Unencrypted" in str(failure.value)
    assert "HIPAA.Security-SNSEncryptedKMS" in str(failure.value)


def test_guardrail_check_reaches_product_templates():
    """The estate's synth-time SCP mirror visits resources inside product stacks too."""
    from aws_cdk import Aspects
    from aws_cdk import aws_sagemaker as sagemaker

    from mlops_estate.guardrail_check import GuardrailCheck
    from mlops_estate.guardrails import GuardrailOptions
    from tests.helpers import default_config

    app = make_app()
    stage = Stage(app, "Gate")
    Aspects.of(stage).add(GuardrailCheck(GuardrailOptions.from_config(default_config())))
    stack = make_stack(stage)
    product = servicecatalog.ProductStack(stack, "Template")
    sagemaker.CfnEndpointConfig(product, "NoKey", production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name="AllTraffic", model_name="m", initial_instance_count=1, instance_type="ml.m5.large")])
    servicecatalog.CloudFormationProduct(stack, "Product", product_name="p", owner="tests", product_versions=[
        servicecatalog.CloudFormationProductVersion(
            cloud_formation_template=servicecatalog.CloudFormationTemplate.from_product_stack(product))])
    with pytest.raises(Exception, match=r"Gate/Test/Template/NoKey\] denied by guardrail SCP statement Deny\w*KmsKey"):
        app.synth()


# What the launch role must be allowed to create each resource type a template holds.
CREATE_ACTIONS = {
    "AWS::IAM::Role": "iam:CreateRole",
    "AWS::IAM::ManagedPolicy": "iam:CreatePolicy",
    "AWS::SageMaker::Pipeline": "sagemaker:CreatePipeline",
    "AWS::Events::Rule": "events:PutRule",
    "AWS::SageMaker::Model": "sagemaker:CreateModel",
    "AWS::SageMaker::EndpointConfig": "sagemaker:CreateEndpointConfig",
    "AWS::SageMaker::Endpoint": "sagemaker:CreateEndpoint",
    "AWS::SageMaker::DataQualityJobDefinition": "sagemaker:CreateDataQualityJobDefinition",
    "AWS::SageMaker::MonitoringSchedule": "sagemaker:CreateMonitoringSchedule",
    "AWS::CloudWatch::Alarm": "cloudwatch:PutMetricAlarm",
    "AWS::CloudWatch::CompositeAlarm": "cloudwatch:PutCompositeAlarm",
    "AWS::CloudWatch::Dashboard": "cloudwatch:PutDashboard",
    "AWS::Logs::LogGroup": "logs:CreateLogGroup",
    "AWS::SNS::Topic": "sns:CreateTopic",
    "AWS::SNS::TopicPolicy": "sns:SetTopicAttributes",
}


@pytest.mark.parametrize("product", PRODUCT_TEMPLATES)
def test_launch_role_can_create_every_resource_type_of_the_template(default_estate, product):
    """A resource type added to a template without extending the launch role would fail every launch."""
    types = {r["Type"] for r in product_templates(default_estate)[product]["Resources"].values()}
    assert types <= set(CREATE_ACTIONS), f"no launch-role permission known for {sorted(types - set(CREATE_ACTIONS))}"
    (launch,) = [p for p in resources_of_type(default_estate.templates["MlDev/Projects"], "AWS::IAM::ManagedPolicy").values()
                 if "what the SageMaker project templates create" in p["Properties"]["Description"]]
    allowed = {a for s in launch["Properties"]["PolicyDocument"]["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {CREATE_ACTIONS[t] for t in types} <= allowed


def _actions(statement: dict[str, Any]) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else list(statement["Action"])


@pytest.mark.parametrize("product", PRODUCT_TEMPLATES)
def test_project_boundary_admits_every_action_the_template_grants(default_estate, product):
    """The boundary caps every project role: an action a template grants outside it would fail at run time."""
    from fnmatch import fnmatchcase

    (boundary,) = [p for p in resources_of_type(default_estate.templates["MlDev/Projects"], "AWS::IAM::ManagedPolicy").values()
                   if "permissions boundary" in p["Properties"]["Description"]]
    allowed = [a for s in boundary["Properties"]["PolicyDocument"]["Statement"] for a in _actions(s)]
    template = product_templates(default_estate)[product]
    granted = {a for p in resources_of_type(template, "AWS::IAM::ManagedPolicy").values()
               for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow" for a in _actions(s)}
    assert granted
    assert sorted(a for a in granted if not any(fnmatchcase(a, pattern) for pattern in allowed)) == []
