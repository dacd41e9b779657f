"""The ``data_lake`` config section: which new objects of the lake are announced to the ML dev account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlops_estate.core.patterns import s3_key_prefix_problem
from mlops_estate.core.validation import Problems, join

LakeBucket = Literal["raw", "curated"]
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
