"""TrainingPipeline: the deployed definition, least-privilege roles scoped to what the definition uses, schedule."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import Stack

from mlops_estate.core.validation import ConfigError
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.pipeline import (
    ConditionGreaterThanOrEqualTo,
    ConditionStep,
    CreateModelStep,
    FailStep,
    JobEnvironment,
    ParameterFloat,
    ParameterString,
    PipelineDefinition,
    PipelineDefinitionError,
    ProcessingOutput,
    ProcessingStep,
    PropertyFile,
    RegisterModelStep,
    SpotTraining,
    TrainingInput,
    TrainingStep,
    TransformStep,
)
from mlops_estate.pipeline.training_pipeline import CrossAccountStore, PipelineSchedule, PipelineStorage, TrainingPipeline
from mlops_estate.security.storage import SecureBucket
from tests.helpers import TEST_AZS, make_stack, policy_statements, resources_of_type, template_of
from tests.iam_eval import Caller, allowed
from tests.pipeline_schema import from_template, validate

IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
GROUP = "arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/team-churn"
STORE = CrossAccountStore("team-artifacts-222222222222-eu-west-1", "models/churn", "222222222222", "eu-west-1")


def full_definition(jobs: JobEnvironment) -> PipelineDefinition:
    threshold = ParameterFloat("Threshold", 0.8)
    report = PropertyFile("Report", "evaluation", "evaluation.json")
    prep = ProcessingStep("Prep", job=jobs, image_uri=IMAGE, instance_type="ml.m5.large", code="s3://code/prep.py",
                          outputs=[ProcessingOutput("train", "/opt/ml/processing/train", "s3://work/train")])
    train = TrainingStep("Train", job=jobs, image_uri=IMAGE, instance_type="ml.m5.xlarge",
                         inputs={"train": TrainingInput(prep.output_uri("train"))}, output_path=f"s3://{STORE.bucket_name}/models/churn",
                         spot=SpotTraining("s3://work/checkpoints", 7200))
    evaluate = ProcessingStep("Evaluate", job=jobs, image_uri=IMAGE, instance_type="ml.m5.large", code="s3://code/evaluate.py",
                              outputs=[ProcessingOutput("evaluation", "/opt/ml/processing/evaluation", "s3://work/eval")],
                              property_files=[report])
    register = RegisterModelStep("Register", model_package_group=GROUP, image_uri=IMAGE, model_data=train.model_artifacts)
    create = CreateModelStep("CreateModel", job=jobs, image_uri=IMAGE, model_data=train.model_artifacts)
    score = TransformStep("Score", job=jobs, model_name=create.model_name, instance_type="ml.m5.large",
                          input_s3_uri="s3://work/batch", output_path="s3://work/scored")
    gate = ConditionStep("Gate", conditions=[ConditionGreaterThanOrEqualTo(evaluate.json_get(report, "metrics.auc.value"), threshold)],
                         if_steps=[register, create, score], else_steps=[FailStep("Failed", error_message="below threshold")])
    return PipelineDefinition("team-churn-build", parameters=[threshold, ParameterString("Mode", "daily")], steps=[prep, train, evaluate, gate])


def processing_only(jobs: JobEnvironment) -> PipelineDefinition:
    return PipelineDefinition("team-prep", steps=[
        ProcessingStep("Prep", job=jobs, image_uri=IMAGE, instance_type="ml.m5.large", code="s3://code/prep.py")])


class Built:
    def __init__(self) -> None:
        self.stack = make_stack()
        keys = EstateKeys(self.stack, "Keys", estate_name="team", classes=[DataClass.MODELS, DataClass.DATA, DataClass.LOGS])
        self.network = PrivateNetwork(self.stack, "Network", cidr="10.50.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs)
        self.artifacts = SecureBucket(self.stack, "Artifacts", key=keys.models)
        self.data = SecureBucket(self.stack, "Data", key=keys.data)
        self.unrelated = SecureBucket(self.stack, "Unrelated", key=keys.data)
        storage = PipelineStorage(key=keys.models, buckets=(self.artifacts.bucket, self.data.bucket), cross_account=(STORE,))
        self.full = TrainingPipeline(self.stack, "Full", pipeline_name="team-churn-build", definition=full_definition,
                                     placement=self.network.placement, storage=storage,
                                     schedule=PipelineSchedule("cron(0 3 ? * MON *)", {"Mode": "weekly"}))
        self.prep = TrainingPipeline(self.stack, "PrepOnly", pipeline_name="team-prep", definition=processing_only,
                                     placement=self.network.placement,
                                     storage=PipelineStorage(key=keys.models, buckets=(self.artifacts.bucket,)))
        self.template: dict[str, Any] = template_of(self.stack).to_json()

    def policy_of(self, role_logical_prefix: str) -> list[dict[str, Any]]:
        return policy_statements(self.template, role_logical_prefix)

    def logical_id(self, construct: Any) -> str:
        return str(Stack.of(construct).get_logical_id(construct.node.default_child))


@pytest.fixture(scope="module")
def built() -> Built:
    return Built()


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for s in statements:
        out.update([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    return out


def test_pipeline_deploys_the_validated_definition(built):
    pipelines = {p["Properties"]["PipelineName"]: p for p in resources_of_type(built.template, "AWS::SageMaker::Pipeline").values()}
    assert sorted(pipelines) == ["team-churn-build", "team-prep"]
    full = pipelines["team-churn-build"]["Properties"]
    assert full["RoleArn"] == {"Fn::GetAtt": [built.logical_id(built.full.role), "Arn"]}
    body = from_template(full["PipelineDefinition"]["PipelineDefinitionBody"])
    validate(body)
    assert [s["Name"] for s in body["Steps"]] == ["Prep", "Train", "Evaluate", "Gate"]


def test_jobs_use_the_job_role_the_vpc_and_the_key(built):
    body = built.full.definition.to_dict()
    stack = built.stack
    prep = body["Steps"][0]["Arguments"]
    assert stack.resolve(prep["RoleArn"]) == {"Fn::GetAtt": [built.logical_id(built.full.job_role), "Arn"]}
    assert stack.resolve(prep["NetworkConfig"]["VpcConfig"]["Subnets"]) == stack.resolve(list(built.network.placement.subnet_ids))
    assert prep["NetworkConfig"]["EnableNetworkIsolation"] is True


def test_pipeline_role_covers_only_the_job_types_used(built):
    full = _actions(built.policy_of("FullPipelineRole"))
    assert {"sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob", "sagemaker:CreateModel", "sagemaker:CreateTransformJob",
            "sagemaker:CreateModelPackage"} <= full
    assert "sagemaker:CreateHyperParameterTuningJob" not in full
    prep = _actions(built.policy_of("PrepOnlyPipelineRole"))
    assert {a for a in prep if a.startswith("sagemaker:Create")} == {"sagemaker:CreateProcessingJob"}
    assert not any("*" == a.split(":")[1] for a in full | prep)


def test_job_creation_requires_isolation_in_this_vpc(built):
    stack = built.stack
    for s in built.policy_of("FullPipelineRole"):
        if s["Action"] in ("sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob"):
            assert s["Condition"]["Bool"] == {"sagemaker:NetworkIsolation": "true", "sagemaker:InterContainerTrafficEncryption": "true"}
            subnets = s["Condition"]["ForAllValues:StringEquals"]["sagemaker:VpcSubnets"]
            assert subnets == stack.resolve(list(built.network.placement.subnet_ids))
            assert s["Resource"].endswith("-job/pipelines-*")


def test_vpc_conditions_are_not_vacuous_for_requests_without_a_vpc(built):
    """ForAllValues:StringEquals holds for a request without the key; the Null guard makes the VPC required."""
    guarded = set()
    for s in built.policy_of("FullPipelineRole"):
        condition = s.get("Condition", {})
        if "sagemaker:VpcSubnets" in condition.get("ForAllValues:StringEquals", {}):
            assert condition["Null"] == {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"}, s["Action"]
            guarded.add(s["Action"])
    assert {"sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob", "sagemaker:CreateModel"} <= guarded


def test_pass_role_only_to_its_job_role(built):
    passes = [s for s in built.policy_of("FullPipelineRole") if s["Action"] == "iam:PassRole"]
    assert len(passes) == 1
    assert passes[0]["Resource"] == {"Fn::GetAtt": [built.logical_id(built.full.job_role), "Arn"]}


def test_pipeline_role_may_grant_the_volume_key_to_aws_services_only(built):
    grants = [s for s in built.policy_of("FullPipelineRole") if "kms:CreateGrant" in s["Action"]]
    assert len(grants) == 1
    assert grants[0]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert grants[0]["Resource"] == built.stack.resolve(built.full.storage.key.key_arn)
    assert grants[0]["Action"] == "kms:CreateGrant"  # the condition exists on grant requests only


def test_pipeline_role_may_describe_the_volume_key_through_sagemaker(built):
    (describe,) = [s for s in built.policy_of("FullPipelineRole")
                   if s["Action"] == "kms:DescribeKey" and s["Resource"] == built.stack.resolve(built.full.storage.key.key_arn)]
    assert describe["Condition"] == {"StringEquals": {"kms:ViaService": "sagemaker.eu-west-1.amazonaws.com"}}


def test_register_only_into_the_named_group(built):
    statements = [s for s in built.policy_of("FullPipelineRole") if "sagemaker:CreateModelPackage" in s["Action"]]
    assert [s["Resource"] for s in statements] == ["arn:aws:sagemaker:eu-west-1:222222222222:model-package/team-churn/*"]


def test_the_pipeline_never_approves_its_own_model(built):
    """The role creates versions only as PendingManualApproval and updates none: a person approves them."""
    role = Caller("arn:aws:iam::123456789012:role/pipeline", "123456789012", built.policy_of("FullPipelineRole"))
    version = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/team-churn/7"
    # Cross-account, the registry's group policy must allow too: here one allowing the account anything on it.
    group_policy = [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sagemaker:*", "Resource": "*"}]

    def may(action: str, **ctx: str) -> bool:
        return allowed(role, action, version, resource_account="222222222222", resource_policy=group_policy, ctx=ctx)

    assert may("sagemaker:CreateModelPackage", **{"sagemaker:ModelApprovalStatus": "PendingManualApproval"})
    assert not may("sagemaker:CreateModelPackage", **{"sagemaker:ModelApprovalStatus": "Approved"})
    assert not may("sagemaker:CreateModelPackage", **{"sagemaker:ModelApprovalStatus": "Rejected"})
    assert not may("sagemaker:UpdateModelPackage", **{"sagemaker:ModelApprovalStatus": "Approved"})


@pytest.mark.parametrize("status", ["Approved", "Rejected", "parameter"])
def test_a_register_step_deciding_the_status_itself_is_rejected(parts, status):
    stack, placement, storage = parts
    name = f"deciding-{status.lower()}"

    def definition(jobs: JobEnvironment) -> PipelineDefinition:
        chosen = ParameterString("ModelApprovalStatus", "PendingManualApproval")
        register = RegisterModelStep("Register", model_package_group=GROUP, image_uri=IMAGE, model_data="s3://work/model.tar.gz",
                                     approval_status=chosen if status == "parameter" else status)  # type: ignore[arg-type]
        return PipelineDefinition(name, parameters=[chosen], steps=[register])

    shown = "String parameter 'ModelApprovalStatus'" if status == "parameter" else repr(status)
    with pytest.raises(ConfigError, match=re.escape(
            f"definition.steps[Register].approval_status: {shown} is not allowed; expected 'PendingManualApproval': a build "
            "pipeline registers versions for a person to approve")):
        TrainingPipeline(stack, f"Deciding{status}", pipeline_name=name, definition=definition, placement=placement, storage=storage)


def test_job_role_touches_only_the_given_buckets_and_store(built):
    text = json.dumps(built.policy_of("FullJobRole"))
    stack = built.stack
    for bucket in (built.artifacts, built.data):
        assert stack.resolve(bucket.bucket.bucket_arn)["Fn::GetAtt"][0] in text
    assert stack.resolve(built.unrelated.bucket.bucket_arn)["Fn::GetAtt"][0] not in text
    assert f"s3:::{STORE.bucket_name}/models/churn/*" in text
    kms = [s for s in built.policy_of("FullJobRole") if s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")]
    assert kms and all("222222222222:key/*" in json.dumps(s["Resource"]) for s in kms)
    ecr = [s for s in built.policy_of("FullJobRole") if "ecr:BatchGetImage" in s["Action"]]
    assert [s["Resource"] for s in ecr] == ["arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost"]


def test_schedule_starts_the_pipeline_with_parameters(built):
    schedule = next(iter(resources_of_type(built.template, "AWS::Scheduler::Schedule").values()))["Properties"]
    assert schedule["ScheduleExpression"] == "cron(0 3 ? * MON *)"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["Arn"] == "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/team-churn-build"
    assert target["SageMakerPipelineParameters"] == {"PipelineParameterList": [{"Name": "Mode", "Value": "weekly"}]}
    starts = [s for s in built.policy_of("FullScheduleRole") if s["Action"] == "sagemaker:StartPipelineExecution"]
    assert [s["Resource"] for s in starts] == [target["Arn"]]


def test_metrics_are_per_pipeline(built):
    metric = built.full.metric_execution_failed()
    assert metric.namespace == "AWS/Sagemaker/ModelBuildingPipeline"
    assert metric.dimensions == {"PipelineName": "team-churn-build"}


# -- bad input ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parts() -> tuple[Stack, Any, PipelineStorage]:
    stack = make_stack(id="Bad")
    keys = EstateKeys(stack, "Keys", estate_name="team", classes=[DataClass.MODELS, DataClass.LOGS])
    network = PrivateNetwork(stack, "Network", cidr="10.60.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs)
    bucket = SecureBucket(stack, "Artifacts", key=keys.models)
    return stack, network.placement, PipelineStorage(key=keys.models, buckets=(bucket.bucket,))


def _prep(name: str) -> Any:
    """A one-step definition named ``name``."""
    def definition(jobs: JobEnvironment) -> PipelineDefinition:
        return PipelineDefinition(name, steps=[
            ProcessingStep("Prep", job=jobs, image_uri=IMAGE, instance_type="ml.m5.large", code="s3://code/prep.py")])
    return definition


def test_bad_props_are_reported_together_with_path_and_value(parts):
    stack, placement, storage = parts
    with pytest.raises(ConfigError) as failure:
        TrainingPipeline(stack, "P1", pipeline_name="bad_name", definition=_prep("bad_name"), placement=placement,
                         storage=PipelineStorage(key=storage.key, buckets=()), schedule=PipelineSchedule("rate(1 fortnight)"))
    text = str(failure.value)
    assert text.startswith("Bad/P1: 3 problem(s)")
    for expected in (
        "pipeline_name: 'bad_name' is not a pipeline name; expected up to 256 letters, digits and single hyphens",
        "storage.buckets: () is empty; expected at least one bucket",
        "schedule.expression: 'rate(1 fortnight)' is not a schedule expression; expected 'rate(<n> minutes|hours|days)', "
        "'cron(<6 fields>)' or 'at(yyyy-mm-ddThh:mm:ss)'",
    ):
        assert expected in text, expected


def test_a_definition_named_otherwise_is_refused(parts):
    stack, placement, storage = parts
    with pytest.raises(ConfigError, match=re.escape(
            "Bad/P5: 1 problem(s):\n  - definition: builds the pipeline 'other', not 'p5'; expected the definition to carry "
            "pipeline_name")):
        TrainingPipeline(stack, "P5", pipeline_name="p5", definition=_prep("other"), placement=placement, storage=storage)


def test_schedule_parameter_must_exist(parts):
    stack, placement, storage = parts
    with pytest.raises(ConfigError, match=re.escape("schedule.parameters[Nope]: 'Nope' is not a parameter of the pipeline; "
                                                    "expected one of none (declare it)")):
        TrainingPipeline(stack, "P2", pipeline_name="p2", definition=_prep("p2"), placement=placement, storage=storage,
                         schedule=PipelineSchedule("rate(1 day)", {"Nope": "x"}))


def test_image_from_an_expression_cannot_be_scoped(parts):
    stack, placement, storage = parts

    def definition(jobs: JobEnvironment) -> PipelineDefinition:
        image = ParameterString("Image", IMAGE)
        return PipelineDefinition("p3", parameters=[image], steps=[
            ProcessingStep("Prep", job=jobs, image_uri=image, instance_type="ml.m5.large", code="s3://code/p.py")])

    with pytest.raises(ConfigError, match=re.escape(
            "definition.steps[Prep].image_uri: String parameter 'Image' is an expression; expected a literal ECR image URI")):
        TrainingPipeline(stack, "P3", pipeline_name="p3", definition=definition, placement=placement, storage=storage)


def test_image_outside_ecr_is_refused(parts):
    stack, placement, storage = parts

    def definition(jobs: JobEnvironment) -> PipelineDefinition:
        return PipelineDefinition("p6", steps=[
            ProcessingStep("Prep", job=jobs, image_uri="docker.io/library/python:3", instance_type="ml.m5.large", code="s3://code/p.py")])

    with pytest.raises(ConfigError, match=re.escape("definition.steps[Prep].image_uri: 'docker.io/library/python:3' is not an ECR image URI")):
        TrainingPipeline(stack, "P6", pipeline_name="p6", definition=definition, placement=placement, storage=storage)


def test_invalid_definition_fails_the_construct(parts):
    stack, placement, storage = parts

    def definition(jobs: JobEnvironment) -> PipelineDefinition:
        return PipelineDefinition("p4", steps=[FailStep("Stop", error_message="x", depends_on=["Missing"])])

    with pytest.raises(PipelineDefinitionError, match="depends on unknown step 'Missing'"):
        TrainingPipeline(stack, "P4", pipeline_name="p4", definition=definition, placement=placement, storage=storage)
