"""What a step declares for the pipeline around it: the pipeline role's IAM (read by `TrainingPipeline`) and where
its job's security settings sit (read by the guardrail check). No per-step-type table exists outside the steps."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import AspectPriority, Aspects, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sm

from mlops_estate.core.nag import apply_nag_packs
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.pipeline import (
    FailStep,
    JobEnvironment,
    PipelineDefinition,
    PipelineRoleScope,
    ProcessingStep,
    QualityCheckStep,
    RegisterModelStep,
    RoleGrant,
    Step,
    TrainingStep,
    TransformStep,
    TuningStep,
    step_class,
)
from mlops_estate.pipeline.training_pipeline import PipelineStorage, TrainingPipeline
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.security.storage import SecureBucket
from tests.helpers import TEST_ACCOUNT, TEST_AZS, make_app, make_stack, policy_statements, template_of
from tests.unit.test_guardrail_check import synth_errors

IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SHARED_GROUP_ARN = "arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/churn"


@dataclass(frozen=True)
class Group:
    """Anything with the two attributes is a model package group to RegisterModelStep (as helper B's construct)."""

    model_package_group_name: str
    model_package_group_arn: str


def _pipeline(stack: Stack, id: str, name: str, *steps_of: Any) -> TrainingPipeline:
    keys = EstateKeys(stack, f"{id}Keys", estate_name="team", classes=[DataClass.MODELS, DataClass.LOGS])
    network = PrivateNetwork(stack, f"{id}Network", cidr="10.70.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs)
    bucket = SecureBucket(stack, f"{id}Artifacts", key=keys.models)

    def definition(jobs: JobEnvironment) -> PipelineDefinition:
        return PipelineDefinition(name, steps=[build(jobs) for build in steps_of])

    return TrainingPipeline(stack, id, pipeline_name=name, definition=definition, placement=network.placement,
                            storage=PipelineStorage(key=keys.models, buckets=(bucket.bucket,)))


def _register(group: Any) -> Any:
    return lambda jobs: RegisterModelStep(f"Register{abs(hash(str(group))) % 1000}", model_package_group=group, image_uri=IMAGE,
                                          model_data="s3://bucket/model.tar.gz")


def test_every_step_type_is_found_by_its_definition_type() -> None:
    assert step_class("QualityCheck") is QualityCheckStep
    assert step_class("Processing") is ProcessingStep
    assert step_class("Tuning") is TuningStep
    assert step_class("Lambdaa") is None


@pytest.fixture(scope="module")
def registry_pipeline() -> tuple[Stack, dict[str, Any], str]:
    """A pipeline registering in a group construct of its own stack (ARN: an opaque GetAtt), a group of another account
    given as an object with a literal ARN, and one given by name; synthesized with every nag pack."""
    app = make_app()
    stack = make_stack(app, id="Registry")
    cfn_group = sm.CfnModelPackageGroup(stack, "Group", model_package_group_name="team-churn")
    local = Group(cfn_group.model_package_group_name, cfn_group.attr_model_package_group_arn)
    pipeline = _pipeline(stack, "Build", "team-build", _register(local), _register(Group("churn", SHARED_GROUP_ARN)),
                         _register("team-fraud"))
    Aspects.of(stack).add(ManagedPoliciesOnly(), priority=AspectPriority.MUTATING)
    apply_nag_packs(app)  # an unacknowledged finding (e.g. of the versions' wildcard) fails this synthesis
    template = json.loads(json.dumps(app.synth().get_stack_by_name(stack.stack_name).template))
    return stack, template, stack.resolve(pipeline.role.node.default_child.logical_id)  # type: ignore[union-attr]


def _grants(template: dict[str, Any], action: str) -> list[Any]:
    statements = policy_statements(template, "BuildPipelineRoleDefaultPolicy")
    return [s["Resource"] for s in statements if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]


def test_register_permissions_follow_the_group_arn(registry_pipeline) -> None:
    _, template, _ = registry_pipeline
    described = json.dumps(_grants(template, "sagemaker:DescribeModelPackageGroup"))
    created = json.dumps(_grants(template, "sagemaker:CreateModelPackage"))
    # The group construct of this stack: its ARN attribute, and its versions in the account and region of that ARN.
    assert '{"Fn::GetAtt": ["Group", "ModelPackageGroupArn"]}' in described
    assert '"Fn::Select": [4, {"Fn::Split": [":", {"Fn::GetAtt": ["Group", "ModelPackageGroupArn"]}]}]' in created
    assert ":model-package/team-churn/*" in created
    # Another account's group, given as an object: exactly its ARN, and its versions there.
    assert SHARED_GROUP_ARN in described
    assert "arn:aws:sagemaker:eu-west-1:222222222222:model-package/churn/*" in created
    # A name: a group of the pipeline's account and region.
    assert f":{TEST_ACCOUNT}:model-package-group/team-fraud" in described
    assert f":{TEST_ACCOUNT}:model-package/team-fraud/*" in created


def test_a_group_object_is_named_by_its_arn_in_the_definition(registry_pipeline) -> None:
    _, template, _ = registry_pipeline
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    separator, parts = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Join"]
    body = json.loads(separator.join(p if isinstance(p, str) else json.dumps(p).replace('"', "'") for p in parts))
    groups = [s["Arguments"]["ModelPackageGroupName"] for s in body["Steps"]]
    assert groups == ["{'Fn::GetAtt': ['Group', 'ModelPackageGroupArn']}", SHARED_GROUP_ARN, "team-fraud"]


def test_the_pipeline_role_holds_only_what_the_steps_declare() -> None:
    stack = make_stack(id="OnlyFail")
    pipeline = _pipeline(stack, "Fail", "team-fail", lambda jobs: FailStep("Stop", error_message="nothing to do"))
    actions = {a for s in policy_statements(template_of(stack).to_json(), "FailPipelineRole")
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not any(a.startswith("sagemaker:") for a in actions), actions
    assert pipeline.definition.step_types() == {"Fail"}


class _WildStep(Step):
    """A step of a user's own whose grant has a wildcard but gives no reason for it."""

    type_name = "TestWild"

    def __init__(self) -> None:
        super().__init__("Wild")
        self._done()

    def arguments(self) -> dict[str, Any]:
        return {}

    def pipeline_role_grant(self, scope: PipelineRoleScope) -> RoleGrant | None:
        return RoleGrant(statements=(iam.PolicyStatement(actions=["sagemaker:DescribeModel"], resources=[scope.sagemaker_arn("model", "*")]),))


def test_a_wildcard_grant_without_a_reason_is_refused() -> None:
    stack = make_stack(id="Wild")
    with pytest.raises(ValueError, match=re.escape("Wild/Wild: step 'Wild' (_WildStep) grants AwsSolutions-IAM5[Resource::arn:aws:sagemaker:eu-west-1:"
                                                   f"{TEST_ACCOUNT}:model/*] without a wildcard_reason")):
        _pipeline(stack, "Wild", "team-wild", lambda jobs: _WildStep())


def test_each_job_step_declares_where_its_job_keeps_its_security_settings() -> None:
    processing = {"ProcessingResources": {"ClusterConfig": {"VolumeKmsKeyId": "k"}}, "NetworkConfig": {"VpcConfig": {}}}
    assert ProcessingStep.job_security(processing) == QualityCheckStep.job_security(processing)
    assert ProcessingStep.job_security(processing).output_kms_key is None  # type: ignore[union-attr]
    training = {"ResourceConfig": {"VolumeKmsKeyId": "k"}, "OutputDataConfig": {"KmsKeyId": "o"}, "EnableNetworkIsolation": True}
    assert TuningStep.job_security({"TrainingJobDefinition": training}) == TrainingStep.job_security(training)
    assert TransformStep.job_security({}).network is None  # type: ignore[union-attr]
    assert RegisterModelStep.job_security({}) is None


def test_the_guardrail_check_reads_quality_checks_as_the_processing_jobs_they_are() -> None:
    def pipeline(stack: Stack) -> None:
        body = json.dumps({"Version": "2020-12-01", "Steps": [{
            "Name": "DataQuality", "Type": "QualityCheck", "CheckType": "DATA_QUALITY",
            "Arguments": {"ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                                    "VolumeSizeInGB": 30}}},
        }]})
        sm.CfnPipeline(stack, "Pipeline", pipeline_name="p", role_arn="arn:aws:iam::111111111111:role/p",
                       pipeline_definition={"PipelineDefinitionBody": body})
    errors = synth_errors(pipeline)
    assert "DenySageMakerWithoutVolumeKmsKey: pipeline step 'DataQuality' has no volume KMS key" in errors
    assert "DenySageMakerWithoutVpcSubnets: pipeline step 'DataQuality' has no VpcConfig.Subnets" in errors


def test_a_model_package_group_construct_is_accepted_and_scopes_the_role() -> None:
    from mlops_estate.lifecycle.model_package_group import ModelPackageGroup

    stack = make_stack(id="GroupConstruct")
    group = ModelPackageGroup(stack, "Churn", model_package_group_name="team-churn")
    shared = ModelPackageGroup.from_name("churn", account="222222222222", region="eu-west-1")
    _pipeline(stack, "Build", "team-build", _register(group), _register(shared))
    statements = policy_statements(template_of(stack).to_json(), "BuildPipelineRole")
    created = [s for s in statements if s["Action"] == "sagemaker:CreateModelPackage"]
    rendered = json.dumps([stack.resolve(s["Resource"]) for s in created])
    # The group of this stack: its versions in the stack's account; the shared one: its versions in its own account.
    assert '{"Ref": "AWS::AccountId"}, ":model-package/team-churn/*"' in rendered
    assert ":sagemaker:eu-west-1:222222222222:model-package/churn/*" in rendered
    assert all(s["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}} for s in created)
