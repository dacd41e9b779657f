"""The policy gates: cdk-nag packs as CDK validation plugins, and narrow acknowledgements."""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk.aws_iam import PolicyStatement
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks
from constructs import Construct

PACKS = (AwsSolutionsChecks, NIST80053R5Checks, HIPAASecurityChecks)

# Per construct (by jsii object id, which Python knows without a round-trip), its Stack and its Validations: each is
# a jsii call, a construct never changes stack, and constructs are acknowledged many times over (260 acknowledgements
# on 100 constructs, 295 wildcard statements on 45 policies in the default estate).
_STACKS: dict[str, Stack] = {}
_VALIDATIONS: dict[str, Validations] = {}


def _ref(scope: Construct) -> str:
    return str(scope.__jsii_ref__.ref)  # type: ignore[attr-defined]


def stack_of(scope: Construct) -> Stack:
    """``Stack.of(scope)``, asked of Node once per construct."""
    ref = _ref(scope)
    if ref not in _STACKS:
        _STACKS[ref] = Stack.of(scope)
    return _STACKS[ref]


# Per stack, then per construct (jsii ids), the construct and every (rule id, reason) `acknowledge` put on it, in order.
# The same acknowledgements are in the constructs' metadata; CrossStackAcknowledgements reads them here instead of
# asking Node for the metadata of every construct (~1,000 messages per default-estate synth).
_ACKNOWLEDGED: dict[str, dict[str, tuple[Construct, list[tuple[str, str]]]]] = {}


def acknowledged_in(stack: Stack) -> list[tuple[Construct, list[tuple[str, str]]]]:
    """The constructs of ``stack`` (not of a stack nested in it) acknowledged with `acknowledge`, each with its
    (rule id, reason) pairs in the order they were acknowledged."""
    return list(_ACKNOWLEDGED.get(_ref(stack), {}).values())


def _validations_of(scope: Construct) -> Validations:
    ref = _ref(scope)
    if ref not in _VALIDATIONS:
        _VALIDATIONS[ref] = Validations.of(scope)
    return _VALIDATIONS[ref]


def apply_nag_packs(app: App) -> None:
    """Run AwsSolutions, NIST 800-53 R5 and HIPAA Security on every stage; a finding fails synth.

    First, acknowledgements of constructs that reference another stack are re-stated under the ids cdk-nag
    gives the resolved references (cross_stack_acknowledgements.py)."""
    from mlops_estate.core.cross_stack_acknowledgements import CrossStackAcknowledgements  # it imports this module

    Validations.of(app).add_plugins(CrossStackAcknowledgements())
    for pack in PACKS:
        Validations.of(app).add_plugins(pack(app))


def acknowledge(scope: Construct, reason: str, *rule_ids: str) -> None:
    """Acknowledge cdk-nag findings on one construct (never a stack), each with a specific reason."""
    if len(reason) < 20:
        raise ValueError(f"{scope.node.path}: an acknowledgement of {', '.join(rule_ids)} needs a specific reason, got {reason!r}")
    _validations_of(scope).acknowledge(*(Acknowledgment(id=rule_id, reason=reason) for rule_id in rule_ids))
    _, acknowledged = _ACKNOWLEDGED.setdefault(_ref(stack_of(scope)), {}).setdefault(_ref(scope), (scope, []))
    acknowledged += [(rule_id, reason) for rule_id in rule_ids]


def flatten_reference(value: object) -> str:
    """Render a resolved CloudFormation value the way cdk-nag names it in finding ids
    (``{"Ref": "AWS::Partition"}`` -> ``<AWS::Partition>``, GetAtt -> ``<LogicalId.Attr>``)."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Fn::Join":
            return str(arg[0]).join(flatten_reference(v) for v in arg[1])
        if fn == "Fn::GetAtt":
            return f"<{flatten_reference(arg[0])}.{flatten_reference(arg[1])}>"
        if fn == "Ref":
            return f"<{flatten_reference(arg)}>"
        if fn in ("Fn::Sub", "Fn::ImportValue"):
            return flatten_reference(arg)
    return json.dumps(value, separators=(",", ":"))


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def nag_text(scope: Construct, value: str) -> str:
    """A string (tokens included) of ``scope``'s stack as cdk-nag prints it in finding ids."""
    return flatten_reference(stack_of(scope).resolve(value))


def wildcard_findings(scope: Construct, statement: PolicyStatement) -> list[str]:
    """The AwsSolutions-IAM5 finding ids one Allow statement of ``scope``'s stack causes: every wildcard
    action and resource, named exactly as cdk-nag reports it."""
    resolved = stack_of(scope).resolve(statement.to_statement_json())
    findings = [f"Action::{a}" for a in map(str, _as_list(resolved.get("Action", []))) if "*" in a]
    findings += [f"Resource::{r}" for r in map(flatten_reference, _as_list(resolved.get("Resource", []))) if "*" in r]
    return [f"AwsSolutions-IAM5[{f}]" for f in findings]


def acknowledge_wildcards(scope: Construct, statement: PolicyStatement, reason: str) -> list[str]:
    """Acknowledge each AwsSolutions-IAM5 finding one Allow statement causes on ``scope`` (its policy),
    naming every wildcard action and resource exactly as cdk-nag reports it. Returns the finding ids."""
    ids = wildcard_findings(scope, statement)
    if ids:
        acknowledge(scope, reason, *ids)
    return ids
