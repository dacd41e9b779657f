"""core/principal_policy.py: a statement lands in the principal's policy, for a role in one jsii round-trip."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_iam as iam
from jsii._kernel.providers import process

from mlops_estate.core.principal_policy import add_to_principal_policy
from tests.helpers import make_stack, resources_of_type, template_of


@pytest.fixture
def messages(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The Python->Node jsii requests sent while the test runs."""
    sent: list[Any] = []
    original = process._NodeProcess.send

    def send(node: Any, request: Any, response_type: Any) -> Any:
        sent.append(request)
        return original(node, request, response_type)

    monkeypatch.setattr(process._NodeProcess, "send", send)
    return sent


def test_a_role_gets_the_statement_in_one_round_trip(messages: list[Any]) -> None:
    stack = make_stack()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    statement = iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::bucket/key"])
    before = len(messages)
    add_to_principal_policy(role, statement)
    assert len(messages) - before == 1
    other = iam.PolicyStatement(actions=["s3:PutObject"], resources=["arn:aws:s3:::other/key"])
    before = len(messages)
    role.add_to_principal_policy(other)
    assert len(messages) - before == 3, "CDK's own call: the call and the result struct's two properties"
    (policy,) = resources_of_type(template_of(stack).to_json(), "AWS::IAM::Policy").values()
    actions = [s["Action"] for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    assert actions == ["s3:GetObject", "s3:PutObject"]


def test_other_principals_get_it_the_general_way() -> None:
    stack = make_stack()
    user = iam.User(stack, "User")
    add_to_principal_policy(user, iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::bucket/key"]))
    imported = iam.Role.from_role_arn(stack, "Imported", "arn:aws:iam::123456789012:role/team", mutable=True)
    assert not isinstance(imported, iam.Role)
    add_to_principal_policy(imported, iam.PolicyStatement(actions=["s3:PutObject"], resources=["arn:aws:s3:::other/key"]))
    policies = resources_of_type(template_of(stack).to_json(), "AWS::IAM::Policy").values()
    actions = sorted(s["Action"] for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"])
    assert actions == ["s3:GetObject", "s3:PutObject"]
