"""Audit and cost governance: the organisation trail, AWS Config rules, budgets, their config, and their place
in the default estate."""

from __future__ import annotations

import copy

import pytest
from aws_cdk import Aspects
from aws_cdk import aws_kms as kms

from mlops_estate.governance.audit import OrganizationTrail
from mlops_estate.governance.budgets import AccountBudget
from mlops_estate.config.estate import ConfigError, EstateConfig
from mlops_estate.governance.config_rules import SAGEMAKER_RULES, SageMakerConfigRules
from mlops_estate.core.instance_types import has_local_storage
from mlops_estate.core.walked_aspects import WalkedAspectsStage
from mlops_estate.governance.guardrail_check import GuardrailCheck
from tests.helpers import MODEL_MONITOR_CHURN, default_estate_dict, make_stack, resources_of_type, template_of


@pytest.fixture(scope="module")
def governance_template():
    stack = make_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    OrganizationTrail(stack, "Trail", estate_name="mlops", key=key, log_retention_days=400)
    SageMakerConfigRules(stack, "Rules", recorder_key=key, model_rules=True)
    AccountBudget(stack, "Budget", budget_name="mlops-ml-dev-monthly", limit_usd=3000, key=key,
                  thresholds_percent=(50, 90), notify_emails=["finops@example.com"])
    return template_of(stack).to_json()


def _one(template, type_name):
    (resource,) = resources_of_type(template, type_name).values()
    return resource["Properties"]


def test_trail_is_organisation_wide_validated_encrypted_and_logged(governance_template):
    trail = _one(governance_template, "AWS::CloudTrail::Trail")
    assert trail["TrailName"] == "mlops-organization-trail"
    assert trail["IsOrganizationTrail"] is True
    assert trail["IsMultiRegionTrail"] is True
    assert trail["EnableLogFileValidation"] is True
    assert "KMSKeyId" in trail and "CloudWatchLogsLogGroupArn" in trail and "CloudWatchLogsRoleArn" in trail


def test_trail_log_group_is_encrypted_retained_with_retention(governance_template):
    groups = resources_of_type(governance_template, "AWS::Logs::LogGroup")
    (group,) = [g for k, g in groups.items() if k.startswith("TrailLogs")]
    assert group["Properties"]["RetentionInDays"] == 400
    assert "KmsKeyId" in group["Properties"]
    assert group["DeletionPolicy"] == "Retain"


