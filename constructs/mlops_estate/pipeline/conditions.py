"""Conditions of a ConditionStep: comparisons, In, Not and Or over literals and expressions."""

from __future__ import annotations

from abc import ABC, abstractmethod

from collections.abc import Sequence
from typing import Any

from mlops_estate.core.validation import Problems
from mlops_estate.pipeline.expressions import Expression, Kind, Value, accepts, kind_of, render

NUMERIC: tuple[Kind, ...] = ("Integer", "Float")


class Condition(ABC):
    """A condition of a `ConditionStep`; each raises a `ConfigError` naming the operand when built with bad input."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        ...

    @abstractmethod
    def operands(self) -> list[Any]:
        ...


class _Comparison(Condition):
    """Compare two values (literals or expressions).

    Args:
        left: the left operand.
        right: the right operand (an ordering comparison needs Integer or Float operands).
    """

    type_name = ""
    numeric = True

    def __init__(self, left: Value, right: Value) -> None:
        problems = Problems()
        for side, value in (("left", left), ("right", right)):
            if value is None:
                problems.add(side, "None is not an operand; expected a literal or a pipeline expression")
            elif self.numeric and not accepts(NUMERIC, value):
                what = value.describe() if isinstance(value, Expression) else repr(value)
                problems.add(side, f"{what} is {kind_of(value)}; an ordering comparison needs an Integer or Float value")
        problems.raise_if_any(self.type_name)
        self.left = left
        self.right = right

    def to_json(self) -> dict[str, Any]:
        return {"Type": self.type_name, "LeftValue": render(self.left), "RightValue": render(self.right)}

    def operands(self) -> list[Any]:
        return [self.left, self.right]


class ConditionGreaterThan(_Comparison):
    """``left > right``.

    Args:
        left: the left operand.
        right: the right operand.
    """

    type_name = "GreaterThan"


class ConditionGreaterThanOrEqualTo(_Comparison):
    """``left >= right``.

    Args:
        left: the left operand.
        right: the right operand.
    """

    type_name = "GreaterThanOrEqualTo"


class ConditionLessThan(_Comparison):
    """``left < right``.

    Args:
        left: the left operand.
        right: the right operand.
    """

    type_name = "LessThan"


class ConditionLessThanOrEqualTo(_Comparison):
    """``left <= right``.

    Args:
        left: the left operand.
        right: the right operand.
    """

    type_name = "LessThanOrEqualTo"


class ConditionEquals(_Comparison):
    """``left == right`` (any kinds).

    Args:
        left: the left operand.
        right: the right operand.
    """

    type_name = "Equals"
    numeric = False


class ConditionNotEquals(_Comparison):
    """``left != right`` (any kinds).

    Args:
        left: the left operand.
        right: the right operand.
    """

    type_name = "NotEquals"
    numeric = False


class ConditionIn(Condition):
    """``value`` is one of ``in_values``.

    Args:
        value: the value looked up (a literal or an expression).
        in_values: the values it may equal (at least one).
    """

    def __init__(self, value: Value, in_values: Sequence[Value]) -> None:
        problems = Problems()
        if not in_values:
            problems.add("in_values", f"{list(in_values)!r} is empty; expected at least one value")
        problems.raise_if_any("In")
        self.value = value
        self.in_values = list(in_values)

    def to_json(self) -> dict[str, Any]:
        return {"Type": "In", "QueryValue": render(self.value), "Values": render(self.in_values)}

    def operands(self) -> list[Any]:
        return [self.value, *self.in_values]


class ConditionNot(Condition):
    """``expression`` does not hold.

    Args:
        expression: the negated condition.
    """

    def __init__(self, expression: Condition) -> None:
        self.expression = expression

    def to_json(self) -> dict[str, Any]:
        return {"Type": "Not", "Expression": self.expression.to_json()}

    def operands(self) -> list[Any]:
        return self.expression.operands()


class ConditionOr(Condition):
    """At least one of ``conditions`` holds.

    Args:
        conditions: the alternatives (at least two).
    """

    def __init__(self, conditions: Sequence[Condition]) -> None:
        problems = Problems()
        if len(conditions) < 2:
            problems.add("conditions", f"{len(conditions)} condition(s); an Or needs at least two")
        problems.raise_if_any("Or")
        self.conditions = list(conditions)

    def to_json(self) -> dict[str, Any]:
        return {"Type": "Or", "Conditions": [c.to_json() for c in self.conditions]}

    def operands(self) -> list[Any]:
        return [o for c in self.conditions for o in c.operands()]
