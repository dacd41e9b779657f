"""The org-wide baseline rollout: the StackSet, the account-agnostic baseline template, its gates, its config."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack, Stage
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

from mlops_estate.governance.stack_set import RolloutOperationConfig
from mlops_estate.config.estate import ConfigError, EstateConfig
from mlops_estate.governance.guardrails import GuardrailOptions, guardrail_rules
from mlops_estate.core.nag import apply_nag_packs
from mlops_estate.governance.stack_set import ServiceManagedStackSet, StackSetTemplate
from mlops_estate.stacks.estate import _stage
from mlops_estate.stacks.organization import OrganizationStack
from mlops_estate.config.governance import guardrail_options
from tests.helpers import ROOT, default_estate_dict, make_app, resources_of_type

ESTATE_ACCOUNTS = ["222222222222", "333333333333", "444444444444", "555555555555", "666666666666"]
ROLLOUT = {
    "enabled": True,
    "ou_ids": ["ou-ab12-mlworkld", "ou-ab12-mlteamsx"],
    "regions": ["eu-west-1", "eu-central-1"],
    "exclude_accounts": ["777777777777"],
    "cidr": "10.100.0.0/16",
    "monthly_limit_usd": 750,
    "environment_tag": "ml-team",
    "operation": {"max_concurrent_percentage": 30, "failure_tolerance_percentage": 5, "region_concurrency": "SEQUENTIAL"},
}


def estate_with(rollout: dict[str, Any] | None) -> dict[str, Any]:
    data = default_estate_dict()
    if rollout is None:
        data["organization"].pop("baseline_rollout", None)
    else:
        data["organization"]["baseline_rollout"] = rollout
    return data


@dataclass
class Synthesized:
    stack: OrganizationStack
    outdir: Path
    organization: dict[str, Any]
    baseline: dict[str, Any]
    assets: dict[str, Any]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The Organization stage with a two-region rollout, synthesized once with every nag pack (a finding, in the
    baseline template too, fails this synthesis: see test_nag_packs_see_resources_inside_a_stack_set_template)."""
    config = EstateConfig.from_dict(estate_with(ROLLOUT))
    app = make_app()
    stack = OrganizationStack(_stage(app, "Organization", config, "management"), "Guardrails", config=config)
    apply_nag_packs(app)
    outdir = Path(app.synth().directory) / "assembly-Organization"
    baseline = stack.baseline_rollout.template
    return Synthesized(
        stack=stack,
        outdir=outdir,
        organization=json.loads((outdir / stack.template_file).read_text()),
        baseline=json.loads((outdir / baseline.template_file).read_text()),
        assets=json.loads((outdir / stack.template_file.replace(".template.json", ".assets.json")).read_text()),
    )


def stack_set(synthesized: Synthesized) -> dict[str, Any]:
    (resource,) = resources_of_type(synthesized.organization, "AWS::CloudFormation::StackSet").values()
    return dict(resource["Properties"])


# --- the StackSet ---------------------------------------------------------------------------------------------

def test_stack_set_is_service_managed_auto_deploying_and_retaining(synthesized):
    props = stack_set(synthesized)
    assert props["StackSetName"] == "mlops-account-baseline"
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["CallAs"] == "SELF"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": True}
    assert props["ManagedExecution"] == {"Active": True}
    assert props["Capabilities"] == ["CAPABILITY_IAM"]
    assert "TemplateBody" not in props and "Parameters" not in props
    # Propagated to the stack instances: the member accounts' environment, not the management account's.
    assert {t["Key"]: t["Value"] for t in props["Tags"]}["environment"] == "ml-team"


def test_stack_set_targets_the_ous_without_the_estates_own_accounts(synthesized):
    (group,) = stack_set(synthesized)["StackInstancesGroup"]
    assert group["Regions"] == ["eu-west-1", "eu-central-1"]
    assert group["DeploymentTargets"] == {
        "OrganizationalUnitIds": ["ou-ab12-mlworkld", "ou-ab12-mlteamsx"],
        "AccountFilterType": "DIFFERENCE",
        "Accounts": sorted([*ESTATE_ACCOUNTS, "777777777777"]),
    }


