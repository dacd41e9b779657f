"""The common part of every step: name, dependencies, retries, caching, the job environment and field checks.

Every job step takes a `JobEnvironment`: the job role, VPC subnets and security groups, and the KMS key
for volumes and outputs. The environment turns on network isolation and inter-container traffic
encryption by default, so a step cannot forget them. Field values are checked when a step is built:
a parameter or property of the wrong type (a String parameter as an instance count) is an error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, Unpack

from mlops_estate.pipeline.expressions import NAME, Expression, Kind, Property, PropertyFile, Value, accepts, kind_of, render


STRING: tuple[Kind, ...] = ("String",)
INTEGER: tuple[Kind, ...] = ("Integer",)
BOOLEAN: tuple[Kind, ...] = ("Boolean",)
ISO_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
S3_URI = re.compile(r"^s3://[^/]+(/.*)?$")

StepExceptionType = Literal["Step.SERVICE_FAULT", "Step.THROTTLING"]
JobExceptionType = Literal["SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT"]
EXCEPTION_TYPES = ("Step.SERVICE_FAULT", "Step.THROTTLING", "SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT")
ApprovalStatus = Literal["PendingManualApproval", "Approved", "Rejected"]

class StepError(ValueError):
    """All problems of one step, raised once."""

    def __init__(self, step: str, problems: list[str]) -> None:
        self.step = step
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"step {step!r}: {len(problems)} problem(s):\n{lines}")


class _Checks:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, message: str) -> None:
        self.problems.append(message)

    def value(self, field_name: str, value: Any, kinds: Sequence[Kind]) -> None:
        if value is None:
            return
        if not accepts(kinds, value):
            what = value.describe() if isinstance(value, Expression) else f"{value!r}"
            self.add(f"{field_name}: {what} is {kind_of(value)}; expected {' or '.join(kinds)}")

    def positive(self, field_name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> None:
        self.value(field_name, value, INTEGER)
        if isinstance(value, int) and not isinstance(value, bool):
            if value < minimum or (maximum is not None and value > maximum):
                upper = f" and {maximum}" if maximum is not None else ""
                self.add(f"{field_name}: {value} is out of range; allowed between {minimum}{upper}")

    def s3(self, field_name: str, value: Any) -> None:
        self.value(field_name, value, STRING)
        if isinstance(value, str) and not value.startswith("${Token") and not S3_URI.match(value):
            self.add(f"{field_name}: {value!r} is not an S3 URI (s3://bucket/prefix)")

    def raise_if_any(self, step: str) -> None:
        if self.problems:
            raise StepError(step, self.problems)


@dataclass(frozen=True)
class JobEnvironment:
    """Where and as whom every job of a pipeline runs. `TrainingPipeline` makes one for its job role."""

    role_arn: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    kms_key_id: str
    network_isolation: bool = True
    inter_container_encryption: bool = True

    def __post_init__(self) -> None:
        if not self.subnet_ids or not self.security_group_ids:
            raise ValueError("JobEnvironment: jobs run in the VPC; give at least one subnet id and one security group id")

    def vpc_config(self) -> dict[str, list[str]]:
        return {"SecurityGroupIds": list(self.security_group_ids), "Subnets": list(self.subnet_ids)}


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a step on the given failures, with exponential backoff, up to ``max_attempts`` or ``expire_after_minutes``."""

    exception_types: tuple[str, ...]
    interval_seconds: int = 10
    backoff_rate: float = 2.0
    max_attempts: int | None = 3
    expire_after_minutes: int | None = None

    def check(self, checks: _Checks, job_step: bool) -> None:
        allowed = EXCEPTION_TYPES if job_step else EXCEPTION_TYPES[:2]
        if not self.exception_types:
            checks.add("retry policy: exception_types must not be empty")
        for e in self.exception_types:
            if e not in allowed:
                checks.add(f"retry policy: exception type {e!r} is not allowed here; use one of {', '.join(allowed)}")
        if not 1 <= self.interval_seconds <= 43200:
            checks.add(f"retry policy: interval_seconds {self.interval_seconds} must lie in [1, 43200]")
        if self.backoff_rate < 1.0:
            checks.add(f"retry policy: backoff_rate {self.backoff_rate} must be >= 1.0")
        if (self.max_attempts is None) == (self.expire_after_minutes is None):
            checks.add("retry policy: give exactly one of max_attempts and expire_after_minutes")
        if self.max_attempts is not None and not 1 <= self.max_attempts <= 20:
            checks.add(f"retry policy: max_attempts {self.max_attempts} must lie in [1, 20]")
        if self.expire_after_minutes is not None and not 0 < self.expire_after_minutes <= 14400:
            checks.add(f"retry policy: expire_after_minutes {self.expire_after_minutes} must lie in (0, 14400]")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ExceptionType": list(self.exception_types),
            "IntervalSeconds": self.interval_seconds,
            "BackoffRate": self.backoff_rate,
        }
        if self.max_attempts is not None:
            out["MaxAttempts"] = self.max_attempts
        if self.expire_after_minutes is not None:
            out["ExpireAfterMin"] = self.expire_after_minutes
        return out


