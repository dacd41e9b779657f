"""SQS queues of the estate: CMK-encrypted, TLS-only, retained; dead-letter queues acknowledged as such."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_estate.nag import acknowledge


def encrypted_queue(
    scope: Construct,
    id: str,
    *,
    key: kms.IKey,
    retention: Duration = Duration.days(4),
    visibility_timeout: Duration | None = None,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
) -> sqs.Queue:
    return sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=retention,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=dead_letter_queue,
        removal_policy=RemovalPolicy.RETAIN,
    )


def dead_letter_queue(scope: Construct, id: str, *, key: kms.IKey, of: str) -> sqs.Queue:
    """A queue that keeps what ``of`` could not process or deliver, for 14 days (the SQS maximum)."""
    queue = encrypted_queue(scope, id, key=key, retention=Duration.days(14))
    acknowledge(
        queue,
        f"This queue is itself the dead-letter queue of {of}; a dead-letter queue of a dead-letter queue would "
        "only move the same messages again.",
        "AwsSolutions-SQS3",
    )
    return queue
