"""A custom EventBridge bus that admits events only from the estate's accounts."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

BUS_NAME = re.compile(r"^[A-Za-z0-9._\-]{1,256}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")


class EstateEventBus(Construct):
    """A named custom bus (other accounts address it by ARN) whose resource policy lets only
    ``sender_accounts`` put events on it; the own account needs no statement."""

    def __init__(self, scope: Construct, id: str, *, bus_name: str, sender_accounts: Sequence[str]) -> None:
        super().__init__(scope, id)
        problems = []
        if not BUS_NAME.match(bus_name) or bus_name == "default":
            problems.append(f"bus_name {bus_name!r} is not a custom bus name (1-256 of A-Z a-z 0-9 . _ -, not 'default')")
        bad = [a for a in sender_accounts if not ACCOUNT_ID.match(a)]
        if bad:
            problems.append(f"sender_accounts {bad} are not AWS account ids (exactly 12 digits)")
        if problems:
            raise ValueError(f"{self.node.path}: " + "; ".join(problems))
        self.bus = events.EventBus(self, "Bus", event_bus_name=bus_name)
        self.bus_name = bus_name
        own = Stack.of(self).account
        self.sender_accounts = tuple(sorted({a for a in sender_accounts if a != own}))
        if self.sender_accounts:
            self.bus.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="EstateAccountsPutEvents",
                    principals=[iam.AccountPrincipal(a) for a in self.sender_accounts],
                    actions=["events:PutEvents"],
                    resources=[self.bus.event_bus_arn],
                )
            )

    @property
    def bus_arn(self) -> str:
        return self.bus.event_bus_arn
