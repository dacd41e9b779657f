"""Model promotion: approved model package -> staging -> manual approval -> prod, all through CloudFormation.

`PromotionPipeline` is a CodePipeline V2 pipeline in the shared services account with one pipeline variable,
the model package ARN. Its source is the estate's synthesized cloud assembly, zipped and uploaded (assets
already published) by CI to a versioned S3 source bucket; the source never starts the pipeline by itself.
In staging it deploys the model's ApprovedModelStack with the ARN as its only parameter (writing it to SSM
Parameter Store), then the serving stack without parameter overrides (its model-package parameters read
every model's approved ARN from SSM, so promoting one model never resets another: see approved_model.py);
it waits for a manual approval, then deploys prod the same way. Endpoints change only through
CloudFormation (with the blue/green rollout the serving stacks define). The actions assume the CDK bootstrap roles of the serving
accounts, which must be bootstrapped with ``--trust <shared services account>``.

`PromotionTrigger` runs the `promote_model` function on SageMaker Model Package State Change events of the
estate's model package groups: Approved starts the group's pipeline, PendingManualApproval notifies the
approvers, Rejected does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import json
import re
from typing import Any

from aws_cdk import CfnCapabilities, Duration, Stack, Stage
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_estate.core.dependencies import drop_redundant_dependency
from mlops_estate.core.principal_policy import add_to_principal_policy
from mlops_estate.events.estate_function import EstateFunction
from mlops_estate.core.nag import acknowledge
from mlops_estate.core.patterns import ACCOUNT_ID
from mlops_estate.core.validation import Problems
from mlops_estate.lifecycle.approved_model import PARAMETER_NAME as APPROVED_PARAMETER
from mlops_estate.lifecycle.retraining import to_event_pattern
from mlops_estate.core.patterns import ACCOUNT_ID

VARIABLE_NAME = "ModelPackageArn"
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
APPROVAL_STATUSES = ("Approved", "PendingManualApproval", "Rejected")
PIPELINE_NAME = re.compile(r"^[A-Za-z0-9.@\-_]{1,100}$")


def model_package_state_pattern(group_names: Sequence[str]) -> dict[str, Any]:
    """State changes (to any approval status) of model packages in exactly these groups."""
    return {
        "source": ["aws.sagemaker"],
        "detail-type": [MODEL_PACKAGE_STATE_CHANGE],
        "detail": {"ModelPackageGroupName": sorted(set(group_names)), "ModelApprovalStatus": list(APPROVAL_STATUSES)},
    }


@dataclass(frozen=True)
class DeployTarget:
    """A stack the promotion deploys.

    Attributes:
        account: the stack's account (12 digits).
        stack_name: the stack's name.
        template_path: the stack's template in the zipped cloud assembly (``*.template.json``).
    """

    account: str
    stack_name: str
    template_path: str

    @classmethod
    def of_stack(cls, stack: Stack) -> DeployTarget:
        """The target of a stack of this app: its template's path in the zipped cloud assembly (cdk.out)."""
        stage = Stage.of(stack)
        folder = f"{stage.artifact_id}/" if stage is not None and stage.parent_stage is not None else ""
        return cls(account=stack.account, stack_name=stack.stack_name, template_path=f"{folder}{stack.template_file}")


@dataclass(frozen=True)
class PromotionTarget:
    """What promotion deploys in one serving account, in this order.

    Attributes:
        approved: the model's ApprovedModelStack (its only parameter is the approved ARN).
        serving: the stack serving the model (deployed without parameter overrides), in the same account.
    """

    approved: DeployTarget
    serving: DeployTarget


