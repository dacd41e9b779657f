"""An SQS dead-letter queue for events that could not be delivered: CMK-encrypted, TLS-only, retained."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_estate.core.nag import acknowledge
from mlops_estate.core.validation import Problems

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
    """An SQS queue where EventBridge (or ``of``: a Lambda function, an SQS source queue) puts events it failed
    to deliver or process after its retries, for inspection and redrive: encrypted with a customer-managed key,
    TLS-only, retained when the stack is deleted (it may hold undelivered events). Alarm on
    `metric_messages_visible` > 0.

    The key must let the sending service use it: EstateKeys' ``monitoring`` key admits EventBridge and
    CloudWatch of its own account, so pass that one for event targets and buses.

    Args:
        scope: the parent construct.
        id: the construct id (stateful: keep it stable).
        key: the customer-managed key that encrypts the messages.
        retention_days: how long a message waits, 1-14 days (SQS's maximum); default 14, so that someone
            has as long as possible to look.
        of: what sends its failures here, in words; it names the queue in the acknowledgement that a
            dead-letter queue needs no dead-letter queue of its own. Default ``"EventBridge deliveries"``.
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
        problems = Problems()
        if not 1 <= retention_days <= MAX_RETENTION_DAYS:
            problems.add("retention_days", f"{retention_days!r} is outside what SQS keeps; expected 1 to {MAX_RETENTION_DAYS} days")
        problems.raise_if_any(self.node.path)
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
