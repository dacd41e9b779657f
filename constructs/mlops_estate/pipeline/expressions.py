"""Values that SageMaker resolves when a pipeline runs: parameters, step properties, JsonGet and Join.

Each expression knows the kind of value it yields (``String``, ``Integer``, ``Float``, ``Boolean`` or
``Any`` when the service decides), so steps can reject a value of the wrong type when the definition is
built rather than when an execution fails hours later.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union

from mlops_estate.core.validation import Problems

Kind = Literal["String", "Integer", "Float", "Boolean", "Any"]

# Names of parameters, steps and property files: what the service accepts.
NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")


class Expression(ABC):
    """A value resolved at execution time."""

    kind: Kind = "Any"

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        ...

    @abstractmethod
    def describe(self) -> str:
        ...


# What a step field accepts: a literal or an expression.
Value = Union[str, int, float, bool, Expression]


class Parameter(Expression):
    """A pipeline parameter: declared once on the definition, referenced by any step. Build one with
    `ParameterString`, `ParameterInteger`, `ParameterFloat` or `ParameterBoolean`.

    Args:
        name: the parameter's name (1-64 letters, digits, hyphens or underscores).
        kind: ``String``, ``Integer``, ``Float`` or ``Boolean``.
        default: the value of a run that does not set it (of ``kind``; None: every run must set it).
        description: what it is for, up to 4096 characters.
    """

    def __init__(self, name: str, kind: Kind, default: Any = None, description: str = "") -> None:
        problems = Problems()
        if not isinstance(name, str) or not NAME.match(name):
            problems.add("name", f"{name!r} is invalid; expected 1-64 letters, digits, hyphens or underscores")
        if kind not in ("String", "Integer", "Float", "Boolean"):
            problems.add("kind", f"{kind!r} is not allowed; expected one of 'String', 'Integer', 'Float', 'Boolean'")
        elif default is not None and not _literal_fits(default, kind):
            problems.add("default", f"{default!r} ({type(default).__name__}) is not a valid {kind} value")
        if len(description) > 4096:
            problems.add("description", f"is {len(description)} characters; at most 4096 are allowed")
        problems.raise_if_any(f"parameter {name!r}")
        self.name = name
        self.kind = kind
        self.default = default
        self.description = description

    def to_json(self) -> dict[str, Any]:
        return {"Get": f"Parameters.{self.name}"}

    def declaration(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": self.name, "Type": self.kind}
        if self.default is not None:
            out["DefaultValue"] = self.default
        if self.description:
            out["Description"] = self.description
        return out

    def describe(self) -> str:
        return f"{self.kind} parameter {self.name!r}"


def ParameterString(name: str, default: str | None = None, description: str = "") -> Parameter:  # noqa: N802
    return Parameter(name, "String", default, description)


def ParameterInteger(name: str, default: int | None = None, description: str = "") -> Parameter:  # noqa: N802
    return Parameter(name, "Integer", default, description)


def ParameterFloat(name: str, default: float | None = None, description: str = "") -> Parameter:  # noqa: N802
    return Parameter(name, "Float", default, description)


def ParameterBoolean(name: str, default: bool | None = None, description: str = "") -> Parameter:  # noqa: N802
    return Parameter(name, "Boolean", default, description)


class ExecutionVariable(Expression):
    """A value the service knows about the running execution (see `ExecutionVariables`).

    Args:
        name: the variable (``PipelineExecutionId``, ``PipelineExecutionArn``, ``PipelineName``, ``StartDateTime``).
    """

    kind: Kind = "String"

    def __init__(self, name: str) -> None:
        self.name = name

    def to_json(self) -> dict[str, Any]:
        return {"Get": f"Execution.{self.name}"}

    def describe(self) -> str:
        return f"execution variable {self.name}"


class ExecutionVariables:
    """Values the service knows about the running execution."""

    PIPELINE_EXECUTION_ID = ExecutionVariable("PipelineExecutionId")
    PIPELINE_EXECUTION_ARN = ExecutionVariable("PipelineExecutionArn")
    PIPELINE_NAME = ExecutionVariable("PipelineName")
    START_DATETIME = ExecutionVariable("StartDateTime")


class Property(Expression):
    """An attribute of another step's job, e.g. ``Steps.Train.ModelArtifacts.S3ModelArtifacts``. Steps hand them
    out (``train.model_artifacts``, ``prep.output_uri("train")``, ``check.output("approved")``, ``step.prop(path)``).

    Args:
        step_name: the step whose attribute it is.
        path: the attribute's path in the step's Describe* response (or ``OutputParameters['<name>']``).
        kind: the kind of value it yields.
    """

    def __init__(self, step_name: str, path: str, kind: Kind = "String") -> None:
        self.step_name = step_name
        self.path = path
        self.kind = kind

    def to_json(self) -> dict[str, Any]:
        return {"Get": f"Steps.{self.step_name}.{self.path}"}

    def describe(self) -> str:
        return f"property Steps.{self.step_name}.{self.path}"


@dataclass(frozen=True)
class PropertyFile:
    """A JSON file a processing step writes into one of its outputs, readable by ``JsonGet``.

    Attributes:
        name: the property file's name (1-64 letters, digits, hyphens or underscores).
        output_name: the step output that holds the file.
        path: the file's path relative to that output (e.g. ``evaluation.json``).
    """

    name: str
    output_name: str
    path: str

    def __post_init__(self) -> None:
        problems = Problems()
        if not isinstance(self.name, str) or not NAME.match(self.name):
            problems.add("name", f"{self.name!r} is invalid; expected 1-64 letters, digits, hyphens or underscores")
        if not self.path or self.path.startswith("/"):
            problems.add("path", f"{self.path!r} is not a path relative to the output {self.output_name!r}; expected e.g. evaluation.json")
        problems.raise_if_any(f"property file {self.name!r}")

    def declaration(self) -> dict[str, str]:
        return {"PropertyFileName": self.name, "OutputName": self.output_name, "FilePath": self.path}


class JsonGet(Expression):
    """A value read from a step's property file (``Std:JsonGet``), e.g. an evaluation metric; build it with the
    step's ``json_get``.

    Args:
        step_name: the step that writes the property file.
        property_file: the `PropertyFile`.
        json_path: the value's path in the JSON (e.g. ``metrics.auc.value``).
        kind: the kind of value it yields.
    """

    def __init__(self, step_name: str, property_file: PropertyFile, json_path: str, kind: Kind = "Float") -> None:
        problems = Problems()
        if not json_path:
            problems.add("json_path", f"{json_path!r} is empty; expected a path like metrics.auc.value")
        problems.raise_if_any(f"JsonGet on {property_file.name!r}")
        self.step_name = step_name
        self.property_file = property_file
        self.json_path = json_path
        self.kind = kind

    def to_json(self) -> dict[str, Any]:
        return {
            "Std:JsonGet": {
                "PropertyFile": {"Get": f"Steps.{self.step_name}.PropertyFiles.{self.property_file.name}"},
                "Path": self.json_path,
            }
        }

    def describe(self) -> str:
        return f"JsonGet {self.json_path!r} of {self.step_name}.{self.property_file.name}"


class Join(Expression):
    """Strings and expressions joined at execution time (``Std:Join``), e.g. an S3 URI per execution.

    Args:
        values: the parts (at least one): literals or expressions.
        on: the separator.
    """

    kind: Kind = "String"

    def __init__(self, values: Sequence[Value], on: str = "") -> None:
        problems = Problems()
        if not values:
            problems.add("values", f"{list(values)!r} is empty; expected at least one value")
        problems.raise_if_any("Join")
        self.values = list(values)
        self.on = on

    def to_json(self) -> dict[str, Any]:
        return {"Std:Join": {"On": self.on, "Values": [render(v) for v in self.values]}}

    def describe(self) -> str:
        return "Join"


def _literal_fits(value: Any, kind: Kind) -> bool:
    if kind == "Any":
        return True
    if kind == "Boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "String":
        return isinstance(value, str)
    if kind == "Integer":
        return isinstance(value, int)
    return isinstance(value, (int, float))  # Float


def kind_of(value: Any) -> Kind:
    if isinstance(value, Expression):
        return value.kind
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    return "String"


def accepts(expected: Sequence[Kind], value: Any) -> bool:
    """Whether ``value`` may stand where one of ``expected`` kinds is needed (``Any`` fits everywhere)."""
    if isinstance(value, Expression):
        return value.kind == "Any" or value.kind in expected or ("Float" in expected and value.kind == "Integer")
    return any(_literal_fits(value, k) for k in expected)


def render(value: Any) -> Any:
    """Turn literals, expressions and nested containers into definition JSON."""
    if isinstance(value, Expression):
        return value.to_json()
    if isinstance(value, Mapping):
        return {k: render(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [render(v) for v in value]
    return value
