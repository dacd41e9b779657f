"""The guardrail SCPs: statements, keys documented per action, size split, attachment, and what they deny.

`denied_by` is a small evaluator of the IAM condition operators the guardrails use, so the tests assert
what a request is denied for, not only the JSON shape.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mlops_estate.config.governance import GuardrailsConfig, guardrail_options
from mlops_estate.governance.guardrails import GuardrailOptions, SageMakerGuardrails, guardrail_rules, pack_policies, policy_json
from mlops_estate.config.estate import EstateConfig
from tests.helpers import default_config, default_estate_dict, make_stack, model_monitor_config, model_monitor_estate_dict, resources_of_type, template_of

KEY_TABLE = json.loads((Path(__file__).parents[1] / "data" / "iam_condition_keys.json").read_text())
ALL_ON = GuardrailsConfig(models_in_vpc=True)
DEV, PROD = "444444444444", "666666666666"
SHARED, DATA_LAKE = "222222222222", "333333333333"
KMS = "arn:aws:kms:eu-west-1:444444444444:key/1"


def options(rules: GuardrailsConfig | None = None) -> GuardrailOptions:
    base = guardrail_options(default_config())
    return replace(base, rules=rules) if rules is not None else base


def clarify_options() -> GuardrailOptions:
    """An estate that monitors explainability (model_monitor engine): the SCP exempts Clarify's shadow configs."""
    return guardrail_options(model_monitor_config())


def statements(opts: GuardrailOptions) -> list[dict[str, Any]]:
    return [s for doc in pack_policies(guardrail_rules(opts)) for s in json.loads(doc)["Statement"]]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _operator(op: str, key: str, expected: Any, ctx: dict[str, Any]) -> bool:
    present = key in ctx
    values = _listed(ctx.get(key))
    wanted = [str(v) for v in _listed(expected)]
    if op == "Null":
        return (not present) == (wanted[0] == "true")
    base, if_exists = (op[: -len("IfExists")], True) if op.endswith("IfExists") else (op, False)
    if not present:
        return if_exists
    set_op, _, base = base.rpartition(":")
    def one(v: Any) -> bool:
        v = str(v).lower() if base == "Bool" else str(v)
        if base in ("StringEquals", "Bool"):
            return v in wanted
        if base == "StringNotEquals":
            return v not in wanted
        if base in ("StringLike", "ArnLike"):
            return any(_like(v, w) for w in wanted)
        if base in ("StringNotLike", "ArnNotLike"):
            return not any(_like(v, w) for w in wanted)
        raise AssertionError(f"operator {op} not modelled")
    return any(one(v) for v in values) if set_op == "ForAnyValue" else one(values[0])


def denied_by(stmts: list[dict[str, Any]], action: str, ctx: dict[str, Any], resource: str = "*") -> list[str]:
    """The Sids of the deny statements that match the request."""
    out = []
    for s in stmts:
        if not any(_like(action, a) for a in _listed(s["Action"])):
            continue
        if "NotResource" in s:
            if any(_like(resource, r) for r in _listed(s["NotResource"])):
                continue
        elif not any(_like(resource, r) for r in _listed(s["Resource"])):
            continue
        if all(_operator(op, k, v, ctx) for op, kv in s.get("Condition", {}).items() for k, v in kv.items()):
            out.append(s["Sid"])
    return out


GOOD_TRAINING = {
    "aws:PrincipalArn": "arn:aws:iam::444444444444:role/pipeline", "aws:PrincipalAccount": DEV,
    "sagemaker:VolumeKmsKey": KMS, "sagemaker:OutputKmsKey": KMS, "sagemaker:VpcSubnets": ["subnet-1"],
    "sagemaker:VpcSecurityGroupIds": ["sg-1"], "sagemaker:NetworkIsolation": "true",
    "sagemaker:InterContainerTrafficEncryption": "true", "sagemaker:InstanceTypes": ["ml.m5.xlarge"],
}


# --- the reference table --------------------------------------------------------------------------

def _condition_keys(statement: dict[str, Any]) -> set[str]:
    return {k for kv in statement.get("Condition", {}).values() for k in kv}