class PromotionPipeline(Construct):
    """One model's promotion pipeline (see the module docstring).

    Args:
        scope: the construct's parent (a stack in the registry's account).
        id: the construct's id.
        pipeline_name: the pipeline's name (1-100 of A-Z a-z 0-9 . @ - _); the promotion trigger starts it by name.
        source_bucket: the versioned bucket CI uploads the zipped cloud assembly to.
        source_key: the object key of the zipped cloud assembly.
        artifact_bucket: the pipeline's artifact bucket; CMK-encrypted (cross-account deploy actions need it).
        staging: what to deploy in staging.
        prod: what to deploy in prod, after a manual approval.
        approval_topic: where the manual approval is announced.
        bootstrap_qualifier: the CDK bootstrap qualifier of the serving accounts (their deploy and execution roles).

    Attributes:
        pipeline: the CodePipeline pipeline.
        pipeline_name: its name.
        variable: the ``ModelPackageArn`` pipeline variable.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pipeline_name: str,
        source_bucket: s3.IBucket,
        source_key: str,
        artifact_bucket: s3.IBucket,
        staging: PromotionTarget,
        prod: PromotionTarget,
        approval_topic: sns.ITopic,
        bootstrap_qualifier: str = "hnb659fds",
    ) -> None:
        super().__init__(scope, id)
        problems = Problems()
        if not PIPELINE_NAME.match(pipeline_name):
            problems.add("pipeline_name", f"{pipeline_name!r} is not a CodePipeline name (1-100 of A-Z a-z 0-9 . @ - _)")
        for env, pair in (("staging", staging), ("prod", prod)):
            if pair.approved.account != pair.serving.account:
                problems.add(env, f"approved ({pair.approved.account}) and serving ({pair.serving.account}) stacks are in different accounts")
            for part, target in (("approved", pair.approved), ("serving", pair.serving)):
                if not ACCOUNT_ID.match(target.account):
                    problems.add(f"{env}.{part}.account", f"{target.account!r} is not an AWS account id (exactly 12 digits)")
                if not target.template_path.endswith(".template.json"):
                    problems.add(f"{env}.{part}.template_path", f"{target.template_path!r} is not a synthesized template (*.template.json)")
        if artifact_bucket.encryption_key is None:
            problems.add("artifact_bucket", "has no KMS key; cross-account deploy actions need a CMK-encrypted artifact bucket")
        problems.raise_if_any(self.node.path)
        self.pipeline_name = pipeline_name
        self.variable = codepipeline.Variable(
            variable_name=VARIABLE_NAME, description="ARN of the approved model package to deploy"
        )
        assembly = codepipeline.Artifact("CloudAssembly")
        region = Stack.of(self).region

        roles: dict[str, iam.IRole] = {}

        def role(env: str, account: str, kind: str) -> iam.IRole:
            id = f"{env.capitalize()}{kind.title().replace('-', '')}Role"
            if id in roles:
                return roles[id]
            name = f"cdk-{bootstrap_qualifier}-{kind}-role-{account}-{region}"
            arn = f"arn:{Stack.of(self).partition}:iam::{account}:role/{name}"
            roles[id] = iam.Role.from_role_arn(self, id, arn, mutable=False)
            return roles[id]

        def deploy(env: str, target: DeployTarget, name: str, run_order: int,
                   overrides: Mapping[str, Any] | None) -> actions.CloudFormationCreateUpdateStackAction:
            return actions.CloudFormationCreateUpdateStackAction(
                action_name=f"{name}{env.capitalize()}",
                stack_name=target.stack_name,
                template_path=assembly.at_path(target.template_path),
                admin_permissions=False,
                parameter_overrides=overrides,
                cfn_capabilities=[CfnCapabilities.NAMED_IAM, CfnCapabilities.AUTO_EXPAND],
                role=role(env, target.account, "deploy"),
                deployment_role=role(env, target.account, "cfn-exec"),
                account=target.account,
                run_order=run_order,
            )

        def release(env: str, pair: PromotionTarget) -> list[codepipeline.IAction]:
            return [
                # The approved stack's only parameter: nothing else it owns can fall back to a default.
                deploy(env, pair.approved, "Release", 1, {APPROVED_PARAMETER: self.variable.reference()}),
                # No overrides: every model-package parameter defaults to its SSM parameter, read at deploy time.
                deploy(env, pair.serving, "Deploy", 2, None),
            ]

        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=codepipeline.ExecutionMode.QUEUED,
            artifact_bucket=artifact_bucket,
            restart_execution_on_update=False,
            variables=[self.variable],
            stages=[
                codepipeline.StageProps(
                    stage_name="Source",
                    actions=[
                        actions.S3SourceAction(
                            action_name="CloudAssembly",
                            bucket=source_bucket,
                            bucket_key=source_key,
                            output=assembly,
                            trigger=actions.S3Trigger.NONE,
                        )
                    ],
                ),
                codepipeline.StageProps(stage_name="Staging", actions=release("staging", staging)),
                codepipeline.StageProps(
                    stage_name="ApproveProd",
                    actions=[
                        actions.ManualApprovalAction(
                            action_name="ApproveProd",
                            notification_topic=approval_topic,
                            additional_information=f"Deployed {self.variable.reference()} to staging ({staging.serving.stack_name}). "
                            "Approve to deploy it to prod.",
                        )
                    ],
                ),
                codepipeline.StageProps(stage_name="Prod", actions=release("prod", prod)),
            ],
        )

        cfn_pipeline, cfn_role = self.pipeline.node.default_child, self.pipeline.role.node.default_child
        assert isinstance(cfn_pipeline, codepipeline.CfnPipeline) and isinstance(cfn_role, iam.CfnRole)
        drop_redundant_dependency(cfn_pipeline, cfn_role)
        self._acknowledge_artifact_grants(artifact_bucket)

    def _acknowledge_artifact_grants(self, artifact_bucket: s3.IBucket) -> None:
        """CodePipeline's own roles get CDK's artifact-store grants: object-level wildcards on this pipeline's
        artifact bucket and its key, nothing else. Acknowledged on exactly those roles' policies."""
        arn = Stack.of(self).resolve(artifact_bucket.bucket_arn)
        bucket = f"<{arn['Fn::GetAtt'][0]}.Arn>" if isinstance(arn, dict) and "Fn::GetAtt" in arn else str(arn)
        s3_ids = [f"AwsSolutions-IAM5[Action::s3:{a}]" for a in ("Abort*", "DeleteObject*", "GetBucket*", "GetObject*", "List*")]
        s3_ids.append(f"AwsSolutions-IAM5[Resource::{bucket}/*]")
        kms_ids = ["AwsSolutions-IAM5[Action::kms:GenerateDataKey*]", "AwsSolutions-IAM5[Action::kms:ReEncrypt*]"]
        reason = (
            "CodePipeline reads and writes its own artifacts: object-level actions on any object key of the "
            "promotion artifact bucket (which holds nothing else), and data keys of that bucket's CMK."
        )
        for node in self.pipeline.node.find_all():
            if not isinstance(node, iam.Policy):
                continue
            if node.node.path.endswith("/ApproveProd/CodePipelineActionRole/DefaultPolicy"):
                acknowledge(node, "The approval action publishes to the CMK-encrypted approvers topic; SNS needs "
                            "data keys of exactly that topic's key.", "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]")
            elif node.node.path.endswith(("/Pipeline/Role/DefaultPolicy", "/CloudAssembly/CodePipelineActionRole/DefaultPolicy")):
                acknowledge(node, reason, *s3_ids, *kms_ids)

    @property
    def pipeline_arn(self) -> str:
        return self.pipeline.pipeline_arn


