"""Every public construct and props class documents each of its parameters (the API reference is generated from
these docstrings, and `help()` shows them)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest
from constructs import Construct

LIBRARY = Path(__file__).resolve().parents[1] / "constructs"
# The estate-file layer documents its settings in the configuration reference, not per parameter.
NOT_API = ("mlops_estate.config.",)
SECTION = re.compile(r"^(?P<indent> *)(?P<name>Args|Attributes):\s*$")
ENTRY = re.compile(r"^(?P<indent> +)(?P<name>\*{0,2}\w+)(?: \([^)]*\))?:(?P<text>.*)$")


def documented(doc: str, section: str) -> dict[str, str]:
    """``name -> description`` of a Google-style ``Args:``/``Attributes:`` section (continuation lines joined)."""
    entries: dict[str, str] = {}
    lines = inspect.cleandoc(doc).splitlines()
    for i, line in enumerate(lines):
        match = SECTION.match(line)
        if not match or match["name"] != section:
            continue
        base = len(match["indent"])
        entry_indent = None
        current = None
        for body in lines[i + 1:]:
            if body.strip() and len(body) - len(body.lstrip()) <= base:
                break
            entry = ENTRY.match(body)
            if entry and (entry_indent is None or len(entry["indent"]) == entry_indent):
                entry_indent = len(entry["indent"])
                current = entry["name"].lstrip("*")
                entries[current] = entry["text"].strip()
            elif current is not None:
                entries[current] = (entries[current] + " " + body.strip()).strip()
    return entries


def public_classes() -> list[type]:
    found: list[type] = []
    for path in sorted(LIBRARY.rglob("*.py")):
        name = ".".join(path.relative_to(LIBRARY).with_suffix("").parts).removesuffix(".__init__")
        # job scripts (scripts/ folders) ship as package data and run in AWS containers; they are no library modules
        if name.startswith(NOT_API) or "scripts" in path.parts or any(part.startswith("_") for part in name.split(".")[1:]):
            continue
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("_") or not inspect.isclass(value) or value.__module__ != module.__name__:
                continue
            if issubclass(value, Construct) or dataclasses.is_dataclass(value):
                found.append(value)
    return found


CLASSES = public_classes()


def test_the_public_api_is_found():
    names = {c.__name__ for c in CLASSES}
    assert {"SecureBucket", "PrivateNetwork", "EstateKeys"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_parameter_is_documented(cls: type):
    doc = cls.__doc__ or ""
    if dataclasses.is_dataclass(cls):
        wanted = [f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")]
        have = documented(doc, "Attributes") | documented(doc, "Args")
    else:
        parameters = inspect.signature(cls.__init__).parameters
        wanted = [p for p in parameters if p not in ("self", "scope", "id")]
        have = documented(doc, "Args")
    missing = [name for name in wanted if not have.get(name)]
    assert not missing, f"{cls.__module__}.{cls.__name__} documents no {', '.join(missing)} (Args:/Attributes: section)"


def test_the_section_parser_reads_google_style():
    doc = """Builds a thing.

    Args:
        key: the key.
        name (str): a name that
            spans two lines.

    Returns nothing.
    """
    assert documented(doc, "Args") == {"key": "the key.", "name": "a name that spans two lines."}