@pytest.mark.parametrize("rules", [GuardrailsConfig(), ALL_ON], ids=["default", "all-rules"])
def test_every_action_condition_pair_is_documented(rules):
    for statement in statements(options(rules)):
        for action in _listed(statement["Action"]):
            assert action in KEY_TABLE["actions"], f"{statement['Sid']}: {action} is not in the reference table"
            documented = set(KEY_TABLE["actions"][action])
            for key in _condition_keys(statement):
                if key.startswith("aws:"):
                    continue  # global condition keys apply to every action
                assert key in documented, f"{statement['Sid']}: {action} does not document {key}; the SCP would never match"


def test_key_table_names_its_source():
    assert "Service Authorization Reference" in KEY_TABLE["_source"]
    assert "list_amazonsagemaker.html" in KEY_TABLE["_source"]


def test_the_table_check_catches_a_wrong_key():
    # CreateEndpointConfig has no OutputKmsKey: a statement using it would silently never match.
    assert "sagemaker:OutputKmsKey" not in KEY_TABLE["actions"]["sagemaker:CreateEndpointConfig"]
    assert "sagemaker:VolumeKmsKey" in KEY_TABLE["actions"]["sagemaker:CreateEndpointConfig"]


# --- statements -----------------------------------------------------------------------------------

def test_every_statement_denies_and_has_a_unique_descriptive_sid():
    stmts = statements(options(ALL_ON))
    sids = [s["Sid"] for s in stmts]
    assert len(sids) == len(set(sids))
    for s in stmts:
        assert s["Effect"] == "Deny"
        assert re.fullmatch(r"(Deny|Protect)[A-Za-z0-9]+", s["Sid"]), s["Sid"]


def test_compliant_training_job_is_not_denied():
    assert denied_by(statements(options()), "sagemaker:CreateTrainingJob", GOOD_TRAINING) == []


@pytest.mark.parametrize(
    ("missing", "sid"),
    [
        ("sagemaker:VolumeKmsKey", "DenySageMakerWithoutVolumeKmsKey"),
        ("sagemaker:OutputKmsKey", "DenySageMakerWithoutOutputKmsKey"),
        ("sagemaker:VpcSubnets", "DenySageMakerWithoutVpcSubnets"),
        ("sagemaker:VpcSecurityGroupIds", "DenySageMakerWithoutVpcSecurityGroups"),
        ("sagemaker:NetworkIsolation", "DenySageMakerWithoutNetworkIsolation"),
        ("sagemaker:InterContainerTrafficEncryption", "DenySageMakerWithoutInterContainerEncryption"),
    ],
)
def test_training_job_without_a_key_is_denied(missing, sid):
    ctx = {k: v for k, v in GOOD_TRAINING.items() if k != missing}
    assert denied_by(statements(options()), "sagemaker:CreateTrainingJob", ctx) == [sid]


def test_isolation_turned_off_is_denied():
    ctx = {**GOOD_TRAINING, "sagemaker:NetworkIsolation": "false"}
    assert denied_by(statements(options()), "sagemaker:CreateTrainingJob", ctx) == ["DenySageMakerWithoutNetworkIsolation"]


def test_endpoint_config_needs_only_its_volume_key():
    stmts = statements(clarify_options())
    ctx = {"aws:PrincipalAccount": PROD, "aws:PrincipalArn": "arn:aws:iam::666666666666:role/x",
           "sagemaker:InstanceTypes": ["ml.m5.xlarge"]}
    config = "arn:aws:sagemaker:eu-west-1:666666666666:endpoint-config/mlops-churn-prod"
    assert denied_by(stmts, "sagemaker:CreateEndpointConfig", ctx, config) == [
        "DenyEndpointConfigWithoutKmsKey", "DenyEndpointConfigWithoutKmsKeyOutsideClarify"]
    assert denied_by(stmts, "sagemaker:CreateEndpointConfig", {**ctx, "sagemaker:VolumeKmsKey": KMS}, config) == []


CLARIFY_CONFIG = "arn:aws:sagemaker:eu-west-1:666666666666:endpoint-config/sm-clarify-mlops-churn-prd-1a2b3c"
MONITOR_ROLE = "arn:aws:iam::666666666666:role/mlops/model-monitor/Prod-Serving-ChurnMonitorRole-AbC123"
SERVING_CTX = {"aws:PrincipalAccount": PROD, "sagemaker:InstanceTypes": ["ml.m5.large"]}


