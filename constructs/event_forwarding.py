"""Forward matching events of an account's default bus to an estate bus in another account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_estate.queues import dead_letter_queue
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
        self.dead_letter_queue = dead_letter_queue(self, "Undelivered", key=queue_key, of="the forwarding rules")
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
