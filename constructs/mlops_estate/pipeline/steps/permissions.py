"""What a step declares about itself for the pipeline around it: the IAM its pipeline role needs (`RoleGrant`, built
with a `PipelineRoleScope`) and, for steps that create SageMaker jobs, where the job's security settings sit in the
step's ``Arguments`` (`JobSecurity`, read by the guardrail check from a synthesized definition).

Each step class answers for itself, so `TrainingPipeline` and the guardrail check hold no per-step-type tables and a
new step type needs no change outside its own module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

# Why the job statements may name jobs with a wildcard (the acknowledgement of their cdk-nag findings).
GENERATED_JOB_NAMES_REASON = (
    "SageMaker Pipelines generates the names of the jobs and models it creates (pipelines-<execution>-<step>-...); "
    "the role is limited to the job types this definition uses, in this account and region, and creation to "
    "isolated jobs in this VPC by IAM conditions."
)


@dataclass(frozen=True)
class RoleGrant:
    """What the pipeline role needs to run one step.

    Attributes:
        statements: the policy statements (the pipeline role makes the step's API calls: create the job, invoke
            the function, send the message).
        wildcard_reason: why any wildcard in ``statements`` is as narrow as the service allows (cdk-nag
            acknowledgement); required when a statement has one.
    """

    statements: tuple[iam.PolicyStatement, ...]
    wildcard_reason: str = ""


@dataclass(frozen=True)
class SageMakerJob:
    """The SageMaker resource a step creates, as the pipeline role's statements name it.

    Attributes:
        resource_type: the IAM resource type (``training-job``, ``processing-job``, ``model``, ...).
        create: the create action, allowed only under the step's conditions.
        others: the actions on a created resource (describe, stop, ...); ``sagemaker:AddTags`` is added.
        name: the resource name pattern; pipelines name what they create ``pipelines-<execution>-<step>-...``.
        also: further resource types the other actions act on (a tuning job's training jobs).
    """

    resource_type: str
    create: str
    others: tuple[str, ...]
    name: str = "pipelines-*"
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineRoleScope:
    """What a step may scope its pipeline-role statements to: the pipeline's stack (account, region, partition)
    and the VPC placement its jobs must use.

    Attributes:
        stack: the stack of the pipeline.
        subnet_ids: the subnets every job must run in.
        security_group_ids: the security groups every job must use.
    """

    stack: Stack
    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]

    def sagemaker_arn(self, resource_type: str, name: str) -> str:
        s = self.stack
        return f"arn:{s.partition}:sagemaker:{s.region}:{s.account}:{resource_type}/{name}"

    @property
    def in_vpc(self) -> dict[str, Any]:
        """Conditions: the request names subnets and security groups, and only the placement's.

        ForAllValues is vacuously true for a request without the key (no VPC at all): the Null guard makes the
        subnets and security groups required, and ForAllValues keeps them to the placement's own."""
        return {
            "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
            "ForAllValues:StringEquals": {
                "sagemaker:VpcSubnets": list(self.subnet_ids),
                "sagemaker:VpcSecurityGroupIds": self.security_group_ids,
            },
        }

    @property
    def isolated(self) -> dict[str, Any]:
        """Conditions: in the VPC, with network isolation and inter-container traffic encryption."""
        return {"Bool": {"sagemaker:NetworkIsolation": "true", "sagemaker:InterContainerTrafficEncryption": "true"},
                **self.in_vpc}

    def job_grant(self, job: SageMakerJob, *, conditions: Mapping[str, Any] | None) -> RoleGrant:
        """Create ``job`` under ``conditions``; describe, stop and tag what was created."""
        created = self.sagemaker_arn(job.resource_type, job.name)
        resources = [created, *(self.sagemaker_arn(t, "*") for t in job.also)]
        return RoleGrant(
            statements=(
                iam.PolicyStatement(actions=[job.create], resources=[created], conditions=dict(conditions) if conditions else None),
                iam.PolicyStatement(actions=[*job.others, "sagemaker:AddTags"], resources=resources),
            ),
            wildcard_reason=GENERATED_JOB_NAMES_REASON,
        )


@dataclass(frozen=True)
class JobSecurity:
    """The security settings of the job a step creates, as found in the step's rendered ``Arguments``.

    Attributes:
        volume_kms_key: the volume KMS key (None when absent).
        output_kms_key: the output KMS key (None when absent).
        network: ``VpcConfig``, ``EnableNetworkIsolation`` and ``EnableInterContainerTrafficEncryption`` of the
            request; None for a job without network settings of its own (a transform job runs in its model's).
    """

    volume_kms_key: Any
    output_kms_key: Any
    network: Mapping[str, Any] | None


def get(node: Any, *path: str) -> Any:
    """``node[path[0]][path[1]]...``, None where a level is missing (rendered arguments may lack any field)."""
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


__all__ = ["JobSecurity", "PipelineRoleScope", "RoleGrant", "SageMakerJob"]
