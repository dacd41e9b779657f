"""A named EventBridge bus of the estate that other accounts of the estate may put events on, by account id."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_estate.events.dead_letter_queue import DeadLetterQueue
from mlops_estate.core.patterns import ACCOUNT_ID

BUS_NAME = re.compile(r"^[A-Za-z0-9._-]{1,256}$")
SID = re.compile(r"^[A-Za-z0-9]{1,64}$")


def estate_bus_name(estate_name: str, account_role: str) -> str:
    """The physical name of an account role's bus, the same in the stack that makes it and the ones that send:
    ``estate_bus_name("mlops", "ml_dev") == "mlops-ml-dev"``."""
    return f"{estate_name}-{account_role.replace('_', '-')}"


def bus_arn(*, account: str, region: str, partition: str, event_bus_name: str) -> str:
    return f"arn:{partition}:events:{region}:{account}:event-bus/{event_bus_name}"


class EstateEventBus(Construct):
    """A custom event bus with a physical name (senders in other accounts address it by ARN), encrypted with
    a CMK when ``key`` is given (with a dead-letter queue for events that fail encryption), and a resource
    policy that admits nobody until `allow_put_events_from` names accounts.

    The policy statements use the ``Statement`` form of ``AWS::Events::EventBusPolicy``, never the deprecated
    ``Principal``/``Action`` form. The ``CfnEventBusPolicy#principal is deprecated`` warning printed at a synth
    with the nag packs comes from cdk-nag 3.0.2's EventBusOpenAccess rule, which reads that deprecated
    property of every bus policy; nothing in this library sets or reads it.
    """

    def __init__(self, scope: Construct, id: str, *, event_bus_name: str, description: str, key: kms.IKey | None = None) -> None:
        super().__init__(scope, id)
        if not BUS_NAME.match(event_bus_name) or event_bus_name == "default":
            raise ValueError(
                f"{self.node.path}: event_bus_name {event_bus_name!r} is not a valid custom bus name "
                "(1-256 letters, digits and ._-; not 'default')"
            )
        self.key = key
        self.dead_letter_queue = DeadLetterQueue(self, "DeadLetters", key=key) if key is not None else None
        self.bus = events.EventBus(
            self,
            "Bus",
            event_bus_name=event_bus_name,
            description=description,
            kms_key=key,
            dead_letter_queue=self.dead_letter_queue.queue if self.dead_letter_queue is not None else None,
        )
        if self.dead_letter_queue is not None:
            # EventBridge sends events it could not encrypt or decrypt here, as this bus only.
            self.dead_letter_queue.queue.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="EventBusDeadLetters",
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[self.dead_letter_queue.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": self.bus.event_bus_arn}},
                )
            )
        self.event_bus_name = event_bus_name
        self._sids: set[str] = set()

    @property
    def event_bus_arn(self) -> str:
        return self.bus.event_bus_arn

    @staticmethod
    def from_name(scope: Construct, id: str, *, account: str, event_bus_name: str) -> events.IEventBus:
        """Another account's estate bus, by account id and name (no lookup), in ``scope``'s region."""
        stack = Stack.of(scope)
        return events.EventBus.from_event_bus_arn(
            scope, id, bus_arn(account=account, region=stack.region, partition=stack.partition, event_bus_name=event_bus_name)
        )

    def allow_put_events_from(
        self,
        account_ids: Sequence[str],
        sid: str,
        *,
        sources: Sequence[str] = (),
        detail_types: Sequence[str] = (),
    ) -> None:
        """Admit other accounts to put events on this bus, optionally only with the given ``source`` and
        ``detail-type`` values. This account is never listed (its IAM already governs it); in sandbox mode,
        where every role shares one account, this adds nothing.
        """
        problems: list[str] = []
        if not SID.match(sid):
            problems.append(f"sid {sid!r} must be 1-64 letters and digits")
        elif sid in self._sids:
            problems.append(f"sid {sid!r} is already used on this bus; each sender statement needs its own")
        bad = [a for a in account_ids if not ACCOUNT_ID.match(a)]
        if bad:
            problems.append(f"account_ids {bad!r} are not AWS account ids (exactly 12 digits)")
        if not account_ids:
            problems.append("account_ids is empty; name at least one sending account")
        if problems:
            raise ValueError(f"{self.node.path}: allow_put_events_from: " + "; ".join(problems))
        self._sids.add(sid)
        own = Stack.of(self).account
        others = sorted({a for a in account_ids if a != own})
        if not others:
            return
        conditions: dict[str, dict[str, list[str]]] = {}
        if sources:
            conditions["StringEquals"] = {"events:source": list(sources)}
        if detail_types:
            conditions.setdefault("StringEquals", {})["events:detail-type"] = list(detail_types)
        self.bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.AccountPrincipal(a) for a in others],
                actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn],
                conditions=conditions or None,
            )
        )