def test_only_a_monitor_role_may_create_a_keyless_clarify_shadow_endpoint_config():
    stmts = statements(clarify_options())
    monitor = {**SERVING_CTX, "aws:PrincipalArn": MONITOR_ROLE}
    assert denied_by(stmts, "sagemaker:CreateEndpointConfig", monitor, CLARIFY_CONFIG) == []
    # The same role, any other name: denied.
    other_name = CLARIFY_CONFIG.replace("sm-clarify-", "churn-")
    assert denied_by(stmts, "sagemaker:CreateEndpointConfig", monitor, other_name) == ["DenyEndpointConfigWithoutKmsKeyOutsideClarify"]
    # Another role (also one named like a monitor but outside the path), the Clarify name: denied.
    for arn in ("arn:aws:iam::666666666666:role/data-scientist", "arn:aws:iam::666666666666:role/model-monitor/x",
                "arn:aws:iam::666666666666:role/other/mlops/model-monitor/x"):
        assert denied_by(stmts, "sagemaker:CreateEndpointConfig", {**SERVING_CTX, "aws:PrincipalArn": arn}, CLARIFY_CONFIG) == [
            "DenyEndpointConfigWithoutKmsKey"], arn
    # The exemption is for endpoint configs only: a monitor role's keyless training job is still denied.
    assert "DenySageMakerWithoutVolumeKmsKey" in denied_by(stmts, "sagemaker:CreateTrainingJob", monitor)


def test_without_explainability_in_the_config_no_role_is_exempt():
    data = model_monitor_estate_dict()  # Model Monitor, but explainability turned off
    for model in data["models"]:
        if model.get("monitoring"):
            model["monitoring"].pop("explainability", None)
    opts = guardrail_options(EstateConfig.from_dict(data, "test"))
    assert not opts.clarify_shadow_endpoints
    stmts = statements(opts)
    assert not any("NotResource" in s for s in stmts)
    assert denied_by(stmts, "sagemaker:CreateEndpointConfig", {**SERVING_CTX, "aws:PrincipalArn": MONITOR_ROLE}, CLARIFY_CONFIG) == [
        "DenyEndpointConfigWithoutKmsKey"]


def test_the_clarify_exemption_names_the_estates_monitor_path_and_clarify_configs():
    by_sid = {s["Sid"]: s for s in statements(clarify_options())}
    assert by_sid["DenyEndpointConfigWithoutKmsKey"]["Condition"]["ArnNotLike"] == {
        "aws:PrincipalArn": "arn:aws:iam::*:role/mlops/model-monitor/*"}
    outside = by_sid["DenyEndpointConfigWithoutKmsKeyOutsideClarify"]
    assert outside["NotResource"] == "arn:aws:sagemaker:*:*:endpoint-config/sm-clarify-*" and "Resource" not in outside
    assert outside["Condition"] == {"Null": {"sagemaker:VolumeKmsKey": "true"}}


def test_studio_domain_must_be_vpc_only_and_stay_so():
    stmts = statements(options())
    base = {"sagemaker:VolumeKmsKey": KMS, "sagemaker:VpcSubnets": ["s"], "sagemaker:VpcSecurityGroupIds": ["g"]}
    assert denied_by(stmts, "sagemaker:CreateDomain", base) == ["DenyStudioDomainWithInternet"]  # default is public
    assert denied_by(stmts, "sagemaker:CreateDomain", {**base, "sagemaker:AppNetworkAccessType": "VpcOnly"}) == []
    assert denied_by(stmts, "sagemaker:UpdateDomain", {"sagemaker:AppNetworkAccessType": "PublicInternetOnly"}) == [
        "DenyStudioDomainSwitchToInternet"]
    assert denied_by(stmts, "sagemaker:UpdateDomain", {}) == []  # an update that leaves it alone


