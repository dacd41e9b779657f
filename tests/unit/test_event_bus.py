"""EstateEventBus: a named, CMK-encrypted bus whose policy admits only the accounts named, by id."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk import aws_kms as kms

from mlops_estate.events.event_bus import EstateEventBus, estate_bus_name
from mlops_estate.core.nag import apply_nag_packs
from tests.helpers import TEST_ACCOUNT, TEST_REGION, make_app, make_stack, resources_of_type

LAKE = "333333333333"
SHARED = "222222222222"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    app = make_app()
    stack = make_stack(app)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bus = EstateEventBus(stack, "Bus", event_bus_name="test-ml-dev", description="events for model building", key=key)
    bus.allow_put_events_from([LAKE], "DataLake", sources=["aws.s3"], detail_types=["Object Created"])
    bus.allow_put_events_from([SHARED, TEST_ACCOUNT], "Shared")
    bus.allow_put_events_from([TEST_ACCOUNT], "ThisAccountOnly")  # sandbox: nothing to add
    apply_nag_packs(app)
    return app.synth().get_stack_by_name(stack.stack_name).template  # type: ignore[no-any-return]


def _only(template: dict[str, Any], type_name: str) -> tuple[str, dict[str, Any]]:
    (item,) = resources_of_type(template, type_name).items()
    return item


def test_bus_has_its_name_cmk_and_dead_letter_queue(template):
    _, bus = _only(template, "AWS::Events::EventBus")
    key_id, _ = _only(template, "AWS::KMS::Key")
    queue_id, queue = _only(template, "AWS::SQS::Queue")
    assert bus["Properties"]["Name"] == "test-ml-dev"
    assert bus["Properties"]["KmsKeyIdentifier"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert bus["Properties"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_dead_letter_queue_admits_only_this_bus(template):
    bus_id, _ = _only(template, "AWS::Events::EventBus")
    _, policy = _only(template, "AWS::SQS::QueuePolicy")
    (allow,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [bus_id, "Arn"]}}}


def test_bus_policy_admits_exactly_the_named_accounts(template):
    bus_id, _ = _only(template, "AWS::Events::EventBus")
    statements = {p["Properties"]["Statement"]["Sid"]: p["Properties"]["Statement"] for p in resources_of_type(template, "AWS::Events::EventBusPolicy").values()}
    assert set(statements) == {"cdk-DataLake", "cdk-Shared"}  # nothing for a statement naming only this account
    lake = statements["cdk-DataLake"]
    assert lake["Principal"] == {"AWS": f"arn:aws:iam::{LAKE}:root"}
    assert lake["Action"] == "events:PutEvents"
    assert lake["Resource"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert lake["Condition"] == {"StringEquals": {"events:source": ["aws.s3"], "events:detail-type": ["Object Created"]}}
    shared = statements["cdk-Shared"]
    assert shared["Principal"] == {"AWS": f"arn:aws:iam::{SHARED}:root"}
    assert "Condition" not in shared


def test_bus_name_is_derived_from_the_estate():
    assert estate_bus_name("mlops", "ml_dev") == "mlops-ml-dev"


def test_from_name_addresses_another_accounts_bus_without_lookup():
    stack = make_stack()
    bus = EstateEventBus.from_name(stack, "Remote", account=LAKE, event_bus_name="mlops-ml-dev")
    assert stack.resolve(bus.event_bus_arn) == f"arn:aws:events:{TEST_REGION}:{LAKE}:event-bus/mlops-ml-dev"


def test_no_key_means_no_dead_letter_queue():
    stack = make_stack()
    bus = EstateEventBus(stack, "Bus", event_bus_name="plain", description="d")
    assert bus.dead_letter_queue is None


@pytest.mark.parametrize("name", ["default", "has space", "", "aws.partner/x"])
def test_invalid_bus_name(name):
    with pytest.raises(ValueError, match=re.escape(f"Test/Bus: 1 problem(s):\n  - event_bus_name: {name!r} is not a custom event bus "
                                                   "name; expected 1-256 letters, digits and ._-; not 'default', not starting with 'aws.'")):
        EstateEventBus(make_stack(), "Bus", event_bus_name=name, description="d")


def test_bad_props_are_all_reported_with_path_and_value():
    with pytest.raises(ValueError) as failure:
        EstateEventBus(make_stack(), "Bus", event_bus_name="default", description="x" * 513)
    assert str(failure.value) == (
        "Test/Bus: 2 problem(s):\n"
        "  - event_bus_name: 'default' is not a custom event bus name; expected 1-256 letters, digits and ._-; not 'default', "
        "not starting with 'aws.'\n"
        f"  - description: {'x' * 40 + '...'!r} has 513 characters; expected at most 512"
    )


def test_allow_put_events_from_rejects_bad_input_all_at_once():
    bus = EstateEventBus(make_stack(), "Bus", event_bus_name="b", description="d")
    bus.allow_put_events_from([LAKE], "Lake")
    with pytest.raises(ValueError) as failure:
        bus.allow_put_events_from(["12345"], "Lake")
    assert str(failure.value) == (
        "Test/Bus: allow_put_events_from: 2 problem(s):\n"
        "  - sid: 'Lake' is already used on this bus; expected a new id for each sender statement\n"
        "  - account_ids[0]: '12345' is not an AWS account id; expected exactly 12 digits"
    )
    with pytest.raises(ValueError, match=r"sid: 'data-lake' is not a statement id; expected 1-64 letters and digits\n"
                                         r"  - account_ids: \[\] is empty; expected at least one sending account"):
        bus.allow_put_events_from([], "data-lake")


def test_bus_policies_use_the_statement_form_not_the_deprecated_principal(template, default_estate):
    # The deprecated Principal/Action/Condition properties of AWS::Events::EventBusPolicy are never set.
    policies = [p for t in [template, *default_estate.templates.values()]
                for p in resources_of_type(t, "AWS::Events::EventBusPolicy").values()]
    assert policies
    for policy in policies:
        assert "Statement" in policy["Properties"]
        assert not {"Principal", "Action", "Condition"} & set(policy["Properties"])


def test_another_accounts_bus_is_named_by_id_and_bus_name():
    with pytest.raises(ValueError) as failure:
        EstateEventBus.from_name(make_stack(), "Lake", account="lake", event_bus_name="default")
    assert str(failure.value) == (
        "Test/Lake: 2 problem(s):\n"
        "  - account: 'lake' is not an AWS account id; expected exactly 12 digits\n"
        "  - event_bus_name: 'default' is not a custom event bus name; expected 1-256 letters, digits and ._-; not 'default', "
        "not starting with 'aws.'"
    )


def test_statement_bus_policy_answers_nag_and_refuses_the_deprecated_form():
    """cdk-nag reads the deprecated ``principal`` of every bus policy; StatementBusPolicy answers it (no deprecation
    warning; tests/test_app.py checks a whole synth) and takes no principal, action or condition."""
    from mlops_estate.events.event_bus import StatementBusPolicy

    stack = make_stack()
    bus = EstateEventBus(stack, "Bus", event_bus_name="test-ml-dev", description="d")
    bus.allow_put_events_from([LAKE], "DataLake")
    (policy,) = [c for c in bus.bus.node.find_all() if isinstance(c, StatementBusPolicy)]
    assert policy.principal is None and policy.node.path == "Test/Bus/Bus/cdk-DataLake/Resource"
    with pytest.raises(ValueError, match=r"Test/Bus/Bus/cdk-DataLake/Resource: principal '\*': give the principal in the statement"):
        policy.principal = "*"
    with pytest.raises(TypeError):
        StatementBusPolicy(stack, "Old", statement_id="x", statement={}, principal="*")  # type: ignore[call-arg]
