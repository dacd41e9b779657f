"""Checks of step fields, in the library's one validation style: each problem is added to a `Problems` under the
field's path, quoting the value and naming what is allowed.

A field holds a literal or a pipeline expression. An expression of the wrong kind (a String parameter as an
instance count) is a problem; a literal is checked against what the service accepts, and so is a parameter's
default (what a run without overrides uses). Other expressions (step properties, Join) are known only when the
pipeline runs. A CDK token (an unresolved bucket name, a CloudFormation parameter) is accepted where a literal
would be checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mlops_estate.core.instance_types import always_keyed_problem
from mlops_estate.core.patterns import INSTANCE_TYPE, INSTANCE_TYPE_FORM
from mlops_estate.core.validation import Problems
from mlops_estate.pipeline.expressions import NAME, Expression, Kind, Parameter, Value, accepts, kind_of

STRING: tuple[Kind, ...] = ("String",)
INTEGER: tuple[Kind, ...] = ("Integer",)
BOOLEAN: tuple[Kind, ...] = ("Boolean",)
ISO_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
S3_URI = re.compile(r"^s3://[^/]+(/.*)?$")
NAME_FORM = "1-64 letters, digits, hyphens or underscores"


def is_token(value: object) -> bool:
    """A CDK token encoded in a string (checked in Python: a jsii call per field would cost a round trip each)."""
    return isinstance(value, str) and "${Token[" in value


def _subject(value: Any) -> tuple[Any, str] | None:
    """The literal to check and how to name it: the value itself, or a parameter's default; None when only the
    execution knows (a step property, a Join, a parameter without default) or CloudFormation does (a token)."""
    if isinstance(value, Parameter):
        if value.default is None or is_token(value.default):
            return None
        return value.default, f"{value.describe()} defaults to {value.default!r}, which"
    if isinstance(value, Expression) or is_token(value):
        return None
    return value, repr(value)


def check_kind(problems: Problems, path: str, value: Any, kinds: Sequence[Kind]) -> None:
    """``value`` (if given) is a literal or expression of one of ``kinds``."""
    if value is None or accepts(kinds, value):
        return
    what = value.describe() if isinstance(value, Expression) else repr(value)
    problems.add(path, f"{what} is {kind_of(value)}; expected {' or '.join(kinds)}")


def check_range(problems: Problems, path: str, value: Any, minimum: int, maximum: int) -> None:
    """An Integer field whose literal (or parameter default) lies in [minimum, maximum]."""
    check_kind(problems, path, value, INTEGER)
    subject = _subject(value)
    if subject is None or not isinstance(subject[0], int) or isinstance(subject[0], bool):
        return
    if not minimum <= subject[0] <= maximum:
        problems.add(path, f"{subject[1]} is out of range; allowed between {minimum} and {maximum}")


def check_s3_uri(problems: Problems, path: str, value: Any) -> None:
    """A String field holding an S3 URI (s3://bucket/prefix)."""
    check_kind(problems, path, value, STRING)
    subject = _subject(value)
    if subject is not None and isinstance(subject[0], str) and not S3_URI.match(subject[0]):
        problems.add(path, f"{subject[1]} is not an S3 URI; expected s3://bucket/prefix")


def check_instance_type(problems: Problems, path: str, value: Any, *, volume_key: bool) -> None:
    """A String field holding a SageMaker instance type. ``volume_key``: the job always takes the environment's
    volume KMS key, which SageMaker rejects on instance types with local NVMe storage."""
    check_kind(problems, path, value, STRING)
    subject = _subject(value)
    if subject is None or not isinstance(subject[0], str):
        return
    literal, named = subject
    if not INSTANCE_TYPE.match(literal):
        problems.add(path, f"{named} is not a SageMaker instance type; expected {INSTANCE_TYPE_FORM}")
    elif volume_key and (problem := always_keyed_problem(literal, "pipeline jobs (VolumeKmsKeyId of the JobEnvironment)")):
        problems.add(path, problem if named == repr(literal) else f"{named} is not allowed: {problem}")


def check_choice(problems: Problems, path: str, value: Any, allowed: Sequence[Any]) -> None:
    """A literal that must be one of ``allowed`` (the Literal types of the signature, checked at run time too)."""
    if value not in allowed:
        problems.add(path, f"{value!r} is not allowed; expected one of {', '.join(map(repr, allowed))}")


def check_name(problems: Problems, path: str, value: str) -> None:
    """A name the service limits to 1-64 letters, digits, hyphens or underscores (steps, outputs, channels)."""
    if not isinstance(value, str) or not NAME.match(value):
        problems.add(path, f"{value!r} is invalid; expected {NAME_FORM}")


def check_unique(problems: Problems, path: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.add(path, f"{name!r} is given twice; names must be unique")
        seen.add(name)


def string_hyperparameters(problems: Problems, path: str, values: Mapping[str, Value]) -> dict[str, Any]:
    """The service takes hyperparameters as strings; literals are converted, expressions passed through."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (int, float)):
            out[key] = str(value)
        elif isinstance(value, (str, Expression)):
            out[key] = value
        else:
            problems.add(f"{path}[{key}]", f"{value!r} is not a string, number, boolean or pipeline expression")
    return out