def test_notebooks_without_root_and_internet():
    stmts = statements(options())
    good = {"sagemaker:VolumeKmsKey": KMS, "sagemaker:VpcSubnets": ["s"], "sagemaker:VpcSecurityGroupIds": ["g"],
            "sagemaker:RootAccess": "Disabled", "sagemaker:DirectInternetAccess": "Disabled"}
    assert denied_by(stmts, "sagemaker:CreateNotebookInstance", good) == []
    assert denied_by(stmts, "sagemaker:CreateNotebookInstance", {k: v for k, v in good.items() if k != "sagemaker:RootAccess"}) == [
        "DenyNotebookRootAccess"]
    assert denied_by(stmts, "sagemaker:CreateNotebookInstance", {**good, "sagemaker:DirectInternetAccess": "Enabled"}) == [
        "DenyNotebookDirectInternet"]
    assert denied_by(stmts, "sagemaker:UpdateNotebookInstance", {"sagemaker:RootAccess": "Enabled"}) == ["DenyNotebookEnableRootAccess"]


def test_feature_group_needs_a_key_for_some_store():
    stmts = statements(options())
    assert denied_by(stmts, "sagemaker:CreateFeatureGroup", {}) == ["DenyFeatureGroupWithoutKmsKey"]
    assert denied_by(stmts, "sagemaker:CreateFeatureGroup", {"sagemaker:FeatureGroupOfflineStoreKmsKey": KMS}) == []


def test_monitoring_schedule_rules_apply_to_inline_jobs_only():
    stmts = statements(options())
    # Naming a job definition: no instance types in the request, the definition was checked when created.
    assert denied_by(stmts, "sagemaker:CreateMonitoringSchedule", {}) == []
    inline = {"sagemaker:InstanceTypes": ["ml.m5.large"], "aws:PrincipalAccount": PROD}
    assert "DenySageMakerWithoutVolumeKmsKeyInlineMonitoring" in denied_by(stmts, "sagemaker:CreateMonitoringSchedule", inline)


def test_instance_types_follow_each_accounts_allow_list():
    stmts = statements(options())
    p4d = {**GOOD_TRAINING, "sagemaker:InstanceTypes": ["ml.p4d.24xlarge"]}
    assert denied_by(stmts, "sagemaker:CreateTrainingJob", p4d) == [f"DenyInstanceTypesOutsideAllowList{DEV}"]
    inf2_big = {**GOOD_TRAINING, "sagemaker:InstanceTypes": ["ml.m5.large", "ml.inf2.8xlarge"]}
    assert denied_by(stmts, "sagemaker:CreateTrainingJob", inf2_big) == [f"DenyInstanceTypesOutsideAllowList{DEV}"]
    in_prod = {**inf2_big, "aws:PrincipalAccount": PROD}
    assert denied_by(stmts, "sagemaker:CreateTrainingJob", in_prod) == []  # prod allows ml.inf2.*
    studio_system = {"aws:PrincipalAccount": DEV, "sagemaker:InstanceTypes": ["system"]}
    assert denied_by(stmts, "sagemaker:CreateApp", studio_system) == []


@pytest.mark.parametrize("account", [SHARED, DATA_LAKE], ids=["shared_services", "data_lake"])
def test_accounts_without_workloads_are_capped_too(account):
    """Shared services and the data lake run no SageMaker job today: a small cap, not none."""
    opts = options()
    assert opts.allowed_instance_types(account) == ("ml.t3.*", "ml.m5.large", "ml.m5.xlarge")
    stmts = statements(opts)
    here = {**GOOD_TRAINING, "aws:PrincipalAccount": account, "aws:PrincipalArn": f"arn:aws:iam::{account}:role/x"}
    for big in ("ml.p3.2xlarge", "ml.m5.4xlarge", "ml.c5.xlarge"):
        assert denied_by(stmts, "sagemaker:CreateTrainingJob", {**here, "sagemaker:InstanceTypes": [big]}) == [
            f"DenyInstanceTypesOutsideAllowList{account}"], big
        assert denied_by(stmts, "sagemaker:CreateEndpointConfig", {**here, "sagemaker:VolumeKmsKey": KMS,
                                                                     "sagemaker:InstanceTypes": [big]}) == [
            f"DenyInstanceTypesOutsideAllowList{account}"], big
    assert denied_by(stmts, "sagemaker:CreateProcessingJob", {**here, "sagemaker:InstanceTypes": ["ml.m5.large"]}) == []
    assert denied_by(stmts, "sagemaker:CreateApp", {"aws:PrincipalAccount": account, "sagemaker:InstanceTypes": ["ml.t3.medium"]}) == []


