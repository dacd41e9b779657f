"""The gates of the estate's stacks, run on every SageMaker project template (Service Catalog product stack).

cdk-nag's validation plugins read every template of the cloud assembly, product templates included, so a finding
in a template already fails the default-estate synth (proved below on a deliberately bad product). cfn-lint (and
the pipeline-definition schema on build templates) are run here on each product template of the default estate
explicitly, and each template is snapshotted. Templates are named ``<model>-build`` and ``<model>-deploy``.
"""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

import pytest
from aws_cdk import Aspects, Stack, Stage
from aws_cdk import aws_servicecatalog as servicecatalog
from aws_cdk import aws_sns as sns

from mlops_estate.core.nag import apply_nag_packs
from mlops_estate.config.governance import guardrail_options
from tests.gates.cfn_permissions import Renderer, allows, handler_permissions, rendered_statements
from tests.gates.normalize import normalize
from tests.cfn_lint import lint_template
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
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
    matches = lint_template(template, default_estate.estate.ml_dev.region)
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


@pytest.mark.parametrize("product", PRODUCT_TEMPLATES)
def test_product_template_roles_have_managed_policies_only_from_the_stage_walk(default_estate, product):
    """The estate stage's walked ManagedPoliciesOnly reaches the product stacks, so they add no Node-side copy of it
    (one callback per construct less); a product stack outside such a stage keeps its own (tests/unit/test_projects)."""
    assert "AWS::IAM::Policy" not in {r["Type"] for r in product_templates(default_estate)[product]["Resources"].values()}
    template = default_estate.estate.projects.templates.all_templates[product]  # type: ignore[union-attr]
    assert not [a for a in Aspects.of(template).all if isinstance(a, ManagedPoliciesOnly)]


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

    from mlops_estate.governance.guardrail_check import GuardrailCheck
    from mlops_estate.governance.guardrails import GuardrailOptions
    from tests.helpers import default_config

    app = make_app()
    stage = Stage(app, "Gate")
    Aspects.of(stage).add(GuardrailCheck(guardrail_options(default_config())))
    stack = make_stack(stage)
    product = servicecatalog.ProductStack(stack, "Template")
    sagemaker.CfnEndpointConfig(product, "NoKey", production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name="AllTraffic", model_name="m", initial_instance_count=1, instance_type="ml.m5.large")])
    servicecatalog.CloudFormationProduct(stack, "Product", product_name="p", owner="tests", product_versions=[
        servicecatalog.CloudFormationProductVersion(
            cloud_formation_template=servicecatalog.CloudFormationTemplate.from_product_stack(product))])
    with pytest.raises(Exception, match=r"Gate/Test/Template/NoKey\] denied by guardrail SCP statement Deny\w*KmsKey"):
        app.synth()


def _launch_policy(estate) -> dict[str, Any]:
    """The statements of the launch role's managed policies (split for IAM's size quota), as one policy."""
    policies = [p for p in resources_of_type(estate.templates["MlDev/Projects"], "AWS::IAM::ManagedPolicy").values()
                if "what the SageMaker project templates create" in p["Properties"].get("Description", "")]
    assert len(policies) == 3
    return {"Properties": {"PolicyDocument": {"Statement": [
        s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]}}}


def _absent(*properties: str) -> Callable[[dict[str, Any]], bool]:
    """Not needed when the resource sets none of these properties."""
    return lambda props: not any(p in props for p in properties)


Exemption = tuple[Callable[[dict[str, Any]], bool], str]


def _only_with(kind: str, prop: str, feature: str, *permissions: str) -> dict[tuple[str, str], Exemption]:
    """Permissions a handler needs only for a feature the resource turns on with ``prop``."""
    return {(kind, permission): (_absent(prop), f"only for {feature} ({prop}), which the templates do not set")
            for permission in permissions}


def _always(_: dict[str, Any]) -> bool:
    return True