class PromotionTrigger(Construct):
    """The `promote_model` function and its rules on ``event_buses`` (see the module docstring). The function may
    start only the given pipelines and publish only to ``approval_topic``.

    Args:
        scope: the construct's parent (a stack in the registry's account).
        id: the construct's id.
        pipelines: each model package group's promotion pipeline, by group name (at least one).
        approval_topic: where pending versions are announced to the approvers.
        event_buses: the buses whose model package state changes start promotions (at least one).
        queue_key: the key of the function's dead-letter queue.
        logs_key: the key of the function's log group.
        outside_vpc_reason: why the function runs outside a VPC (its cdk-nag acknowledgement).

    Attributes:
        handler: the `EstateFunction`.
        rules: the EventBridge rules, one per bus.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pipelines: Mapping[str, PromotionPipeline],
        approval_topic: sns.ITopic,
        event_buses: Sequence[events.IEventBus],
        queue_key: kms.IKey,
        logs_key: kms.IKey,
        outside_vpc_reason: str,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems()
        if not pipelines:
            problems.add("pipelines", "is empty; give at least one model package group's promotion pipeline")
        if not event_buses:
            problems.add("event_buses", "is empty; give at least one bus the model package state changes arrive on")
        problems.raise_if_any(self.node.path)
        self.handler = EstateFunction(
            self,
            "PromoteModel",
            handler="promote_model",
            description="Starts a model's promotion pipeline when its package is approved; notifies approvers",
            queue_key=queue_key,
            logs_key=logs_key,
            outside_vpc_reason=outside_vpc_reason,
            timeout=Duration.seconds(30),
            environment={
                "PIPELINES": json.dumps({g: p.pipeline_name for g, p in sorted(pipelines.items())}, separators=(",", ":")),
                "TOPIC_ARN": approval_topic.topic_arn,
                "VARIABLE_NAME": VARIABLE_NAME,
            },
        )
        add_to_principal_policy(self.handler.role, iam.PolicyStatement(
            sid="StartPromotionPipelinesOnly",
            actions=["codepipeline:StartPipelineExecution"],
            resources=[p.pipeline_arn for _, p in sorted(pipelines.items())],
        ))
        publish = [
            iam.PolicyStatement(sid="NotifyApprovers", actions=["sns:Publish"], resources=[approval_topic.topic_arn])
        ]
        if approval_topic.master_key is not None:
            publish.append(iam.PolicyStatement(
                sid="EncryptForApproversTopic", actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[approval_topic.master_key.key_arn],
            ))
        for statement in publish:
            add_to_principal_policy(self.handler.role, statement)
        self.rules = [
            events.Rule(
                self,
                f"ModelPackageStateChange{i}" if i else "ModelPackageStateChange",
                event_bus=bus,
                description="Approved, pending and rejected model packages of the estate's groups",
                event_pattern=to_event_pattern(model_package_state_pattern(list(pipelines))),
                targets=[
                    targets.LambdaFunction(
                        self.handler.function,
                        dead_letter_queue=self.handler.dead_letter_queue,
                        retry_attempts=8,
                        max_event_age=Duration.hours(2),
                    )
                ],
            )
            for i, bus in enumerate(event_buses)
        ]
