"""A Lambda function held to the estate's baseline, running one handler from the package's ``lambda/`` folder."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_estate.events.dead_letter_queue import DeadLetterQueue
from mlops_estate.core.dependencies import drop_redundant_dependency
from mlops_estate.core.nag import acknowledge
from mlops_estate.network.private_network import NetworkPlacement

ASSET_EXCLUDES = ["__pycache__", "*.pyc", "*.pyo"]
RUNTIME = lambda_.Runtime.PYTHON_3_14


def handler_source(name: str) -> Path:
    """The folder of handler ``name`` (holding ``index.py``), in the repository or in an installed wheel.

    The handlers ship as package data ``mlops_estate.lambda_src``. Found by path, not importlib.resources
    (which fails on editable namespace packages on Python 3.11), and resolved, so the strict editable
    install's symlink tree leads to the real files and the asset holds files, not links.
    """
    spec = importlib.util.find_spec("mlops_estate.lambda_src")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        index = Path(location) / name / "index.py"
        if index.is_file():
            return index.resolve().parent
    raise ValueError(f"no Lambda handler {name!r}: no {name}/index.py under mlops_estate.lambda_src ({locations})")


class EstateFunction(Construct):
    """A Python Lambda function with the estate's baseline.

    arm64 on the newest Python runtime; reserved concurrency; a CMK-encrypted SQS dead-letter queue that
    also takes asynchronous invocations that failed after ``retry_attempts`` or outlived ``max_event_age``;
    a timeout; a CMK-encrypted, retained log group with retention; its own role that may only write its
    logs (callers add exactly the API calls the handler makes). Runs in ``placement``'s private subnets;
    running outside a VPC needs ``outside_vpc_reason``, which is recorded as the acknowledgement.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: str,
        description: str,
        queue_key: kms.IKey,
        logs_key: kms.IKey,
        placement: NetworkPlacement | None = None,
        outside_vpc_reason: str | None = None,
        environment: Mapping[str, str] | None = None,
        timeout: Duration = Duration.seconds(60),
        memory_size: int = 256,
        reserved_concurrency: int = 1,
        retry_attempts: int = 2,
        max_event_age: Duration = Duration.hours(1),
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, id)
        problems = []
        if (placement is None) == (outside_vpc_reason is None):
            problems.append("give exactly one of placement (run in the VPC) or outside_vpc_reason (why not)")
        if not 1 <= reserved_concurrency <= 100:
            problems.append(f"reserved_concurrency {reserved_concurrency} is out of range; allowed 1-100")
        if not 0 <= retry_attempts <= 2:
            problems.append(f"retry_attempts {retry_attempts} is out of range; Lambda allows 0-2")
        if not 60 <= max_event_age.to_seconds() <= 21600:
            problems.append(f"max_event_age {max_event_age.to_seconds()}s is out of range; Lambda allows 60-21600 s")
        if not 1 <= timeout.to_seconds() <= 900:
            problems.append(f"timeout {timeout.to_seconds()}s is out of range; Lambda allows 1-900 s")
        if problems:
            raise ValueError(f"{self.node.path}: " + "; ".join(problems))
        source = handler_source(handler)

        self.dead_letters = DeadLetterQueue(self, "DeadLetters", key=queue_key, of="the function and its event sources")
        self.dead_letter_queue = self.dead_letters.queue
        self.log_group = logs.LogGroup(
            self, "Logs", encryption_key=logs_key, retention=log_retention, removal_policy=RemovalPolicy.RETAIN
        )
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=f"Lambda: {description}"[:1000]
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        # Lambda sends failed asynchronous events to the dead-letter queue with this role: it needs the queue's key.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="EncryptDeadLetters", actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[queue_key.key_arn]
            )
        )
        if placement is not None:
            # What AWSLambdaVPCAccessExecutionRole grants, without the managed policy.
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="ManageVpcNetworkInterfaces",
                    actions=[
                        "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=["*"],
                )
            )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(source), exclude=ASSET_EXCLUDES),
            role=self.role,
            timeout=timeout,
            memory_size=memory_size,
            reserved_concurrent_executions=reserved_concurrency,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            log_group=self.log_group,
            environment=dict(environment or {}),
        )
        # CDK makes the function depend on its role explicitly; the GetAtt on the role already does (W3005).
        cfn_function, cfn_role = self.function.node.default_child, self.role.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction) and isinstance(cfn_role, iam.CfnRole)
        drop_redundant_dependency(cfn_function, cfn_role)
        # Lambda checks the role's permissions (logs, network interfaces) when the function is created.
        self.function.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
        if placement is not None:
            # Placed by ids (the L2 subnet selection would need route tables an imported VPC does not have).
            cfn_function.vpc_config = lambda_.CfnFunction.VpcConfigProperty(
                subnet_ids=list(placement.subnet_ids), security_group_ids=placement.security_group_ids
            )
            acknowledge(
                self.role,
                "Lambda manages the network interfaces of its VPC-bound function itself; EC2 network interface "
                "actions support no resource-level scoping for Describe*, and the subnets and groups are fixed by the function.",
                "AwsSolutions-IAM5[Resource::*]",
            )
        else:
            assert outside_vpc_reason is not None
            acknowledge(self.function, outside_vpc_reason, "NIST.800.53.R5-LambdaInsideVPC", "HIPAA.Security-LambdaInsideVPC")

    @property
    def function_arn(self) -> str:
        return self.function.function_arn

    def metric_errors(self, period: Duration = Duration.minutes(5)) -> cloudwatch.Metric:
        return self.function.metric_errors(period=period)

    def metric_throttles(self, period: Duration = Duration.minutes(5)) -> cloudwatch.Metric:
        return self.function.metric_throttles(period=period)

    def metric_dead_letters(self, period: Duration = Duration.minutes(5)) -> cloudwatch.Metric:
        """Messages waiting in the dead-letter queue: anything above zero needs a human."""
        return self.dead_letter_queue.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum")