def test_trail_bucket_admits_member_accounts_of_this_trail_only(governance_template):
    policies = resources_of_type(governance_template, "AWS::S3::BucketPolicy")
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (org,) = [s for s in statements if s.get("Sid") == "OrganizationTrailWrite"]
    assert org["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert "aws:SourceArn" in org["Condition"]["StringEquals"]


def test_key_admits_cloudtrail_for_this_trail(governance_template):
    key = _one(governance_template, "AWS::KMS::Key")
    sids = {s.get("Sid") for s in key["KeyPolicy"]["Statement"]}
    assert {"CloudTrailEncryptsLogs", "CloudTrailDescribesKey", "BudgetsPublishEncrypted"} <= sids


def test_config_rules_are_the_managed_sagemaker_rules(governance_template):
    rules = resources_of_type(governance_template, "AWS::Config::ConfigRule")
    identifiers = sorted(r["Properties"]["Source"]["SourceIdentifier"] for r in rules.values())
    assert identifiers == sorted([*SAGEMAKER_RULES.values(), "SAGEMAKER_MODEL_IN_VPC", "SAGEMAKER_MODEL_ISOLATION_ENABLED"])
    assert all(r["Properties"]["Source"]["Owner"] == "AWS" for r in rules.values())
    assert all(r.get("DependsOn") for r in rules.values())  # evaluated only once the recorder exists


def test_recorder_delivers_encrypted(governance_template):
    recorder = _one(governance_template, "AWS::Config::ConfigurationRecorder")
    assert recorder["RecordingGroup"]["AllSupported"] is True
    channel = _one(governance_template, "AWS::Config::DeliveryChannel")
    assert "S3KmsKeyArn" in channel


def test_without_recorder_key_no_recorder_is_made():
    stack = make_stack()
    SageMakerConfigRules(stack, "Rules")
    template = template_of(stack).to_json()
    assert resources_of_type(template, "AWS::Config::ConfigurationRecorder") == {}
    assert len(resources_of_type(template, "AWS::Config::ConfigRule")) == len(SAGEMAKER_RULES)


def test_budget_alerts_at_each_threshold_and_forecast(governance_template):
    budget = _one(governance_template, "AWS::Budgets::Budget")
    assert budget["Budget"]["BudgetName"] == "mlops-ml-dev-monthly"
    assert budget["Budget"]["BudgetLimit"] == {"Amount": 3000, "Unit": "USD"}
    notes = [(n["Notification"]["NotificationType"], n["Notification"]["Threshold"]) for n in budget["NotificationsWithSubscribers"]]
    assert notes == [("ACTUAL", 50), ("ACTUAL", 90), ("FORECASTED", 100)]
    assert all(n["Subscribers"][0]["SubscriptionType"] == "SNS" for n in budget["NotificationsWithSubscribers"])


def test_budget_topic_is_encrypted_and_only_budgets_of_this_account_publish(governance_template):
    topic = _one(governance_template, "AWS::SNS::Topic")
    assert "KmsMasterKeyId" in topic
    policy = _one(governance_template, "AWS::SNS::TopicPolicy")
    (publish,) = [s for s in policy["PolicyDocument"]["Statement"] if s.get("Sid") == "BudgetsOfThisAccountPublish"]
    assert publish["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert "aws:SourceAccount" in publish["Condition"]["StringEquals"]
    assert _one(governance_template, "AWS::SNS::Subscription")["Endpoint"] == "finops@example.com"


def test_budget_bad_input_is_reported_at_once():
    stack = make_stack()
    key = kms.Key(stack, "Key")
    with pytest.raises(ValueError) as failure:
        AccountBudget(stack, "B", budget_name="a:b", limit_usd=0, key=key, thresholds_percent=(0, 50, 50),
                      notify_emails=["finops", "a@example.com", "a@example.com"])
    assert str(failure.value) == (
        "Test/B: 6 problem(s):\n"
        "  - budget_name: 'a:b' is not an AWS Budgets name; expected 1-100 characters without ':' or '\\', not containing '/action/'\n"
        "  - limit_usd: 0 is not a limit; expected a positive amount of US dollars\n"
        "  - thresholds_percent[0]: 0 is outside what AWS Budgets allows; expected a percentage in (0, 1000]\n"
        "  - thresholds_percent: [0, 50, 50] names a threshold twice; expected each once\n"
        "  - notify_emails[0]: 'finops' is not an e-mail address; expected one like finops@example.com\n"
        "  - notify_emails: ['finops', 'a@example.com', 'a@example.com'] names an address twice; expected each once"
    )


def test_budget_allows_ten_alerts_counting_the_forecast():
    stack = make_stack()
    key = kms.Key(stack, "Key")
    AccountBudget(stack, "Ok", budget_name="ok", limit_usd=10, key=key, thresholds_percent=range(10, 100, 10))
    with pytest.raises(ValueError, match=r"thresholds_percent: \[10, 20, .*100\] makes 11 alerts with forecast_alert=True; "
                                         r"expected at most 10 per budget"):
        AccountBudget(stack, "B", budget_name="b", limit_usd=10, key=key, thresholds_percent=range(10, 101, 10))


def test_trail_bad_input_is_reported_at_once():
    stack = make_stack()
    with pytest.raises(ValueError) as failure:
        OrganizationTrail(stack, "T", estate_name="my--estate", key=kms.Key(stack, "K"), log_retention_days=42)
    assert str(failure.value) == (
        "Test/T: 2 problem(s):\n"
        "  - log_retention_days: 42 is not a CloudWatch Logs retention; expected one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, "
        "365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653\n"
        "  - estate_name: 'my--estate' makes the trail name 'my--estate-organization-trail', which is not a CloudTrail name; "
        "expected letters and digits with single '.', '_' or '-' between them, 3-128 characters in all"
    )


# --- config ----------------------------------------------------------------------------------------

def _problems(edit) -> list[str]:
    data = default_estate_dict()
    edit(data)
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(data, "test")
    return failure.value.problems


def test_config_rejects_bad_instance_patterns_and_role_names():
    def edit(d):
        d["guardrails"]["instance_types"]["ml_dev"] = ["m5.large"]
        d["guardrails"]["instance_types"]["staging"] = []
        d["guardrails"]["exempt_role_names"] = ["no spaces"]
    assert _problems(edit) == [
        "guardrails.instance_types.ml_dev[0]: 'm5.large' is not an instance type or pattern like ml.m5.large or ml.m5.*",
        "guardrails.instance_types.staging: is empty; list at least one instance type, or remove the role to leave it unrestricted",
        "guardrails.exempt_role_names[0]: 'no spaces' is not an IAM role name (1-64 of letters, digits and +=,.@_-)",
    ]


def test_config_rejects_a_serving_instance_off_the_allow_list():
    def edit(d):
        d["models"][0]["serving"]["prod"]["instance_type"] = "ml.p3.8xlarge"
    (problem,) = _problems(edit)
    assert problem.startswith("models[0].serving.prod.instance_type: 'ml.p3.8xlarge' is not on the prod allow-list")


@pytest.mark.parametrize("field", ["training_instance_type", "processing_instance_type"])
def test_config_rejects_a_build_instance_off_the_ml_dev_allow_list(field):
    """Build types become pipeline parameter defaults, which the synth-time GuardrailCheck cannot see."""
    def edit(d):
        d["models"][0]["build"][field] = "ml.c5n.2xlarge"
    (problem,) = _problems(edit)
    assert problem == (
        f"models[0].build.{field}: 'ml.c5n.2xlarge' is not on the ml_dev allow-list guardrails.instance_types.ml_dev "
        "(ml.t3.*, ml.m5.*, ml.m6i.*, ml.c5.*, ml.c6i.*, ml.r5.*, ml.p3.2xlarge); the guardrail SCP would deny it")


def test_config_checks_the_batch_instance_only_when_batch_inference_is_on():
    data = default_estate_dict()
    (i, batch), *_ = [(i, m) for i, m in enumerate(data["models"]) if m.get("build", {}).get("batch_inference")]
    batch["build"]["batch_instance_type"] = "ml.c5n.2xlarge"
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(data, "test")
    (problem,) = failure.value.problems
    assert problem.startswith(f"models[{i}].build.batch_instance_type: 'ml.c5n.2xlarge' is not on the ml_dev allow-list")
    batch["build"]["batch_inference"] = False
    EstateConfig.from_dict(data, "test")


def test_config_rejects_a_clarify_shadow_instance_off_the_serving_allow_lists():
    def edit(d):
        d["models"][0]["monitoring"] = copy.deepcopy(MODEL_MONITOR_CHURN)
        d["models"][0]["monitoring"]["explainability"]["shadow_instance_type"] = "ml.r5.large"  # prod only, not staging
    (problem,) = _problems(edit)
    assert problem.startswith("models[0].monitoring.explainability.shadow_instance_type: 'ml.r5.large' is not on the staging allow-list")


def test_config_rejects_a_monitoring_job_instance_off_the_serving_allow_lists():
    def edit(d):
        d["models"][0]["monitoring"]["instance_type"] = "ml.t3.large"  # staging only, not prod
    (problem,) = _problems(edit)
    assert problem.startswith("models[0].monitoring.instance_type: 'ml.t3.large' is not on the prod allow-list")


def test_config_rejects_local_storage_families_on_allow_lists_while_require_kms():
    def edit(d):
        d["guardrails"]["instance_types"]["ml_dev"] += ["ml.g5.xlarge", "ml.m5d.*", "ml.p4*.*", "ml.*"]
    problems = _problems(edit)
    assert [p.split(":")[0] for p in problems] == [f"guardrails.instance_types.ml_dev[{i}]" for i in (7, 8, 9)]
    assert problems[0] == (
        "guardrails.instance_types.ml_dev[7]: 'ml.g5.xlarge' has local NVMe instance storage, on which SageMaker rejects a "
        "volume KMS key, while guardrails.require_kms makes the guardrail SCP deny every request without one; choose an "
        "EBS-backed instance type (ml.m5, ml.c5, ml.r5, ml.p3, ml.inf2, ...) or turn require_kms off")


def test_config_rejects_local_storage_serving_instances_while_require_kms():
    def edit(d):
        d["guardrails"]["instance_types"] = {}
        d["models"][0]["serving"]["prod"]["instance_type"] = "ml.g4dn.xlarge"
        d["models"][0]["serving"]["prod"]["volume_kms_key"] = False  # the endpoint's own opt-out does not satisfy the SCP
    (problem,) = _problems(edit)
    assert problem == (
        "models[0].serving.prod.instance_type: 'ml.g4dn.xlarge' has local NVMe instance storage, on which SageMaker rejects "
        "a volume KMS key, while guardrails.require_kms makes the guardrail SCP deny every request without one; choose an "
        "EBS-backed instance type (ml.m5, ml.c5, ml.r5, ml.p3, ml.inf2, ...) or turn require_kms off")


@pytest.mark.parametrize("require_kms", [True, False])
def test_config_rejects_local_storage_build_and_monitoring_instances_always(require_kms):
    """Pipeline and Model Monitor jobs always take the estate's volume CMK, which SageMaker rejects on local storage."""
    def edit(d):
        d["guardrails"]["instance_types"] = {}
        d["guardrails"]["require_kms"] = require_kms
        d["models"][0]["build"]["training_instance_type"] = "ml.p4d.24xlarge"
        d["models"][0]["build"]["processing_instance_type"] = "ml.c5d.xlarge"
        d["models"][0]["monitoring"]["instance_type"] = "ml.m5d.xlarge"
    problems = _problems(edit)
    assert [p.split(":")[0] for p in problems] == [
        "models[0].monitoring.instance_type", "models[0].build.training_instance_type", "models[0].build.processing_instance_type"]
    assert problems[1] == (
        "models[0].build.training_instance_type: 'ml.p4d.24xlarge' has local NVMe instance storage, on which SageMaker rejects "
        "a volume KMS key, and the reference pipelines' jobs (VolumeKmsKeyId) always encrypt their volumes with the estate's "
        "CMK; choose an EBS-backed instance type (ml.m5, ml.c5, ml.r5, ml.p3, ml.inf2, ...)")


def test_local_storage_serving_instances_are_allowed_with_require_kms_off():
    data = default_estate_dict()
    data["guardrails"]["require_kms"] = False
    data["guardrails"]["instance_types"]["prod"].append("ml.g5.*")
    data["models"][0]["serving"]["prod"]["instance_type"] = "ml.g5.xlarge"
    data["models"][0]["serving"]["prod"]["volume_kms_key"] = False  # explicit: the endpoint leaves out its volume key
    EstateConfig.from_dict(data, "test")


@pytest.mark.parametrize("instance_type, local", [
    ("ml.g4dn.xlarge", True), ("ml.g5.2xlarge", True), ("ml.g6.xlarge", True), ("ml.p4d.24xlarge", True), ("ml.p5.48xlarge", True),
    ("ml.m5d.large", True), ("ml.c6id.xlarge", True), ("ml.r5dn.large", True), ("ml.trn1.32xlarge", True), ("ml.g5.*", True),
    ("ml.m5.large", False), ("ml.c5n.xlarge", False), ("ml.p3.2xlarge", False), ("ml.inf2.xlarge", False), ("ml.inf1.xlarge", False),
    ("ml.*", False), ("ml.m5.*", False),
])
def test_local_storage_families(instance_type, local):
    assert has_local_storage(instance_type) is local


def test_config_rejects_bad_audit_and_budget_values():
    def edit(d):
        d["audit"]["log_retention_days"] = 42
        d["budgets"]["monthly_limits_usd"]["prod"] = -1
        d["budgets"]["alert_thresholds_percent"] = [80, 80]
        d["budgets"]["notify_emails"] = ["finops"]
        d["budgets"]["monthly_limits_usd"]["sandbox"] = 1
    problems = _problems(edit)
    assert any(p.startswith("audit.log_retention_days: 42 is not a CloudWatch Logs retention") for p in problems)
    assert "budgets.monthly_limits_usd.prod: -1.0 must be a positive amount in USD" in problems
    assert "budgets.alert_thresholds_percent: lists a threshold twice" in problems
    assert "budgets.notify_emails[0]: 'finops' is not an email address" in problems
    assert any(p.startswith("budgets.monthly_limits_usd.sandbox: 'sandbox' is not allowed") for p in problems)


def test_config_governance_is_optional():
    data = default_estate_dict()
    for key in ("guardrails", "audit", "budgets"):
        data.pop(key)
    config = EstateConfig.from_dict(data, "test")
    assert config.guardrails.require_kms and config.audit.organization_trail and not config.audit.config_recorder
    assert dict(config.budgets.monthly_limits_usd) == {}


# --- the default estate ----------------------------------------------------------------------------

def test_every_stage_runs_the_guardrail_check(default_estate):
    # The estate's Python aspects are walked once per stage at synth (core/walked_aspects.py), not Aspects.of(stage).
    for stack in [default_estate.estate.organization, default_estate.estate.ml_dev, default_estate.estate.prod]:
        stage = stack.node.scope
        assert isinstance(stage, WalkedAspectsStage)
        assert any(isinstance(a, GuardrailCheck) for a in stage.walked_aspects)


@pytest.mark.parametrize("stack", ["MlDev/Workspace", "Staging/Serving", "Prod/Serving"])
def test_ml_accounts_have_sagemaker_config_rules(default_estate, stack):
    rules = resources_of_type(default_estate.templates[stack], "AWS::Config::ConfigRule")
    # and the rule that keeps the network's default security group closed (DefaultSecurityGroupClosed)
    assert sorted(r["Properties"]["Source"]["SourceIdentifier"] for r in rules.values()) == sorted(
        [*SAGEMAKER_RULES.values(), "VPC_DEFAULT_SECURITY_GROUP_CLOSED"])


@pytest.mark.parametrize(("stack", "name", "limit"), [
    ("SharedServices/Registry", "mlops-shared-services-monthly", 500), ("DataLake/DataLake", "mlops-data-lake-monthly", 800),
    ("MlDev/Workspace", "mlops-ml-dev-monthly", 3000), ("Staging/Serving", "mlops-staging-monthly", 1500),
    ("Prod/Serving", "mlops-prod-monthly", 6000),
])
def test_every_account_has_its_budget(default_estate, stack, name, limit):
    (budget,) = resources_of_type(default_estate.templates[stack], "AWS::Budgets::Budget").values()
    assert budget["Properties"]["Budget"]["BudgetName"] == name
    assert budget["Properties"]["Budget"]["BudgetLimit"]["Amount"] == limit


def test_management_account_has_the_organisation_trail(default_estate):
    template = default_estate.templates["Organization/Guardrails"]
    (trail,) = resources_of_type(template, "AWS::CloudTrail::Trail").values()
    assert trail["Properties"]["IsOrganizationTrail"] is True


def test_recorder_passes_every_nag_pack():
    # The default estate leaves the recorder off, so the gates over it never see one: check it here.
    from aws_cdk import AspectPriority

    from mlops_estate.security.encryption import DataClass, EstateKeys
    from mlops_estate.security.managed_policies import ManagedPoliciesOnly
    from mlops_estate.core.nag import apply_nag_packs
    from tests.helpers import make_app

    app = make_app()
    stack = make_stack(app)
    keys = EstateKeys(stack, "Keys", estate_name="mlops", classes=[DataClass.LOGS])
    SageMakerConfigRules(stack, "Rules", recorder_key=keys.logs)
    Aspects.of(app).add(ManagedPoliciesOnly(), priority=AspectPriority.MUTATING)
    apply_nag_packs(app)
    app.synth()  # raises on any unacknowledged finding


def test_estate_synth_fails_on_a_resource_the_scp_would_deny(tmp_path):
    from aws_cdk import aws_sagemaker as sm

    from mlops_estate.stacks.estate import build_estate, estate_app
    from tests.helpers import CDK_JSON

    app, config = estate_app(CDK_JSON, outdir=str(tmp_path))
    estate = build_estate(app, config)
    sm.CfnEndpointConfig(estate.staging, "Unencrypted", production_variants=[sm.CfnEndpointConfig.ProductionVariantProperty(
        variant_name="a", model_name="m", instance_type="ml.m5.large", initial_instance_count=1)])
    with pytest.raises(Exception, match=r"\[Staging/Serving/Unencrypted\] denied by guardrail SCP statement DenyEndpointConfigWithoutKmsKey"):
        app.synth()


@pytest.mark.parametrize("config_rules", [True, False])
def test_the_recorder_comes_before_the_networks_default_security_group_rule(config_rules):
    """The network closes its default security group with an AWS Config rule: with `audit.config_recorder` the
    account's recorder is made (also without the SageMaker rules) and the rule waits for it."""
    from dataclasses import replace

    from mlops_estate.security.encryption import DataClass, EstateKeys
    from mlops_estate.network.private_network import PrivateNetwork
    from mlops_estate.stacks.base import EstateStack, add_account_governance
    from tests.helpers import TEST_AZS, default_config, make_app

    config = default_config()
    config = replace(config, audit=replace(config.audit, config_rules=config_rules, config_recorder=True))
    stack = EstateStack(make_app(), "Serving", config=config, account=config.accounts.staging, description="test")
    keys = EstateKeys(stack, "Keys", estate_name="mlops", classes=[DataClass.LOGS])
    stack.network = PrivateNetwork(stack, "Network", cidr="10.20.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs,
                                   interface_endpoints=["SageMakerApi"])
    add_account_governance(stack, "staging", keys.logs)
    template = template_of(stack).to_json()
    (recorder_id,) = resources_of_type(template, "AWS::Config::ConfigurationRecorder")
    (channel_id,) = resources_of_type(template, "AWS::Config::DeliveryChannel")
    rules = resources_of_type(template, "AWS::Config::ConfigRule")
    (closed,) = [r for r in rules.values() if r["Properties"]["Source"]["SourceIdentifier"] == "VPC_DEFAULT_SECURITY_GROUP_CLOSED"]
    assert {recorder_id, channel_id} <= set(closed["DependsOn"])
    assert (len(rules) > len(SAGEMAKER_RULES)) if config_rules else (len(rules) == 1)
