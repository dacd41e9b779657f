"""EventForwarder: precise patterns of the default bus -> another account's estate bus, one narrow role, one DLQ."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Aspects
from aws_cdk import aws_events as events

from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.events.event_bus import EstateEventBus
from mlops_estate.events.event_forwarding import EventForwarder
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.core.nag import apply_nag_packs
from mlops_estate.lifecycle.retraining import DriftAlarmTrigger, to_event_pattern
from tests.handlers.events import PROD, STAGING, alarm_state_change, matches
from tests.helpers import TEST_REGION, make_app, make_stack, resources_of_type

ML_DEV = "444444444444"
BUS_ARN = f"arn:aws:events:{TEST_REGION}:{ML_DEV}:event-bus/mlops-ml-dev"
DRIFT = to_event_pattern(DriftAlarmTrigger(alarm_names=["mlops-churn-stg-drift"], accounts=[STAGING]).pattern())


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    app = make_app()
    stack = make_stack(app)
    Aspects.of(stack).add(ManagedPoliciesOnly())
    keys = EstateKeys(stack, "Keys", estate_name="t", classes=[DataClass.MONITORING])
    bus = EstateEventBus.from_name(stack, "MlDevBus", account=ML_DEV, event_bus_name="mlops-ml-dev")
    EventForwarder(stack, "Forward", target_bus=bus, patterns={"DriftAlarms": DRIFT}, dead_letter_key=keys.monitoring)
    apply_nag_packs(app)  # a finding would fail synth
    return app.synth().get_stack_by_name(stack.stack_name).template  # type: ignore[no-any-return]


def test_forwards_only_matching_events_to_the_bus_arn_with_a_dead_letter_queue(template: dict[str, Any]) -> None:
    [rule] = resources_of_type(template, "AWS::Events::Rule").values()
    props = rule["Properties"]
    assert "EventBusName" not in props  # the default bus, where CloudWatch publishes
    [target] = props["Targets"]
    assert target["Arn"] == BUS_ARN and "RoleArn" in target and "Arn" in target["DeadLetterConfig"]
    assert matches(props["EventPattern"], alarm_state_change(alarm="mlops-churn-stg-drift"))
    assert not matches(props["EventPattern"], alarm_state_change(alarm="mlops-churn-stg-drift", state="OK"))
    assert not matches(props["EventPattern"], alarm_state_change(alarm="mlops-churn-stg-drift", account=PROD))


def test_role_may_put_events_on_that_bus_only(template: dict[str, Any]) -> None:
    statements = [s for p in resources_of_type(template, "AWS::IAM::ManagedPolicy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert {"Action": "events:PutEvents", "Effect": "Allow", "Resource": BUS_ARN} in statements
    assert all(s["Resource"] == BUS_ARN for s in statements if s["Action"] == "events:PutEvents")


def test_dead_letter_queue_is_encrypted_and_retained(template: dict[str, Any]) -> None:
    [queue] = resources_of_type(template, "AWS::SQS::Queue").values()
    assert "KmsMasterKeyId" in queue["Properties"] and queue["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ({}, "patterns: is empty"),
        ({"All": events.EventPattern(source=["aws.s3"])}, r"patterns.All: lacks source or detail_type"),
    ],
    ids=["empty", "imprecise"],
)
def test_bad_patterns_are_rejected(patterns: dict[str, events.EventPattern], message: str) -> None:
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="t", classes=[DataClass.MONITORING])
    bus = EstateEventBus.from_name(stack, "Bus", account=ML_DEV, event_bus_name="b")
    with pytest.raises(ValueError, match="^Test/Forward: 1 problem\\(s\\):\n  - " + message):
        EventForwarder(stack, "Forward", target_bus=bus, patterns=patterns, dead_letter_key=keys.monitoring)
