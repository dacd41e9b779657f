"""One validation style for config files and construct props: collect every problem, then raise once.

Each problem reads ``<path>: <what is wrong, the value quoted, what is allowed>``; a construct reports its props
under its construct path, the estate file under its key path (``models[1].serving.prod.min_instances``).
"""

from __future__ import annotations


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
