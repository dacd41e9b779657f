"""A whole pipeline definition: parameters and steps, checked as one graph, emitted as JSON.

`PipelineDefinition.to_dict()` checks what no single step can: step names are unique across the whole
definition (condition branches included), every ``Get`` names a declared parameter or a step of this
pipeline, every ``JsonGet`` reads a property file its step declares, ``DependsOn`` names existing steps,
and no step depends on itself through any chain. All problems are reported together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mlops_estate.core.patterns import PIPELINE_NAME
from mlops_estate.core.validation import ConfigError
from mlops_estate.pipeline.conditions import Condition
from mlops_estate.pipeline.expressions import Expression, Parameter, Property
from mlops_estate.pipeline.steps import ConditionStep, Step

VERSION = "2020-12-01"
_STEP_REF = re.compile(r"^Steps\.([A-Za-z0-9\-_]+)\.(.+)$")
_PROPERTY_FILE_REF = re.compile(r"^Steps\.([A-Za-z0-9\-_]+)\.PropertyFiles\.([A-Za-z0-9\-_]+)$")
_EXECUTION_VARIABLES = {"PipelineExecutionId", "PipelineExecutionArn", "PipelineName", "StartDateTime", "CurrentDateTime"}


class PipelineDefinitionError(ConfigError):
    """Every problem of a definition's graph, raised once (a `ConfigError`, so a ValueError).

    Attributes:
        pipeline: the definition's name.
        problems: every problem found.
    """

    def __init__(self, pipeline: str, problems: list[str]) -> None:
        self.pipeline = pipeline
        super().__init__(f"pipeline {pipeline!r}", problems)


class PipelineDefinition:
    """Parameters and top-level steps of one pipeline. Steps inside condition branches are found through them.

    Args:
        name: the pipeline's name (``TrainingPipeline`` refuses a definition whose name differs from its own).
        parameters: the pipeline parameters every step may reference (names unique).
        steps: the top-level steps.
    """

    def __init__(self, name: str, *, parameters: Sequence[Parameter] = (), steps: Sequence[Step] = ()) -> None:
        self.name = name
        self.parameters: list[Parameter] = list(parameters)
        self.steps: list[Step] = list(steps)

    def add_parameter(self, parameter: Parameter) -> Parameter:
        self.parameters.append(parameter)
        return parameter

    def add_step(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    def all_steps(self) -> list[Step]:
        """Every step, top-level and nested in condition branches, in definition order."""
        out: list[Step] = []

        def walk(steps: Sequence[Step]) -> None:
            for s in steps:
                out.append(s)
                walk(s.children())

        walk(self.steps)
        return out

    def step_types(self) -> set[str]:
        return {s.type_name for s in self.all_steps()}

    def to_dict(self) -> dict[str, Any]:
        """The definition as the service takes it; raises `PipelineDefinitionError` listing every problem."""
        body = {
            "Version": VERSION,
            "Metadata": {},
            "Parameters": [p.declaration() for p in self.parameters],
            "Steps": [s.to_json() for s in self.steps],
        }
        problems = self._problems(body)
        if problems:
            raise PipelineDefinitionError(self.name, problems)
        return body

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    # -- validation -------------------------------------------------------------------------------------

    def _problems(self, body: dict[str, Any]) -> list[str]:
        problems: list[str] = []
        if not PIPELINE_NAME.match(self.name) and "${Token[" not in self.name:
            problems.append(f"name {self.name!r} is not a pipeline name; expected up to 256 letters, digits and single hyphens")
        steps = self.all_steps()
        by_name: dict[str, Step] = {}
        for s in steps:
            if s.name in by_name:
                problems.append(f"step name {s.name!r} is used twice; step names must be unique in a pipeline")
            by_name.setdefault(s.name, s)
        params: dict[str, Parameter] = {}
        for p in self.parameters:
            if p.name in params:
                problems.append(f"parameter {p.name!r} is declared twice")
            params.setdefault(p.name, p)

        edges: dict[str, set[str]] = {s.name: set() for s in steps}
        for step, step_json in zip(steps, _flatten(body["Steps"])):
            for dep in step.depends_on:
                if dep not in by_name:
                    problems.append(f"step {step.name!r} depends on unknown step {dep!r}")
                else:
                    edges[step.name].add(dep)
            for ref in _gets(step_json.get("Arguments", {})) + _gets(_top_level_values(step_json)):
                problems.extend(self._check_ref(step.name, ref, by_name, params, edges))
            for expr in _expressions_of(step):
                if isinstance(expr, Parameter) and expr.name in params and params[expr.name] is not expr \
                        and params[expr.name].kind != expr.kind:
                    problems.append(
                        f"step {step.name!r} uses {expr.describe()}, but the declared parameter {expr.name!r} is "
                        f"{params[expr.name].kind}"
                    )
        # Steps in a condition's branches run after it.
        for s in steps:
            if isinstance(s, ConditionStep):
                for child in s.children():
                    edges[child.name].add(s.name)
        cycle = _find_cycle(edges)
        if cycle:
            problems.append("steps depend on each other in a cycle: " + " -> ".join(cycle))
        return problems

    def _check_ref(
        self,
        step: str,
        ref: str,
        by_name: Mapping[str, Step],
        params: Mapping[str, Parameter],
        edges: dict[str, set[str]],
    ) -> list[str]:
        if ref.startswith("Parameters."):
            name = ref.split(".", 1)[1]
            return [] if name in params else [f"step {step!r} references undeclared parameter {name!r}"]
        if ref.startswith("Execution."):
            name = ref.split(".", 1)[1]
            return [] if name in _EXECUTION_VARIABLES else [f"step {step!r} references unknown execution variable {name!r}"]
        pf = _PROPERTY_FILE_REF.match(ref)
        if pf:
            owner, file_name = pf.groups()
            if owner not in by_name:
                return [f"step {step!r} reads property file {file_name!r} of unknown step {owner!r}"]
            if file_name not in {f.name for f in by_name[owner].property_files()}:
                return [f"step {step!r} reads property file {file_name!r}, which step {owner!r} does not declare"]
            edges[step].add(owner)
            return []
        m = _STEP_REF.match(ref)
        if m:
            owner = m.group(1)
            if owner == step:
                return [f"step {step!r} references its own property {ref!r}"]
            if owner not in by_name:
                return [f"step {step!r} references unknown step {owner!r} ({ref})"]
            edges[step].add(owner)
            return []
        return [f"step {step!r} has a reference {ref!r} that is neither Parameters.*, Execution.* nor Steps.*"]


def _flatten(step_jsons: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Step JSON in the same order as `PipelineDefinition.all_steps` (branches after their condition)."""
    for sj in step_jsons:
        shallow = dict(sj)
        if sj.get("Type") == "Condition":
            args = dict(sj.get("Arguments", {}))
            branches = [*args.pop("IfSteps", []), *args.pop("ElseSteps", [])]
            shallow["Arguments"] = args
            yield shallow
            yield from _flatten(branches)
        else:
            yield shallow