# Transient failures worth retrying on every job step: capacity (spot), throttling and service faults.
DEFAULT_JOB_RETRY = RetryPolicy(("SageMaker.CAPACITY_ERROR", "SageMaker.JOB_INTERNAL_ERROR", "Step.THROTTLING", "Step.SERVICE_FAULT"))


@dataclass(frozen=True)
class CacheConfig:
    """Reuse a previous successful run of a step with identical arguments, for ``expire_after`` (ISO 8601)."""

    expire_after: str = "P30D"
    enabled: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"Enabled": self.enabled, "ExpireAfter": self.expire_after}


class StepOptions(TypedDict, total=False):
    """What every step may take besides its own fields."""

    depends_on: Sequence[Step | str]
    display_name: str | None
    description: str


class JobStepOptions(StepOptions, total=False):
    """What every job step may take besides its own fields: retries (default: `DEFAULT_JOB_RETRY`) and caching."""

    retry_policies: Sequence[RetryPolicy]
    cache: CacheConfig | None


class Step(ABC):
    """The common part of every step: name, explicit dependencies, display name and description."""

    type_name = ""

    def __init__(
        self,
        name: str,
        *,
        depends_on: Sequence[Step | str] = (),
        display_name: str | None = None,
        description: str = "",
    ) -> None:
        self.name = name
        self.depends_on = [d.name if isinstance(d, Step) else d for d in depends_on]
        self.display_name = display_name
        self.description = description
        self._checks = _Checks()
        if not NAME.match(name):
            self._checks.add(f"name {name!r} is invalid: use 1-64 letters, digits, hyphens or underscores")
        if display_name is not None and not NAME.match(display_name):
            self._checks.add(f"display_name {display_name!r} is invalid: use 1-64 letters, digits, hyphens or underscores")
        if len(description) > 4096:
            self._checks.add(f"description is {len(description)} characters; at most 4096 are allowed")

    def _done(self) -> None:
        self._checks.raise_if_any(self.name)

    @abstractmethod
    def arguments(self) -> dict[str, Any]:
        """The step's ``Arguments`` (the request of the API call it makes)."""

    def extra(self) -> dict[str, Any]:
        """Top-level step fields besides the common ones (cache, retries, check settings)."""
        return {}

    def children(self) -> list[Step]:
        """Steps nested in this one (the branches of a condition)."""
        return []

    def property_files(self) -> list[PropertyFile]:
        return []

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": self.name, "Type": self.type_name}
        if self.depends_on:
            out["DependsOn"] = list(self.depends_on)
        if self.display_name:
            out["DisplayName"] = self.display_name
        if self.description:
            out["Description"] = self.description
        out.update(self.extra())
        out["Arguments"] = render(self.arguments())
        return out

    def prop(self, path: str, kind: Kind = "String") -> Property:
        """Any attribute of this step's job by its path in the Describe* response."""
        return Property(self.name, path, kind)


class JobStep(Step):
    """A step that runs a SageMaker job: it may retry and (where the service allows) be cached."""

    cacheable = True

    def __init__(
        self,
        name: str,
        *,
        job: JobEnvironment,
        retry_policies: Sequence[RetryPolicy] = (DEFAULT_JOB_RETRY,),
        cache: CacheConfig | None = None,
        **options: Unpack[StepOptions],
    ) -> None:
        super().__init__(name, **options)
        self.job = job
        self.retry_policies = list(retry_policies)
        self.cache = cache
        for policy in self.retry_policies:
            policy.check(self._checks, job_step=True)
        if cache is not None:
            if not self.cacheable:
                self._checks.add(f"cache: {self.type_name} steps cannot be cached")
            elif not ISO_DURATION.match(cache.expire_after):
                self._checks.add(f"cache: expire_after {cache.expire_after!r} is not an ISO 8601 duration like P30D or PT12H")

    def extra(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.retry_policies:
            out["RetryPolicies"] = [p.to_json() for p in self.retry_policies]
        if self.cache is not None:
            out["CacheConfig"] = self.cache.to_json()
        return out

def _hyperparameters(checks: _Checks, values: Mapping[str, Value]) -> dict[str, Any]:
    """The service takes hyperparameters as strings; literals are converted, expressions passed through."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (int, float)):
            out[key] = str(value)
        elif isinstance(value, (str, Expression)):
            out[key] = value
        else:
            checks.add(f"hyperparameters[{key}]: {value!r} is not a string, number, boolean or pipeline expression")
    return out


def _unique(checks: _Checks, what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            checks.add(f"duplicate {what} name {n!r}")
        seen.add(n)


__all__ = ["ApprovalStatus", "CacheConfig", "DEFAULT_JOB_RETRY", "JobEnvironment", "JobStep", "JobStepOptions", "RetryPolicy", "Step", "StepError", "StepOptions"]
