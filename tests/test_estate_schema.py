"""The estate file's JSON Schema: generated from the typed config, shipped up to date, and as strict as the parser.

Each bad file here is rejected by both the schema (what an editor shows while the file is written) and the parser
(what `cdk synth` reports), at the same path.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

import jsonschema
import pytest

from mlops_estate.config import schema as estate_schema_module
from mlops_estate.config.estate import ConfigError, EstateConfig
from mlops_estate.config.schema import REGENERATE, SCHEMA_FILE, estate_schema, render
from tests.helpers import ROOT, default_estate_dict

SOURCE_SCHEMA = ROOT / "constructs" / "mlops_estate" / "config" / "estate.schema.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return estate_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def error_paths(validator: jsonschema.Draft202012Validator, data: Any) -> list[str]:
    """Where the schema rejects ``data``, as ``a.b[0].c`` paths, deepest error of each branch."""
    paths = []
    for error in validator.iter_errors(data):
        path = ""
        for part in error.absolute_path:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        paths.append(f"{path}: {error.message}")
    return sorted(paths)


def parser_problems(data: Any) -> list[str]:
    try:
        EstateConfig.from_dict(data)
    except ConfigError as error:
        return error.problems
    return []


def test_the_shipped_schema_is_the_generated_one():
    assert SCHEMA_FILE == SOURCE_SCHEMA.resolve(), "the generator writes the source copy, not the installed link"
    assert SOURCE_SCHEMA.is_file(), f"{SOURCE_SCHEMA} is missing; generate it with: {REGENERATE}"
    assert SOURCE_SCHEMA.read_text(encoding="utf-8") == render(estate_schema()), (
        f"{SOURCE_SCHEMA.relative_to(ROOT)} is stale (the typed config changed); regenerate it with: {REGENERATE}")


def test_the_generator_checks_and_writes(tmp_path: Path):
    target = tmp_path / "estate.schema.json"
    assert estate_schema_module.main(["--check", "--output", str(target)]) == 1
    assert estate_schema_module.main(["--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render(estate_schema())
    assert estate_schema_module.main(["--check", "--output", str(target)]) == 0


def test_the_schema_is_draft_2020_12_and_closed(schema: dict[str, Any]):
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    objects = [schema, *schema["$defs"].values()]
    assert all(o["additionalProperties"] is False for o in objects), "every config class rejects unknown keys"
    assert set(schema["required"]) == {"name", "region", "availability_zones", "organization", "accounts", "tags"}


def test_the_schema_mirrors_every_config_class(schema: dict[str, Any]):
    """Every dataclass the estate reaches is in $defs with exactly its fields, required ones and defaults."""
    seen: set[type] = set()

    def walk(cls: type) -> None:
        if cls in seen:
            return
        seen.add(cls)
        for field in dataclasses.fields(cls):
            for tp in _dataclasses_in(cls, field.name):
                walk(tp)

    walk(EstateConfig)
    assert {c.__name__ for c in seen} - {"EstateConfig"} == set(schema["$defs"])
    for cls in seen:
        body = schema if cls is EstateConfig else schema["$defs"][cls.__name__]
        fields = dataclasses.fields(cls)
        assert list(body["properties"]) == [f.name for f in fields], cls
        required = [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        assert body.get("required", []) == required, cls
        assert all("default" in body["properties"][f.name] for f in fields if f.name not in required), cls


def _dataclasses_in(cls: type, name: str) -> list[type]:
    from typing import get_args, get_type_hints

    found: list[type] = []
    stack = [get_type_hints(cls)[name]]
    while stack:
        tp = stack.pop()
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            found.append(tp)
        stack.extend(get_args(tp))
    return found


def test_descriptions_come_from_docstrings_and_comments(schema: dict[str, Any]):
    assert schema["description"] == "The whole estate."
    ci = schema["$defs"]["CiConfig"]
    assert ci["properties"]["max_session_hours"]["description"].startswith("Longest session of the deploy role")
    assert "`bootstrap_qualifier` has moved" in ci["description"]
    # a field inherited from a base dataclass keeps the description written where it is declared
    guardrails = schema["$defs"]["GuardrailsConfig"]["properties"]
    assert all(guardrails[name].get("description") for name in ("require_kms", "models_in_vpc"))


def test_the_default_estate_validates(validator: jsonschema.Draft202012Validator):
    data = default_estate_dict()
    assert error_paths(validator, data) == []
    assert parser_problems(data) == []


def test_every_default_the_schema_gives_parses(schema: dict[str, Any]):
    """Defaults are written as the parser reads them: the defaults of the root's optional settings, filled into the
    default estate, still parse."""
    data = default_estate_dict()
    for name, prop in schema["properties"].items():
        if "default" in prop and prop["default"] is not None:
            data[name] = prop["default"]
    assert parser_problems(data) == []


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value
    return mutate


def _rename(path: str, new: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[new] = node.pop(last)
    return mutate


BAD_FILES = {
    # a misspelt key, deep in a list item: both reject it where it is
    "misspelt key": (_rename("models.0.quality_gate.threshold", "treshold"), "models[0].quality_gate"),
    # a wrong type: a whole number where text is expected, and text where a whole number is
    "wrong type (number for text)": (_set("network.prod_cidr", 10), "network.prod_cidr"),
    "wrong type (text for whole number)": (_set("models.0.serving.prod.min_instances", "2"), "models[0].serving.prod.min_instances"),
    "wrong type (text for true/false)": (_set("audit.config_rules", "yes"), "audit.config_rules"),
    "value outside a Literal": (_set("models.0.problem_type", "Clustering"), "models[0].problem_type"),
    "key outside a Literal-keyed mapping": (_set("models.0.serving.dev", {}), "models[0].serving"),
    "missing required key": (lambda d: d["accounts"].pop("prod"), "accounts"),
    "object for a list": (_set("availability_zones", {"a": "eu-west-1a"}), "availability_zones"),
    "moved key": (_set("promotion.bootstrap_qualifier", "abc"), "promotion"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_a_bad_file_is_rejected_by_schema_and_parser(name: str, validator: jsonschema.Draft202012Validator, tmp_path: Path):
    mutate, where = BAD_FILES[name]
    data = default_estate_dict()
    mutate(data)
    # as a file on disk, the way an editor (or `-c estate_file=`) meets it
    path = tmp_path / "my-estate.json"
    path.write_text(json.dumps(data, indent=2))
    data = json.loads(path.read_text())
    errors = error_paths(validator, data)
    assert errors, f"the schema accepts the file with a {name}"
    assert any(e.startswith(where) for e in errors), errors
    problems = parser_problems(data)
    assert problems, f"the parser accepts the file with a {name}"
    assert any(p.replace(".", "").startswith(where.replace(".", "")) for p in problems), problems


def test_optional_settings_take_null(validator: jsonschema.Draft202012Validator):
    data = default_estate_dict()
    data["ci"] = None
    data["organization"]["deployment_role_name"] = None
    assert error_paths(validator, data) == []
    assert parser_problems(data) == []


def test_a_float_takes_a_whole_number_and_an_int_refuses_a_fraction(validator: jsonschema.Draft202012Validator):
    data = default_estate_dict()
    _set("models.0.quality_gate.threshold", 1)(data)
    assert error_paths(validator, data) == [] and parser_problems(data) == []
    _set("models.0.serving.prod.min_instances", 2.5)(data)
    assert error_paths(validator, data) and parser_problems(data)


def test_unsupported_types_fail_generation_as_they_fail_parsing():
    @dataclasses.dataclass(frozen=True)
    class Fine:
        kind: Literal["a", "b"] = "a"
        sizes: Mapping[str, int] = dataclasses.field(default_factory=dict)

    @dataclasses.dataclass(frozen=True)
    class Broken:
        pair: tuple[int, str]

    generated = estate_schema_module._Generator(Fine).schema()
    assert generated["properties"]["kind"] == {"enum": ["a", "b"], "default": "a"}
    with pytest.raises(TypeError, match="tuple"):
        estate_schema_module._Generator(Broken).schema()


def test_the_command_line_reports_a_stale_file(tmp_path: Path):
    stale = tmp_path / "estate.schema.json"
    stale.write_text("{}\n")
    result = subprocess.run([sys.executable, "-m", "mlops_estate.config.schema", "--check", "--output", str(stale)],
                            capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"})
    assert result.returncode == 1
    assert REGENERATE in result.stderr
