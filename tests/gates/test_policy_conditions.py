"""Condition keys that a request can carry: no statement of the default estate (its stacks, the StackSet baseline
and the SageMaker project templates) puts a grant-only KMS condition key on an action whose requests never have it.

A condition key the Service Authorization Reference does not list for an action is absent from that action's
requests: an Allow conditioned on it never matches (``Bool``), or matches vacuously (``...IfExists``). Which keys
are grant-only comes from the reference table (tests/data/iam_condition_keys.json), not from a list kept here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from tests.gates.test_project_templates import product_templates

KEY_TABLE: dict[str, list[str]] = json.loads((Path(__file__).parents[1] / "data" / "iam_condition_keys.json").read_text())["actions"]
KMS_ACTIONS = {action: {k.lower() for k in keys} for action, keys in KEY_TABLE.items() if action.startswith("kms:")}


def grant_only_keys() -> set[str]:
    """KMS condition keys that the reference lists only for grant operations (CreateGrant, RevokeGrant, ...)."""
    documented: dict[str, set[str]] = defaultdict(set)
    for action, keys in KMS_ACTIONS.items():
        for key in keys:
            documented[key].add(action)
    return {key for key, actions in documented.items() if all("Grant" in a for a in actions)}


GRANT_ONLY = grant_only_keys()


def policy_statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every statement of every policy document in a template (IAM, key, bucket, queue, topic, SCP, ...)."""
    if isinstance(node, dict):
        statements = node.get("Statement")
        if isinstance(statements, (list, dict)):
            yield from (s for s in (statements if isinstance(statements, list) else [statements]) if isinstance(s, dict))
        for value in node.values():
            yield from policy_statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from policy_statements(value)
    elif isinstance(node, str) and node.lstrip().startswith("{") and '"Statement"' in node:
        # A policy serialized into a property (e.g. an SCP's Content); a fragment of a Fn::Join is never a whole one.
        yield from policy_statements(json.loads(node))


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grant_key_misuse(statement: dict[str, Any]) -> list[str]:
    """``<action> with <key>`` for each action of the statement whose requests cannot carry a grant-only key of its
    condition (a NotAction statement covers non-grant actions by definition)."""
    keys = sorted({key for operator in statement.get("Condition", {}).values() for key in operator
                   if key.lower() in GRANT_ONLY})
    if not keys:
        return []
    if "NotAction" in statement:
        return [f"NotAction {statement['NotAction']} with {key}" for key in keys]
    out = []
    for pattern in _listed(statement["Action"]):
        actions = [a for a in KMS_ACTIONS if fnmatchcase(a.lower(), str(pattern).lower())] or [str(pattern)]
        out += [f"{action} with {key}" for action in actions for key in keys
                if key.lower() not in KMS_ACTIONS.get(action, set())]
    return out


def test_grant_only_keys_come_from_the_reference():
    assert GRANT_ONLY == {"kms:grantisforawsresource", "kms:grantoperations", "kms:grantconstrainttype",
                          "kms:granteeprincipal", "kms:retiringprincipal"}


def test_the_check_catches_describe_key_under_a_grant_condition():
    grant = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert grant_key_misuse({"Action": ["kms:CreateGrant", "kms:DescribeKey"], "Condition": grant}) == [
        "kms:DescribeKey with kms:GrantIsForAWSResource"]
    assert grant_key_misuse({"Action": "kms:*Grant*", "Condition": grant}) == [
        "kms:ListRetirableGrants with kms:GrantIsForAWSResource", "kms:RetireGrant with kms:GrantIsForAWSResource"]
    assert grant_key_misuse({"Action": "s3:GetObject", "Condition": grant}) == ["s3:GetObject with kms:GrantIsForAWSResource"]
    assert grant_key_misuse({"Action": ["kms:CreateGrant", "kms:RevokeGrant"], "Condition": grant}) == []
    assert grant_key_misuse({"Action": "kms:DescribeKey", "Condition": {"StringEquals": {"kms:ViaService": "x"}}}) == []


def test_no_statement_puts_a_grant_only_key_on_other_actions(default_estate):
    templates = {**default_estate.templates, **{f"product {n}": t for n, t in product_templates(default_estate).items()}}
    problems, checked = [], 0
    for name, template in templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            for statement in policy_statements(resource.get("Properties", {})):
                misuse = grant_key_misuse(statement)
                checked += any(k.lower() in GRANT_ONLY for op in statement.get("Condition", {}).values() for k in op)
                problems += [f"{name} {logical_id} {statement.get('Sid', '')}: {m}" for m in misuse]
    assert problems == []
    # Pipeline, monitor, persona and project roles all create grants for SageMaker: the walk must see them.
    assert checked >= 10
