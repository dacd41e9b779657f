"""Conditions of a ConditionStep: comparisons, In, Not and Or over literals and expressions."""

from __future__ import annotations

from abc import ABC, abstractmethod

from collections.abc import Sequence
from typing import Any

from mlops_estate.pipeline.expressions import Expression, Kind, Value, accepts, kind_of, render

NUMERIC: tuple[Kind, ...] = ("Integer", "Float")


class Condition(ABC):
    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        ...

    @abstractmethod
    def operands(self) -> list[Any]:
        ...


class _Comparison(Condition):
    type_name = ""
    numeric = True

    def __init__(self, left: Value, right: Value) -> None:
        if left is None or right is None:
            raise ValueError(f"{self.type_name}: both operands are required")
        if self.numeric:
            for side, value in (("left", left), ("right", right)):
                if not accepts(NUMERIC, value):
                    what = value.describe() if isinstance(value, Expression) else repr(value)
                    raise ValueError(
                        f"{self.type_name}: the {side} operand {what} is {kind_of(value)}; "
                        "an ordering comparison needs an Integer or Float value"
                    )
        self.left = left
        self.right = right

    def to_json(self) -> dict[str, Any]:
        return {"Type": self.type_name, "LeftValue": render(self.left), "RightValue": render(self.right)}

    def operands(self) -> list[Any]:
        return [self.left, self.right]


class ConditionGreaterThan(_Comparison):
    type_name = "GreaterThan"


class ConditionGreaterThanOrEqualTo(_Comparison):
    type_name = "GreaterThanOrEqualTo"


class ConditionLessThan(_Comparison):
    type_name = "LessThan"


class ConditionLessThanOrEqualTo(_Comparison):
    type_name = "LessThanOrEqualTo"


class ConditionEquals(_Comparison):
    type_name = "Equals"
    numeric = False


class ConditionNotEquals(_Comparison):
    type_name = "NotEquals"
    numeric = False


class ConditionIn(Condition):
    def __init__(self, value: Value, in_values: Sequence[Value]) -> None:
        if not in_values:
            raise ValueError("In: in_values must not be empty")
        self.value = value
        self.in_values = list(in_values)

    def to_json(self) -> dict[str, Any]:
        return {"Type": "In", "QueryValue": render(self.value), "Values": render(self.in_values)}

    def operands(self) -> list[Any]:
        return [self.value, *self.in_values]


class ConditionNot(Condition):
    def __init__(self, expression: Condition) -> None:
        self.expression = expression

    def to_json(self) -> dict[str, Any]:
        return {"Type": "Not", "Expression": self.expression.to_json()}

    def operands(self) -> list[Any]:
        return self.expression.operands()


class ConditionOr(Condition):
    def __init__(self, conditions: Sequence[Condition]) -> None:
        if len(conditions) < 2:
            raise ValueError("Or: needs at least two conditions")
        self.conditions = list(conditions)

    def to_json(self) -> dict[str, Any]:
        return {"Type": "Or", "Conditions": [c.to_json() for c in self.conditions]}

    def operands(self) -> list[Any]:
        return [o for c in self.conditions for o in c.operands()]