# Permissions AWS's handler schemas list that a launch of these templates provably does not need, or that the
# launch role must not have; each with its reason and, where it depends on the template, the condition under which
# it holds (checked per resource). Everything else a handler lists must be granted on the resource's ARN.
NOT_NEEDED: dict[tuple[str, str], Exemption] = {
    # IAM roles: the templates attach managed policies only (ManagedPoliciesOnly), never inline ones; the delete
    # handler deletes each inline policy ListRolePolicies returns (none).
    **_only_with("AWS::IAM::Role", "Policies", "inline policies", "iam:PutRolePolicy", "iam:GetRolePolicy",
                 "iam:DeleteRolePolicy"),
    ("AWS::IAM::Role", "iam:DeleteRolePermissionsBoundary"): (
        _always, "deliberately not granted: it would unbound a project role; every template sets the boundary and "
                 "never removes it (an update that tried would fail, as it should)"),
    # Managed policies of a template attach to its roles, never to groups or users.
    **_only_with("AWS::IAM::ManagedPolicy", "Groups", "groups", "iam:AttachGroupPolicy", "iam:DetachGroupPolicy"),
    **_only_with("AWS::IAM::ManagedPolicy", "Users", "users", "iam:AttachUserPolicy", "iam:DetachUserPolicy"),
    # The pipeline definition is inline (PipelineDefinitionBody); S3 is read only for PipelineDefinitionS3Location.
    ("AWS::SageMaker::Pipeline", "s3:GetObject"): (
        lambda props: "PipelineDefinitionS3Location" not in props["PipelineDefinition"], "S3-hosted definitions only"),
    # Log groups and topics: optional features the templates do not use (each permission is needed only with the
    # property that turns the feature on).
    **_only_with("AWS::Logs::LogGroup", "DataProtectionPolicy", "a data protection policy and its audit destinations "
                 "(s3:REST.PUT.OBJECT is not even an IAM action)", "logs:PutDataProtectionPolicy",
                 "logs:CreateLogDelivery", "s3:REST.PUT.OBJECT", "firehose:TagDeliveryStream"),
    **_only_with("AWS::Logs::LogGroup", "ResourcePolicyDocument", "a log-group resource policy",
                 "logs:PutResourcePolicy", "logs:DeleteResourcePolicy"),
    **_only_with("AWS::Logs::LogGroup", "FieldIndexPolicies", "field index policies",
                 "logs:PutIndexPolicy", "logs:DeleteIndexPolicy"),
    **_only_with("AWS::Logs::LogGroup", "BearerTokenAuthenticationEnabled", "bearer-token ingestion",
                 "logs:PutBearerTokenAuthentication"),
    **_only_with("AWS::Logs::LogGroup", "DeletionProtectionEnabled", "deletion protection",
                 "logs:PutLogGroupDeletionProtection"),
    **_only_with("AWS::SNS::Topic", "Subscription", "inline subscriptions", "sns:Subscribe", "sns:Unsubscribe"),
    **_only_with("AWS::SNS::Topic", "DataProtectionPolicy", "a topic data protection policy", "sns:PutDataProtectionPolicy"),
    **_only_with("AWS::SNS::Topic", "DeliveryStatusLogging", "delivery-status logging roles", "iam:GetRole"),
}


def _targets(renderer: Renderer, logical_id: str, resource: dict[str, Any], permission: str) -> list[str] | str:
    """The ARNs one handler permission is authorized against for this resource, or why it is not needed."""
    props = resource.get("Properties", {})
    kind = resource["Type"]
    if (kind, permission) in NOT_NEEDED:
        applies, reason = NOT_NEEDED[(kind, permission)]
        if applies(props):
            return reason
        raise AssertionError(f"{logical_id}: {permission} is allow-listed ({reason}) but the resource uses the feature")
    if permission in ("iam:PassRole", "iam:GetRole") and kind != "AWS::IAM::Role":
        roles = renderer.roles_referenced(props)
        return roles or "passes no role of the template"
    if permission.startswith("kms:"):
        return [renderer.render(props["KmsKeyId"])] if "KmsKeyId" in props else "no customer-managed key"
    if kind == "AWS::IAM::ManagedPolicy" and permission in ("iam:AttachRolePolicy", "iam:DetachRolePolicy"):
        return [renderer.arn(role["Ref"])[0] for role in props.get("Roles", [])] or "attached to no role"
    return renderer.arn(logical_id)


