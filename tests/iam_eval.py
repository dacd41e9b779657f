"""A small evaluator of synthesized IAM policies, as AWS evaluates a request: identity policies, role trust policies
and resource policies together, with the cross-account rule (both sides must allow) and explicit denies winning.

It renders CloudFormation values into the strings AWS would see (pseudo parameters, and ``Ref`` / ``GetAtt`` of
roles and buckets of the template by their physical names when they have one, else by logical id), substitutes
policy variables (``${aws:SourceIdentity}``) from the request context, and knows the condition operators the
estate's policies use; an operator it does not know fails the test rather than guessing. Permissions boundaries,
session policies and SCPs are out of its scope (the guardrail tests evaluate the SCPs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REGION = "eu-west-1"
PARTITION = "aws"
Context = Mapping[str, Any]
_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def physical_names(template: Mapping[str, Any], account: str) -> dict[str, str]:
    """``"<logical id>"`` (Ref) and ``"<logical id>.Arn"`` (GetAtt) of the template's roles and buckets."""
    names: dict[str, str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            name = props.get("RoleName", logical_id)
            path = props.get("Path", "/")
            names[logical_id] = name
            names[f"{logical_id}.Arn"] = f"arn:{PARTITION}:iam::{account}:role{path}{name}"
        elif resource["Type"] == "AWS::S3::Bucket":
            name = props.get("BucketName", logical_id.lower())
            names[logical_id] = name if isinstance(name, str) else logical_id.lower()
            names[f"{logical_id}.Arn"] = f"arn:{PARTITION}:s3:::{names[logical_id]}"
        elif resource["Type"] == "AWS::KMS::Key":
            names[logical_id] = logical_id
            names[f"{logical_id}.Arn"] = f"arn:{PARTITION}:kms:{REGION}:{account}:key/{logical_id}"
    return names


def render(value: Any, account: str, names: Mapping[str, str]) -> Any:
    """A CloudFormation value as the string (or list, or dict of them) AWS receives."""
    if isinstance(value, list):
        return [render(v, account, names) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            pseudo = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": account, "AWS::URLSuffix": "amazonaws.com"}
            return pseudo.get(arg) or names.get(arg, f"<{arg}>")
        if fn == "Fn::GetAtt":
            return names.get(f"{arg[0]}.{arg[1]}", f"<{arg[0]}.{arg[1]}>")
        if fn == "Fn::Join":
            return str(arg[0]).join(str(render(v, account, names)) for v in arg[1])
    return {k: render(v, account, names) for k, v in value.items()}


def _substitute(pattern: str, ctx: Context) -> str | None:
    """``pattern`` with its policy variables filled in from ``ctx``; None when one is absent (the pattern then
    matches nothing, as in IAM)."""
    missing = False

    def value(m: re.Match[str]) -> str:
        nonlocal missing
        if m.group(1) not in ctx:
            missing = True
            return ""
        return str(ctx[m.group(1)])

    out = _VARIABLE.sub(value, pattern)
    return None if missing else out


def like(value: str, pattern: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: ``*`` any run of characters (``/`` included), ``?`` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _operator(op: str, key: str, expected: Any, ctx: Context) -> bool:
    present = key in ctx
    if op == "Null":
        return (not present) == (str(expected).lower() == "true")
    set_op, _, base = op.rpartition(":")
    base, if_exists = (base[: -len("IfExists")], True) if base.endswith("IfExists") else (base, False)
    if not present:
        # ForAllValues over no values is vacuously true; everything else needs the key (or IfExists).
        return if_exists or set_op == "ForAllValues"
    wanted = [w for w in (_substitute(str(e), ctx) for e in as_list(expected)) if w is not None]
    negated = base in ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike")

    def one(v: Any) -> bool:
        v = str(v)
        if base in ("StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals"):
            hit = v in wanted
        elif base in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
            hit = any(like(v, w) for w in wanted)
        elif base == "Bool":
            hit = v.lower() in [w.lower() for w in wanted]
        elif base == "NumericLessThanEquals":
            hit = float(v) <= float(wanted[0])
        else:
            raise AssertionError(f"condition operator {op} is not modelled by the test evaluator")
        return not hit if negated else hit

    values = as_list(ctx[key])
    if set_op == "ForAnyValue":
        return any(one(v) for v in values)
    if set_op == "ForAllValues":
        return all(one(v) for v in values)
    return one(values[0]) if len(values) == 1 else any(one(v) for v in values)


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], ctx: Context) -> bool:
    return all(_operator(op, key, expected, ctx) for op, pairs in condition.items() for key, expected in pairs.items())


def _principal_matches(principal: Any, caller_arn: str, caller_account: str) -> tuple[bool, bool]:
    """(matches, names the caller exactly rather than its account)."""
    if principal == "*" or principal == {"AWS": "*"}:
        return True, False
    aws = [str(p) for p in as_list(principal.get("AWS", []))] if isinstance(principal, dict) else []
    if caller_arn in aws:
        return True, True
    root = f"arn:{PARTITION}:iam::{caller_account}:root"
    return (root in aws or caller_account in aws), False


def _applies(statement: Mapping[str, Any], action: str, resource: str | None, ctx: Context) -> bool:
    if "Action" in statement and not any(like(action, a, ignore_case=True) for a in as_list(statement["Action"])):
        return False
    if "NotAction" in statement and any(like(action, a, ignore_case=True) for a in as_list(statement["NotAction"])):
        return False
    if resource is not None:
        if "Resource" in statement:
            patterns = [_substitute(str(r), ctx) for r in as_list(statement["Resource"])]
            if not any(p is not None and like(resource, p) for p in patterns):
                return False
        if "NotResource" in statement:
            patterns = [_substitute(str(r), ctx) for r in as_list(statement["NotResource"])]
            if any(p is not None and like(resource, p) for p in patterns):
                return False
    return conditions_hold(statement.get("Condition", {}), ctx)


def decision(statements: Iterable[Mapping[str, Any]], action: str, resource: str | None, ctx: Context) -> str | None:
    """"Deny", "Allow" or None (no statement applies) for an identity policy's statements."""
    effects = {s["Effect"] for s in statements if _applies(s, action, resource, ctx)}
    return "Deny" if "Deny" in effects else "Allow" if "Allow" in effects else None


@dataclass(frozen=True)
class Caller:
    """A role session making requests: its ARN, account and the statements of its identity policies."""

    arn: str
    account: str
    statements: Sequence[Mapping[str, Any]]

    def context(self, ctx: Context) -> dict[str, Any]:
        return {"aws:PrincipalArn": self.arn, "aws:PrincipalAccount": self.account, **ctx}


def _resource_side(policy: Sequence[Mapping[str, Any]], caller: Caller, action: str, resource: str | None,
                   ctx: Context) -> tuple[str | None, bool]:
    """The resource (or trust) policy's decision for the caller, and whether an Allow named the caller exactly."""
    effects: set[str] = set()
    exact = False
    for statement in policy:
        matches, named = _principal_matches(statement.get("Principal"), caller.arn, caller.account)
        if matches and _applies(statement, action, resource, ctx):
            effects.add(statement["Effect"])
            exact = exact or (named and statement["Effect"] == "Allow")
    return ("Deny" if "Deny" in effects else "Allow" if "Allow" in effects else None), exact


def allowed(caller: Caller, action: str, resource: str, *, resource_account: str,
            resource_policy: Sequence[Mapping[str, Any]] = (), ctx: Context | None = None) -> bool:
    """Whether ``caller`` may ``action`` on ``resource`` (of ``resource_account``, with its resource policy)."""
    full = caller.context(ctx or {})
    identity = decision(caller.statements, action, resource, full)
    by_resource, exact = _resource_side(resource_policy, caller, action, resource, full)
    if "Deny" in (identity, by_resource):
        return False
    if caller.account == resource_account:
        # Same account: the identity policy, or a resource policy naming the principal itself, is enough.
        return identity == "Allow" or (by_resource == "Allow" and exact)
    return identity == "Allow" and by_resource == "Allow"


def can_assume(caller: Caller, role_arn: str, trust: Sequence[Mapping[str, Any]], *, role_account: str,
               ctx: Context | None = None, set_source_identity: bool = False) -> bool:
    """Whether ``caller`` may assume the role (``sts:AssumeRole``, and ``sts:SetSourceIdentity`` when the request sets
    or carries a source identity). A trust naming only the caller's account delegates to that account's IAM, so the
    caller's identity policy must allow it too; so must it across accounts."""
    full = caller.context(ctx or {})
    actions = ["sts:AssumeRole"] + (["sts:SetSourceIdentity"] if set_source_identity else [])
    for action in actions:
        by_trust, exact = _resource_side(trust, caller, action, None, full)
        identity = decision(caller.statements, action, role_arn, full)
        if "Deny" in (by_trust, identity) or by_trust != "Allow":
            return False
        if (caller.account != role_account or not exact) and identity != "Allow":
            return False
    return True


def role_statements(template: Mapping[str, Any], role_id: str, account: str) -> list[dict[str, Any]]:
    """Every statement of the identity policies of a role of the template (managed, inline, and AWS::IAM::Policy),
    rendered."""
    names = physical_names(template, account)
    resources = template["Resources"]
    documents = [p["PolicyDocument"] for p in resources[role_id]["Properties"].get("Policies", [])]
    for resource in resources.values():
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy") and \
                {"Ref": role_id} in resource["Properties"].get("Roles", []):
            documents.append(resource["Properties"]["PolicyDocument"])
    return [render(s, account, names) for d in documents for s in d["Statement"]]


def trust_statements(template: Mapping[str, Any], role_id: str, account: str) -> list[dict[str, Any]]:
    names = physical_names(template, account)
    document = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]
    return [render(s, account, names) for s in document["Statement"]]


def caller_of(template: Mapping[str, Any], role_id: str, account: str) -> Caller:
    arn = physical_names(template, account)[f"{role_id}.Arn"]
    return Caller(arn=arn, account=account, statements=role_statements(template, role_id, account))


def roles_where(template: Mapping[str, Any], **properties: Any) -> list[str]:
    """Logical ids of the template's roles whose properties equal (or, for strings, contain) the given ones."""
    out = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        props = resource["Properties"]
        if all(str(v) in str(props.get(k, "")) for k, v in properties.items()):
            out.append(logical_id)
    return out
