"""ProjectTemplates: portfolio, products, launch constraint and role, persona associations, Studio tag, the
project boundary, the estate handles, and the model-build product template itself."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import Aspects, Stage
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.config.estate import EstateConfig
from mlops_estate.core.validation import ConfigError
from mlops_estate.security.encryption import EstateKeys
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.projects.templates import PROJECT_NAME_PATTERN, ProjectTemplates
from mlops_estate.config.projects import MAX_TEMPLATE_PRODUCTS, PRODUCTS_PER_MODEL
from mlops_estate.security.storage import SecureBucket
from tests.helpers import TEST_ACCOUNT, TEST_AZS, default_estate_dict, make_app, make_stack, resources_of_type, scaled_estate_dict


def _config(**projects: Any) -> EstateConfig:
    data = default_estate_dict()
    data["projects"] = projects or data.get("projects", {})
    return EstateConfig.from_dict(data, "test")


def _build(stack, config: EstateConfig, creators: dict[str, iam.IRole] | None = None) -> ProjectTemplates:
    keys = EstateKeys(stack, "Keys", estate_name=config.name)
    network = PrivateNetwork(stack, "Network", cidr="10.20.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs)
    artifacts = SecureBucket(stack, "Artifacts", key=keys.models)
    data = SecureBucket(stack, "Data", key=keys.data)
    if creators is None:
        creators = {p: iam.Role(stack, f"Role-{p}", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
                    for p in config.projects.personas}
    return ProjectTemplates(stack, "Projects", config=config, placement=network.placement, artifacts=artifacts, data=data,
                            keys=keys, creators=creators)


@pytest.fixture(scope="module")
def built() -> tuple[ProjectTemplates, Template, dict[str, dict[str, Any]]]:
    config = _config(personas=["data_scientist", "ml_engineer"], models=["churn"], version="v2")
    app = make_app()
    stack = make_stack(Stage(app, "Unit"))
    templates = _build(stack, config)
    assembly = app.synth()
    return templates, Template.from_stack(stack), {
        "churn": _product_template(assembly, templates.templates["churn"]),
        "churn-deploy": _product_template(assembly, templates.deploy_templates["churn"]),
    }


def _product_template(assembly: Any, product: Any) -> dict[str, Any]:
    """A product stack's template, as written into the stage's assembly (Template.from_stack cannot read it)."""
    stage = assembly.get_nested_assembly("assembly-Unit")
    with open(f"{stage.directory}/{product.template_file}") as f:
        return json.load(f)  # type: ignore[no-any-return]


def _policy(template: Template, description_part: str) -> dict[str, Any]:
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    (policy,) = [p for p in policies.values() if description_part in p["Properties"].get("Description", "")]
    return policy


def _statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


LAUNCH_POLICIES = "what the SageMaker project templates create"


def _launch_policies(template: Template) -> list[dict[str, Any]]:
    """The launch role's managed policies (split to stay inside IAM's policy size quota)."""
    return [p for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
            if LAUNCH_POLICIES in p["Properties"].get("Description", "")]


def _launch_statements(template: Template) -> dict[str, dict[str, Any]]:
    statements = [s for p in _launch_policies(template) for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert len({s["Sid"] for s in statements}) == len(statements)
    return {s["Sid"]: s for s in statements}


def test_a_build_and_a_deploy_product_per_selected_model_tagged_for_studio(built):
    _, template, _ = built
    products = template.find_resources("AWS::ServiceCatalog::CloudFormationProduct")
    assert sorted(p["Properties"]["Name"] for p in products.values()) == ["mlops churn model build", "mlops churn model deploy"]
    for product in products.values():
        props = product["Properties"]
        assert {"Key": "sagemaker:studio-visibility", "Value": "true"} in props["Tags"]
        (artifact,) = props["ProvisioningArtifactParameters"]
        assert artifact["Name"] == "v2"
        assert artifact["DisableTemplateValidation"] is False
    template.resource_count_is("AWS::ServiceCatalog::PortfolioProductAssociation", 2)
    # Both are launched with the one launch role.
    constraints = template.find_resources("AWS::ServiceCatalog::LaunchRoleConstraint")
    assert sorted(c["Properties"]["ProductId"]["Ref"] for c in constraints.values()) == sorted(products)
    assert len({json.dumps(c["Properties"]["RoleArn"]) for c in constraints.values()}) == 1


def test_launch_constraint_uses_the_launch_role_only_service_catalog_assumes(built):
    _, template, _ = built
    constraint = next(iter(template.find_resources("AWS::ServiceCatalog::LaunchRoleConstraint").values()))
    role_ref = constraint["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    role = template.to_json()["Resources"][role_ref]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "servicecatalog.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": TEST_ACCOUNT}}


def test_launch_role_is_scoped_to_project_names_and_the_boundary(built):
    _, template, _ = built
    statements = _launch_statements(template)
    prefix = f"SC-{TEST_ACCOUNT}-pp-"
    # Model Monitor roles live under the estate's monitor path.
    assert sorted(statements["CreateBoundedRoles"]["Resource"]) == [f"arn:aws:iam::{TEST_ACCOUNT}:role/{prefix}*",
                                                                    f"arn:aws:iam::{TEST_ACCOUNT}:role/mlops/model-monitor/{prefix}*"]
    assert "iam:CreateRole" in statements["CreateBoundedRoles"]["Action"]
    boundary = statements["CreateBoundedRoles"]["Condition"]["StringEquals"]["iam:PermissionsBoundary"]
    (boundary_id,) = [k for k, v in template.find_resources("AWS::IAM::ManagedPolicy").items()
                      if "permissions boundary" in v["Properties"].get("Description", "")]
    assert boundary == {"Ref": boundary_id}
    assert statements["ProvisionedStacks"]["Resource"] == f"arn:aws:cloudformation:eu-west-1:{TEST_ACCOUNT}:stack/{prefix}*/*"
    assert statements["ProjectPipelines"]["Resource"] == f"arn:aws:sagemaker:eu-west-1:{TEST_ACCOUNT}:pipeline/mlops-project-*"
    # The estate bus (build retraining) and the default bus (deploy monitors' execution events).
    assert sorted(statements["ProjectRules"]["Resource"]) == [f"arn:aws:events:eu-west-1:{TEST_ACCOUNT}:rule/{prefix}*",
                                                              f"arn:aws:events:eu-west-1:{TEST_ACCOUNT}:rule/mlops-ml-dev/{prefix}*"]
    # Scheduler: the schedule role of a deploy project's drift pipeline.
    assert statements["PassProjectRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": ["sagemaker.amazonaws.com", "events.amazonaws.com", "scheduler.amazonaws.com"]}}
    assert statements["ProjectSchedules"]["Resource"] == f"arn:aws:scheduler:eu-west-1:{TEST_ACCOUNT}:schedule/default/{prefix}*"
    # Nothing in the launch policy is unscoped except the template calls and the log resource-policy listing, which
    # have no resource-level permissions.
    unscoped = [sid for sid, s in statements.items() if s["Resource"] == "*"]
    assert unscoped == ["ReadTemplates", "TemplateObjects", "DescribeLogResourcePolicies"]
    assert statements["DescribeLogResourcePolicies"]["Action"] == "logs:DescribeResourcePolicies"
    assert statements["TemplateObjects"]["Condition"] == {
        "StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}}
    assert not any(a.endswith(":*") for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))


def test_personas_are_associated_and_may_launch_only_these_products(built):
    _, template, _ = built
    template.resource_count_is("AWS::ServiceCatalog::PortfolioPrincipalAssociation", 2)
    policy = _policy(template, "create SageMaker projects from the estate's templates only")
    assert len(policy["Properties"]["Roles"]) == 2
    statements = _statements(policy)
    assert "sagemaker:CreateProject" in statements["Projects"]["Action"]
    launch = statements["LaunchEstateTemplates"]
    assert "servicecatalog:ProvisionProduct" in launch["Action"]
    assert launch["Resource"] != "*"
    assert statements["OwnProvisionedProjects"]["Condition"] == {"StringEquals": {"servicecatalog:roleLevel": "self"}}


def test_estate_handles_are_ssm_parameters_under_the_projects_prefix(built):
    templates, template, _ = built
    names = sorted(p["Properties"]["Name"] for p in template.find_resources("AWS::SSM::Parameter").values())
    assert names == sorted(f"/mlops/projects/{k}" for k in (
        "vpc-id", "security-group-id", "artifacts-bucket", "data-bucket", "models-key-arn", "boundary-arn", "subnet-0", "subnet-1",
        "data-key-arn", "monitoring-key-arn", "logs-key-arn",
        # churn is on the portable drift engine: its deploy template invokes the estate's shared drift functions.
        "drift-resolver-arn", "drift-publisher-arn"))
    assert templates.handles.names == [f"/mlops/projects/{k}" for k in templates.handles.parameters]


def test_product_template_has_the_sagemaker_project_parameters(built):
    _, _, products = built
    params = products["churn"]["Parameters"]
    name = params["SageMakerProjectName"]
    assert name["Type"] == "String" and name["MaxLength"] == 32 and name["AllowedPattern"] == PROJECT_NAME_PATTERN
    assert params["SageMakerProjectId"]["Type"] == "String"
    assert params["RetrainOnDrift"]["AllowedValues"] == ["false", "true"]
    # The estate's resources are read from SSM at launch; each parameter admits only its own name.
    for key in ("EstateVpcId", "EstateSubnet0", "EstateSubnet1", "EstateModelsKeyArn", "EstateBoundaryArn"):
        assert params[key]["Type"] == "AWS::SSM::Parameter::Value<String>"
        assert params[key]["AllowedValues"] == [params[key]["Default"]]
    assert re.fullmatch(PROJECT_NAME_PATTERN.lstrip("^"), "churn-exp-1")


def test_product_template_builds_the_reference_pipeline_for_the_project(built):
    _, _, products = built
    resources = products["churn"]["Resources"]
    (pipeline,) = resources_of_type(products["churn"], "AWS::SageMaker::Pipeline").values()
    assert pipeline["Properties"]["PipelineName"] == {"Fn::Join": ["", ["mlops-project-", {"Ref": "SageMakerProjectName"}, "-build"]]}
    body = json.dumps(pipeline["Properties"]["PipelineDefinition"])
    # Registers into the model's shared group: project candidates take the estate's approval and promotion path.
    assert "model-package-group/mlops-churn" in body
    assert "EstateSubnet0" in body and "EstateModelsKeyArn" in body
    tags = {t["Key"]: t["Value"] for t in pipeline["Properties"]["Tags"]}
    assert tags["sagemaker:project-name"] == {"Ref": "SageMakerProjectName"}
    assert tags["sagemaker:project-id"] == {"Ref": "SageMakerProjectId"}
    # Every role the template creates carries the project boundary.
    roles = resources_of_type(products["churn"], "AWS::IAM::Role")
    assert roles and all(r["Properties"]["PermissionsBoundary"] == {"Ref": "EstateBoundaryArn"} for r in roles.values())
    # No inline policies, no file assets.
    assert not resources_of_type(products["churn"], "AWS::IAM::Policy")
    assert not resources_of_type(products["churn"], "AWS::Lambda::Function")
    assert "AssetParameters" not in json.dumps(products["churn"])


def test_drift_retraining_is_opt_in_per_project(built):
    _, _, products = built
    template = products["churn"]
    rules = resources_of_type(template, "AWS::Events::Rule")
    # The portable engine raises violations as an alarm too: one rule for the drift and violations alarms.
    assert sorted(rules) == ["RetrainOnDriftAlarm"]
    assert all(r["Condition"] == "RetrainOnDriftEnabled" for r in rules.values())
    # The rules' role and its policy exist only with them.
    role_id = rules["RetrainOnDriftAlarm"]["Properties"]["Targets"][0]["RoleArn"]["Fn::GetAtt"][0]
    assert template["Resources"][role_id]["Condition"] == "RetrainOnDriftEnabled"
    (role_policy,) = [p for p in resources_of_type(template, "AWS::IAM::ManagedPolicy").values() if p["Properties"]["Roles"] == [{"Ref": role_id}]]
    assert role_policy["Condition"] == "RetrainOnDriftEnabled"
    assert template["Conditions"]["RetrainOnDriftEnabled"] == {"Fn::Equals": [{"Ref": "RetrainOnDrift"}, "true"]}
    drift = rules["RetrainOnDriftAlarm"]["Properties"]
    assert drift["EventPattern"]["detail"]["alarmName"] == [
        "mlops-churn-prd-drift", "mlops-churn-prd-violations", "mlops-churn-stg-drift", "mlops-churn-stg-violations"]
    assert drift["Targets"][0]["Arn"]["Fn::Join"][1][-2:] == [{"Ref": "SageMakerProjectName"}, "-build"]


def test_a_product_outside_an_estate_stage_swaps_inline_policies_itself(built):
    """Not in a stage that walks ManagedPoliciesOnly: the product stack carries the aspect itself, and its template
    has managed policies only."""
    templates, _, products = built
    assert [a for a in Aspects.of(templates.templates["churn"]).all if isinstance(a, ManagedPoliciesOnly)]
    assert "AWS::IAM::Policy" not in {r["Type"] for r in products["churn"]["Resources"].values()}


def test_no_creators_or_no_models_is_rejected():
    config = _config(personas=["data_scientist"], models=[], enabled=False)
    with pytest.raises(ValueError, match=r"Unit/Test/Projects: 2 problem\(s\):\n  - creators: \{\} is empty; expected the Studio "
                                         r"execution roles that may create projects\n  - config.projects: selects no model"):
        _build(make_stack(Stage(make_app(), "Unit")), config, creators={})


@pytest.mark.parametrize(("projects", "message"), [
    ({"personas": ["auditor"]}, r"projects.personas\[0\]: 'auditor' may not create projects; choose from data_scientist"),
    ({"personas": []}, r"projects.personas: is empty; name at least one persona"),
    ({"personas": ["ml_engineer", "ml_engineer"]}, r"projects.personas: lists a persona twice"),
    ({"models": ["churn", "nope"]}, r"projects.models\[1\]: 'nope' is not a configured model \(models: churn, spend-forecast"),
    ({"version": "v 1"}, r"projects.version: 'v 1' is not a product version name"),
    ({"persona": ["ml_engineer"]}, r"projects.persona: unknown key; did you mean 'personas'"),
])
def test_bad_projects_config_is_rejected(projects, message):
    with pytest.raises(ConfigError, match=message):
        _config(**projects)


def test_disabled_projects_publish_nothing():
    config = _config(enabled=False)
    assert config.projects.template_models([m.name for m in config.models]) == ()


def test_unmonitored_model_template_has_no_drift_retraining():
    config = _config(personas=["ml_engineer"], models=["spend-forecast"])
    app = make_app()
    stack = make_stack(Stage(app, "Unit"))
    templates = _build(stack, config)
    template = _product_template(app.synth(), templates.templates["spend-forecast"])
    assert "RetrainOnDrift" not in template["Parameters"]
    assert not resources_of_type(template, "AWS::Events::Rule")
    assert resources_of_type(template, "AWS::SageMaker::Pipeline")


def test_project_boundary_caps_roles_at_pipeline_work(built):
    _, template, _ = built
    statements = _statements(_policy(template, "permissions boundary"))
    actions = {a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    # A project role can never administer IAM beyond passing project roles to SageMaker, nor touch other services.
    assert {a for a in actions if a.startswith("iam:")} == {"iam:PassRole"}
    assert statements["PassProjectRolesToSageMaker"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert {a.split(":")[0] for a in actions} == {"sagemaker", "s3", "kms", "ecr", "cloudwatch", "ec2", "logs", "iam", "lambda"}
    # lambda: only invoking the estate's two shared drift functions (a deploy project's drift pipeline steps).
    assert statements["InvokeDriftFunctions"]["Action"] == "lambda:InvokeFunction"
    assert len(statements["InvokeDriftFunctions"]["Resource"]) == 2
    assert statements["StartProjectPipelines"]["Resource"] == f"arn:aws:sagemaker:eu-west-1:{TEST_ACCOUNT}:pipeline/mlops-project-*"
    assert statements["PipelineJobs"]["Resource"] == [
        f"arn:aws:sagemaker:eu-west-1:{TEST_ACCOUNT}:processing-job/pipelines-*",
        f"arn:aws:sagemaker:eu-west-1:{TEST_ACCOUNT}:training-job/pipelines-*"]
    # Deployment guardrails read a project endpoint's rollback alarms (named or stack-prefixed) with its role.
    assert statements["RollbackAlarms"]["Action"] == "cloudwatch:DescribeAlarms"
    assert sorted(statements["RollbackAlarms"]["Resource"]) == [
        f"arn:aws:cloudwatch:eu-west-1:{TEST_ACCOUNT}:alarm:SC-{TEST_ACCOUNT}-pp-*",
        f"arn:aws:cloudwatch:eu-west-1:{TEST_ACCOUNT}:alarm:mlops-project-*"]


def test_launch_role_tags_project_dashboards(built):
    """The deploy template's dashboard is tagged: its handler tags, reads tags and retags, on project dashboards only."""
    _, template, _ = built
    dashboards = _launch_statements(template)["EndpointDashboards"]
    assert dashboards["Resource"] == f"arn:aws:cloudwatch::{TEST_ACCOUNT}:dashboard/mlops-project-*"
    assert {"cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource",
            "cloudwatch:PutDashboard"} <= set(dashboards["Action"])