def test_operation_preferences_come_from_config(synthesized):
    assert stack_set(synthesized)["OperationPreferences"] == {
        "MaxConcurrentPercentage": 30,
        "FailureTolerancePercentage": 5,
        "RegionConcurrencyType": "SEQUENTIAL",
        "RegionOrder": ["eu-west-1", "eu-central-1"],
        "ConcurrencyMode": "STRICT_FAILURE_TOLERANCE",
    }


def test_template_url_is_the_baseline_template_published_as_an_asset_of_the_management_stack(synthesized):
    template_file = synthesized.stack.baseline_rollout.template.template_file
    digest = hashlib.sha256((synthesized.outdir / template_file).read_bytes()).hexdigest()
    asset = synthesized.assets["files"][digest]
    assert asset["source"] == {"path": template_file, "packaging": "file"}
    (destination,) = asset["destinations"].values()
    assert destination["bucketName"] == "cdk-hnb659fds-assets-111111111111-eu-west-1"
    url = stack_set(synthesized)["TemplateURL"]["Fn::Sub"]
    assert url == f"https://s3.eu-west-1.${{AWS::URLSuffix}}/cdk-hnb659fds-assets-111111111111-eu-west-1/{digest}.json"


def test_the_template_is_no_deployable_stack_of_its_own(synthesized):
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert [s["properties"]["templateFile"] for s in stacks] == [synthesized.stack.template_file]


# --- the baseline template ------------------------------------------------------------------------------------

def test_baseline_keys_rotate_and_are_retained(synthesized):
    keys = resources_of_type(synthesized.baseline, "AWS::KMS::Key")
    assert len(keys) == 5
    for key in keys.values():
        assert key["DeletionPolicy"] == "Retain" and key["UpdateReplacePolicy"] == "Retain"
        assert key["Properties"]["EnableKeyRotation"] is True
    aliases = sorted(a["Properties"]["AliasName"] for a in resources_of_type(synthesized.baseline, "AWS::KMS::Alias").values())
    assert aliases == [f"alias/mlops/{c}" for c in ("data", "logs", "models", "monitoring", "studio")]


def test_baseline_network_is_private_in_the_configured_block_and_any_region(synthesized):
    (vpc,) = resources_of_type(synthesized.baseline, "AWS::EC2::VPC").values()
    assert vpc["Properties"]["CidrBlock"] == "10.100.0.0/16"
    subnets = resources_of_type(synthesized.baseline, "AWS::EC2::Subnet").values()
    assert sorted(json.dumps(s["Properties"]["AvailabilityZone"]) for s in subnets) == [
        json.dumps({"Fn::Select": [i, {"Fn::GetAZs": ""}]}) for i in (0, 1)]
    assert not resources_of_type(synthesized.baseline, "AWS::EC2::InternetGateway")
    assert not resources_of_type(synthesized.baseline, "AWS::EC2::NatGateway")
    assert len(resources_of_type(synthesized.baseline, "AWS::EC2::VPCEndpoint")) == 14
    (log_group,) = resources_of_type(synthesized.baseline, "AWS::Logs::LogGroup").values()
    assert log_group["DeletionPolicy"] == "Retain" and "KmsKeyId" in log_group["Properties"]
    assert resources_of_type(synthesized.baseline, "AWS::EC2::FlowLog")


