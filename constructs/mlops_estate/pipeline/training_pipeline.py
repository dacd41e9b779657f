"""`TrainingPipeline`: an AWS::SageMaker::Pipeline from a `PipelineDefinition`, with least-privilege roles.

Two roles, so neither holds more than it uses:

- the **pipeline role** (the pipeline's RoleArn) starts, describes and stops only the job types the
  definition contains, only with network isolation, inter-container encryption and this VPC's subnets and
  security group (IAM conditions), training jobs with a warm pool no longer than the definition asks for,
  passes only the job role, reads the property files, and registers model versions only as
  ``PendingManualApproval`` (a build pipeline never approves its own model; a RegisterModel step asking for
  another status is rejected);
- the **job role** (the RoleArn of every job) reads and writes only the estate's buckets and keys given
  in `PipelineStorage`, pulls only the images the definition names (Debugger rule images included), and has
  what every VPC SageMaker workload needs (`security.sagemaker_workload`): SageMaker's log groups, metric
  namespaces, the ECR login, and network interfaces only in this VPC.

An optional EventBridge Scheduler schedule starts executions with fixed parameter values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from mlops_estate.core.nag import acknowledge, nag_text, wildcard_findings
from mlops_estate.core.patterns import ECR_IMAGE, PIPELINE_NAME, SCHEDULE
from mlops_estate.core.principal_policy import add_to_principal_policy
from mlops_estate.core.validation import Problems
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.pipeline.definition import PipelineDefinition
from mlops_estate.pipeline.expressions import Expression
from mlops_estate.pipeline.steps import JobEnvironment, PipelineRoleScope, RegisterModelStep, Step
from mlops_estate.pipeline.steps.register import PENDING_APPROVAL
from mlops_estate.pipeline.steps.fields import is_token
from mlops_estate.security.sagemaker_workload import LOG_GROUPS_REASON, NO_RESOURCE_LEVEL_REASON, workload_statements

METRIC_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"

S3_READ = ("s3:GetObject", "s3:GetObjectVersion")
S3_WRITE = ("s3:PutObject", "s3:AbortMultipartUpload")
KMS_USE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
ECR_PULL = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")


@dataclass(frozen=True)
class CrossAccountStore:
    """A prefix of another account's bucket the jobs write (e.g. the registry's artifacts), encrypted with that
    account's key. The bucket and key policies over there must admit this account.

    Attributes:
        bucket_name: the bucket in the other account.
        prefix: the prefix the jobs read and write under.
        account: the bucket's (and its key's) account.
        region: the bucket's region.
    """

    bucket_name: str
    prefix: str
    account: str
    region: str

    @property
    def objects_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:s3:::{self.bucket_name}/{self.prefix.strip('/')}/*"

    @property
    def bucket_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:s3:::{self.bucket_name}"


@dataclass(frozen=True)
class PipelineStorage:
    """What the jobs may touch.

    Attributes:
        key: encrypts every volume and output of the jobs.
        buckets: read and written by the jobs (at least one); the pipeline role reads them (property files).
        read_only: read by the jobs.
        cross_account: prefixes of other accounts' buckets the jobs read and write.
        objects: the object key pattern of ``buckets`` the jobs read and write (e.g. ``team-a/*`` for a bucket
            shared with others); default every object.
    """

    key: kms.IKey
    buckets: tuple[s3.IBucket, ...]
    read_only: tuple[s3.IBucket, ...] = ()
    cross_account: tuple[CrossAccountStore, ...] = ()
    objects: str = "*"


@dataclass(frozen=True)
class PipelineSchedule:
    """Start an execution on a schedule, with fixed parameter values.

    Attributes:
        expression: an EventBridge Scheduler expression: ``rate(...)``, ``cron(...)`` or ``at(...)``.
        parameters: pipeline parameter values of the scheduled executions (declared parameters only).
        timezone: the timezone of ``cron``/``at`` expressions.
    """

    expression: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    timezone: str = "UTC"


class TrainingPipeline(Construct):
    """A SageMaker pipeline whose jobs all run in ``placement`` with network isolation and ``storage.key``, with a
    least-privilege role per side (see the module docstring).

    ``definition`` receives the `JobEnvironment` (job role, subnets, security groups, key) and returns the
    `PipelineDefinition`; it is validated, then deployed as the PipelineDefinitionBody. The pipeline role's
    permissions come from the steps themselves (each step declares what its calls need), the job role's image
    pulls from the images the steps name.

    Args:
        scope: the parent construct.
        id: the construct id.
        pipeline_name: the pipeline's name (up to 256 letters, digits and single hyphens, or a token); the
            definition must carry the same name (a mismatch is refused rather than one silently winning).
        definition: builds the definition from the `JobEnvironment` the construct makes.
        placement: the VPC, subnets and security group every job runs in.
        storage: the key, buckets and cross-account prefixes the jobs use (`PipelineStorage`).
        schedule: starts executions on a schedule (`PipelineSchedule`; default: none).
        description: the pipeline's description.

    Attributes:
        pipeline: the ``AWS::SageMaker::Pipeline``.
        pipeline_name: its name.
        pipeline_arn: its ARN.
        role: the pipeline role (the pipeline's RoleArn).
        job_role: the role every job and model runs with.
        jobs: the `JobEnvironment` given to ``definition``.
        definition: the validated `PipelineDefinition`.
        schedule: the EventBridge Scheduler schedule, if any.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pipeline_name: str,
        definition: Callable[[JobEnvironment], PipelineDefinition],
        placement: NetworkPlacement,
        storage: PipelineStorage,
        schedule: PipelineSchedule | None = None,
        description: str = "",
    ) -> None:
        super().__init__(scope, id)
        problems = Problems()
        # A name built from a CloudFormation parameter (a SageMaker project's) is checked by that parameter's pattern.
        if not is_token(pipeline_name) and not PIPELINE_NAME.match(pipeline_name):
            problems.add("pipeline_name", f"{pipeline_name!r} is not a pipeline name; expected up to 256 letters, digits and single hyphens")
        if not storage.buckets:
            problems.add("storage.buckets", f"{storage.buckets!r} is empty; expected at least one bucket for job inputs and outputs")
        if schedule is not None:
            self._check_expression(schedule, problems)
        if len(description) > 3072:
            problems.add("description", f"is {len(description)} characters; at most 3072 are allowed")
        problems.raise_if_any(self.node.path)

        stack = Stack.of(self)
        self.pipeline_name = pipeline_name
        self.placement = placement
        self.storage = storage
        self.job_role = iam.Role(
            self, "JobRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Jobs of the SageMaker pipeline {pipeline_name}",
        )
        self.role = iam.Role(
            self, "PipelineRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Execution role of the SageMaker pipeline {pipeline_name}",
        )
        self.jobs = JobEnvironment(
            role_arn=self.job_role.role_arn,
            subnet_ids=tuple(placement.subnet_ids),
            security_group_ids=tuple(placement.security_group_ids),
            kms_key_id=storage.key.key_arn,
        )
        self.definition = definition(self.jobs)
        body = self.definition.to_dict()  # raises with every problem of the definition
        if self.definition.name != pipeline_name:
            problems.add("definition", f"builds the pipeline {self.definition.name!r}, not {pipeline_name!r}; "
                         "expected the definition to carry pipeline_name")
        # A build pipeline never approves its own model: it registers versions for a person to approve.
        for step in self.definition.all_steps():
            if isinstance(step, RegisterModelStep) and step.approval_status != PENDING_APPROVAL:
                status = step.approval_status
                problems.add(f"definition.steps[{step.name}].approval_status",
                             f"{status.describe() if isinstance(status, Expression) else repr(status)} is not allowed; expected "
                             f"{PENDING_APPROVAL!r}: a build pipeline registers versions for a person to approve, and its role "
                             "may create them only as PendingManualApproval")
        images = self._images(problems, self.definition.all_steps())
        if schedule is not None:
            self._check_parameters(schedule, problems)
        problems.raise_if_any(self.node.path)

        self._grant_job_role(stack, images)
        self._grant_pipeline_role(stack)

        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_description=description or None,
            role_arn=self.role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": stack.to_json_string(body)},
        )
        self.pipeline_arn = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)
        self.schedule = self.add_schedule(schedule) if schedule is not None else None

    # -- roles ------------------------------------------------------------------------------------------

    def _images(self, problems: Problems, steps: Sequence[Step]) -> dict[str, str]:
        """ECR repository ARN per image URI the steps name; an image given as an expression cannot be scoped."""
        repos: dict[str, str] = {}
        for step in steps:
            for image in step.images():
                where = f"definition.steps[{step.name}].image_uri"
                if isinstance(image, Expression):
                    problems.add(where, f"{image.describe()} is an expression; expected a literal ECR image URI, so the job "
                                 "role can be scoped to its repository")
                    continue
                if not isinstance(image, str):
                    problems.add(where, f"{image!r} is not an image URI; expected a literal ECR image URI")
                    continue
                m = ECR_IMAGE.match(image)
                if not m:
                    problems.add(where, f"{image!r} is not an ECR image URI; expected "
                                 "<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> (or @sha256:<digest>)")
                    continue
                account, region, repo = m.group("account", "region", "repository")
                repos[image] = f"arn:{Stack.of(self).partition}:ecr:{region}:{account}:repository/{repo}"
        return repos

    def _grant_job_role(self, stack: Stack, images: Mapping[str, str]) -> None:
        role = self.job_role
        for bucket in self.storage.buckets:
            bucket.grant_read_write(role, self.storage.objects)
        for bucket in self.storage.read_only:
            bucket.grant_read(role)
        self.storage.key.grant_encrypt_decrypt(role)
        self._grant_cross_account(role, write=True)
        if images:
            add_to_principal_policy(role, iam.PolicyStatement(actions=list(ECR_PULL), resources=sorted(set(images.values()))))
        # Logs, metrics, the ECR login and network interfaces in this VPC: what every VPC SageMaker workload needs.
        workload = workload_statements(stack, vpc_id=self.placement.vpc.vpc_id)
        for statement in workload.all:
            add_to_principal_policy(role, statement)
        acknowledge(
            role,
            "The job role reads and writes objects of the estate buckets named in PipelineStorage only (object "
            "wildcards under those exact bucket ARNs and the registry's models/ prefix); jobs name their own keys per execution.",
            *self._object_wildcard_ids(stack),
        )
        acknowledge(
            role,
            "CDK's bucket and key grants use the S3 and KMS action families (GetObject*, GenerateDataKey*, ...) "
            "on the exact estate buckets and keys only.",
            "AwsSolutions-IAM5[Action::s3:GetObject*]", "AwsSolutions-IAM5[Action::s3:GetBucket*]",
            "AwsSolutions-IAM5[Action::s3:List*]", "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
            "AwsSolutions-IAM5[Action::s3:Abort*]", "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
        )
        for reason, statements in ((NO_RESOURCE_LEVEL_REASON, workload.unscoped), (LOG_GROUPS_REASON, workload.scoped)):
            acknowledge(role, reason, *sorted({f for st in statements for f in wildcard_findings(role, st)}))
        if self.storage.cross_account:
            acknowledge(
                role,
                "The registry's artifacts key lives in the shared services account and is not known here by id; use is "
                "limited to that account's keys through S3 in this region, and that key's policy admits this account.",
                *{f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:{c.region}:{c.account}:key/*]" for c in self.storage.cross_account},
            )

    def _grant_cross_account(self, principal: iam.Role, *, write: bool) -> None:
        for store in self.storage.cross_account:
            actions = [*S3_READ, *S3_WRITE] if write else list(S3_READ)
            add_to_principal_policy(principal, iam.PolicyStatement(actions=actions, resources=[store.objects_arn]))
            add_to_principal_policy(principal, iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[store.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{store.prefix.strip('/')}/*"]}},
            ))
            add_to_principal_policy(principal, iam.PolicyStatement(
                actions=list(KMS_USE) if write else ["kms:Decrypt", "kms:DescribeKey"],
                resources=[f"arn:{Aws.PARTITION}:kms:{store.region}:{store.account}:key/*"],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{store.region}.amazonaws.com"}},
            ))

    def _grant_pipeline_role(self, stack: Stack) -> None:
        role = self.role
        scope = PipelineRoleScope(stack, self.placement.subnet_ids, self.placement.security_group_ids)
        # What each step's calls need, as the step declares it; a statement two steps share is added once.
        added: set[str] = set()
        wildcards: dict[str, set[str]] = {}
        for step in self.definition.all_steps():
            grant = step.pipeline_role_grant(scope)
            if grant is None:
                continue
            for statement in grant.statements:
                key = json.dumps(statement.to_statement_json(), sort_keys=True)
                if key in added:
                    continue
                added.add(key)
                add_to_principal_policy(role, statement)
                findings = wildcard_findings(role, statement)
                if findings and not grant.wildcard_reason:
                    raise ValueError(f"{self.node.path}: step {step.name!r} ({type(step).__name__}) grants {', '.join(findings)} "
                                     "without a wildcard_reason; a step must say why a wildcard is as narrow as it gets")
                if findings:
                    wildcards.setdefault(grant.wildcard_reason, set()).update(findings)

        self.job_role.grant_pass_role(role)
        # Whoever calls Create*Job with a VolumeKmsKeyId must let SageMaker create a grant on the key for the volumes.
        # kms:GrantIsForAWSResource exists only on grant requests, so it guards CreateGrant alone: on DescribeKey it
        # would never match. The pipeline role calls only SageMaker; SageMaker validates the volume key of the jobs it
        # creates (DescribeKey) with the caller's credentials, so such a request arrives through SageMaker (ViaService).
        add_to_principal_policy(role, iam.PolicyStatement(
            actions=["kms:CreateGrant"],
            resources=[self.storage.key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ))
        add_to_principal_policy(role, iam.PolicyStatement(
            actions=["kms:DescribeKey"],
            resources=[self.storage.key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"sagemaker.{stack.region}.amazonaws.com"}},
        ))
        # Property files (JsonGet) are read by the pipeline role itself, from wherever the outputs went.
        for bucket in self.storage.buckets:
            bucket.grant_read(role, self.storage.objects)
        self._grant_cross_account(role, write=False)
        for reason, ids in wildcards.items():
            acknowledge(role, reason, *sorted(ids))
        acknowledge(
            role,
            "The pipeline role reads property files (evaluation reports) that jobs wrote under per-execution keys, in the "
            "estate buckets named in PipelineStorage and the registry's models/ prefix only.",
            *self._object_wildcard_ids(stack),
            "AwsSolutions-IAM5[Action::s3:GetObject*]", "AwsSolutions-IAM5[Action::s3:GetBucket*]", "AwsSolutions-IAM5[Action::s3:List*]",
        )
        if self.storage.cross_account:
            acknowledge(
                role,
                "Reading the registry's evaluation reports needs the shared services key, not known here by id; use is "
                "limited to that account's keys through S3 in this region.",
                *{f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:{c.region}:{c.account}:key/*]" for c in self.storage.cross_account},
            )

    def _object_wildcard_ids(self, stack: Stack) -> list[str]:
        ids = []
        for bucket in self.storage.buckets:
            ids.append(f"AwsSolutions-IAM5[Resource::{nag_text(self, f'{bucket.bucket_arn}/{self.storage.objects}')}]")
        for bucket in self.storage.read_only:
            ids.append(f"AwsSolutions-IAM5[Resource::{nag_text(self, bucket.bucket_arn)}/*]")
        for store in self.storage.cross_account:
            ids.append(f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{store.bucket_name}/{store.prefix.strip('/')}/*]")
        return ids

    # -- schedule, metrics, grants ----------------------------------------------------------------------

    def add_schedule(self, schedule: PipelineSchedule, id: str = "Schedule", description: str = "") -> scheduler.CfnSchedule:
        """Start executions on another schedule with its own parameter values (the ``schedule`` prop is the first);
        every schedule shares one role that may start only this pipeline."""
        problems = Problems()
        self._check_expression(schedule, problems)
        self._check_parameters(schedule, problems)
        problems.raise_if_any(f"{self.node.path}/{id}")
        stack = Stack.of(self)
        role = self.node.try_find_child("ScheduleRole")
        if not isinstance(role, iam.Role):
            role = iam.Role(
                self, "ScheduleRole",
                assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}),
                description=f"EventBridge Scheduler starts the SageMaker pipeline {self.pipeline_name}",
            )
            self.grant_start_execution(role)
        return scheduler.CfnSchedule(
            self,
            id,
            schedule_expression=schedule.expression,
            schedule_expression_timezone=schedule.timezone,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            description=description or f"Runs the SageMaker pipeline {self.pipeline_name}",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.pipeline_arn,
                role_arn=role.role_arn,
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(maximum_event_age_in_seconds=3600, maximum_retry_attempts=3),
                sage_maker_pipeline_parameters=scheduler.CfnSchedule.SageMakerPipelineParametersProperty(
                    pipeline_parameter_list=[
                        scheduler.CfnSchedule.SageMakerPipelineParameterProperty(name=k, value=v)
                        for k, v in sorted(schedule.parameters.items())
                    ]
                ) if schedule.parameters else None,
            ),
        )

    @staticmethod
    def _check_expression(schedule: PipelineSchedule, problems: Problems) -> None:
        if not SCHEDULE.match(schedule.expression):
            problems.add("schedule.expression", f"{schedule.expression!r} is not a schedule expression; expected 'rate(<n> "
                         "minutes|hours|days)', 'cron(<6 fields>)' or 'at(yyyy-mm-ddThh:mm:ss)'")

    def _check_parameters(self, schedule: PipelineSchedule, problems: Problems) -> None:
        declared = {p.name for p in self.definition.parameters}
        for name in sorted(set(schedule.parameters) - declared):
            problems.add(f"schedule.parameters[{name}]", f"{name!r} is not a parameter of the pipeline; "
                         f"expected one of {', '.join(sorted(declared)) or 'none (declare it)'}")

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        return iam.Grant.add_to_principal(grantee=grantee, actions=["sagemaker:StartPipelineExecution"], resource_arns=[self.pipeline_arn])

    def metric(self, metric_name: str, *, statistic: str = "Sum", period: Duration = Duration.minutes(5)) -> cloudwatch.Metric:
        """A SageMaker Pipelines metric of this pipeline (ExecutionStarted, ExecutionFailed, ExecutionSucceeded, ...)."""
        return cloudwatch.Metric(namespace=METRIC_NAMESPACE, metric_name=metric_name,
                                 dimensions_map={"PipelineName": self.pipeline_name}, statistic=statistic, period=period)

    def metric_execution_failed(self) -> cloudwatch.Metric:
        return self.metric("ExecutionFailed")

    def metric_execution_succeeded(self) -> cloudwatch.Metric:
        return self.metric("ExecutionSucceeded")

