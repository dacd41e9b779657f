"""EstateEventBus and EventForwarder: who may put events, where forwarded events go, what is rejected."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_estate.encryption import DataClass, EstateKeys
from mlops_estate.event_bus import EstateEventBus
from mlops_estate.event_forwarding import EventForwarder
from mlops_estate.retraining import DriftAlarmTrigger
from tests.handlers.events import PROD, STAGING, alarm_state_change, matches
from tests.helpers import TEST_ACCOUNT, make_stack, resources_of_type, template_of

ML_DEV_BUS = "arn:aws:events:eu-west-1:444444444444:event-bus/mlops-ml-dev"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    stack = make_stack()
    EstateEventBus(stack, "Bus", bus_name="mlops-shared-services", sender_accounts=[STAGING, PROD, TEST_ACCOUNT, STAGING])
    keys = EstateKeys(stack, "Keys", estate_name="mlops", classes=[DataClass.MONITORING])
    EventForwarder(stack, "Forward", target_bus_arn=ML_DEV_BUS, queue_key=keys.monitoring,
                   patterns={"DriftAlarms": DriftAlarmTrigger(alarm_names=["mlops-churn-staging-drift"], accounts=[STAGING]).pattern()})
    return template_of(stack).to_json()


def test_bus_admits_exactly_the_other_estate_accounts(template: dict[str, Any]) -> None:
    [bus] = resources_of_type(template, "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == "mlops-shared-services"
    [policy] = resources_of_type(template, "AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert sorted(statement["Principal"]["AWS"]) == [f"arn:aws:iam::{a}:root" for a in (STAGING, PROD)]


def test_forwarder_sends_to_the_bus_arn_with_a_dead_letter_queue(template: dict[str, Any]) -> None:
    [rule] = resources_of_type(template, "AWS::Events::Rule").values()
    props = rule["Properties"]
    assert "EventBusName" not in props  # the default bus, where AWS services publish
    [target] = props["Targets"]
    assert target["Arn"] == ML_DEV_BUS and "RoleArn" in target and "Arn" in target["DeadLetterConfig"]
    assert matches(props["EventPattern"], alarm_state_change())
    assert not matches(props["EventPattern"], alarm_state_change(state="OK"))
    assert not matches(props["EventPattern"], alarm_state_change(alarm="mlops-churn-prod-drift", account=PROD))
    roles = [p["Properties"]["PolicyDocument"]["Statement"] for p in resources_of_type(template, "AWS::IAM::Policy").values()]
    assert [{"Action": "events:PutEvents", "Effect": "Allow", "Resource": ML_DEV_BUS}] in roles


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bus_name": "default", "sender_accounts": []}, "bus_name 'default' is not a custom bus name"),
        ({"bus_name": "bad/name", "sender_accounts": []}, "bus_name 'bad/name' is not a custom bus name"),
        ({"bus_name": "mlops-x", "sender_accounts": ["12345"]}, r"sender_accounts \['12345'\] are not AWS account ids"),
    ],
    ids=["default", "bad-name", "bad-account"],
)
def test_bad_bus_props(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^Test/Bus: " + message):
        EstateEventBus(make_stack(), "Bus", **kwargs)


@pytest.mark.parametrize(
    ("patterns", "message"),
    [({}, "patterns is empty"), ({"All": {"source": ["aws.s3"]}}, r"patterns \['All'\] lack 'source' or 'detail-type'")],
    ids=["empty", "imprecise"],
)
def test_bad_forwarder_props(patterns: dict[str, Any], message: str) -> None:
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="mlops", classes=[DataClass.MONITORING])
    with pytest.raises(ValueError, match="^Test/Forward: " + message):
        EventForwarder(stack, "Forward", target_bus_arn=ML_DEV_BUS, patterns=patterns, queue_key=keys.monitoring)
