"""An SQS dead-letter queue for events that could not be delivered: CMK-encrypted, TLS-only, retained."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_estate.core.nag import acknowledge

# SQS keeps a message at most 14 days; a dead letter should wait as long as possible for someone to look.
MAX_RETENTION_DAYS = 14


def secure_queue(scope: Construct, id: str, *, key: kms.IKey, retention: Duration, **options: Any) -> sqs.Queue:
    """An SQS queue as the estate keeps them: encrypted with ``key`` (a CMK), TLS-only, retained on stack
    deletion (it may hold undelivered events); ``options`` are further ``sqs.Queue`` props."""
    return sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=retention,
        removal_policy=RemovalPolicy.RETAIN,
        **options,
    )


class DeadLetterQueue(Construct):
    """Where EventBridge (or ``of``: a Lambda function, an SQS source queue) puts events it failed to deliver or
    process (after its retries), for inspection and redrive.

    The key must let the sending service use it: EstateKeys' ``monitoring`` key admits EventBridge and
    CloudWatch of its own account, so pass that one for event targets and buses.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: kms.IKey,
        retention_days: int = MAX_RETENTION_DAYS,
        of: str = "EventBridge deliveries",
    ) -> None:
        super().__init__(scope, id)
        if not 1 <= retention_days <= MAX_RETENTION_DAYS:
            raise ValueError(f"{self.node.path}: retention_days {retention_days} is out of range; SQS keeps messages 1 to {MAX_RETENTION_DAYS} days")
        self.queue = secure_queue(self, "Queue", key=key, retention=Duration.days(retention_days))
        acknowledge(
            self.queue,
            f"This queue is itself the dead-letter queue of {of}; a DLQ of a DLQ would only move the problem.",
            "AwsSolutions-SQS3",
        )

    @property
    def queue_arn(self) -> str:
        return self.queue.queue_arn

    def metric_messages_visible(self) -> cloudwatch.Metric:
        """Undelivered events waiting; alarm on > 0."""
        return self.queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum")
