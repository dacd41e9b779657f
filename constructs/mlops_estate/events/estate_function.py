"""A Lambda function held to the estate's baseline, running one handler from the package's ``lambda/`` folder."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_estate.core.principal_policy import add_to_principal_policy
from mlops_estate.events.dead_letter_queue import DeadLetterQueue
from mlops_estate.core.dependencies import drop_redundant_dependency
from mlops_estate.core.nag import acknowledge
from mlops_estate.core.validation import Problems
from mlops_estate.network.private_network import NetworkPlacement

ASSET_EXCLUDES = ["__pycache__", "*.pyc", "*.pyo"]
ENVIRONMENT_VARIABLE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]+$")
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
    """A Python Lambda function held to the estate's baseline, running one handler of the package's ``lambda/``
    folder: arm64 on the newest Python runtime; reserved concurrency; a CMK-encrypted SQS dead-letter queue that
    also takes asynchronous invocations that failed after ``retry_attempts`` or outlived ``max_event_age``; a
    timeout; a CMK-encrypted, retained log group with retention; its own role that may only write its logs and
    use the dead-letter queue's key (callers add exactly the API calls the handler makes, on ``role``).

    It runs in ``placement``'s private subnets; running outside a VPC needs ``outside_vpc_reason``, which is
    recorded as the acknowledgement of the NIST/HIPAA "Lambda inside VPC" findings.

    Args:
        scope: the parent construct.
        id: the construct id.
        handler: the handler's folder name under ``lambda/`` (shipped as ``mlops_estate.lambda_src``), holding
            an ``index.py`` with a ``handler`` function, e.g. ``"promote_model"``.
        description: what the function does, at most 256 characters (also the role's description).
        queue_key: the customer-managed key of the dead-letter queue (the role may use it to send there).
        logs_key: the customer-managed key of the log group (it must admit CloudWatch Logs, as the ``logs`` key
            of `EstateKeys` does).
        placement: the private subnets and security group to run in. Give exactly one of ``placement`` and
            ``outside_vpc_reason``.
        outside_vpc_reason: why the function runs outside any VPC, at least 20 characters (the acknowledgement).
        environment: environment variables; names start with a letter and hold letters, digits and ``_``.
            Default none.
        timeout: how long one invocation may run, 1 second to 15 minutes; default 60 seconds.
        memory_size: memory in MB, 128-10240; default 256.
        reserved_concurrency: how many invocations may run at once (reserved from the account's pool), 1-100;
            default 1.
        retry_attempts: retries of a failed asynchronous invocation before it goes to the dead-letter queue,
            0-2; default 2.
        max_event_age: how long an asynchronous event may wait to be processed before it goes to the
            dead-letter queue, 60 seconds to 6 hours; default 1 hour.
        log_retention: how long the function's logs are kept; default one year.
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
        problems = Problems()
        try:
            handler_source(handler)
        except ValueError:
            problems.add("handler", f"{handler!r} is not a handler of mlops_estate.lambda_src; expected the name of a folder "
                                    "with an index.py there")
        if len(description) > 256:
            problems.add("description", f"{description[:40] + '...'!r} has {len(description)} characters; expected at most 256")
        if (placement is None) == (outside_vpc_reason is None):
            problems.add("placement", f"{'None' if placement is None else 'a placement'} with outside_vpc_reason={outside_vpc_reason!r} "
                                      "is not allowed; expected exactly one of placement (run in the VPC) or outside_vpc_reason (why not)")
        elif outside_vpc_reason is not None and len(outside_vpc_reason) < 20:
            problems.add("outside_vpc_reason", f"{outside_vpc_reason!r} is too short to be specific; expected a reason of at least 20 characters")
        for name in environment or {}:
            if not ENVIRONMENT_VARIABLE.match(name):
                problems.add(f"environment[{name!r}]", f"{name!r} is not a Lambda environment variable name; expected a letter, "
                                                       "then letters, digits and '_'")
        if not 1 <= timeout.to_seconds() <= 900:
            problems.add("timeout", f"{timeout.to_seconds():g} s is outside what Lambda allows; expected 1 to 900 seconds")
        if not 128 <= memory_size <= 10240:
            problems.add("memory_size", f"{memory_size!r} MB is outside what Lambda allows; expected 128 to 10240")
        if not 1 <= reserved_concurrency <= 100:
            problems.add("reserved_concurrency", f"{reserved_concurrency!r} is outside the estate's range; expected 1 to 100")
        if not 0 <= retry_attempts <= 2:
            problems.add("retry_attempts", f"{retry_attempts!r} is outside what Lambda allows; expected 0 to 2")
        if not 60 <= max_event_age.to_seconds() <= 21600:
            problems.add("max_event_age", f"{max_event_age.to_seconds():g} s is outside what Lambda allows; expected 60 to 21600 seconds")
        problems.raise_if_any(self.node.path)
        source = handler_source(handler)

        self.dead_letters = DeadLetterQueue(self, "DeadLetters", key=queue_key, of="the function and its event sources")
        self.dead_letter_queue = self.dead_letters.queue
        self.log_group = logs.LogGroup(
            self, "Logs", encryption_key=logs_key, retention=log_retention, removal_policy=RemovalPolicy.RETAIN
        )
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=f"Lambda: {description}"[:1000]
        )
        add_to_principal_policy(self.role, iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[self.log_group.log_group_arn],
        ))
        # Lambda sends failed asynchronous events to the dead-letter queue with this role: it needs the queue's key.
        add_to_principal_policy(self.role, iam.PolicyStatement(
            sid="EncryptDeadLetters", actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[queue_key.key_arn]
        ))
        if placement is not None:
            # What AWSLambdaVPCAccessExecutionRole grants, without the managed policy.
            add_to_principal_policy(self.role, iam.PolicyStatement(
                sid="ManageVpcNetworkInterfaces",
                actions=[
                    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            ))
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
            assert outside_vpc_reason is not None  # checked above
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