def test_with_an_ipam_pool_each_account_gets_its_own_block():
    config = EstateConfig.from_dict(estate_with({"enabled": True, "ipam_pool_id": "ipam-pool-0123456789abcdef0",
                                                 "ipam_netmask_length": 20}))
    app = make_app()
    stack = OrganizationStack(Stage(app, "Organization"), "Guardrails", config=config)
    outdir = Path(app.synth().directory) / "assembly-Organization"
    baseline = json.loads((outdir / stack.baseline_rollout.template.template_file).read_text())
    ((vpc_id, vpc),) = resources_of_type(baseline, "AWS::EC2::VPC").items()
    assert "CidrBlock" not in vpc["Properties"]
    assert (vpc["Properties"]["Ipv4IpamPoolId"], vpc["Properties"]["Ipv4NetmaskLength"]) == ("ipam-pool-0123456789abcdef0", 20)
    for subnet in resources_of_type(baseline, "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["CidrBlock"]["Fn::Select"][1]["Fn::Cidr"] == [{"Fn::GetAtt": [vpc_id, "CidrBlock"]}, 16, "8"]


def test_baseline_can_record_configuration_for_its_rules():
    data = estate_with({"enabled": True, "config_recorder": True})
    data["audit"] = {**data.get("audit", {}), "config_rules": False, "config_recorder": False}
    config = EstateConfig.from_dict(data)
    app = make_app()
    stack = OrganizationStack(_stage(app, "Organization", config, "management"), "Guardrails", config=config)
    apply_nag_packs(app)  # the recorder's bucket and role pass the gates inside the template too
    outdir = Path(app.synth().directory) / "assembly-Organization"
    baseline = json.loads((outdir / stack.baseline_rollout.template.template_file).read_text())
    (recorder_id,) = resources_of_type(baseline, "AWS::Config::ConfigurationRecorder")
    (channel_id,) = resources_of_type(baseline, "AWS::Config::DeliveryChannel")
    (rule,) = resources_of_type(baseline, "AWS::Config::ConfigRule").values()  # SageMaker rules off: only the default-SG rule
    assert rule["Properties"]["Source"]["SourceIdentifier"] == "VPC_DEFAULT_SECURITY_GROUP_CLOSED"
    assert {recorder_id, channel_id} <= set(rule["DependsOn"])


def test_private_network_takes_exactly_one_address_plan():
    from aws_cdk import aws_ec2 as ec2

    from mlops_estate.security.encryption import DataClass, EstateKeys
    from mlops_estate.network.private_network import PrivateNetwork

    stack = Stack(make_app(), "Net")
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.LOGS])
    with pytest.raises(ValueError, match="Net/Network: 1 problem.*\n  - cidr: '10.1.0.0/16' with an ip_addresses is not allowed; expected exactly one of cidr .* and ip_addresses"):
        PrivateNetwork(stack, "Network", cidr="10.1.0.0/16", ip_addresses=ec2.IpAddresses.cidr("10.2.0.0/16"),
                       availability_zones=stack.availability_zones[:2], logs_key=keys.logs)


def test_default_security_group_is_closed_by_config_remediation(synthesized):
    (vpc_id,) = resources_of_type(synthesized.baseline, "AWS::EC2::VPC")
    rules = resources_of_type(synthesized.baseline, "AWS::Config::ConfigRule")
    (rule_id, rule), = [(k, r) for k, r in rules.items()
                        if r["Properties"]["Source"]["SourceIdentifier"] == "VPC_DEFAULT_SECURITY_GROUP_CLOSED"]
    assert rule["Properties"]["Scope"] == {"ComplianceResourceId": {"Fn::GetAtt": [vpc_id, "DefaultSecurityGroup"]},
                                           "ComplianceResourceTypes": ["AWS::EC2::SecurityGroup"]}
    (remediation,) = resources_of_type(synthesized.baseline, "AWS::Config::RemediationConfiguration").values()
    props = remediation["Properties"]
    assert props["ConfigRuleName"] == {"Ref": rule_id}
    assert (props["TargetType"], props["TargetId"], props["Automatic"]) == (
        "SSM_DOCUMENT", "AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules", True)
    assert props["Parameters"]["GroupId"] == {"ResourceValue": {"Value": "RESOURCE_ID"}}
    role_ref = props["Parameters"]["AutomationAssumeRole"]["StaticValue"]["Values"][0]["Fn::GetAtt"][0]
    role = synthesized.baseline["Resources"][role_ref]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ssm.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    policies = [p["Properties"]["PolicyDocument"]["Statement"] for p in resources_of_type(synthesized.baseline, "AWS::IAM::ManagedPolicy").values()
                if p["Properties"]["Roles"] == [{"Ref": role_ref}]]
    (statements,) = policies
    revoke = next(s for s in statements if "ec2:RevokeSecurityGroupIngress" in s["Action"])
    assert "security-group/" in json.dumps(revoke["Resource"]) and "DefaultSecurityGroup" in json.dumps(revoke["Resource"])