def test_sandbox_accounts_get_the_union_of_their_roles_lists():
    cfg = default_config()
    same = replace(cfg, accounts=replace(cfg.accounts, ml_dev=PROD, staging=PROD))
    opts = guardrail_options(same)
    assert list(opts.instance_types_by_account) == [SHARED, DATA_LAKE, PROD]
    assert "ml.t3.*" in opts.instance_types_by_account[PROD] and "ml.inf2.*" in opts.instance_types_by_account[PROD]
    # Every role in one account: one list, the union of all five.
    sandbox = guardrail_options(replace(cfg, accounts=replace(cfg.accounts, shared_services=PROD, data_lake=PROD,
                                                                         ml_dev=PROD, staging=PROD)))
    assert list(sandbox.instance_types_by_account) == [PROD]
    assert {"ml.m5.large", "ml.p3.2xlarge", "ml.inf2.*"} <= set(sandbox.instance_types_by_account[PROD])


def test_exempt_roles_are_excepted_from_sagemaker_rules():
    stmts = statements(options(GuardrailsConfig(exempt_role_names=("break-glass",))))
    ctx = {"aws:PrincipalArn": "arn:aws:iam::444444444444:role/break-glass", "aws:PrincipalAccount": DEV}
    assert denied_by(stmts, "sagemaker:CreateTrainingJob", ctx) == []
    other = {**ctx, "aws:PrincipalArn": "arn:aws:iam::444444444444:role/someone"}
    assert "DenySageMakerWithoutVolumeKmsKey" in denied_by(stmts, "sagemaker:CreateTrainingJob", other)


# --- protecting the guardrails --------------------------------------------------------------------

def test_only_the_deployment_role_may_disable_the_estates_keys_and_config():
    stmts = statements(options())
    admin = {"aws:PrincipalArn": "arn:aws:iam::444444444444:role/Admin", "kms:ResourceAliases": ["alias/mlops/data"]}
    deployer = {**admin, "aws:PrincipalArn": "arn:aws:iam::444444444444:role/cdk-hnb659fds-cfn-exec-role-444444444444-eu-west-1"}
    assert denied_by(stmts, "kms:ScheduleKeyDeletion", admin) == ["ProtectEstateKmsKeys"]
    assert denied_by(stmts, "kms:ScheduleKeyDeletion", deployer) == []
    assert denied_by(stmts, "kms:ScheduleKeyDeletion", {**admin, "kms:ResourceAliases": ["alias/other/key"]}) == []
    assert denied_by(stmts, "kms:DeleteAlias", admin, "arn:aws:kms:eu-west-1:444444444444:alias/mlops/data") == ["ProtectEstateKmsAliases"]
    assert denied_by(stmts, "config:StopConfigurationRecorder", admin) == ["ProtectAwsConfig"]
    assert denied_by(stmts, "config:StopConfigurationRecorder", deployer) == []


