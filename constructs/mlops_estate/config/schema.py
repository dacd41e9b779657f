"""The JSON Schema (draft 2020-12) of the estate file, generated from the typed config.

The schema is never written by hand: it is derived from `mlops_estate.config.estate.EstateConfig` and every
dataclass it reaches, reading their type hints the way `mlops_estate.config.parsing` does, so an editor checks
a file as the parser will read it:

- a dataclass is an object with ``additionalProperties: false`` (the parser rejects unknown keys), its fields
  without a default are ``required``, and every default is given;
- ``tuple[X, ...]`` is an array of X, ``Mapping[K, V]`` an object of V (with ``propertyNames`` when K is a
  ``Literal`` or an enum), ``X | None`` accepts ``null``, a ``Literal`` or an enum is an ``enum``;
- ``bool``, ``int``, ``float`` and ``str`` are ``boolean``, ``integer``, ``number`` and ``string``;
- a type the parser does not read (a union of two types, a fixed-length tuple, ``list``, ``Any``) raises here too.

Descriptions come from the classes' docstrings (the summary, and the ``Attributes:`` entry of a field) and from
the comment lines above a field. What the schema cannot say (patterns, ranges, checks across fields such as
overlapping CIDRs) stays with the parser's ``check`` methods: the schema catches misspelt keys and wrong types
while the file is written, ``cdk synth`` reports everything.

The shipped copy is ``estate.schema.json`` beside this module; a test fails when it is stale. Regenerate it with::

    .venv/bin/python -m mlops_estate.config.schema
"""

from __future__ import annotations

import argparse
import ast
import collections.abc
import dataclasses
import enum
import inspect
import io
import json
import re
import sys
import textwrap
import tokenize
import types
import typing
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from mlops_estate.config.estate import EstateConfig

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# The shipped schema (package data of mlops_estate.config). Resolved, so that in the strict editable install the
# generator writes the source file and not the link beside the installed module.
SCHEMA_FILE = Path(__file__).resolve().with_name("estate.schema.json")
REGENERATE = ".venv/bin/python -m mlops_estate.config.schema"

_SECTION = re.compile(r"^(?P<indent> *)(?P<name>Args|Attributes|Example|Examples|Note|Notes|Raises|Returns):\s*$")
_ENTRY = re.compile(r"^(?P<indent> +)(?P<name>\w+)(?: \([^)]*\))?:(?P<text>.*)$")


def estate_schema() -> dict[str, Any]:
    """The schema of the estate file: `EstateConfig` at the root, every dataclass it reaches under ``$defs``."""
    return _Generator(EstateConfig).schema()