def _top_level_values(step_json: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in step_json.items() if k not in ("Arguments", "Name", "Type", "DependsOn")}


def _gets(node: Any) -> list[str]:
    """Every ``{"Get": ...}`` reference in a JSON tree (JsonGet's PropertyFile is one too)."""
    out: list[str] = []
    if isinstance(node, dict):
        if set(node) == {"Get"} and isinstance(node["Get"], str):
            return [node["Get"]]
        for v in node.values():
            out.extend(_gets(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_gets(v))
    return out


def _expressions_of(step: Step) -> list[Expression]:
    """Expressions held in a step's attributes (to compare parameter objects with the declared ones)."""
    found: list[Expression] = []
    seen: set[int] = set()

    def walk(value: Any, depth: int) -> None:
        if depth > 6 or id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, Expression):
            found.append(value)
            if hasattr(value, "values"):
                walk(getattr(value, "values"), depth + 1)
        elif isinstance(value, Condition):
            walk(value.operands(), depth + 1)
        elif isinstance(value, Mapping):
            for v in value.values():
                walk(v, depth + 1)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, depth + 1)
        elif hasattr(value, "__dict__") and not isinstance(value, (Step, str, type)):
            walk(vars(value), depth + 1)

    for attr, value in vars(step).items():
        if not attr.startswith("_") and not isinstance(value, Step):
            walk(value, 0)
    return found


def _find_cycle(edges: Mapping[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


__all__ = ["PipelineDefinition", "PipelineDefinitionError", "Property", "VERSION"]
