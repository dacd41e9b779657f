"""The common part of every step: name, dependencies, retries, caching, the job environment, and what a step
declares for the pipeline around it (the IAM its pipeline role needs, the images its jobs pull, where its job's
security settings sit).

Every job step takes a `JobEnvironment`: the job role, VPC subnets and security groups, and the KMS key
for volumes and outputs. The environment turns on network isolation and inter-container traffic
encryption by default, so a step cannot forget them. Field values are checked when a step is built
(`fields`): every problem of a step is raised at once, as one `StepError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypedDict, Unpack

from mlops_estate.core.validation import ConfigError, Problems
from mlops_estate.pipeline.expressions import Kind, Property, PropertyFile, Value, render
from mlops_estate.pipeline.steps.fields import ISO_DURATION, check_name
from mlops_estate.pipeline.steps.permissions import JobSecurity, PipelineRoleScope, RoleGrant, SageMakerJob

StepExceptionType = Literal["Step.SERVICE_FAULT", "Step.THROTTLING"]
JobExceptionType = Literal["SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT"]
EXCEPTION_TYPES = ("Step.SERVICE_FAULT", "Step.THROTTLING", "SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT")
ApprovalStatus = Literal["PendingManualApproval", "Approved", "Rejected"]


class StepError(ConfigError):
    """All problems of one step, raised once: a `ConfigError` (so a ValueError) whose source is the step.

    Attributes:
        step: the step's name.
        problems: every problem, each ``<field path>: <what is wrong, the value quoted, what is allowed>``.
    """

    def __init__(self, step: str, problems: list[str]) -> None:
        self.step = step
        super().__init__(f"step {step!r}", problems)


@dataclass(frozen=True)
class JobEnvironment:
    """Where and as whom every job of a pipeline runs. `TrainingPipeline` makes one for its job role.

    Attributes:
        role_arn: the job role (the RoleArn / ExecutionRoleArn of every job and model).
        subnet_ids: the VPC subnets every job runs in (at least one).
        security_group_ids: the security groups of every job (at least one).
        kms_key_id: the KMS key (ARN) of every volume and output.
        network_isolation: run containers without network access (EnableNetworkIsolation).
        inter_container_encryption: encrypt traffic between the instances of a job.
    """

    role_arn: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    kms_key_id: str
    network_isolation: bool = True
    inter_container_encryption: bool = True

    def __post_init__(self) -> None:
        problems = Problems()
        for name in ("subnet_ids", "security_group_ids"):
            if not getattr(self, name):
                problems.add(name, f"{getattr(self, name)!r} is empty; jobs run in the VPC, expected at least one id")
        if not self.kms_key_id:
            problems.add("kms_key_id", f"{self.kms_key_id!r} is empty; expected the ARN of the key of volumes and outputs")
        problems.raise_if_any("JobEnvironment")

    def vpc_config(self) -> dict[str, list[str]]:
        return {"SecurityGroupIds": list(self.security_group_ids), "Subnets": list(self.subnet_ids)}


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a step on the given failures, with exponential backoff, up to ``max_attempts`` or ``expire_after_minutes``.

    Attributes:
        exception_types: the failures to retry (``Step.*`` on every step, ``SageMaker.*`` on job steps too).
        interval_seconds: the wait before the first retry, 1 to 43200.
        backoff_rate: the factor by which the wait grows per retry, at least 1.0.
        max_attempts: at most this many retries, 1 to 20 (give this or ``expire_after_minutes``).
        expire_after_minutes: retry for at most this long, up to 14400 (give this or ``max_attempts``).
    """

    exception_types: tuple[str, ...]
    interval_seconds: int = 10
    backoff_rate: float = 2.0
    max_attempts: int | None = 3
    expire_after_minutes: int | None = None

    def check(self, problems: Problems, path: str, *, job_step: bool) -> None:
        allowed = EXCEPTION_TYPES if job_step else EXCEPTION_TYPES[:2]
        if not self.exception_types:
            problems.add(f"{path}.exception_types", f"{self.exception_types!r} is empty; expected some of {', '.join(allowed)}")
        for e in self.exception_types:
            if e not in allowed:
                problems.add(f"{path}.exception_types", f"{e!r} is not allowed on this step; expected one of {', '.join(allowed)}")
        if not 1 <= self.interval_seconds <= 43200:
            problems.add(f"{path}.interval_seconds", f"{self.interval_seconds!r} is out of range; allowed between 1 and 43200")
        if self.backoff_rate < 1.0:
            problems.add(f"{path}.backoff_rate", f"{self.backoff_rate!r} is below 1.0; expected at least 1.0")
        if (self.max_attempts is None) == (self.expire_after_minutes is None):
            problems.add(path, "give exactly one of max_attempts and expire_after_minutes")
        if self.max_attempts is not None and not 1 <= self.max_attempts <= 20:
            problems.add(f"{path}.max_attempts", f"{self.max_attempts!r} is out of range; allowed between 1 and 20")
        if self.expire_after_minutes is not None and not 0 < self.expire_after_minutes <= 14400:
            problems.add(f"{path}.expire_after_minutes", f"{self.expire_after_minutes!r} is out of range; allowed above 0 up to 14400")

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
    """Reuse a previous successful run of a step with identical arguments.

    Attributes:
        expire_after: how long a run may be reused, an ISO 8601 duration (``P30D``, ``PT12H``).
        enabled: whether caching is on.
    """

    expire_after: str = "P30D"
    enabled: bool = True

    def check(self, problems: Problems, path: str) -> None:
        if not ISO_DURATION.match(self.expire_after):
            problems.add(f"{path}.expire_after", f"{self.expire_after!r} is not an ISO 8601 duration; expected e.g. P30D or PT12H")

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


