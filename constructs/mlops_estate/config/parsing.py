"""Strict, typed parsing of plain JSON data into frozen dataclasses.

Every problem is collected with its path (``models[1].serving.prod.min_instances``) so that a user sees
all mistakes of a file at once. Unknown keys are errors (with a "did you mean" hint), never ignored.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import enum
import types
import typing
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from mlops_estate.core.validation import Problems, join

T = TypeVar("T")


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    if origin in (list, tuple):
        return "a list"
    if origin in (dict, collections.abc.Mapping):
        return "an object"
    if dataclasses.is_dataclass(tp):
        return "an object"
    return getattr(tp, "__name__", str(tp))


_MISSING = object()


def parse(tp: Any, value: Any, path: str, problems: Problems) -> Any:
    """Convert ``value`` into ``tp``; on a problem record it and return ``_MISSING``."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return parse(inner[0], value, path, problems)
        raise TypeError(f"unsupported union {tp}")
    if origin is typing.Literal:
        if value not in get_args(tp):
            problems.add(path, f"{value!r} is not allowed; expected {_describe(tp)}")
            return _MISSING
        return value
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            problems.add(path, f"{value!r} is not allowed; expected {_describe(tp)}")
            return _MISSING
    if origin is tuple:
        (item_tp, _ellipsis) = get_args(tp)
        if not isinstance(value, list):
            problems.add(path, f"expected a list, got {type(value).__name__}")
            return _MISSING
        items = [parse(item_tp, v, join(path, i), problems) for i, v in enumerate(value)]
        # One bad item makes the list missing too, so checks across items never see a half-parsed list.
        return _MISSING if any(item is _MISSING for item in items) else tuple(items)
    if origin in (dict, collections.abc.Mapping):
        key_tp, val_tp = get_args(tp)
        if not isinstance(value, dict):
            problems.add(path, f"expected an object, got {type(value).__name__}")
            return _MISSING
        out = {}
        for k, v in value.items():
            out[parse(key_tp, k, join(path, str(k)), problems)] = parse(val_tp, v, join(path, str(k)), problems)
        # Bad entries were reported; keep the good ones so their own checks still run.
        return types.MappingProxyType({k: v for k, v in out.items() if k is not _MISSING and v is not _MISSING})
    if dataclasses.is_dataclass(tp):
        return parse_dataclass(tp, value, path, problems)  # type: ignore[arg-type]
    if tp is bool:
        if not isinstance(value, bool):
            problems.add(path, f"expected true or false, got {value!r}")
            return _MISSING
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(path, f"expected a whole number, got {value!r}")
            return _MISSING
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.add(path, f"expected a number, got {value!r}")
            return _MISSING
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            problems.add(path, f"expected a string, got {value!r}")
            return _MISSING
        return value
    raise TypeError(f"unsupported config type {tp!r} at {path}")


def parse_dataclass(cls: type[T], value: Any, path: str, problems: Problems) -> T:
    if not isinstance(value, dict):
        problems.add(path, f"expected an object, got {type(value).__name__}")
        return _MISSING  # type: ignore[return-value]
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    # Keys a config class no longer takes, with where they went (``MOVED_KEYS``): a clear error, not "unknown key".
    moved: dict[str, str] = getattr(cls, "MOVED_KEYS", {})
    for key in value:
        if key in moved:
            problems.add(join(path, key), f"has moved: {moved[key]}")
        elif key not in fields:
            hint = difflib.get_close_matches(str(key), list(fields), n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(sorted(fields))}"
            problems.add(join(path, key), f"unknown key{suggestion}")
    ok = True
    for name, field in fields.items():
        if name in value:
            parsed = parse(hints[name], value[name], join(path, name), problems)
            if parsed is _MISSING:
                ok = False
            else:
                kwargs[name] = parsed
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            problems.add(join(path, name), "is required")
            ok = False
    if not ok:
        return _MISSING  # type: ignore[return-value]
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if check is not None:
        check(path, problems)
    return obj


def is_missing(value: Any) -> bool:
    return value is _MISSING