def test_baseline_has_the_sagemaker_config_rules(synthesized):
    identifiers = {r["Properties"]["Source"]["SourceIdentifier"] for r in resources_of_type(synthesized.baseline, "AWS::Config::ConfigRule").values()}
    assert identifiers == {
        "VPC_DEFAULT_SECURITY_GROUP_CLOSED", "SAGEMAKER_ENDPOINT_CONFIGURATION_KMS_KEY_CONFIGURED",
        "SAGEMAKER_NOTEBOOK_INSTANCE_KMS_KEY_CONFIGURED", "SAGEMAKER_NOTEBOOK_NO_DIRECT_INTERNET_ACCESS",
        "SAGEMAKER_NOTEBOOK_INSTANCE_INSIDE_VPC",
    }


def test_budget_lives_in_the_first_region_only(synthesized):
    (budget,) = resources_of_type(synthesized.baseline, "AWS::Budgets::Budget").values()
    assert budget["Properties"]["Budget"]["BudgetName"] == "mlops-account-monthly"
    assert budget["Properties"]["Budget"]["BudgetLimit"] == {"Amount": 750, "Unit": "USD"}
    assert synthesized.baseline["Conditions"] == {"BudgetRegion": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}}
    conditioned = {r["Type"] for r in synthesized.baseline["Resources"].values() if r.get("Condition") == "BudgetRegion"}
    assert conditioned == {"AWS::Budgets::Budget", "AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription"}


def test_baseline_resources_carry_the_cost_tags_of_member_accounts(synthesized):
    for type_name in ("AWS::EC2::VPC", "AWS::KMS::Key", "AWS::IAM::Role", "AWS::SNS::Topic", "AWS::Logs::LogGroup"):
        for resource in resources_of_type(synthesized.baseline, type_name).values():
            tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"] if t["Key"] != "Name"}
            assert tags == {"project": "mlops-estate", "team": "ml-platform", "cost-center": "cc-1234", "environment": "ml-team"}, type_name


