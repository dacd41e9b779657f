"""`TrainingPipeline`: an AWS::SageMaker::Pipeline from a `PipelineDefinition`, with least-privilege roles.

Two roles, so neither holds more than it uses:

- the **pipeline role** (the pipeline's RoleArn) starts, describes and stops only the job types the
  definition contains, only with network isolation, inter-container encryption and this VPC's subnets and
  security group (IAM conditions), training jobs with a warm pool no longer than the definition asks for,
  passes only the job role, reads the property files, and registers model versions only as
  ``PendingManualApproval`` (a build pipeline never approves its own model; a RegisterModel step asking for
  another status is rejected);
- the **job role** (the RoleArn of every job) reads and writes only the estate's buckets and keys given
  in `PipelineStorage`, pulls only the images the definition names (Debugger rule images included), writes
  only SageMaker log groups and creates network interfaces only in this VPC.

An optional EventBridge Scheduler schedule starts executions with fixed parameter values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Aws, Duration, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from mlops_estate.core.nag import acknowledge, flatten_reference
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.pipeline.definition import PipelineDefinition
from mlops_estate.core.patterns import ECR_IMAGE, SCHEDULE
from mlops_estate.pipeline.steps import JobEnvironment, RegisterModelStep, Step, TrainingStep

PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
METRIC_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"

# Step type -> (ARN resource type, create action, the other actions on the job) for the pipeline role.
JOB_ACTIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "Processing": ("processing-job", "sagemaker:CreateProcessingJob", ("sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob")),
    "QualityCheck": ("processing-job", "sagemaker:CreateProcessingJob", ("sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob")),
    "ClarifyCheck": ("processing-job", "sagemaker:CreateProcessingJob", ("sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob")),
    "Training": ("training-job", "sagemaker:CreateTrainingJob", ("sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob")),
    "Tuning": (
        "hyper-parameter-tuning-job",
        "sagemaker:CreateHyperParameterTuningJob",
        ("sagemaker:DescribeHyperParameterTuningJob", "sagemaker:StopHyperParameterTuningJob",
         "sagemaker:ListTrainingJobsForHyperParameterTuningJob"),
    ),
    "Model": ("model", "sagemaker:CreateModel", ("sagemaker:DescribeModel",)),
    "Transform": ("transform-job", "sagemaker:CreateTransformJob", ("sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob")),
}
# Job types that run in the VPC with isolation and traffic encryption (IAM-enforced on create).
ISOLATED_JOB_TYPES = {"Processing", "QualityCheck", "ClarifyCheck", "Training", "Tuning"}
S3_READ = ("s3:GetObject", "s3:GetObjectVersion")
S3_WRITE = ("s3:PutObject", "s3:AbortMultipartUpload")
KMS_USE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
ECR_PULL = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
PENDING_APPROVAL = "PendingManualApproval"


@dataclass(frozen=True)
class CrossAccountStore:
    """A prefix of another account's bucket the jobs write (e.g. the registry's artifacts), encrypted with that
    account's key. The bucket and key policies over there must admit this account."""

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
    """What the jobs may touch: ``key`` encrypts every volume and output, ``buckets`` are read and written,
    ``read_only`` buckets are read, ``cross_account`` prefixes of other accounts are read and written."""

    key: kms.IKey
    buckets: tuple[s3.IBucket, ...]
    read_only: tuple[s3.IBucket, ...] = ()
    cross_account: tuple[CrossAccountStore, ...] = ()


@dataclass(frozen=True)
class PipelineSchedule:
    """Start an execution on a schedule (EventBridge Scheduler expression), with fixed parameter values."""

    expression: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    timezone: str = "UTC"


