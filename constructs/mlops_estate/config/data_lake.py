"""The ``data_lake`` config section: which new objects of the lake are announced to the ML dev account."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from mlops_estate.core.validation import Problems, join

LakeBucket = Literal["raw", "curated"]
S3_KEY_PREFIX = re.compile(r"^[a-zA-Z0-9!_.*'()/-]{1,1024}$")


def s3_key_prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` is not usable as an S3 key prefix in an event pattern, or None."""
    if not S3_KEY_PREFIX.match(prefix) or prefix.startswith("/"):
        return f"{prefix!r} is not an S3 key prefix (1-1024 letters, digits and !_.*'()/-, no leading '/')"
    return None


@dataclass(frozen=True)
class DataLakeConfig:
    """``Object Created`` events of ``arrival_buckets`` under ``arrival_prefix`` go to the ML dev account's bus."""

    arrival_prefix: str = "datasets/"
    arrival_buckets: tuple[LakeBucket, ...] = ("curated",)

    def check(self, path: str, problems: Problems) -> None:
        problem = s3_key_prefix_problem(self.arrival_prefix)
        if problem:
            problems.add(join(path, "arrival_prefix"), problem)
        if not self.arrival_buckets:
            problems.add(join(path, "arrival_buckets"), "needs at least one of 'raw', 'curated'")
        if len(set(self.arrival_buckets)) != len(self.arrival_buckets):
            problems.add(join(path, "arrival_buckets"), f"lists a bucket twice: {list(self.arrival_buckets)!r}")