def render(schema: dict[str, Any]) -> str:
    """The text of the schema file (stable: two runs give the same bytes)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


class _Generator:
    def __init__(self, root: type) -> None:
        self.root = root
        self.classes: list[type] = []
        self._collect(root)
        names: dict[str, list[type]] = {}
        for cls in self.classes:
            names.setdefault(cls.__name__, []).append(cls)
        # Short names unless two classes share one; then both are qualified by module (deterministic either way).
        self.names = {cls: (cls.__name__ if len(same) == 1 else f"{cls.__module__}.{cls.__qualname__}")
                      for same in names.values() for cls in same}

    def schema(self) -> dict[str, Any]:
        body = self._object(self.root)
        defs = {self.names[cls]: self._object(cls) for cls in self.classes if cls is not self.root}
        return {
            "$schema": DRAFT,
            "$comment": f"Generated from {self.root.__module__}.{self.root.__qualname__} by `{REGENERATE}`; do not edit.",
            "title": "Estate file of sagemaker-mlops-estate",
            **body,
            "$defs": dict(sorted(defs.items())),
        }

    # -- walking the types ---------------------------------------------------------------------------------------

    def _collect(self, tp: Any) -> None:
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            if tp in self.classes:
                return
            self.classes.append(tp)
            for hint in get_type_hints(tp).values():
                self._collect(hint)
            return
        for arg in get_args(tp):
            self._collect(arg)

    def _type(self, tp: Any, where: str) -> dict[str, Any]:
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            args = get_args(tp)
            inner = [a for a in args if a is not type(None)]
            if len(inner) != 1:
                raise TypeError(f"{where}: unsupported union {tp} (the parser reads X | None only)")
            inner_schema = self._type(inner[0], where)
            return {"anyOf": [inner_schema, {"type": "null"}]} if type(None) in args else inner_schema
        if origin is typing.Literal:
            return {"enum": list(get_args(tp))}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"enum": [member.value for member in tp]}
        if origin is tuple:
            args = get_args(tp)
            if len(args) != 2 or args[1] is not Ellipsis:
                raise TypeError(f"{where}: unsupported tuple {tp} (the parser reads tuple[X, ...] only)")
            return {"type": "array", "items": self._type(args[0], where)}
        if origin in (dict, collections.abc.Mapping):
            key_tp, value_tp = get_args(tp)
            schema: dict[str, Any] = {"type": "object"}
            if get_origin(key_tp) is typing.Literal or (isinstance(key_tp, type) and issubclass(key_tp, enum.Enum)):
                schema["propertyNames"] = self._type(key_tp, where)
            elif key_tp is not str:
                raise TypeError(f"{where}: unsupported mapping key {key_tp!r} (JSON object keys are strings)")
            schema["additionalProperties"] = self._type(value_tp, where)
            return schema
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return {"$ref": f"#/$defs/{self.names[tp]}"}
        simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
        if tp in simple:
            return {"type": simple[tp]}
        raise TypeError(f"{where}: unsupported config type {tp!r}")

    def _object(self, cls: type) -> dict[str, Any]:
        hints = get_type_hints(cls)
        # A field inherited from a base dataclass is described where it is declared: look up the MRO, nearest first.
        attributes: dict[str, str] = {}
        comments: dict[str, str] = {}
        for base in reversed([c for c in cls.__mro__ if dataclasses.is_dataclass(c)]):
            attributes.update(_section(_docstring(base), "Attributes"))
            comments.update(_field_comments(base))
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in dataclasses.fields(cls):
            prop: dict[str, Any] = {}
            description = attributes.get(field.name) or comments.get(field.name)
            if description:
                prop["description"] = description
            prop.update(self._type(hints[field.name], f"{cls.__qualname__}.{field.name}"))
            if field.default is not dataclasses.MISSING:
                prop["default"] = _json(field.default, f"{cls.__qualname__}.{field.name}")
            elif field.default_factory is not dataclasses.MISSING:
                prop["default"] = _json(field.default_factory(), f"{cls.__qualname__}.{field.name}")
            else:
                required.append(field.name)
            properties[field.name] = prop
        schema: dict[str, Any] = {"type": "object"}
        description = _summary(cls)
        if description:
            schema["description"] = description
        schema["properties"] = properties
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        return schema


# -- descriptions ---------------------------------------------------------------------------------------------------


def _docstring(cls: type) -> str:
    doc = cls.__doc__ or ""
    # A dataclass without a docstring gets its signature as __doc__: that describes nothing.
    return "" if doc.startswith(cls.__name__ + "(") else inspect.cleandoc(doc)


def _plain(text: str) -> str:
    """Docstring markup to plain text: paragraphs joined into lines, ``code`` as `code`."""
    paragraphs = [" ".join(line.strip() for line in block.splitlines()) for block in re.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(p for p in paragraphs if p).replace("``", "`")


def _summary(cls: type) -> str:
    """The class docstring without its Google-style sections, and the keys that moved elsewhere."""
    kept: list[str] = []
    skipping = False
    for line in _docstring(cls).splitlines():
        if _SECTION.match(line):
            skipping = True
        elif skipping and line.strip() and not line.startswith(" "):
            skipping = False
        if not skipping:
            kept.append(line)
    text = _plain("\n".join(kept))
    moved: dict[str, str] = getattr(cls, "MOVED_KEYS", {})
    notes = [f"`{key}` has moved: {where}" for key, where in sorted(moved.items())]
    return "\n\n".join([text, *notes] if text else notes)


def _section(doc: str, section: str) -> dict[str, str]:
    """``name -> description`` of a Google-style section such as ``Attributes:`` (continuation lines joined)."""
    entries: dict[str, str] = {}
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        match = _SECTION.match(line)
        if not match or match["name"] != section:
            continue
        base, indent, current = len(match["indent"]), None, None
        for body in lines[i + 1:]:
            if body.strip() and len(body) - len(body.lstrip()) <= base:
                break
            entry = _ENTRY.match(body)
            if entry and (indent is None or len(entry["indent"]) == indent):
                indent, current = len(entry["indent"]), entry["name"]
                entries[current] = entry["text"].strip()
            elif current is not None and body.strip():
                entries[current] = f"{entries[current]} {body.strip()}".strip()
    return {name: _plain(text) for name, text in entries.items() if text}


def _field_comments(cls: type) -> dict[str, str]:
    """The comment lines right above each field of ``cls`` (and a comment at the end of its line)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments: dict[int, str] = {}  # line number (1-based) -> comment text
    code_lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            code_lines.add(token.start[0])
    (node,) = ast.parse(source).body
    names = {field.name for field in dataclasses.fields(cls)}
    out: dict[str, str] = {}
    for statement in getattr(node, "body", []):
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        if statement.target.id not in names:
            continue
        above: list[str] = []
        previous = statement.lineno - 1
        while previous in comments and previous not in code_lines:
            above.insert(0, comments[previous])
            previous -= 1
        if statement.end_lineno in comments:  # a comment after the field, on its last line
            above.append(comments[statement.end_lineno])
        if above:
            out[statement.target.id] = _plain(" ".join(above))
    return out


# -- defaults -------------------------------------------------------------------------------------------------------


def _json(value: Any, where: str) -> Any:
    """A default as the JSON the parser would read back into it."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return _json(value.value, where)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json(getattr(value, f.name), where) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_json(item, where) for item in value]
    if isinstance(value, collections.abc.Mapping):
        return {str(_json(k, where)): _json(v, where) for k, v in value.items()}
    raise TypeError(f"{where}: default {value!r} has no JSON form")


# -- command line ---------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write (or check) the estate file's JSON Schema.")
    parser.add_argument("--check", action="store_true", help="exit 1 when the schema file is stale; write nothing")
    parser.add_argument("--output", type=Path, default=SCHEMA_FILE, help=f"where to write it [{SCHEMA_FILE}]")
    args = parser.parse_args(argv)
    text = render(estate_schema())
    current = args.output.read_text(encoding="utf-8") if args.output.is_file() else None
    if args.check:
        if current != text:
            print(f"{args.output} is stale; regenerate it with: {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
