"""Forward matching events of an account's default bus to an estate bus in another account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_estate.nag import acknowledge
from mlops_estate.retraining import to_event_pattern


class EventForwarder(Construct):
    """One rule per named pattern on the default bus (where AWS services publish), each sending its events
    to ``target_bus_arn``; events that cannot be delivered after bounded retries land in a CMK-encrypted
    dead-letter queue."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        target_bus_arn: str,
        patterns: Mapping[str, Mapping[str, Any]],
        queue_key: kms.IKey,
    ) -> None:
        super().__init__(scope, id)
        if not patterns:
            raise ValueError(f"{self.node.path}: patterns is empty; give at least one name -> EventBridge pattern")
        bad = [name for name, p in patterns.items() if not p.get("source") or not p.get("detail-type")]
        if bad:
            raise ValueError(f"{self.node.path}: patterns {bad} lack 'source' or 'detail-type'; forward only precise patterns")
        self.dead_letter_queue = sqs.Queue(
            self,
            "Undelivered",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=queue_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.dead_letter_queue,
            "This queue is the dead-letter queue of the forwarding rules; a dead-letter queue of a dead-letter "
            "queue would only move the same events again.",
            "AwsSolutions-SQS3",
        )
        target_bus = events.EventBus.from_event_bus_arn(self, "TargetBus", target_bus_arn)
        self.rules = {
            name: events.Rule(
                self,
                name,
                description=f"Forward {name} events to {target_bus_arn}",
                event_pattern=to_event_pattern(pattern),
                targets=[
                    targets.EventBus(
                        target_bus,
                        dead_letter_queue=self.dead_letter_queue,
                    )
                ],
            )
            for name, pattern in patterns.items()
        }
