"""PromotionPipeline (CodePipeline V2: staging -> manual approval -> prod, by CloudFormation) and PromotionTrigger."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Environment, Stack, Stage
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.lifecycle.promotion import DeployTarget, PromotionTarget, PromotionPipeline, PromotionTrigger
from mlops_estate.security.storage import SecureBucket
from tests.handlers.events import PROD, STAGING, matches, model_package_state_change, monitoring_job_completed
from tests.helpers import make_app, make_stack, resources_of_type, template_of

STAGING_TARGET = PromotionTarget(
    approved=DeployTarget(account=STAGING, stack_name="Staging-ApprovedChurn", template_path="assembly-Staging/StagingApprovedChurn.template.json"),
    serving=DeployTarget(account=STAGING, stack_name="Staging-Serving", template_path="assembly-Staging/StagingServingACCA5CE3.template.json"))
PROD_TARGET = PromotionTarget(
    approved=DeployTarget(account=PROD, stack_name="Prod-ApprovedChurn", template_path="assembly-Prod/ProdApprovedChurn.template.json"),
    serving=DeployTarget(account=PROD, stack_name="Prod-Serving", template_path="assembly-Prod/ProdServingE95F2C1F.template.json"))


def _parts(stack: Stack) -> dict[str, Any]:
    keys = EstateKeys(stack, "Keys", estate_name="mlops", classes=[DataClass.MODELS, DataClass.MONITORING, DataClass.LOGS])
    topic = sns.Topic(stack, "Approvals", master_key=keys.monitoring, enforce_ssl=True)
    return {
        "keys": keys, "topic": topic,
        "source": SecureBucket(stack, "Source", key=keys.models).bucket,
        "artifacts": SecureBucket(stack, "PipelineArtifacts", key=keys.models).bucket,
    }


def _pipeline(stack: Stack, parts: dict[str, Any], id: str = "Promote", **overrides: Any) -> PromotionPipeline:
    props: dict[str, Any] = dict(
        pipeline_name="mlops-churn-promotion", source_bucket=parts["source"], source_key="cloud-assembly.zip",
        artifact_bucket=parts["artifacts"], staging=STAGING_TARGET, prod=PROD_TARGET,
        approval_topic=parts["topic"],
    )
    props.update(overrides)
    return PromotionPipeline(stack, id, **props)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    stack = make_stack(account="222222222222")
    parts = _parts(stack)
    pipeline = _pipeline(stack, parts)
    bus = events.EventBus.from_event_bus_name(stack, "Bus", "mlops-shared-services")
    PromotionTrigger(stack, "Trigger", pipelines={"mlops-churn": pipeline}, approval_topic=parts["topic"],
                     event_buses=[events.EventBus.from_event_bus_name(stack, "Default", "default"), bus],
                     queue_key=parts["keys"].monitoring, logs_key=parts["keys"].logs,
                     outside_vpc_reason="Shared services has no workload VPC; the function only calls CodePipeline and SNS.")
    return template_of(stack).to_json()


def pipeline_props(template: dict[str, Any]) -> dict[str, Any]:
    [pipeline] = resources_of_type(template, "AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]


def test_pipeline_is_v2_with_the_model_package_variable(template: dict[str, Any]) -> None:
    props = pipeline_props(template)
    assert props["PipelineType"] == "V2" and props["ExecutionMode"] == "QUEUED"
    assert props["Name"] == "mlops-churn-promotion"
    assert [v["Name"] for v in props["Variables"]] == ["ModelPackageArn"]
    assert [s["Name"] for s in props["Stages"]] == ["Source", "Staging", "ApproveProd", "Prod"]


def test_source_is_the_cloud_assembly_and_never_starts_the_pipeline(template: dict[str, Any]) -> None:
    [source] = pipeline_props(template)["Stages"][0]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "S3"
    assert source["Configuration"]["S3ObjectKey"] == "cloud-assembly.zip"
    assert source["Configuration"]["PollForSourceChanges"] is False


@pytest.mark.parametrize(("stage", "target"), [(1, STAGING_TARGET), (3, PROD_TARGET)], ids=["staging", "prod"])
def test_deploys_by_cloudformation_with_the_arn_as_stack_parameter(template: dict[str, Any], stage: int, target: PromotionTarget) -> None:
    release, deploy = sorted(pipeline_props(template)["Stages"][stage]["Actions"], key=lambda a: a["RunOrder"])
    assert (release["RunOrder"], deploy["RunOrder"]) == (1, 2)
    for action, part in ((release, target.approved), (deploy, target.serving)):
        config = action["Configuration"]
        assert action["ActionTypeId"]["Provider"] == "CloudFormation"
        assert config["StackName"] == part.stack_name
        assert config["TemplatePath"] == f"CloudAssembly::{part.template_path}"
        assert action["RoleArn"] == f"arn:aws:iam::{part.account}:role/cdk-hnb659fds-deploy-role-{part.account}-eu-west-1"
        assert config["RoleArn"] == f"arn:aws:iam::{part.account}:role/cdk-hnb659fds-cfn-exec-role-{part.account}-eu-west-1"
    # The approved-model stack gets the ARN (its only parameter); the serving stack no overrides at all, so every
    # model-package parameter keeps its default: the SSM parameter of that model, read at deploy time.
    assert json.loads(release["Configuration"]["ParameterOverrides"]) == {"ModelPackageArn": "#{variables.ModelPackageArn}"}
    assert "ParameterOverrides" not in deploy["Configuration"]


def test_prod_waits_for_a_manual_approval_that_notifies_approvers(template: dict[str, Any]) -> None:
    [approval] = pipeline_props(template)["Stages"][2]["Actions"]
    assert approval["ActionTypeId"]["Category"] == "Approval"
    assert "NotificationArn" in approval["Configuration"]
    assert "#{variables.ModelPackageArn}" in approval["Configuration"]["CustomData"]


def test_serving_accounts_deploy_roles_may_read_the_artifacts(template: dict[str, Any]) -> None:
    statements = [s for p in resources_of_type(template, "AWS::S3::BucketPolicy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    principals = {a for s in statements for a in _list(s.get("Principal", {}).get("AWS", []))}
    assert {f"arn:aws:iam::{a}:role/cdk-hnb659fds-deploy-role-{a}-eu-west-1" for a in (STAGING, PROD)} <= principals


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: dict[str, Any], role_fragment: str) -> list[dict[str, Any]]:
    return [s for p in resources_of_type(template, "AWS::IAM::Policy").values()
            if any(role_fragment in json.dumps(r) for r in p["Properties"].get("Roles", []))
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_promote_function_may_start_only_the_promotion_pipelines_and_notify(template: dict[str, Any]) -> None:
    statements = {s.get("Sid"): s for s in _statements(template, "TriggerPromoteModelRole")}
    start = statements["StartPromotionPipelinesOnly"]
    assert start["Action"] == "codepipeline:StartPipelineExecution"
    [pipeline_id] = resources_of_type(template, "AWS::CodePipeline::Pipeline")
    assert start["Resource"] == {"Fn::Join": ["", ["arn:aws:codepipeline:eu-west-1:222222222222:", {"Ref": pipeline_id}]]}
    assert statements["NotifyApprovers"]["Action"] == "sns:Publish"
    assert sorted(statements["EncryptForApproversTopic"]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    fn = next(f["Properties"] for f in resources_of_type(template, "AWS::Lambda::Function").values()
              if "PIPELINES" in f["Properties"].get("Environment", {}).get("Variables", {}))
    assert json.loads(fn["Environment"]["Variables"]["PIPELINES"]) == {"mlops-churn": "mlops-churn-promotion"}
    assert "VpcConfig" not in fn and fn["Architectures"] == ["arm64"]


def test_one_rule_per_bus_with_bounded_retries(template: dict[str, Any]) -> None:
    rules = [r["Properties"] for r in resources_of_type(template, "AWS::Events::Rule").values()]
    assert sorted(r.get("EventBusName", "default") for r in rules) == ["default", "mlops-shared-services"]
    for rule in rules:
        [target] = rule["Targets"]
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 8}
        assert "Arn" in target["DeadLetterConfig"]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (model_package_state_change("Approved"), True),
        (model_package_state_change("PendingManualApproval"), True),
        (model_package_state_change("Rejected"), True),
        (model_package_state_change("Approved", group="mlops-other"), False),
        (monitoring_job_completed(), False),
    ],
    ids=["approved", "pending", "rejected", "other-group", "other-detail-type"],
)
def test_model_package_rule_pattern(template: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    rule = next(iter(resources_of_type(template, "AWS::Events::Rule").values()))
    assert matches(rule["Properties"]["EventPattern"], event) is expected


def test_deploy_target_of_a_stack_in_a_stage() -> None:
    app = make_app()
    stack = Stack(Stage(app, "Staging"), "Serving", env=Environment(account=STAGING, region="eu-west-1"))
    target = DeployTarget.of_stack(stack)
    assert target.account == STAGING and target.stack_name == "Staging-Serving"
    assert target.template_path.startswith("assembly-Staging/StagingServing") and target.template_path.endswith(".template.json")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pipeline_name": "no spaces allowed"}, "pipeline_name: 'no spaces allowed' is not a CodePipeline name"),
        ({"staging": PromotionTarget(approved=STAGING_TARGET.approved, serving=PROD_TARGET.serving)},
         "staging: approved \\(555555555555\\) and serving \\(666666666666\\) stacks are in different accounts"),
        ({"staging": PromotionTarget(approved=DeployTarget(account="5555", stack_name="S", template_path="a/S.template.json"),
                                     serving=DeployTarget(account="5555", stack_name="S", template_path="a/S.template.json"))},
         "staging.approved.account: '5555' is not an AWS account id"),
        ({"prod": PromotionTarget(approved=PROD_TARGET.approved, serving=DeployTarget(account=PROD, stack_name="P", template_path="cdk.out.zip"))},
         "prod.serving.template_path: 'cdk.out.zip' is not a synthesized template"),
        ("unencrypted", "artifact_bucket: has no KMS key"),
    ],
    ids=["pipeline-name", "split-accounts", "account", "template-path", "artifact-key"],
)
def test_bad_props_are_rejected_with_the_construct_path(overrides: Any, message: str) -> None:
    stack = make_stack()
    parts = _parts(stack)
    if overrides == "unencrypted":
        overrides = {"artifact_bucket": s3.Bucket.from_bucket_name(stack, "Plain", "plain-bucket")}
    with pytest.raises(ValueError, match=r"(?s)^Test/Promote: .*" + message):
        _pipeline(stack, parts, **overrides)


def test_trigger_needs_pipelines_and_buses() -> None:
    stack = make_stack()
    parts = _parts(stack)
    with pytest.raises(ValueError) as failure:
        PromotionTrigger(stack, "Trigger", pipelines={}, approval_topic=parts["topic"], event_buses=[],
                         queue_key=parts["keys"].monitoring, logs_key=parts["keys"].logs, outside_vpc_reason="x" * 30)
    text = str(failure.value)
    assert text.startswith("Test/Trigger: 2 problem(s):")
    assert "pipelines: is empty" in text and "event_buses: is empty" in text
