"""A named EventBridge bus of the estate that other accounts of the estate may put events on, by account id."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_estate.core.patterns import ACCOUNT_ID, EVENT_BUS_NAME
from mlops_estate.core.validation import Problems
from mlops_estate.events.dead_letter_queue import DeadLetterQueue

# Statement ids of the bus policy.
SID = re.compile(r"^[A-Za-z0-9]{1,64}$")


def estate_bus_name(estate_name: str, account_role: str) -> str:
    """The physical name of an account role's bus, the same in the stack that makes it and the ones that send:
    ``estate_bus_name("mlops", "ml_dev") == "mlops-ml-dev"``."""
    return f"{estate_name}-{account_role.replace('_', '-')}"


def bus_arn(*, account: str, region: str, partition: str, event_bus_name: str) -> str:
    return f"arn:{partition}:events:{region}:{account}:event-bus/{event_bus_name}"


class StatementBusPolicy(events.CfnEventBusPolicy):
    """An ``AWS::Events::EventBusPolicy`` in the ``Statement`` form, whose deprecated ``principal`` is never read.

    cdk-nag 3.0.2's EventBusOpenAccess rule (AwsSolutions-EVB1) reads ``principal`` of every bus policy, and that
    getter prints ``[WARNING] ...CfnEventBusPolicy#principal is deprecated`` at every synth with the nag packs,
    which a user reads as their problem. This policy answers the read itself (no principal: the statement names
    it), so the deprecated getter never runs while the rule still checks the statement. It takes no ``principal``,
    ``action`` or ``condition``.

    Args:
        scope: the parent construct.
        id: the construct id.
        statement_id: the policy statement's id (``Sid``), unique on the bus.
        statement: the IAM policy statement (``Effect``, ``Principal``, ``Action``, ``Resource``, ``Condition``).
        event_bus_name: the bus the statement is added to; default: the account's default bus.
    """

    def __init__(self, scope: Construct, id: str, *, statement_id: str, statement: Mapping[str, Any],
                 event_bus_name: str | None = None) -> None:
        super().__init__(scope, id, statement_id=statement_id, statement=statement, event_bus_name=event_bus_name)

    @property
    def principal(self) -> str | None:
        return None

    @principal.setter
    def principal(self, value: str | None) -> None:
        if value is not None:
            raise ValueError(f"{self.node.path}: principal {value!r}: give the principal in the statement; the "
                             "Principal/Action/Condition form of a bus policy is deprecated")


class EstateEventBus(Construct):
    """A custom event bus with a physical name (senders in other accounts address it by ARN), encrypted with
    a customer-managed key when ``key`` is given (with a dead-letter queue for events that fail encryption),
    and a resource policy that admits nobody until `allow_put_events_from` names accounts.

    The policy statements use the ``Statement`` form of ``AWS::Events::EventBusPolicy``, never the deprecated
    ``Principal``/``Action``/``Condition`` form (see `StatementBusPolicy`: no synth prints a deprecation warning).

    Args:
        scope: the parent construct.
        id: the construct id.
        event_bus_name: the bus's physical name, 1-256 letters, digits, ``.``, ``_`` and ``-``; not ``default``
            (the account's own bus) nor starting with ``aws.`` (partner buses). `estate_bus_name` derives the
            estate's names.
        description: what the bus carries, at most 512 characters.
        key: the customer-managed key that encrypts events at rest (it must admit EventBridge, as the
            ``monitoring`` key of `EstateKeys` does). Default: EventBridge's AWS-owned key, and no dead-letter
            queue.
    """

    def __init__(self, scope: Construct, id: str, *, event_bus_name: str, description: str, key: kms.IKey | None = None) -> None:
        super().__init__(scope, id)
        problems = Problems()
        problems.match("event_bus_name", event_bus_name, EVENT_BUS_NAME, "a custom event bus name",
                       "1-256 letters, digits and ._-; not 'default', not starting with 'aws.'")
        if len(description) > 512:
            problems.add("description", f"{description[:40] + '...'!r} has {len(description)} characters; expected at most 512")
        problems.raise_if_any(self.node.path)
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
        """Another account's estate bus, by account id and name (no lookup), in ``scope``'s region.

        Args:
            scope: the construct to create the reference in.
            id: the reference's construct id.
            account: the bus's 12-digit account id (tokens accepted).
            event_bus_name: the bus's name.
        """
        problems = Problems()
        problems.match("account", account, ACCOUNT_ID, "an AWS account id", "exactly 12 digits")
        problems.match("event_bus_name", event_bus_name, EVENT_BUS_NAME, "a custom event bus name",
                       "1-256 letters, digits and ._-; not 'default', not starting with 'aws.'")
        problems.raise_if_any(f"{scope.node.path}/{id}")
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

        Args:
            account_ids: the sending accounts, 12-digit ids (tokens accepted); at least one.
            sid: the policy statement's id, 1-64 letters and digits, unique on this bus.
            sources: the ``source`` values they may put; default any.
            detail_types: the ``detail-type`` values they may put; default any.
        """
        problems = Problems()
        if not SID.match(sid):
            problems.add("sid", f"{sid!r} is not a statement id; expected 1-64 letters and digits")
        elif sid in self._sids:
            problems.add("sid", f"{sid!r} is already used on this bus; expected a new id for each sender statement")
        problems.account_ids("account_ids", account_ids)
        if not account_ids:
            problems.add("account_ids", f"{list(account_ids)!r} is empty; expected at least one sending account")
        problems.raise_if_any(f"{self.node.path}: allow_put_events_from")
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
        # What EventBus.add_to_resource_policy makes (same construct path, so the same logical id and properties),
        # with a StatementBusPolicy instead of its CfnEventBusPolicy.
        statement_id = f"cdk-{sid}"[:64]
        statement = iam.PolicyStatement(
            sid=statement_id,
            principals=[iam.AccountPrincipal(a) for a in others],
            actions=["events:PutEvents"],
            resources=[self.bus.event_bus_arn],
            conditions=conditions or None,
        )
        StatementBusPolicy(Construct(self.bus, statement_id), "Resource", statement_id=statement_id,
                           statement=statement.to_json(), event_bus_name=self.bus.event_bus_name)