def test_no_estate_account_may_leave_the_organisation():
    """Leaving takes an account out of every guardrail: denied to everyone in it, the deployment roles included."""
    stmts = statements(options())
    for arn in ("arn:aws:iam::444444444444:role/Admin", "arn:aws:iam::444444444444:role/cdk-hnb659fds-cfn-exec-role-444444444444-eu-west-1",
                "arn:aws:iam::222222222222:role/stacksets-exec-0123abcd", "arn:aws:iam::666666666666:role/break-glass"):
        assert denied_by(stmts, "organizations:LeaveOrganization", {"aws:PrincipalArn": arn}) == ["DenyLeavingTheOrganization"], arn
    (statement,) = [s for s in stmts if s["Sid"] == "DenyLeavingTheOrganization"]
    assert statement == {"Sid": "DenyLeavingTheOrganization", "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}
    assert "DenyLeavingTheOrganization" not in {s["Sid"] for s in statements(options(GuardrailsConfig(deny_leave_organization=False)))}
    # Independent of protect_audit (switched off where another tool owns AWS Config).
    assert "DenyLeavingTheOrganization" in {s["Sid"] for s in statements(options(GuardrailsConfig(protect_audit=False)))}


def test_no_scp_pretends_to_protect_the_organisation_trail():
    """The organisation trail lives in the management account, where SCPs never apply, and member accounts cannot
    change an organisation trail: a CloudTrail statement in the guardrails would protect nothing."""
    stmts = statements(options())
    assert not [s for s in stmts if any(str(a).startswith("cloudtrail:") for a in _listed(s["Action"]))]


def test_protection_exempts_the_deployment_role_by_principal_arn():
    protect = [s for s in statements(options()) if s["Sid"].startswith("Protect") and s["Sid"] != "ProtectStackSetsExecutionRoles"]
    assert len(protect) == 3
    for s in protect:
        # The default estate rolls the account baseline out with a StackSet, whose execution role deploys keys too.
        assert s["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
            "arn:aws:iam::*:role/cdk-hnb659fds-cfn-exec-role", "arn:aws:iam::*:role/cdk-hnb659fds-cfn-exec-role-*",
            "arn:aws:iam::*:role/stacksets-exec", "arn:aws:iam::*:role/stacksets-exec-*"]


# --- size ------------------------------------------------------------------------------------------

def large_rules() -> GuardrailsConfig:
    many = tuple(f"ml.{family}.{size}" for family in ("m5", "m6i", "c5", "c6i", "r5", "g5") for size in ("large", "xlarge", "2xlarge", "4xlarge"))
    return GuardrailsConfig(models_in_vpc=True, instance_types={"ml_dev": many, "staging": many[:12], "prod": many},
                            exempt_role_names=tuple(f"team-{i}-break-glass" for i in range(6)))


def test_large_config_splits_into_policies_under_the_quota():
    rules = guardrail_rules(options(large_rules()))
    documents = pack_policies(rules)
    assert len(documents) > 2
    assert all(len(doc) <= 5120 for doc in documents)
    packed = [s["Sid"] for doc in documents for s in json.loads(doc)["Statement"]]
    assert sorted(packed) == sorted(r.sid for r in rules)  # first-fit: every statement exactly once


def test_split_respects_a_smaller_limit():
    documents = pack_policies(guardrail_rules(options()), max_chars=2500)
    assert all(len(doc) <= 2500 for doc in documents)
    assert len(documents) > len(pack_policies(guardrail_rules(options())))


def test_a_statement_over_the_quota_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"guardrail statement DenySageMakerWithoutVolumeKmsKey alone is \d+ characters, over the 600"):
        pack_policies(guardrail_rules(options()), max_chars=600)


def test_policy_json_is_minified():
    assert policy_json([{"Sid": "A"}]) == '{"Version":"2012-10-17","Statement":[{"Sid":"A"}]}'


# --- the construct --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def guardrails_template():
    stack = make_stack()
    SageMakerGuardrails(stack, "Guardrails", options=options(), target_ids=["ou-ab12-mlworkld", "ou-ab12-sandboxx"])
    return template_of(stack).to_json()


def test_policies_are_scps_attached_to_the_ous(guardrails_template):
    policies = resources_of_type(guardrails_template, "AWS::Organizations::Policy")
    assert len(policies) == len(pack_policies(guardrail_rules(options())))
    names = sorted(p["Properties"]["Name"] for p in policies.values())
    assert names == [f"mlops-sagemaker-guardrails-{i}" for i in range(1, len(policies) + 1)]
    for p in policies.values():
        props = p["Properties"]
        assert props["Type"] == "SERVICE_CONTROL_POLICY"
        assert props["TargetIds"] == ["ou-ab12-mlworkld", "ou-ab12-sandboxx"]
        assert len(policy_json(props["Content"]["Statement"])) <= 5120


def test_too_many_policies_is_an_error():
    stack = make_stack()
    with pytest.raises(ValueError, match=r"Test/G: 1 problem\(s\):\n  - options.rules.max_policies: the guardrails need \d+ SCPs but max_policies is 1"):
        SageMakerGuardrails(stack, "G", options=options(replace(GuardrailsConfig(), max_policies=1)), target_ids=["r-ab12"])


