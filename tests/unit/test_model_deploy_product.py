"""ModelDeployProduct: the model-deploy SageMaker project template (validation endpoint, data-quality monitor,
promotion outputs), and what ProjectTemplates grants for it (launch role, boundary, persona creator policy)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import Stage
from aws_cdk.assertions import Template

from mlops_estate.config.estate import EstateConfig
from mlops_estate.security.encryption import DataClass, ImportedKeys
from mlops_estate.projects.model_deploy import (
    ModelDeployProduct,
    deploy_project_id_length,
    model_package_arn_pattern,
    partition_of,
)
from mlops_estate.projects.templates import ProjectTemplates
from tests.helpers import TEST_ACCOUNT, default_estate_dict, make_app, make_stack, model_monitor_estate_dict, resources_of_type
from tests.unit.test_projects import _build, _config, _launch_statements, _policy, _product_template, _statements

PROJECT = {"Ref": "SageMakerProjectId"}
REGISTRY = "arn:aws:sagemaker:eu-west-1:222222222222:model-package"


def _deploy(config: EstateConfig) -> tuple[ProjectTemplates, Template, dict[str, dict[str, Any]]]:
    app = make_app()
    stack = make_stack(Stage(app, "Unit"))
    templates = _build(stack, config)
    assembly = app.synth()
    return templates, Template.from_stack(stack), {
        name: _product_template(assembly, product) for name, product in templates.deploy_templates.items()}


@pytest.fixture(scope="module")
def deployed() -> tuple[ProjectTemplates, Template, dict[str, dict[str, Any]]]:
    """The default estate's deploy templates: churn monitored with the portable drift engine."""
    return _deploy(_config(personas=["data_scientist"], models=["churn", "spend-forecast"]))


@pytest.fixture(scope="module")
def deployed_model_monitor() -> tuple[ProjectTemplates, Template, dict[str, dict[str, Any]]]:
    """churn on the model_monitor engine: its deploy template runs a data-quality Model Monitor schedule."""
    data = model_monitor_estate_dict()
    data["projects"] = {"personas": ["data_scientist"], "models": ["churn", "spend-forecast"]}
    return _deploy(EstateConfig.from_dict(data, "test (model_monitor engine)"))


def _named(value: Any) -> bool:
    """A name rendered as "<estate>-project-" + the project's id + anything."""
    parts = value["Fn::Join"][1] if isinstance(value, dict) and "Fn::Join" in value else []
    return len(parts) >= 2 and parts[0].endswith("mlops-project-") and parts[1] == PROJECT


def test_model_package_pattern_admits_only_versions_of_the_models_group():
    pattern = re.compile(model_package_arn_pattern(_config(), next(m for m in _config().models if m.name == "churn")))
    assert pattern.match(f"{REGISTRY}/mlops-churn/1")
    assert pattern.match(f"{REGISTRY}/mlops-churn/123456")
    for other in (
        f"{REGISTRY}/mlops-spend-forecast/1",  # another model's group
        f"{REGISTRY}/mlops-churn-v2/1",  # a group that only starts like it
        f"{REGISTRY}/mlops-churn",  # no version
        f"{REGISTRY}/mlops-churn/1/x",
        "arn:aws:sagemaker:eu-west-1:444444444444:model-package/mlops-churn/1",  # not the registry account
        "arn:aws:sagemaker:us-east-1:222222222222:model-package/mlops-churn/1",  # not the registry region
        f"{REGISTRY}-group/mlops-churn",
        f"{REGISTRY}/mlops-churn/0",  # versions count from 1
        f"{REGISTRY}/mlops-churn/000001",
        f"{REGISTRY}/mlops-churn/1234567",  # more digits than a name can carry
        "arn:aws-cn:sagemaker:eu-west-1:222222222222:model-package/mlops-churn/1",  # not eu-west-1's partition
        "arn:awsx:sagemaker:eu-west-1:222222222222:model-package/mlops-churn/1",
    ):
        assert not pattern.match(other), other
    assert [partition_of(r) for r in ("eu-west-1", "cn-north-1", "us-gov-west-1", "us-east-1")] == [
        "aws", "aws-cn", "aws-us-gov", "aws"]


