"""Forward events of this account's default bus to another account's estate bus: S3 ``Object Created`` under a
key prefix (data arrival), or any precise patterns (drift alarms, monitoring violations)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_estate.core.patterns import s3_key_prefix_problem
from mlops_estate.events.dead_letter_queue import DeadLetterQueue
from mlops_estate.security.storage import SecureBucket

OBJECT_CREATED = "Object Created"


def _delivery(scope: Construct, target_bus: events.IEventBus, key: kms.IKey, what: str) -> tuple[DeadLetterQueue, iam.Role]:
    """A forwarder's dead-letter queue and the role its rules put events on ``target_bus`` with."""
    queue = DeadLetterQueue(scope, "DeadLetters", key=key)
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
        description=f"Puts {what} on {target_bus.event_bus_name}",
    )
    return queue, role


class ObjectCreatedForwarder(Construct):
    """A rule on this account's default bus that matches ``Object Created`` events of ``buckets`` (which must
    have EventBridge notifications on) under ``prefix`` and puts them on ``target_bus``.

    The rule acts through its own role, allowed ``events:PutEvents`` on exactly that bus ARN; events that
    cannot be delivered after EventBridge's retries land in a CMK-encrypted dead-letter queue.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        buckets: Sequence[SecureBucket],
        prefix: str,
        target_bus: events.IEventBus,
        dead_letter_key: kms.IKey,
        description: str = "",
    ) -> None:
        super().__init__(scope, id)
        problems = []
        if not buckets:
            problems.append("buckets is empty; name at least one bucket whose new objects are forwarded")
        prefix_problem = s3_key_prefix_problem(prefix)
        if prefix_problem:
            problems.append(f"prefix {prefix_problem}")
        if problems:
            raise ValueError(f"{self.node.path}: " + "; ".join(problems))
        self.prefix = prefix
        self.dead_letter_queue, self.role = _delivery(self, target_bus, dead_letter_key, "data-arrival events")
        self.rule = events.Rule(
            self,
            "Rule",
            description=description or f"Forward Object Created under {prefix} to {target_bus.event_bus_name}",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=[OBJECT_CREATED],
                detail={
                    "bucket": {"name": [b.bucket_name for b in buckets]},
                    "object": {"key": [{"prefix": prefix}]},
                },
            ),
        )
        # The EventBus target grants the role events:PutEvents on the target bus's ARN, nothing else.
        self.rule.add_target(targets.EventBus(target_bus, role=self.role, dead_letter_queue=self.dead_letter_queue.queue))


class EventForwarder(Construct):
    """Rules on this account's default bus (where AWS services publish), one per named pattern, that put
    matching events on ``target_bus`` in another account: e.g. a serving account's drift alarms and
    monitoring violations to the build account.

    Patterns must be precise (``source`` and ``detail-type`` at least). All rules act through one role,
    allowed ``events:PutEvents`` on exactly the target bus; undeliverable events land in a CMK-encrypted
    dead-letter queue.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        target_bus: events.IEventBus,
        patterns: Mapping[str, events.EventPattern],
        dead_letter_key: kms.IKey,
    ) -> None:
        super().__init__(scope, id)
        problems = []
        if not patterns:
            problems.append("patterns is empty; give at least one name -> EventPattern")
        imprecise = sorted(name for name, p in patterns.items() if not p.source or not p.detail_type)
        if imprecise:
            problems.append(f"patterns {imprecise} lack source or detail_type; forward only precise patterns")
        if problems:
            raise ValueError(f"{self.node.path}: " + "; ".join(problems))
        self.dead_letter_queue, self.role = _delivery(self, target_bus, dead_letter_key, "forwarded events")
        self.rules: dict[str, events.Rule] = {}
        for name, pattern in patterns.items():
            rule = events.Rule(self, name, description=f"Forward {name} to {target_bus.event_bus_name}", event_pattern=pattern)
            rule.add_target(targets.EventBus(target_bus, role=self.role, dead_letter_queue=self.dead_letter_queue.queue))
            self.rules[name] = rule