def test_no_targets_is_an_error():
    with pytest.raises(ValueError, match="Test/G: 1 problem.*\n  - target_ids: is empty"):
        SageMakerGuardrails(make_stack(), "G", options=options(), target_ids=[])


def test_bad_props_are_reported_at_once_with_path_and_value():
    bad = replace(options(), monitor_role_path="model-monitor", instance_types_by_account={"12345": ()},
                  rules=replace(GuardrailsConfig(), exempt_role_names=("no spaces",), max_policy_chars=99))
    with pytest.raises(ValueError) as error:
        SageMakerGuardrails(make_stack(), "G", options=bad, target_ids=["ou-nope"])
    message = str(error.value)
    assert message.startswith("Test/G: 5 problem(s):")
    assert "options.monitor_role_path: 'model-monitor' is not an IAM path (/.../)" in message
    assert "options.rules.exempt_role_names[0]: 'no spaces' is not an IAM role name" in message
    assert "options.rules.max_policy_chars: 99 is outside 1024..5120" in message
    assert "options.instance_types_by_account.12345: '12345' is not an AWS account id" in message
    assert "options.instance_types_by_account.12345: is empty" in message


def test_default_estate_attaches_guardrails_to_the_configured_ous(default_estate):
    template = default_estate.templates["Organization/Guardrails"]
    policies = resources_of_type(template, "AWS::Organizations::Policy")
    assert policies and all(p["Properties"]["TargetIds"] == ["ou-ab12-mlworkld"] for p in policies.values())
    sids = {s["Sid"] for p in policies.values() for s in p["Properties"]["Content"]["Statement"]}
    assert {"DenySageMakerWithoutVolumeKmsKey", "ProtectAwsConfig", f"DenyInstanceTypesOutsideAllowList{DEV}",
            f"DenyInstanceTypesOutsideAllowList{SHARED}", f"DenyInstanceTypesOutsideAllowList{DATA_LAKE}",
            "DenyLeavingTheOrganization"} <= sids
    # Still within the automatic split: every document under the quota, at most max_policies of them.
    assert 1 < len(policies) <= 4
    assert all(len(policy_json(p["Properties"]["Content"]["Statement"])) <= 5120 for p in policies.values())


# --- the StackSet execution role's name cannot be borrowed --------------------------------------------------

FORGING = ("iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRolePolicy",
           "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary")


def test_nobody_in_a_member_account_may_create_or_repolicy_a_stacksets_exec_role():
    stmts = statements(options())  # the default estate rolls the baseline out with a StackSet
    (statement,) = [s for s in stmts if s["Sid"] == "ProtectStackSetsExecutionRoles"]
    assert statement["Resource"] == ["arn:aws:iam::*:role/stacksets-exec", "arn:aws:iam::*:role/stacksets-exec-*"]
    assert "Condition" not in statement  # every principal; StackSets' service-linked role is not subject to SCPs
    deployer = {"aws:PrincipalArn": "arn:aws:iam::444444444444:role/cdk-hnb659fds-cfn-exec-role-444444444444-eu-west-1"}
    forged = "arn:aws:iam::444444444444:role/stacksets-exec-0123abcd"
    for action in FORGING:
        assert denied_by(stmts, action, deployer, forged) == ["ProtectStackSetsExecutionRoles"], action
    # Other roles, and the CDK execution role (admins create it with `cdk bootstrap`), stay the account's business.
    assert denied_by(stmts, "iam:CreateRole", deployer, "arn:aws:iam::444444444444:role/mlops-pipeline") == []
    assert denied_by(stmts, "iam:CreateRole", deployer, "arn:aws:iam::444444444444:role/cdk-hnb659fds-cfn-exec-role-4-eu-west-1") == []


def test_without_the_baseline_rollout_no_role_name_is_reserved():
    data = default_estate_dict()
    data["organization"]["baseline_rollout"]["enabled"] = False
    stmts = statements(guardrail_options(EstateConfig.from_dict(data)))
    assert not [s for s in stmts if s["Sid"] == "ProtectStackSetsExecutionRoles"]
