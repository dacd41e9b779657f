"""One validation style for config files and construct props: collect every problem, then raise once.

Each problem reads ``<path>: <what is wrong, the value quoted, what is allowed>``; a construct reports its props
under its construct path, the estate file under its key path (``models[1].serving.prod.min_instances``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Token

from mlops_estate.core.patterns import ACCOUNT_ID


class ConfigError(ValueError):
    """Raised once with every problem found in one input."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


class Problems:
    """An accumulator of 'path: message' strings."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path or '<root>'}: {message}")

    def match(self, path: str, value: str, pattern: re.Pattern[str], what: str, expected: str) -> bool:
        """Add ``<path>: '<value>' is not <what>; expected <expected>`` unless ``value`` matches ``pattern`` or is a
        token (resolved only at deploy time). Returns whether it passed."""
        if pattern.match(value) or Token.is_unresolved(value):  # the match first: asking Node is a jsii round-trip
            return True
        self.add(path, f"{value!r} is not {what}; expected {expected}")
        return False

    def account_ids(self, path: str, values: Sequence[str]) -> None:
        """Each literal of ``values`` is a 12-digit AWS account id (problems at ``<path>[i]``)."""
        for i, value in enumerate(values):
            self.match(join(path, i), value, ACCOUNT_ID, "an AWS account id", "exactly 12 digits")

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, source: str) -> None:
        """Raise one ``ConfigError`` naming ``source`` (e.g. a construct's path) with every problem collected."""
        if self.items:
            raise ConfigError(source, self.items)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key