def test_deploy_template_parameters_are_validated(deployed):
    _, _, products = deployed
    params = products["churn"]["Parameters"]
    arn = params["ModelPackageArn"]
    assert arn["Type"] == "String"
    assert arn["AllowedPattern"] == model_package_arn_pattern(_config(), next(m for m in _config().models if m.name == "churn"))
    assert "mlops-churn" in arn["ConstraintDescription"]
    assert params["SageMakerProjectName"]["MaxLength"] == 32 and params["SageMakerProjectId"]["MaxLength"] == 20
    ssm = {k: p for k, p in params.items() if p["Type"] == "AWS::SSM::Parameter::Value<String>"}
    assert sorted(ssm) == sorted(["EstateVpcId", "EstateSecurityGroupId", "EstateDataBucket", "EstateDataKeyArn",
                                  "EstateModelsKeyArn", "EstateMonitoringKeyArn", "EstateLogsKeyArn", "EstateBoundaryArn",
                                  # the portable drift engine: the shared functions, and drift.py in the artifacts bucket
                                  "EstateDriftResolverArn", "EstateDriftPublisherArn", "EstateArtifactsBucket",
                                  "EstateSubnet0", "EstateSubnet1"])
    assert all(p["AllowedValues"] == [p["Default"]] for p in ssm.values())


def test_project_ids_shrink_so_every_name_fits_sagemaker():
    assert deploy_project_id_length("mlops") == 20
    # The longest estate name: <estate>-project- (29) + project id + "-<6-digit version>-<8-hex hash>" (16) <= 63.
    assert deploy_project_id_length("a" * 20) == 18
    # SageMaker's project ids (p- and 12 characters) fit the longest estate name.
    assert len("p-abcdefghijkl") <= deploy_project_id_length("a" * 20)


def test_deploy_template_creates_no_data_store_and_no_asset(deployed):
    _, _, products = deployed
    for template in products.values():
        types = {r["Type"] for r in template["Resources"].values()}
        assert not types & {"AWS::S3::Bucket", "AWS::KMS::Key", "AWS::IAM::Policy", "AWS::Lambda::Function"}
        assert "AssetParameters" not in json.dumps(template) and "cdk-hnb659fds-assets" not in json.dumps(template)
        roles = resources_of_type(template, "AWS::IAM::Role")
        assert roles and all(r["Properties"]["PermissionsBoundary"] == {"Ref": "EstateBoundaryArn"} for r in roles.values())


def test_everything_named_starts_with_the_project(deployed):
    _, _, products = deployed
    template = products["churn"]
    (endpoint,) = resources_of_type(template, "AWS::SageMaker::Endpoint").values()
    assert endpoint["Properties"]["EndpointName"] == {"Fn::Join": ["", ["mlops-project-", PROJECT]]}
    (model,) = resources_of_type(template, "AWS::SageMaker::Model").values()
    (config,) = resources_of_type(template, "AWS::SageMaker::EndpointConfig").values()
    name = model["Properties"]["ModelName"]
    # Model and config are replaced together: the package version and one hash over both are in their name.
    assert _named(name) and config["Properties"]["EndpointConfigName"] == name
    version = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "ModelPackageArn"}]}]}
    assert name["Fn::Join"][1][3] == version and re.fullmatch(r"-[0-9a-f]{8}", name["Fn::Join"][1][4])
    (pipeline,) = resources_of_type(template, "AWS::SageMaker::Pipeline").values()
    assert pipeline["Properties"]["PipelineName"] == {"Fn::Join": ["", ["mlops-project-", PROJECT, "-drift-check"]]}
    (dashboard,) = resources_of_type(template, "AWS::CloudWatch::Dashboard").values()
    (log_group,) = resources_of_type(template, "AWS::Logs::LogGroup").values()  # the drift functions' are the estate's
    assert _named(dashboard["Properties"]["DashboardName"])
    assert log_group["Properties"]["LogGroupName"] == {"Fn::Join": ["", ["/aws/sagemaker/Endpoints/mlops-project-", PROJECT]]}
    alarms = [*resources_of_type(template, "AWS::CloudWatch::Alarm").values(),
              *resources_of_type(template, "AWS::CloudWatch::CompositeAlarm").values()]
    named = [a["Properties"] for a in alarms if "AlarmName" in a["Properties"]]
    assert named and all(_named(a["AlarmName"]) for a in named)