def test_baseline_names_no_account_and_no_region_outside_the_budget_condition(synthesized):
    text = json.dumps({k: v for k, v in synthesized.baseline.items() if k != "Conditions"})
    assert re.findall(r"\b\d{12}\b", text) == []
    assert re.findall(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b", text) == []


def test_baseline_has_no_assets_custom_resources_or_bootstrap_dependency(synthesized):
    types = {r["Type"] for r in synthesized.baseline["Resources"].values()}
    assert not [t for t in types if t.startswith("Custom::") or t in ("AWS::Lambda::Function", "AWS::CloudFormation::CustomResource")]
    assert "Parameters" not in synthesized.baseline  # no BootstrapVersion: target accounts need no CDK bootstrap
    assert "Rules" not in synthesized.baseline and "CDKMetadata" not in synthesized.baseline["Resources"]
    assert "aws:asset" not in json.dumps(synthesized.baseline)


def test_nag_packs_see_resources_inside_a_stack_set_template():
    app = make_app()
    stack = Stack(Stage(app, "Org"), "Parent")
    template = StackSetTemplate(stack, "Baseline", description="test")
    s3.Bucket(template, "Plain")
    ServiceManagedStackSet(stack, "Rollout", template=template, stack_set_name="t", ou_ids=["ou-ab12-mlworkld"], regions=["eu-west-1"])
    apply_nag_packs(app)
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    assert "Org/Parent/Baseline/Plain/Resource" in str(failure.value)


# --- construct errors -----------------------------------------------------------------------------------------

def test_an_asset_in_a_stack_set_template_fails_with_the_construct_path():
    app = make_app()
    stack = Stack(app, "Parent")
    template = StackSetTemplate(stack, "Baseline", description="test")
    with pytest.raises(Exception, match=r"Parent/Baseline: adds the file asset .*cannot read the deploying account's asset bucket"):
        lambda_.Function(template, "Fn", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
                         code=lambda_.Code.from_asset(str(ROOT / "lambda" / "start_retraining")))


def test_stack_set_template_must_sit_in_a_stack():
    app = make_app()
    with pytest.raises(ValueError, match=r"^Baseline: 1 problem\(s\):\n  - scope: a App is not allowed; expected the stack that deploys "
                                         r"the StackSet"):
        StackSetTemplate(app, "Baseline", description="test")


def test_stack_set_rejects_a_template_of_another_stack_and_bad_targets_at_once():
    app = make_app()
    template = StackSetTemplate(Stack(app, "One"), "Baseline", description="test")
    with pytest.raises(ValueError) as failure:
        ServiceManagedStackSet(Stack(app, "Two"), "Rollout", template=template, stack_set_name="t", ou_ids=[],
                               regions=["eu-west-1", "eu-west-1"], operation=RolloutOperationConfig(max_concurrent_percentage=0),
                               call_as="ADMIN", capabilities=["CAPABILITY_IAM", "IAM"])  # type: ignore[arg-type, list-item]
    assert str(failure.value) == (
        "Two/Rollout: 6 problem(s):\n"
        "  - template: 'One/Baseline' is not a child of this construct's stack 'Two'; expected a StackSetTemplate created in that "
        "stack (its template is an asset of it)\n"
        "  - ou_ids: [] is empty; expected at least one OU (or root) id\n"
        "  - regions: ['eu-west-1', 'eu-west-1'] lists a region twice; expected each region once\n"
        "  - operation.max_concurrent_percentage: 0 is outside 1..100 (percent of the target accounts per region)\n"
        "  - call_as: 'ADMIN' is not allowed; expected 'SELF' or 'DELEGATED_ADMIN'\n"
        "  - capabilities[1]: 'IAM' is not a CloudFormation capability; expected one of CAPABILITY_IAM, CAPABILITY_NAMED_IAM, "
        "CAPABILITY_AUTO_EXPAND"
    )


def test_stack_set_checks_names_ids_and_regions_like_the_config():
    app = make_app()
    stack = Stack(app, "Parent")
    template = StackSetTemplate(stack, "Baseline", description="test")
    with pytest.raises(ValueError) as failure:
        ServiceManagedStackSet(stack, "Rollout", template=template, stack_set_name="1-bad_name", ou_ids=["ou-ab12-mlworkld", "ou-x"],
                               regions=["eu-west-1", "europe"], exclude_accounts=["12345"])
    assert str(failure.value) == (
        "Parent/Rollout: 4 problem(s):\n"
        "  - stack_set_name: '1-bad_name' is not a StackSet name (a letter, then up to 127 letters, digits or hyphens)\n"
        "  - ou_ids[1]: 'ou-x' is not an OU id (ou-xxxx-xxxxxxxx) or root id (r-xxxx)\n"
        "  - regions[1]: 'europe' is not an AWS region name like eu-west-1\n"
        "  - exclude_accounts[0]: '12345' is not an AWS account id (exactly 12 digits)"
    )


# --- the guardrail SCP ---------------------------------------------------------------------------------------

def _protect_principals(data: dict[str, Any]) -> set[str]:
    options = guardrail_options(EstateConfig.from_dict(data))
    protect = [r.statement() for r in guardrail_rules(options) if r.sid.startswith("Protect") and r.condition]
    return {p for s in protect for p in s["Condition"]["ArnNotLike"]["aws:PrincipalArn"]}


def test_guardrails_let_the_stack_set_execution_role_manage_baseline_keys_and_config():
    exec_roles = {"arn:aws:iam::*:role/stacksets-exec", "arn:aws:iam::*:role/stacksets-exec-*"}
    assert exec_roles <= _protect_principals(estate_with(ROLLOUT))
    assert not exec_roles & _protect_principals(estate_with(None))


def test_without_rollout_the_organization_stack_has_no_stack_set():
    config = EstateConfig.from_dict(estate_with({**ROLLOUT, "enabled": False}))
    stack = OrganizationStack(Stage(make_app(), "Organization"), "Guardrails", config=config)
    assert not hasattr(stack, "baseline_rollout")
    assert not [c for c in stack.node.find_all() if isinstance(c, (StackSetTemplate, ServiceManagedStackSet))]


# --- config -----------------------------------------------------------------------------------------------------

BAD_CONFIG = [
    ({"ou_ids": ["ou-bad"]}, "organization.baseline_rollout.ou_ids[0]: 'ou-bad' is not an OU id (ou-xxxx-xxxxxxxx) or root id (r-xxxx)"),
    ({"regions": ["eu-west-1", "mars-1"]}, "organization.baseline_rollout.regions[1]: 'mars-1' is not an AWS region name like eu-west-1"),
    ({"regions": ["eu-west-1", "eu-west-1"]}, "organization.baseline_rollout.regions[1]: 'eu-west-1' is listed twice"),
    ({"exclude_accounts": ["1234"]}, "organization.baseline_rollout.exclude_accounts[0]: '1234' is not an AWS account id (exactly 12 digits)"),
    ({"cidr": "10.100.0.0/24"}, "organization.baseline_rollout.cidr: '10.100.0.0/24' has prefix /24; use /16 to /22 so every AZ gets a subnet"),
    ({"cidr": "10.300.0.0/16"}, "organization.baseline_rollout.cidr: '10.300.0.0/16' is not an IPv4 CIDR block like 10.100.0.0/16"),
    ({"cidr": "10.10.0.0/16"}, "organization.baseline_rollout.cidr: '10.10.0.0/16' overlaps network.ml_dev_cidr '10.10.0.0/16'; give the baseline VPCs their own block"),
    ({"monthly_limit_usd": 0}, "organization.baseline_rollout.monthly_limit_usd: 0.0 is not positive; give a USD amount or null for no budget"),
    ({"environment_tag": "bad!tag"}, "organization.baseline_rollout.environment_tag: 'bad!tag' is not a valid tag value"),
    ({"stack_set_name": "1-baseline"}, "organization.baseline_rollout.stack_set_name: '1-baseline' is not a StackSet name"),
    ({"operation": {"max_concurrent_percentage": 0}}, "organization.baseline_rollout.operation.max_concurrent_percentage: 0 is outside 1..100"),
    ({"operation": {"failure_tolerance_percentage": 101}}, "organization.baseline_rollout.operation.failure_tolerance_percentage: 101 is outside 0..100"),
    ({"operation": {"region_concurrency": "ALL"}}, "organization.baseline_rollout.operation.region_concurrency: 'ALL' is not allowed; expected one of 'SEQUENTIAL', 'PARALLEL'"),
    ({"ipam_pool_id": "pool-1"}, "organization.baseline_rollout.ipam_pool_id: 'pool-1' is not an IPAM pool id"),
    ({"ipam_pool_id": "ipam-pool-0123456789abcdef0"},
     "organization.baseline_rollout.ipam_pool_id: an IPAM pool allocates in one region (its locale), but the rollout targets"),
    ({"ipam_netmask_length": 24}, "organization.baseline_rollout.ipam_netmask_length: 24 is outside 16..22"),
    ({"regoins": ["eu-west-1"]}, "organization.baseline_rollout.regoins: unknown key; did you mean 'regions'?"),
]


@pytest.mark.parametrize(("change", "problem"), BAD_CONFIG, ids=[p.split(":")[0].rsplit(".", 1)[-1] + str(i) for i, (_, p) in enumerate(BAD_CONFIG)])
def test_bad_rollout_config_names_the_path(change, problem):
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(estate_with({**ROLLOUT, **change}))
    assert any(p.startswith(problem) for p in failure.value.problems), failure.value.problems


def test_all_rollout_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(estate_with({**ROLLOUT, "cidr": "10.20.0.0/16", "regions": ["nowhere"], "monthly_limit_usd": -1}))
    assert len([p for p in failure.value.problems if p.startswith("organization.baseline_rollout")]) == 3


def test_overlap_is_not_checked_while_the_rollout_is_off():
    config = EstateConfig.from_dict(estate_with({"enabled": False, "cidr": "10.10.0.0/16"}))
    assert config.organization.baseline_rollout.enabled is False


def test_defaults_target_the_ml_ous_in_the_estate_region():
    config = EstateConfig.from_dict(estate_with({"enabled": True}))
    rollout = config.organization.baseline_rollout
    assert rollout.target_ou_ids(config) == config.organization.ml_ou_ids
    assert rollout.target_regions(config) == (config.region,)
    assert rollout.excluded_accounts(config) == tuple(ESTATE_ACCOUNTS)
    assert rollout.name_for(config) == "mlops-account-baseline"
    assert rollout.monthly_limit_usd is None
    assert rollout.records_configuration(config) is config.audit.config_recorder
    assert replace(rollout, stack_set_name="Custom").name_for(config) == "Custom"