# The longest product ARN IAM may have to store: GovCloud partition, a 14-character region, Service Catalog's ids.
LONGEST_PRODUCT_ARN = "arn:aws-us-gov:catalog:ap-southeast-3:123456789012:product/prod-abcdefghijklm"
MANAGED_POLICY_CHARACTERS = 6144  # IAM quota: characters of a managed policy document, whitespace not counted


def test_creator_policy_holds_the_maximum_number_of_products(built):
    """The CreatorPolicy names each product by ARN; MAX_TEMPLATE_PRODUCTS of the longest ARNs must fit the quota."""
    _, template, _ = built
    document = _policy(template, "create SageMaker projects from the estate's templates only")["Properties"]["PolicyDocument"]
    products = [s for s in document["Statement"] if s["Sid"] == "LaunchEstateTemplates"]
    arns = products[0]["Resource"]
    arns = arns if isinstance(arns, list) else [arns]
    assert len(arns) == PRODUCTS_PER_MODEL * len(built[0].templates)  # one ARN per product of each template model
    products[0]["Resource"] = []
    fixed = len(json.dumps(document, separators=(",", ":")).replace(" ", ""))
    per_product = len(LONGEST_PRODUCT_ARN) + 3  # quotes and comma
    assert fixed + MAX_TEMPLATE_PRODUCTS * per_product <= MANAGED_POLICY_CHARACTERS