def test_validation_endpoint_captures_under_the_project_prefix_with_the_estate_keys(deployed):
    _, _, products = deployed
    template = products["churn"]
    (config,) = resources_of_type(template, "AWS::SageMaker::EndpointConfig").values()
    props = config["Properties"]
    assert props["KmsKeyId"] == {"Ref": "EstateModelsKeyArn"}
    (variant,) = props["ProductionVariants"]
    assert variant["InstanceType"] == "ml.m5.large" and variant["InitialInstanceCount"] == 1
    capture = props["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 100
    assert capture["KmsKeyId"] == {"Ref": "EstateDataKeyArn"}
    assert capture["DestinationS3Uri"] == {"Fn::Join": ["", ["s3://", {"Ref": "EstateDataBucket"}, "/data-capture/mlops-project-",
                                                             PROJECT]]}
    (model,) = resources_of_type(template, "AWS::SageMaker::Model").values()
    assert model["Properties"]["PrimaryContainer"] == {"ModelPackageName": {"Ref": "ModelPackageArn"}}
    assert model["Properties"]["EnableNetworkIsolation"] is True
    # One fixed instance (no autoscaling); the log group is retained (named by the project id, never reused).
    assert not resources_of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    (log_group,) = resources_of_type(template, "AWS::Logs::LogGroup").values()
    assert log_group["DeletionPolicy"] == "Retain" and log_group["Properties"]["KmsKeyId"] == {"Ref": "EstateLogsKeyArn"}
    (topic,) = resources_of_type(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "EstateMonitoringKeyArn"}


def test_the_portable_drift_check_runs_data_quality_only_and_reports_under_the_project_prefix(deployed):
    _, _, products = deployed
    template = products["churn"]
    assert not {r["Type"] for r in template["Resources"].values()} & {
        "AWS::SageMaker::MonitoringSchedule", "AWS::SageMaker::DataQualityJobDefinition"}
    (schedule,) = resources_of_type(template, "AWS::Scheduler::Schedule").values()  # no model-quality schedule
    assert schedule["Properties"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    (pipeline,) = resources_of_type(template, "AWS::SageMaker::Pipeline").values()
    body = json.dumps(pipeline["Properties"]["PipelineDefinition"])
    assert '{\\"Ref\\": \\"EstateDriftResolverArn\\"}' in body or "EstateDriftResolverArn" in body
    assert "/code/churn/drift.py" in body and "EstateArtifactsBucket" in body
    # The job writes only under <endpoint>/*, which does not reach the captures (data-capture/<endpoint>).
    (job_policy,) = [p for k, p in resources_of_type(template, "AWS::IAM::ManagedPolicy").items() if k.startswith("DriftPipelineJobRole")]
    writes = [st for st in job_policy["Properties"]["PolicyDocument"]["Statement"] if "s3:PutObject" in st["Action"]]
    objects = [json.dumps(r) for st in writes for r in st["Resource"] if json.dumps(r).endswith('"/*"]]}')]
    assert objects and all(o.endswith('"/mlops-project-", ' + json.dumps(PROJECT) + ', "/*"]]}') for o in objects), objects


def test_only_the_data_quality_monitor_runs_and_reports_under_the_project_prefix_with_model_monitor(deployed_model_monitor):
    _, _, products = deployed_model_monitor
    template = products["churn"]
    (schedule,) = resources_of_type(template, "AWS::SageMaker::MonitoringSchedule").values()
    (definition,) = resources_of_type(template, "AWS::SageMaker::DataQualityJobDefinition").values()
    assert _named(schedule["Properties"]["MonitoringScheduleName"])
    assert _named(definition["Properties"]["JobDefinitionName"])
    for kind in ("ModelQuality", "ModelBias", "ModelExplainability"):
        assert not resources_of_type(template, f"AWS::SageMaker::{kind}JobDefinition")
    output = definition["Properties"]["DataQualityJobOutputConfig"]
    assert output["KmsKeyId"] == {"Ref": "EstateMonitoringKeyArn"}
    uri = output["MonitoringOutputs"][0]["S3Output"]["S3Uri"]["Fn::Join"][1]
    assert uri[:4] == ["s3://", {"Ref": "EstateDataBucket"}, "/mlops-project-", PROJECT]
    baseline = definition["Properties"]["DataQualityBaselineConfig"]["ConstraintsResource"]["S3Uri"]
    assert baseline == "s3://mlops-monitoring-baselines/churn/data-quality/constraints.json"
    # The monitor writes reports under <endpoint>/*, which does not reach the captures (data-capture/<endpoint>).
    writes = [s for p in resources_of_type(template, "AWS::IAM::ManagedPolicy").values()
              for s in p["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "WriteReports"]
    assert [json.dumps(s["Resource"]) for s in writes] == [json.dumps({"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Ref": "EstateDataBucket"}, "/mlops-project-", PROJECT, "/*"]]})]


def test_outputs_show_the_endpoint_and_where_approval_leads(deployed, deployed_model_monitor):
    _, _, products = deployed
    outputs = products["churn"]["Outputs"]
    assert outputs["EndpointName"]["Value"]["Fn::GetAtt"][1] == "EndpointName"
    assert outputs["ModelPackageGroupName"]["Value"] == "mlops-churn"
    assert outputs["PromotionPipelineName"]["Value"] == "mlops-churn-promotion"
    assert outputs["DriftPipelineName"]["Value"] == {"Fn::Join": ["", ["mlops-project-", PROJECT, "-drift-check"]]}
    assert _named(deployed_model_monitor[2]["churn"]["Outputs"]["DataQualitySchedule"]["Value"])


def test_unmonitored_model_gets_a_realtime_endpoint_without_monitor(deployed):
    _, _, products = deployed
    template = products["spend-forecast"]  # serverless in staging, no monitoring config
    (config,) = resources_of_type(template, "AWS::SageMaker::EndpointConfig").values()
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["InstanceType"] == "ml.m5.large" and "ServerlessConfig" not in variant
    assert config["Properties"]["DataCaptureConfig"]["EnableCapture"] is True
    assert not resources_of_type(template, "AWS::SageMaker::MonitoringSchedule")
    assert "DataQualitySchedule" not in template["Outputs"]
    assert "EstateVpcId" in template["Parameters"]  # the endpoint's network interfaces stay in the estate's VPC


def test_launch_policy_covers_what_the_deploy_template_creates(deployed):
    _, template, _ = deployed
    statements = _launch_statements(template)
    arn = f"arn:aws:sagemaker:eu-west-1:{TEST_ACCOUNT}"
    assert sorted(statements["ProjectEndpoints"]["Resource"]) == sorted(
        f"{arn}:{kind}/mlops-project-*"
        for kind in ("model", "endpoint-config", "endpoint", "monitoring-schedule", "data-quality-job-definition"))
    assert {"sagemaker:CreateModel", "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint",
            "sagemaker:CreateMonitoringSchedule"} <= set(statements["ProjectEndpoints"]["Action"])
    versions = json.dumps(statements["RegisteredVersions"]["Resource"])
    assert ":222222222222:model-package/mlops-churn/*" in versions and "mlops-spend-forecast/*" in versions
    assert statements["EstateKeyGrants"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert statements["EndpointLogGroups"]["Resource"] == (
        f"arn:aws:logs:eu-west-1:{TEST_ACCOUNT}:log-group:/aws/sagemaker/Endpoints/mlops-project-*")
    assert statements["EndpointDashboards"]["Resource"] == f"arn:aws:cloudwatch::{TEST_ACCOUNT}:dashboard/mlops-project-*"
    assert sorted(statements["ProjectAlarms"]["Resource"]) == [
        f"arn:aws:cloudwatch:eu-west-1:{TEST_ACCOUNT}:alarm:SC-{TEST_ACCOUNT}-pp-*",
        f"arn:aws:cloudwatch:eu-west-1:{TEST_ACCOUNT}:alarm:mlops-project-*"]
    assert statements["AlarmTopics"]["Resource"] == f"arn:aws:sns:eu-west-1:{TEST_ACCOUNT}:SC-{TEST_ACCOUNT}-pp-*"
    assert "application-autoscaling" not in json.dumps(statements)


def test_personas_may_launch_the_deploy_products_and_call_project_endpoints(deployed):
    templates, template, _ = deployed
    statements = _statements(_policy(template, "create SageMaker projects from the estate's templates only"))
    launch = json.dumps(statements["LaunchEstateTemplates"]["Resource"])
    stack = templates.node.scope
    for product in (*templates.products.values(), *templates.deploy_products.values()):
        assert stack.get_logical_id(product.node.default_child) in launch
    assert len(templates.deploy_products) == 2
    assert statements["ValidateProjectEndpoints"]["Resource"] == f"arn:aws:sagemaker:eu-west-1:{TEST_ACCOUNT}:endpoint/mlops-project-*"
    assert sorted(statements["ValidateProjectEndpoints"]["Action"]) == ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]


def test_boundary_admits_the_estate_keys_and_the_baselines_deploy_roles_use(deployed_model_monitor):
    _, template, _ = deployed_model_monitor
    statements = _statements(_policy(template, "permissions boundary"))
    keys = json.dumps(statements["EstateKeys"]["Resource"])
    assert "KeysData" in keys and "KeysMonitoring" in keys and "KeysModels" in keys
    baselines = json.dumps(statements["MonitorBaselines"]["Resource"])
    assert "mlops-monitoring-baselines/churn/data-quality/constraints.json" in baselines
    assert "statistics.json" in baselines


def test_deploy_template_without_subnets_is_rejected():
    config = _config()
    churn = next(m for m in config.models if m.name == "churn")
    with pytest.raises(ValueError, match=r"Unit/Test/Deploy: subnet_count is 0; the endpoint runs in the estate's private subnets"):
        ModelDeployProduct(make_stack(Stage(make_app(), "Unit")), "Deploy", config=config, model=churn, subnet_count=0)


def test_imported_keys_need_every_serving_key_and_no_other():
    with pytest.raises(ValueError, match=r"Unit/Test/Keys: 2 problem\(s\):\n  - key_arns: \['data', 'models', 'studio'\] lacks the "
                                         r"monitoring, logs key\(s\).*\n  - key_arns: \['studio'\] are key\(s\) nothing here uses"):
        ImportedKeys(make_stack(Stage(make_app(), "Unit")), "Keys", key_arns={
            DataClass.DATA: "arn:aws:kms:eu-west-1:123456789012:key/a", DataClass.MODELS: "arn:aws:kms:eu-west-1:123456789012:key/b",
            DataClass.STUDIO: "arn:aws:kms:eu-west-1:123456789012:key/c"})


def test_model_and_config_names_change_with_their_properties_and_only_then():
    """The shared hash makes a changed model or endpoint config a new name (CloudFormation creates the replacement
    before deleting the old one); an unchanged template keeps its names."""
    def names(stack, id: str, config) -> tuple[Any, Any]:
        product = ModelDeployProduct(stack, id, config=config, model=next(m for m in config.models if m.name == "churn"),
                                     subnet_count=2)
        model, endpoint_config = product.endpoint.models["primary"], product.endpoint.endpoint_config
        return product.resolve(model.model_name), product.resolve(endpoint_config.endpoint_config_name)

    stack = make_stack(Stage(make_app(), "Unit"))
    config = _config(personas=["data_scientist"], models=["churn"])
    first, again = names(stack, "First", config), names(stack, "Again", config)
    assert first == again and first[0] == first[1]
    data = default_estate_dict()
    churn = next(m for m in data["models"] if m["name"] == "churn")
    churn["serving"]["staging"]["instance_type"] = "ml.c5.xlarge"
    changed = names(stack, "Changed", EstateConfig.from_dict(data, "test"))
    assert changed[0] != first[0] and changed[0] == changed[1]


def test_validation_endpoint_keeps_the_staging_volume_key_choice():
    """A staging instance type with local NVMe storage comes with volume_kms_key false; the validation endpoint,
    which takes that instance type, must take the choice too (else ModelEndpoint refuses it)."""
    from mlops_estate.core.validation import Problems
    from mlops_estate.projects.model_deploy import validation_serving
    from mlops_estate.serving.serving_config import validate_serving

    data = default_estate_dict()
    data["guardrails"]["require_kms"] = False
    data["guardrails"]["instance_types"] = {}
    churn = next(m for m in data["models"] if m["name"] == "churn")
    churn["serving"]["staging"].update(instance_type="ml.g5.xlarge", volume_kms_key=False)
    model = next(m for m in EstateConfig.from_dict(data, "test").models if m.name == "churn")
    serving = validation_serving(model)
    problems = Problems()
    validate_serving(serving, "serving", problems)
    assert problems.items == [] and (serving.instance_type, serving.volume_kms_key) == ("ml.g5.xlarge", False)
