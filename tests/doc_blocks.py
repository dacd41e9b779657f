"""The fenced code blocks of README.md and docs/**/*.md, with the marker comment that may precede each.

Markers (an HTML comment on the line before the fence, invisible on the page):

- ``<!-- not-run: <reason> -->``: a python or json block that is deliberately not checked (client code that needs a
  deployed estate, a partial fragment); the reason is required. Keep these rare.
- ``<!-- estate-config -->`` or ``<!-- estate-config: <path> -->``: a json block that is (part of) an estate file.
  It is merged into the default estate at ``path`` (``models[0]``, ``organization``; the root when omitted) and
  the result must validate against the estate schema and parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>not-run|estate-config)\s*(?::\s*(?P<value>.*?))?\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    file: Path
    line: int  # 1-based line of the first line of code (after the opening fence)
    language: str
    code: str
    marker: str | None  # "not-run" or "estate-config"
    marker_value: str  # the reason, or the estate path

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def doc_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [f for f in files if "_hooks" not in f.parts]


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        language = opening["info"].strip().split(" ")[0].lower() if opening["info"].strip() else ""
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(previous)
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not (lines[j].startswith(indent + fence[0] * 3) and lines[j].strip() == fence):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        if j == len(lines):
            raise AssertionError(f"{path.relative_to(ROOT)}:{i + 1}: the code block never closes")
        found.append(Block(path, i + 2, language, "\n".join(body) + "\n", marker["kind"] if marker else None,
                           (marker["value"] or "") if marker else ""))
        i = j + 1
    return found
