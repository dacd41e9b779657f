"""The IAM statements every SageMaker workload in a VPC needs, in one place.

A training/processing/monitoring job, an endpoint or a Studio app that runs in the estate's private subnets needs
the same things: log streams in SageMaker's log groups, metrics in SageMaker's namespaces, the ECR login token,
EC2 reads to place itself, and network interfaces it creates with generated ids. Each construct used to write
these itself (five copies, two ENI scopes); now each asks for them here and adds what is its own (buckets, keys,
images).

ENI create/delete is scoped one way everywhere: to the workload's VPC by the ``ec2:Vpc`` condition. SageMaker
creates the interfaces with ids unknown before, and the subnet and security group ids of a placement are often
tokens, so the VPC condition is the narrowest scope that holds for every workload type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam

ENI_ACTIONS = ("ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
               "ec2:DeleteNetworkInterfacePermission")
DESCRIBE_NETWORK_ACTIONS = ("ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                            "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups")
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")
# SageMaker's own metric namespaces (jobs and endpoints publish here).
SAGEMAKER_METRIC_NAMESPACES = ("/aws/sagemaker/*",)

# Why the statements below may use "*" (the cdk-nag acknowledgement of AwsSolutions-IAM5[Resource::*]).
NO_RESOURCE_LEVEL_REASON = (
    "ecr:GetAuthorizationToken, the EC2 Describe* calls and cloudwatch:PutMetricData have no resource-level "
    "permissions; ENI create/delete is limited to the workload's VPC and metrics to SageMaker's namespaces by conditions."
)
LOG_GROUPS_REASON = (
    "SageMaker names log streams (and, for jobs, log groups per job type) at run time under /aws/sagemaker/; the "
    "statement is limited to those log groups in this account and region."
)


@dataclass(frozen=True)
class WorkloadStatements:
    """What a VPC SageMaker workload needs, split by how each statement may be acknowledged.

    Attributes:
        scoped: statements whose resources are named (the log groups).
        unscoped: statements on ``*`` that AWS offers no resource-level permission for, each narrowed by a
            condition where the service offers one (see ``NO_RESOURCE_LEVEL_REASON``).
        log_group_arns: the log-group ARNs granted (for an acknowledgement naming them).
    """

    scoped: tuple[iam.PolicyStatement, ...]
    unscoped: tuple[iam.PolicyStatement, ...]
    log_group_arns: tuple[str, ...]

    @property
    def all(self) -> tuple[iam.PolicyStatement, ...]:
        return self.scoped + self.unscoped


def workload_statements(
    stack: Stack,
    *,
    vpc_id: str | None,
    log_groups: Sequence[str] = ("/aws/sagemaker/*",),
    metric_namespaces: Sequence[str] = SAGEMAKER_METRIC_NAMESPACES,
    pulls_images: bool = True,
) -> WorkloadStatements:
    """The statements a SageMaker workload of ``stack`` needs to run in the VPC ``vpc_id``.

    Args:
        stack: the stack whose account, region and partition the ARNs name.
        vpc_id: the workload's VPC; ``None`` for a workload outside any VPC (a serverless endpoint), which then
            gets no network statements.
        log_groups: log-group names (wildcards allowed) the workload writes to; their streams are included.
        metric_namespaces: CloudWatch namespaces it may publish to (``cloudwatch:namespace`` condition).
        pulls_images: whether it logs in to ECR (image pulls themselves are granted per repository by the caller).
    """
    arns = tuple(
        stack.format_arn(service="logs", resource="log-group", resource_name=f"{group}:*",
                         arn_format=ArnFormat.COLON_RESOURCE_NAME) for group in log_groups
    )
    scoped = (iam.PolicyStatement(sid="WorkloadLogs", actions=list(LOG_ACTIONS), resources=list(arns)),)
    unscoped: list[iam.PolicyStatement] = [
        iam.PolicyStatement(
            sid="WorkloadMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": list(metric_namespaces)}},
        )
    ]
    if pulls_images:
        unscoped.append(iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]))
    if vpc_id is not None:
        vpc_arn = stack.format_arn(service="ec2", resource="vpc", resource_name=vpc_id)
        unscoped += [
            iam.PolicyStatement(sid="DescribeNetwork", actions=list(DESCRIBE_NETWORK_ACTIONS), resources=["*"]),
            iam.PolicyStatement(sid="NetworkInterfacesInTheVpc", actions=list(ENI_ACTIONS), resources=["*"],
                                conditions={"ArnEquals": {"ec2:Vpc": vpc_arn}}),
        ]
    return WorkloadStatements(scoped=scoped, unscoped=tuple(unscoped), log_group_arns=arns)

