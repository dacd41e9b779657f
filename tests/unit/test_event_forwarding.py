"""ObjectCreatedForwarder: S3 Object Created under a prefix -> another account's bus, via a narrow role, with a DLQ."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk import Aspects

from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.events.event_bus import EstateEventBus
from mlops_estate.events.event_forwarding import ObjectCreatedForwarder
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.core.nag import apply_nag_packs
from mlops_estate.security.storage import SecureBucket
from tests.helpers import TEST_REGION, make_app, make_stack, resources_of_type

ML_DEV = "444444444444"
BUS_ARN = f"arn:aws:events:{TEST_REGION}:{ML_DEV}:event-bus/mlops-ml-dev"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    app = make_app()
    stack = make_stack(app)
    Aspects.of(stack).add(ManagedPoliciesOnly())  # as every stage of the estate does
    keys = EstateKeys(stack, "Keys", estate_name="t", classes=[DataClass.DATA, DataClass.MONITORING])
    raw = SecureBucket(stack, "Raw", key=keys.data, event_bridge=True)
    curated = SecureBucket(stack, "Curated", key=keys.data, event_bridge=True)
    bus = EstateEventBus.from_name(stack, "MlDevBus", account=ML_DEV, event_bus_name="mlops-ml-dev")
    ObjectCreatedForwarder(stack, "Arrivals", buckets=[raw, curated], prefix="datasets/", target_bus=bus, dead_letter_key=keys.monitoring)
    apply_nag_packs(app)
    return app.synth().get_stack_by_name(stack.stack_name).template  # type: ignore[no-any-return]


def _one(template: dict[str, Any], type_name: str) -> tuple[str, dict[str, Any]]:
    (item,) = resources_of_type(template, type_name).items()
    return item


def _id(template: dict[str, Any], type_name: str, prefix: str) -> str:
    (logical_id,) = [k for k in resources_of_type(template, type_name) if k.startswith(prefix)]
    return logical_id


def test_rule_matches_object_created_under_the_prefix_of_the_named_buckets(template):
    _, rule = _one(template, "AWS::Events::Rule")
    assert "EventBusName" not in rule["Properties"]  # the account's default bus, where S3 sends its events
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": _id(template, "AWS::S3::Bucket", "RawBucket")}, {"Ref": _id(template, "AWS::S3::Bucket", "CuratedBucket")}]},
            "object": {"key": [{"prefix": "datasets/"}]},
        },
    }


def test_target_is_the_remote_bus_through_the_role_with_a_dead_letter_queue(template):
    _, rule = _one(template, "AWS::Events::Rule")
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == BUS_ARN
    assert target["RoleArn"] == {"Fn::GetAtt": [_id(template, "AWS::IAM::Role", "ArrivalsRole"), "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [_id(template, "AWS::SQS::Queue", "ArrivalsDeadLetters"), "Arn"]}}


def test_role_may_put_events_on_exactly_that_bus(template):
    role_id, role = _one(template, "AWS::IAM::Role")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    statements = [s for p in resources_of_type(template, "AWS::IAM::ManagedPolicy").values() if {"Ref": role_id} in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert statements == [{"Action": "events:PutEvents", "Effect": "Allow", "Resource": BUS_ARN}]


def test_dead_letter_queue_is_cmk_encrypted_and_retained(template):
    _, queue = _one(template, "AWS::SQS::Queue")
    assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [_id(template, "AWS::KMS::Key", "KeysMonitoring"), "Arn"]}
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["DeletionPolicy"] == "Retain"


def test_bad_input_is_refused_at_once():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="t", classes=[DataClass.MONITORING])
    bus = EstateEventBus.from_name(stack, "Bus", account=ML_DEV, event_bus_name="b")
    with pytest.raises(ValueError) as failure:
        ObjectCreatedForwarder(stack, "Arrivals", buckets=[], prefix="/datasets", target_bus=bus, dead_letter_key=keys.monitoring)
    message = str(failure.value)
    assert message.startswith("Test/Arrivals: 2 problem(s):\n  - buckets: is empty")
    assert "\n  - prefix: '/datasets' is not an S3 key prefix" in message
