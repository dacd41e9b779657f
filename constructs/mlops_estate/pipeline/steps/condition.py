"""Control steps: branch on conditions (Condition) and stop an execution as failed (Fail)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

from mlops_estate.pipeline.conditions import Condition
from mlops_estate.pipeline.expressions import Property, Value
from mlops_estate.pipeline.steps.base import Step, StepOptions
from mlops_estate.pipeline.steps.fields import STRING, check_kind


class FailStep(Step):
    """Stop the execution as failed with a message.

    Args:
        name: see `Step`.
        error_message: the message (a literal or a String expression, e.g. a Join with a parameter).
        **options: ``depends_on``, ``display_name``, ``description`` (see `Step`).
    """

    type_name = "Fail"

    def __init__(self, name: str, *, error_message: Value, **options: Unpack[StepOptions]) -> None:
        super().__init__(name, **options)
        check_kind(self._problems, "error_message", error_message, STRING)
        self.error_message = error_message
        self._done()

    def arguments(self) -> dict[str, Any]:
        return {"ErrorMessage": self.error_message}


class ConditionStep(Step):
    """Run ``if_steps`` when every condition holds, else ``else_steps``.

    Args:
        name: see `Step`.
        conditions: the conditions, all of which must hold (at least one).
        if_steps: the steps run when they hold.
        else_steps: the steps run otherwise (give ``if_steps``, ``else_steps`` or both).
        **options: ``depends_on``, ``display_name``, ``description`` (see `Step`).
    """

    type_name = "Condition"

    def __init__(
        self,
        name: str,
        *,
        conditions: Sequence[Condition],
        if_steps: Sequence[Step] = (),
        else_steps: Sequence[Step] = (),
        **options: Unpack[StepOptions],
    ) -> None:
        super().__init__(name, **options)
        if not conditions:
            self._problems.add("conditions", f"{list(conditions)!r} is empty; expected at least one condition")
        if not if_steps and not else_steps:
            self._problems.add("if_steps", "give if_steps or else_steps; a condition that branches nowhere does nothing")
        self.conditions = list(conditions)
        self.if_steps = list(if_steps)
        self.else_steps = list(else_steps)
        self._done()

    def children(self) -> list[Step]:
        return [*self.if_steps, *self.else_steps]

    def arguments(self) -> dict[str, Any]:
        return {
            "Conditions": [c.to_json() for c in self.conditions],
            "IfSteps": [s.to_json() for s in self.if_steps],
            "ElseSteps": [s.to_json() for s in self.else_steps],
        }

    @property
    def outcome(self) -> Property:
        return self.prop("Outcome", "Boolean")


__all__ = ["ConditionStep", "FailStep"]