_STEP_TYPES: dict[str, type[Step]] = {}


def step_class(type_name: str) -> type[Step] | None:
    """The step class of a ``Type`` in definition JSON (every class that declares its own ``type_name``)."""
    return _STEP_TYPES.get(type_name)


class Step(ABC):
    """The common part of every step: name, explicit dependencies, display name and description.

    A step declares what the pipeline around it needs: `pipeline_role_grant` (the pipeline role's IAM),
    `images` (what its jobs pull with the job role) and `job_security` (where its job's security settings sit).

    Args:
        name: the step's name, unique in the pipeline (1-64 letters, digits, hyphens or underscores).
        depends_on: steps (or step names) that must finish first, besides those whose properties it uses.
        display_name: the name shown in Studio (same rules as ``name``).
        description: what the step does, up to 4096 characters.
    """

    type_name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("type_name")
        if own:
            _STEP_TYPES.setdefault(own, cls)

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
        self._problems = Problems()
        check_name(self._problems, "name", name)
        if display_name is not None:
            check_name(self._problems, "display_name", display_name)
        if len(description) > 4096:
            self._problems.add("description", f"is {len(description)} characters; at most 4096 are allowed")

    def _done(self) -> None:
        """Raise every problem found. Each concrete step calls it last; a subclass that adds fields to a concrete
        step checks them in an override of `_done` (then calls it), so the problems are still raised once."""
        if self._problems:
            raise StepError(self.name, self._problems.items)

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

    def pipeline_role_grant(self, scope: PipelineRoleScope) -> RoleGrant | None:
        """What the pipeline role needs to run this step; None when the step makes no call of its own."""
        return None

    def images(self) -> list[Value]:
        """The container images this step's jobs (or model) pull with the job role."""
        return []

    @classmethod
    def job_security(cls, arguments: Mapping[str, Any]) -> JobSecurity | None:
        """Where the security settings of the job this step type creates sit in its rendered ``arguments``; None
        for a step that creates no job."""
        return None

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
    """A step that runs a SageMaker job: it may retry and be cached, and its pipeline role may create, describe and
    stop exactly its job type (`sagemaker_job`), isolated in the pipeline's VPC (`create_conditions`).

    Args:
        name: see `Step`.
        job: the `JobEnvironment` (role, VPC placement, KMS key) the job runs with.
        retry_policies: retries on failure (default: `DEFAULT_JOB_RETRY`).
        cache: reuse of an identical earlier run (default: none).
        **options: ``depends_on``, ``display_name``, ``description`` (see `Step`).
    """

    sagemaker_job: ClassVar[SageMakerJob]

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
        for i, policy in enumerate(self.retry_policies):
            policy.check(self._problems, f"retry_policies[{i}]", job_step=True)
        if cache is not None:
            cache.check(self._problems, "cache")

    def create_conditions(self, scope: PipelineRoleScope) -> Mapping[str, Any] | None:
        """The IAM conditions under which the pipeline role may create the job: isolated in the VPC."""
        return scope.isolated

    def pipeline_role_grant(self, scope: PipelineRoleScope) -> RoleGrant | None:
        return scope.job_grant(self.sagemaker_job, conditions=self.create_conditions(scope))

    def extra(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.retry_policies:
            out["RetryPolicies"] = [p.to_json() for p in self.retry_policies]
        if self.cache is not None:
            out["CacheConfig"] = self.cache.to_json()
        return out


__all__ = ["ApprovalStatus", "CacheConfig", "DEFAULT_JOB_RETRY", "JobEnvironment", "JobStep", "JobStepOptions", "RetryPolicy", "Step",
           "StepError", "StepOptions", "step_class"]