def _launch_gaps(estate, product: str, statements: list[dict[str, Any]] | None = None) -> list[str]:
    template = product_templates(estate)[product]
    stack = estate.estate.projects
    account, region = Stack.of(stack).account, Stack.of(stack).region
    renderer = Renderer(template, account=account, region=region)
    if statements is None:
        statements = rendered_statements(_launch_policy(estate), Renderer(estate.templates["MlDev/Projects"],
                                                                          account=account, region=region))
    gaps = []
    for logical_id, resource in template["Resources"].items():
        for op, permissions in handler_permissions(region, resource["Type"]).items():
            for permission in sorted(permissions):
                targets = _targets(renderer, logical_id, resource, permission)
                if isinstance(targets, str):
                    continue
                gaps += [f"{resource['Type']} {op}: {permission} on {arn}" for arn in targets
                         if not allows(statements, permission, arn)]
    return sorted(set(gaps))


@pytest.mark.parametrize("product", PRODUCT_TEMPLATES)
def test_launch_role_can_run_every_handler_of_every_resource_of_the_template(default_estate, product):
    """Every permission CloudFormation's resource handlers need to create, read, update and delete each resource
    of the template (AWS's provider schemas, as cfn-lint ships them) is granted on the ARN that resource will have:
    a resource type or property added to a template without extending the launch role fails the gate, not a launch."""
    gaps = _launch_gaps(default_estate, product)
    assert not gaps, "the launch role lacks:\n" + "\n".join(gaps)


def test_launch_gate_sees_a_missing_resource_permission(default_estate):
    """The gate checks resources, not just action names: the dashboard statement scoped to another prefix fails it."""
    stack = default_estate.estate.projects
    account, region = Stack.of(stack).account, Stack.of(stack).region
    statements = rendered_statements(_launch_policy(default_estate), Renderer(default_estate.templates["MlDev/Projects"],
                                                                                account=account, region=region))
    for s in statements:
        if s.get("Sid") == "EndpointDashboards":
            s["_rendered"] = [r.replace("-project-", "-other-") for r in s["_rendered"]]
    gaps = set(_launch_gaps(default_estate, "churn-deploy", statements)) - set(_launch_gaps(default_estate, "churn-deploy"))
    assert gaps and all(g.startswith("AWS::CloudWatch::Dashboard") for g in gaps)


def _actions(statement: dict[str, Any]) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else list(statement["Action"])


# Role statements deliberately broader than the boundary, which narrows them (the boundary must still admit the
# action on some resource inside the role's pattern, else the role could never use it).
NARROWED_BY_BOUNDARY = {
    # ModelEndpoint reads a model package's artifacts anywhere in the artifact account (s3:ResourceAccount): the
    # location is known only at deploy time. Registered versions of the estate live under the shared registry's
    # models/ prefix, which the boundary admits; nothing else may be read by a project endpoint.
    ("s3:GetObject", "arn:aws:s3:::*/*"),
}


@pytest.mark.parametrize("product", PRODUCT_TEMPLATES)
def test_project_boundary_admits_every_statement_the_template_grants(default_estate, product):
    """The boundary caps every project role: an action a template grants outside it, or on a resource outside the
    boundary's patterns, would fail at run time. Each (action, resource) of a role policy must match a boundary
    statement by action pattern and resource pattern (fnmatch of the rendered role resource against the boundary's)."""
    stack = Stack.of(default_estate.estate.projects)
    account, region = stack.account, stack.region
    (boundary,) = [p for p in resources_of_type(default_estate.templates["MlDev/Projects"], "AWS::IAM::ManagedPolicy").values()
                   if "permissions boundary" in p["Properties"].get("Description", "")]
    bounds = rendered_statements(boundary, Renderer(default_estate.templates["MlDev/Projects"], account=account, region=region))
    template = product_templates(default_estate)[product]
    renderer = Renderer(template, account=account, region=region)
    granted = [(a, r) for p in resources_of_type(template, "AWS::IAM::ManagedPolicy").values()
               for s in rendered_statements(p, renderer) if s["Effect"] == "Allow" for a in _actions(s) for r in s["_rendered"]]
    assert granted
    outside = sorted({f"{a} on {r}" for a, r in granted if not allows(bounds, a, r) and (a, r) not in NARROWED_BY_BOUNDARY})
    for action, pattern in sorted(NARROWED_BY_BOUNDARY & set(granted)):
        admitted = [b for s in bounds if any(fnmatchcase(action, x) for x in _actions(s)) for b in s["_rendered"]]
        assert any(fnmatchcase(b, pattern) for b in admitted), f"the boundary admits {action} on nothing in {pattern}"
    assert not outside, "outside the project boundary:\n" + "\n".join(outside)