class TrainingPipeline(Construct):
    """A SageMaker pipeline whose jobs all run in ``placement`` with network isolation and ``storage.key``.

    ``definition`` receives the `JobEnvironment` (job role, subnets, security groups, key) and returns the
    `PipelineDefinition`; it is validated, then deployed as the PipelineDefinitionBody.
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
        problems: list[str] = []
        # A name built from a CloudFormation parameter (a SageMaker project's) is checked by that parameter's pattern.
        if not Token.is_unresolved(pipeline_name) and not PIPELINE_NAME.match(pipeline_name):
            problems.append(f"pipeline_name {pipeline_name!r} is invalid: letters, digits and single hyphens, up to 256")
        if not storage.buckets:
            problems.append("storage.buckets: give at least one bucket for job inputs and outputs")
        if schedule is not None and not SCHEDULE.match(schedule.expression):
            problems.append(f"schedule.expression {schedule.expression!r} is not 'rate(...)', 'cron(...)' or 'at(...)'")
        if problems:
            raise ValueError(f"{self.node.path}: " + "; ".join(problems))

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
        deciding = [s.name for s in self.definition.all_steps()
                    if isinstance(s, RegisterModelStep) and s.approval_status != PENDING_APPROVAL]
        if deciding:
            raise ValueError(f"{self.node.path}: RegisterModel step(s) {', '.join(map(repr, deciding))} set approval_status to "
                             f"something else than {PENDING_APPROVAL!r}; a build pipeline registers versions for a person to "
                             "approve, and its role may create them only as PendingManualApproval")
        self.step_types = self.definition.step_types()
        images = self._images(self.definition.all_steps())

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
        self.schedule = self._add_schedule(schedule) if schedule is not None else None

    # -- roles ------------------------------------------------------------------------------------------

    def _images(self, steps: Sequence[Step]) -> dict[str, str]:
        """ECR repository ARN per image URI the steps name; an image given as an expression cannot be scoped."""
        repos: dict[str, str] = {}
        images: list[tuple[Step, Any]] = []
        for step in steps:
            images.append((step, getattr(step, "image_uri", None) or getattr(getattr(step, "training", None), "image_uri", None)))
            if isinstance(step, TrainingStep):  # Debugger / profiler rule jobs run with the job role too
                images.extend((step, rule_image) for rule_image in step.rule_images())
        for step, image in images:
            if image is None:
                continue
            if not isinstance(image, str):
                raise ValueError(f"{self.node.path}: step {step.name!r} takes its image from an expression; give a literal "
                                 "ECR image URI so the job role can be scoped to its repository")
            m = ECR_IMAGE.match(image)
            if not m:
                raise ValueError(f"{self.node.path}: step {step.name!r} image {image!r} is not an ECR image URI")
            account, region, repo = m.group("account", "region", "repository")
            repos[image] = f"arn:{Stack.of(self).partition}:ecr:{region}:{account}:repository/{repo}"
        return repos

    def _grant_job_role(self, stack: Stack, images: Mapping[str, str]) -> None:
        role = self.job_role
        for bucket in self.storage.buckets:
            bucket.grant_read_write(role)
        for bucket in self.storage.read_only:
            bucket.grant_read(role)
        self.storage.key.grant_encrypt_decrypt(role)
        self._grant_cross_account(role, write=True)
        role.add_to_principal_policy(iam.PolicyStatement(actions=list(ECR_PULL), resources=sorted(set(images.values()))))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        log_groups = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:/aws/sagemaker/*"
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[log_groups],
        ))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        ))
        vpc_arn = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}:vpc/{self.placement.vpc.vpc_id}"
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                     "ec2:DeleteNetworkInterfacePermission"],
            resources=["*"],
            conditions={"ArnEquals": {"ec2:Vpc": vpc_arn}},
        ))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
                     "ec2:DescribeSecurityGroups"],
            resources=["*"],
        ))
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
        acknowledge(
            role,
            "ecr:GetAuthorizationToken, the EC2 Describe* calls and cloudwatch:PutMetricData have no resource-level "
            "permissions; ENI create/delete is limited to this VPC and metrics to the /aws/sagemaker/ namespaces by conditions.",
            "AwsSolutions-IAM5[Resource::*]",
        )
        acknowledge(
            role,
            "SageMaker jobs create their log streams under /aws/sagemaker/<JobType>Jobs with job-generated names; "
            "the role is limited to SageMaker's log groups in this account and region.",
            f"AwsSolutions-IAM5[Resource::{_nag_name(stack, log_groups)}]",
        )
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
            principal.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=[store.objects_arn]))
            principal.add_to_principal_policy(iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[store.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{store.prefix.strip('/')}/*"]}},
            ))
            principal.add_to_principal_policy(iam.PolicyStatement(
                actions=list(KMS_USE) if write else ["kms:Decrypt", "kms:DescribeKey"],
                resources=[f"arn:{Aws.PARTITION}:kms:{store.region}:{store.account}:key/*"],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{store.region}.amazonaws.com"}},
            ))

    def _grant_pipeline_role(self, stack: Stack) -> None:
        role = self.role
        arn_base = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
        # ForAllValues is vacuously true for a request without the key (no VPC at all): the Null guard makes
        # the subnets and security groups required, and ForAllValues keeps them to the estate's own.
        in_vpc: dict[str, Any] = {
            "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
            "ForAllValues:StringEquals": {
                "sagemaker:VpcSubnets": list(self.placement.subnet_ids),
                "sagemaker:VpcSecurityGroupIds": self.placement.security_group_ids,
            },
        }
        isolation_conditions: dict[str, Any] = {
            "Bool": {"sagemaker:NetworkIsolation": "true", "sagemaker:InterContainerTrafficEncryption": "true"},
            **in_vpc,
        }
        wildcard_ids: list[str] = []
        done: set[str] = set()
        for step_type in sorted(self.step_types):
            if step_type not in JOB_ACTIONS or JOB_ACTIONS[step_type][1] in done:
                continue
            resource_type, create, others = JOB_ACTIONS[step_type]
            done.add(create)
            # Pipelines name the jobs and models they create "pipelines-<execution>-<step>-..."; tuning jobs
            # get generated names, and their training jobs are named after the tuning job.
            name = "*" if step_type == "Tuning" else "pipelines-*"
            resources = [f"{arn_base}:{resource_type}/{name}"]
            if step_type == "Tuning":
                resources.append(f"{arn_base}:training-job/*")
            conditions: dict[str, Any] | None = None
            if step_type == "Training":
                # Warm pools are billed while they wait: no longer than the definition's steps ask for (0: none).
                conditions = {**isolation_conditions,
                              "NumericLessThanEqualsIfExists": {"sagemaker:KeepAlivePeriod": str(self._max_keep_alive())}}
            elif step_type in ISOLATED_JOB_TYPES:
                conditions = isolation_conditions
            elif step_type == "Model":
                conditions = {"Bool": {"sagemaker:NetworkIsolation": "true"}, **in_vpc}
            role.add_to_principal_policy(iam.PolicyStatement(actions=[create], resources=resources[:1], conditions=conditions))
            role.add_to_principal_policy(iam.PolicyStatement(actions=[*others, "sagemaker:AddTags"], resources=resources))
            wildcard_ids.extend(f"AwsSolutions-IAM5[Resource::{_nag_name(stack, r)}]" for r in resources)

        for group, packages in self._model_package_groups(arn_base):
            role.add_to_principal_policy(iam.PolicyStatement(actions=["sagemaker:DescribeModelPackageGroup"], resources=[group]))
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackage", "sagemaker:AddTags"], resources=[packages],
            ))
            # A build pipeline never approves its own model: it registers versions that wait for a person.
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["sagemaker:CreateModelPackage"], resources=[packages],
                conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": PENDING_APPROVAL}},
            ))
            wildcard_ids.append(f"AwsSolutions-IAM5[Resource::{_nag_name(stack, packages)}]")

        self.job_role.grant_pass_role(role)
        # Whoever calls Create*Job with a VolumeKmsKeyId must let SageMaker create a grant on the key for the volumes.
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:CreateGrant", "kms:DescribeKey"],
            resources=[self.storage.key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ))
        # Property files (JsonGet) are read by the pipeline role itself, from wherever the outputs went.
        for bucket in self.storage.buckets:
            bucket.grant_read(role)
        self._grant_cross_account(role, write=False)
        acknowledge(
            role,
            "SageMaker Pipelines generates the names of the jobs and models it creates (pipelines-<execution>-<step>-...); "
            "the role is limited to the job types this definition uses, in this account and region, and creation to "
            "isolated jobs in this VPC by IAM conditions.",
            *sorted(set(wildcard_ids)),
        )
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

    def _max_keep_alive(self) -> int:
        return max((s.keep_alive_seconds or 0 for s in self.definition.all_steps() if isinstance(s, TrainingStep)), default=0)

    def _model_package_groups(self, arn_base: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for step in self.definition.all_steps():
            if isinstance(step, RegisterModelStep):
                group = step.model_package_group
                if group.startswith("arn:"):
                    prefix, name = group.split(":model-package-group/", 1)
                    out.append((group, f"{prefix}:model-package/{name}/*"))
                else:
                    out.append((f"{arn_base}:model-package-group/{group}", f"{arn_base}:model-package/{group}/*"))
        return sorted(set(out))

    def _object_wildcard_ids(self, stack: Stack) -> list[str]:
        ids = []
        for bucket in (*self.storage.buckets, *self.storage.read_only):
            ids.append(f"AwsSolutions-IAM5[Resource::{_nag_name(stack, bucket.bucket_arn)}/*]")
        for store in self.storage.cross_account:
            ids.append(f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{store.bucket_name}/{store.prefix.strip('/')}/*]")
        return ids

    # -- schedule, metrics, grants ----------------------------------------------------------------------

    def _add_schedule(self, schedule: PipelineSchedule) -> scheduler.CfnSchedule:
        declared = {p.name for p in self.definition.parameters}
        unknown = sorted(set(schedule.parameters) - declared)
        if unknown:
            raise ValueError(f"{self.node.path}: schedule.parameters {unknown} are not parameters of the pipeline "
                             f"(declared: {', '.join(sorted(declared))})")
        stack = Stack.of(self)
        role = iam.Role(
            self, "ScheduleRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}),
            description=f"EventBridge Scheduler starts the SageMaker pipeline {self.pipeline_name}",
        )
        self.grant_start_execution(role)
        return scheduler.CfnSchedule(
            self,
            "Schedule",
            schedule_expression=schedule.expression,
            schedule_expression_timezone=schedule.timezone,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            description=f"Runs the SageMaker pipeline {self.pipeline_name}",
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


def _nag_name(stack: Stack, value: str) -> str:
    """How cdk-nag prints a value with tokens in a finding id: ``<LogicalId.Attr>``, ``<AWS::Pseudo>``."""
    if not Token.is_unresolved(value):
        return value
    return flatten_reference(stack.resolve(value))
