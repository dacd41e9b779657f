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
from mlops_estate.core.validation import Problems
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

    Args:
        scope: the parent construct.
        id: the construct id.
        buckets: the buckets whose new objects are announced (at least one; created with ``event_bridge=True``).
        prefix: the key prefix new objects must start with (1-1024 of letters, digits and ``!_.*'()/-``, no
            leading ``/``), e.g. ``datasets/``.
        target_bus: the bus the events are put on, usually another account's (its policy must admit this account).
        dead_letter_key: the customer-managed key of the dead-letter queue.
        description: the rule's description; a generated one naming the prefix and bus when empty.
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
        problems = Problems()
        if not buckets:
            problems.add("buckets", "is empty; name at least one bucket whose new objects are forwarded")
        prefix_problem = s3_key_prefix_problem(prefix)
        if prefix_problem:
            problems.add("prefix", prefix_problem)
        problems.raise_if_any(self.node.path)
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

    Args:
        scope: the parent construct.
        id: the construct id.
        target_bus: the bus the events are put on, usually another account's (its policy must admit this account).
        patterns: rule name (a construct id) -> the event pattern it forwards; at least one, each with ``source``
            and ``detail_type``.
        dead_letter_key: the customer-managed key of the dead-letter queue.
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
        problems = Problems()
        if not patterns:
            problems.add("patterns", "is empty; give at least one name -> EventPattern")
        for name, pattern in patterns.items():
            if not pattern.source or not pattern.detail_type:
                problems.add(f"patterns.{name}", "lacks source or detail_type; forward only precise patterns")
        problems.raise_if_any(self.node.path)
        self.dead_letter_queue, self.role = _delivery(self, target_bus, dead_letter_key, "forwarded events")
        self.rules: dict[str, events.Rule] = {}
        for name, pattern in patterns.items():
            rule = events.Rule(self, name, description=f"Forward {name} to {target_bus.event_bus_name}", event_pattern=pattern)
            rule.add_target(targets.EventBus(target_bus, role=self.role, dead_letter_queue=self.dead_letter_queue.queue))
            self.rules[name] = rule