# Upper bounds of what an intrinsic resolves to: the longest partition, region and account, any other reference (a key,
# the boundary policy's ARN) at most 160 characters.
_PSEUDO = {"AWS::Partition": "aws-us-gov", "AWS::Region": "ap-southeast-3", "AWS::AccountId": "123456789012"}
# An ARN of a registered version the launch role may describe: the longest model package group name (63 characters).
LONGEST_VERSIONS_ARN = "arn:aws-us-gov:sagemaker:ap-southeast-3:123456789012:model-package/" + "g" * 63 + "/*"


def _resolved_upper_bound(value: Any) -> Any:
    if isinstance(value, list):
        return [_resolved_upper_bound(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in _PSEUDO:
            return _PSEUDO[value["Ref"]]
        if set(value) == {"Fn::Join"}:
            return value["Fn::Join"][0].join(str(_resolved_upper_bound(v)) for v in value["Fn::Join"][1])
        if len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref")):
            return "x" * 160
        return {k: _resolved_upper_bound(v) for k, v in value.items()}
    return value


def test_launch_policies_fit_the_policy_size_quota_at_the_maximum_number_of_products(built):
    """IAM caps a managed policy at 6,144 characters: the launch permissions are split over three policies, and the
    one that names each template model's registered versions must hold MAX_TEMPLATE_PRODUCTS worth of them."""
    templates, template, _ = built
    policies = _launch_policies(template)
    assert len(policies) == 3
    for policy in policies:
        document = _resolved_upper_bound(policy["Properties"]["PolicyDocument"])
        versions = [s for s in document["Statement"] if s["Sid"] == "RegisteredVersions"]
        per_model = 0
        if versions:
            arns = versions[0]["Resource"] if isinstance(versions[0]["Resource"], list) else [versions[0]["Resource"]]
            assert len(arns) == len(templates.templates)
            versions[0]["Resource"] = []
            per_model = len(LONGEST_VERSIONS_ARN) + 3  # quotes and comma
        fixed = len(json.dumps(document, separators=(",", ":")).replace(" ", ""))
        assert fixed + MAX_TEMPLATE_PRODUCTS // PRODUCTS_PER_MODEL * per_model <= MANAGED_POLICY_CHARACTERS, \
            policy["Properties"]["Description"]


def test_portfolio_stack_holds_the_maximum_number_of_products(built):
    """3 resources per product in the portfolio stack: far inside CloudFormation's 500 at MAX_TEMPLATE_PRODUCTS."""
    templates, template, _ = built
    products = len(template.find_resources("AWS::ServiceCatalog::CloudFormationProduct"))
    assert products == PRODUCTS_PER_MODEL * len(templates.templates)
    per_product = sum(len(template.find_resources(t)) for t in (
        "AWS::ServiceCatalog::CloudFormationProduct", "AWS::ServiceCatalog::PortfolioProductAssociation",
        "AWS::ServiceCatalog::LaunchRoleConstraint")) // products
    assert per_product == 3
    fixed = len(template.to_json()["Resources"])  # includes the unit stack's keys and network: an upper bound
    assert fixed + MAX_TEMPLATE_PRODUCTS * per_product <= 500


def test_too_many_template_models_are_rejected_with_the_fix():
    data = scaled_estate_dict(MAX_TEMPLATE_PRODUCTS // PRODUCTS_PER_MODEL + 1)
    data["projects"]["models"] = []
    with pytest.raises(ConfigError, match=(
            r"projects.models: is empty, so it selects all 26 models: 52 template products, more than the 50 one "
            r"portfolio and its creator policy hold; list at most 25 models")):
        EstateConfig.from_dict(data, "test")
    data["projects"]["models"] = [m["name"] for m in data["models"]][:25]
    assert len(EstateConfig.from_dict(data, "test").projects.template_models([m["name"] for m in data["models"]])) == 25
