"""Fail if a logical id frozen on a base ref (default: main) is missing from this tree's frozen ids (after a merge)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FROZEN = "tests/gates/frozen_logical_ids.json"


def _pairs(data: dict[str, dict[str, str]]) -> set[tuple[str, str, str]]:
    return {(stack, logical_id, kind) for stack, ids in data.items() for logical_id, kind in ids.items()}


def main(base: str = "main") -> int:
    old = json.loads(subprocess.run(["git", "show", f"{base}:{FROZEN}"], check=True, capture_output=True, text=True).stdout)
    new = json.loads(Path(FROZEN).read_text(encoding="utf-8"))
    gone = sorted(_pairs(old) - _pairs(new))
    for stack, logical_id, kind in gone:
        print(f"DISAPPEARED {stack}: {kind} {logical_id}")
    print(f"{len(_pairs(old))} frozen on {base}, {len(_pairs(new))} now, {len(gone)} disappeared")
    return 1 if gone else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
