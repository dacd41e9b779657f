"""Make synthesized templates stable for snapshots: asset hashes vary with file metadata, not meaning."""

from __future__ import annotations

import re
from typing import Any

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, str):
        return ASSET_HASH.sub("<asset-hash>", value)
    return value
