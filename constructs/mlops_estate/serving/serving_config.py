"""How an endpoint serves a model: `ServingConfig` and the settings it is made of (variants, rollout, scaling,
data capture, serverless and asynchronous inference).

Each dataclass validates itself in ``check`` and `check_serving` checks the rules that span several of them
(what SageMaker does not support together). `mlops_estate.serving.endpoint.ModelEndpoint` runs every check on
the props it is given; the estate file (``models[].serving.<env>``) parses into the same classes.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Literal, Protocol

from mlops_estate.core.validation import Problems, join

INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+[a-z0-9-]*\.(?:[0-9]*x?large|medium|small|xlarge|[0-9]+xlarge)$")
# SageMaker variant names: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
VARIANT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
SCHEDULE = re.compile(r"^(cron|rate|at)\(.+\)$")
MIME_TYPE = re.compile(r"^[a-zA-Z0-9*][a-zA-Z0-9!#$&^_.+*-]*/[a-zA-Z0-9*][a-zA-Z0-9!#$&^_.+*-]*$")
METRIC_PART = re.compile(r"^[^:]{1,255}$")

PRIMARY_VARIANT = "primary"
# Serverless memory sizes SageMaker accepts (MB).
SERVERLESS_MEMORY = (1024, 2048, 3072, 4096, 5120, 6144)

ServingMode = Literal["realtime", "serverless", "async"]
RolloutStrategy = Literal["all_at_once", "canary", "linear"]
ScalingMetric = Literal["invocations", "cpu", "gpu", "custom"]
Statistic = Literal["Average", "Sum", "Maximum", "Minimum", "SampleCount"]

GPU_FAMILIES = re.compile(r"^ml\.(g|p)\d")


def instance_type_problem(value: str) -> str | None:
    if INSTANCE_TYPE.match(value):
        return None
    return f"{value!r} is not a SageMaker instance type like ml.m5.large"


def is_gpu(instance_type: str) -> bool:
    return bool(GPU_FAMILIES.match(instance_type))


def _range(path: str, value: float, low: float, high: float, problems: Problems, what: str = "") -> None:
    if not low <= value <= high:
        problems.add(path, f"{value} is out of range; {what or 'it'} must lie in [{low:g}, {high:g}]")


@dataclass(frozen=True)
class VariantConfig:
    """A further production variant (A/B test) or the shadow variant, serving its own model package.

    ``instance_type`` and the instance counts default to the primary variant's. For a shadow variant
    ``weight`` is the share of production requests copied to it (0 < weight <= 1 of the primary's weight).
    """

    name: str
    weight: float = 1.0
    instance_type: str | None = None
    min_instances: int | None = None
    max_instances: int | None = None

    def check(self, path: str, problems: Problems) -> None:
        if not VARIANT_NAME.match(self.name):
            problems.add(join(path, "name"), f"{self.name!r} is not a valid variant name (letters, digits, single hyphens, up to 63)")
        if self.weight < 0:
            problems.add(join(path, "weight"), f"{self.weight} is negative; weights are >= 0")
        if self.instance_type is not None and (problem := instance_type_problem(self.instance_type)):
            problems.add(join(path, "instance_type"), problem)
        if self.min_instances is not None and self.min_instances < 1:
            problems.add(join(path, "min_instances"), f"{self.min_instances} is below 1")
        if self.min_instances is not None and self.max_instances is not None and self.max_instances < self.min_instances:
            problems.add(join(path, "max_instances"), f"{self.max_instances} is below min_instances {self.min_instances}")


@dataclass(frozen=True)
class AlarmsConfig:
    """The alarms every endpoint gets; they roll a blue/green deployment back and notify the alarm topic."""

    latency_p99_ms: int = 1000
    errors_5xx: int = 5
    model_errors: int = 5
    evaluation_minutes: int = 3

    def check(self, path: str, problems: Problems) -> None:
        _range(join(path, "latency_p99_ms"), self.latency_p99_ms, 1, 3_600_000, problems, "the p99 model latency threshold (ms)")
        _range(join(path, "errors_5xx"), self.errors_5xx, 1, 1_000_000, problems, "the 5XX errors per minute threshold")
        _range(join(path, "model_errors"), self.model_errors, 1, 1_000_000, problems, "the model errors per minute threshold")
        _range(join(path, "evaluation_minutes"), self.evaluation_minutes, 1, 60, problems, "the evaluation window (minutes)")


@dataclass(frozen=True)
class RolloutConfig:
    """Blue/green deployment: how traffic moves to the new fleet and how long it bakes.

    ``size_percent`` is the canary size (1-50 % of the fleet) or the linear step (10-50 %);
    ``wait_minutes`` the bake after each step; ``termination_wait_minutes`` how long the old fleet is
    kept after the last step; ``max_execution_minutes`` the deadline of the whole deployment (10-480).
    """

    strategy: RolloutStrategy = "canary"
    size_percent: int = 10
    wait_minutes: int = 5
    termination_wait_minutes: int = 10
    max_execution_minutes: int = 60

    @property
    def steps(self) -> int:
        if self.strategy == "canary":
            return 2
        if self.strategy == "linear":
            return math.ceil(100 / self.size_percent) if self.size_percent > 0 else 0
        return 1

    def check(self, path: str, problems: Problems) -> None:
        if self.strategy == "canary":
            _range(join(path, "size_percent"), self.size_percent, 1, 50, problems, "a canary size (% of the fleet)")
        elif self.strategy == "linear":
            _range(join(path, "size_percent"), self.size_percent, 10, 50, problems, "a linear step (% of the fleet)")
        _range(join(path, "wait_minutes"), self.wait_minutes, 0, 60, problems, "the wait between steps (minutes)")
        _range(join(path, "termination_wait_minutes"), self.termination_wait_minutes, 0, 60, problems, "the termination wait (minutes)")
        _range(join(path, "max_execution_minutes"), self.max_execution_minutes, 10, 480, problems, "the deployment deadline (minutes)")
        baking = self.wait_minutes * max(self.steps - 1, 0) + self.termination_wait_minutes
        if self.max_execution_minutes < baking:
            problems.add(
                join(path, "max_execution_minutes"),
                f"{self.max_execution_minutes} is shorter than the {baking} minutes the {self.strategy} rollout bakes; raise it or bake less",
            )


@dataclass(frozen=True)
class CustomMetricConfig:
    """A CloudWatch metric of the variant to track (its dimensions are EndpointName and VariantName)."""

    namespace: str
    metric_name: str
    statistic: Statistic = "Average"

    def check(self, path: str, problems: Problems) -> None:
        for name in ("namespace", "metric_name"):
            value = getattr(self, name)
            if not METRIC_PART.match(value):
                problems.add(join(path, name), f"{value!r} is not a CloudWatch {name.replace('_', ' ')} (1-255 characters, no ':')")


@dataclass(frozen=True)
class ScheduledScalingConfig:
    """A scheduled change of the variant's capacity bounds (e.g. business hours)."""

    name: str
    schedule: str
    min_instances: int
    max_instances: int

    def check(self, path: str, problems: Problems) -> None:
        if not VARIANT_NAME.match(self.name):
            problems.add(join(path, "name"), f"{self.name!r} is not a valid action name (letters, digits, single hyphens)")
        if not SCHEDULE.match(self.schedule):
            problems.add(join(path, "schedule"), f"{self.schedule!r} is not a schedule; use cron(...), rate(...) or at(...)")
        if self.max_instances < self.min_instances:
            problems.add(join(path, "max_instances"), f"{self.max_instances} is below min_instances {self.min_instances}")


@dataclass(frozen=True)
class ScalingConfig:
    """Target tracking per variant: invocations per instance (per minute) by default, or CPU, GPU or a
    custom metric; cooldowns in seconds; optional scheduled actions."""

    metric: ScalingMetric = "invocations"
    target: float = 100.0
    scale_in_cooldown_seconds: int = 300
    scale_out_cooldown_seconds: int = 60
    custom_metric: CustomMetricConfig | None = None
    scheduled: tuple[ScheduledScalingConfig, ...] = ()

    def check(self, path: str, problems: Problems) -> None:
        if self.target <= 0:
            problems.add(join(path, "target"), f"{self.target} must be above 0")
        elif self.metric in ("cpu", "gpu") and self.target > 100:
            problems.add(join(path, "target"), f"{self.target} is above 100 % utilisation")
        for name in ("scale_in_cooldown_seconds", "scale_out_cooldown_seconds"):
            _range(join(path, name), getattr(self, name), 0, 3600, problems, "a cooldown (seconds)")
        if self.metric == "custom" and self.custom_metric is None:
            problems.add(join(path, "custom_metric"), "is required when metric is 'custom'")
        if self.metric != "custom" and self.custom_metric is not None:
            problems.add(join(path, "custom_metric"), f"is only used with metric 'custom', not {self.metric!r}")
        names = [s.name for s in self.scheduled]
        for i, name in enumerate(names):
            if name in names[:i]:
                problems.add(join(join(path, "scheduled"), i), f"duplicate scheduled action name {name!r}")


@dataclass(frozen=True)
class DataCaptureConfig:
    """What the endpoint records for Model Monitor. ``enabled`` left unset means on wherever SageMaker
    supports it (real-time and async), off for serverless."""

    enabled: bool | None = None
    sampling_percentage: int = 100
    capture_input: bool = True
    capture_output: bool = True
    csv_content_types: tuple[str, ...] = ("text/csv",)
    json_content_types: tuple[str, ...] = ("application/json",)

    def check(self, path: str, problems: Problems) -> None:
        _range(join(path, "sampling_percentage"), self.sampling_percentage, 1, 100, problems, "the sampling percentage")
        if not (self.capture_input or self.capture_output):
            problems.add(path, "captures neither input nor output; set enabled to false instead")
        for name in ("csv_content_types", "json_content_types"):
            for i, value in enumerate(getattr(self, name)):
                if not MIME_TYPE.match(value):
                    problems.add(join(join(path, name), i), f"{value!r} is not a content type like text/csv")


@dataclass(frozen=True)
class ServerlessConfig:
    """Serverless inference: memory per worker (1024-6144 MB in 1 GB steps), concurrency limits.

    ``provisioned_concurrency`` keeps that many workers warm (no cold starts); with
    ``max_provisioned_concurrency`` above it, Application Auto Scaling moves the warm pool between the
    two to hold ``provisioned_utilization`` (0-1).
    """

    memory_mb: int = 2048
    max_concurrency: int = 5
    provisioned_concurrency: int = 0
    max_provisioned_concurrency: int = 0
    provisioned_utilization: float = 0.7

    @property
    def scales_provisioned_concurrency(self) -> bool:
        return 0 < self.provisioned_concurrency < self.max_provisioned_concurrency

    def check(self, path: str, problems: Problems) -> None:
        if self.memory_mb not in SERVERLESS_MEMORY:
            problems.add(join(path, "memory_mb"), f"{self.memory_mb} is not allowed; use one of {', '.join(map(str, SERVERLESS_MEMORY))}")
        _range(join(path, "max_concurrency"), self.max_concurrency, 1, 200, problems, "the maximum concurrency")
        if not 0 <= self.provisioned_concurrency <= self.max_concurrency:
            problems.add(
                join(path, "provisioned_concurrency"),
                f"{self.provisioned_concurrency} is out of range; it must lie in [0, max_concurrency {self.max_concurrency}]",
            )
        if self.max_provisioned_concurrency and not self.provisioned_concurrency <= self.max_provisioned_concurrency <= self.max_concurrency:
            problems.add(
                join(path, "max_provisioned_concurrency"),
                f"{self.max_provisioned_concurrency} is out of range; it must lie in [provisioned_concurrency "
                f"{self.provisioned_concurrency}, max_concurrency {self.max_concurrency}]",
            )
        if self.max_provisioned_concurrency and self.provisioned_concurrency < 1:
            problems.add(join(path, "provisioned_concurrency"), "must be at least 1 to scale provisioned concurrency")
        if not 0 < self.provisioned_utilization <= 1:
            problems.add(join(path, "provisioned_utilization"), f"{self.provisioned_utilization} is out of range; it must lie in (0, 1]")


@dataclass(frozen=True)
class AsyncInferenceConfig:
    """Asynchronous inference: requests queue up; the endpoint scales on its backlog, down to zero."""

    max_concurrent_invocations_per_instance: int = 4
    backlog_per_instance: float = 5.0

    def check(self, path: str, problems: Problems) -> None:
        _range(join(path, "max_concurrent_invocations_per_instance"), self.max_concurrent_invocations_per_instance, 1, 1000, problems)
        if self.backlog_per_instance <= 0:
            problems.add(join(path, "backlog_per_instance"), f"{self.backlog_per_instance} must be above 0")


class ServingSettings(Protocol):
    """What the cross-field checks read of a `ServingConfig`."""

    @property
    def mode(self) -> str: ...
    @property
    def instance_type(self) -> str: ...
    @property
    def weight(self) -> float: ...
    @property
    def variants(self) -> tuple[VariantConfig, ...]: ...
    @property
    def shadow(self) -> VariantConfig | None: ...
    @property
    def scaling(self) -> ScalingConfig: ...
    @property
    def data_capture(self) -> DataCaptureConfig: ...
    @property
    def rollout(self) -> RolloutConfig: ...


def validate_serving(serving: ServingSettings, path: str, problems: Problems) -> None:
    """Run every ``check`` of a config made in code (parsing runs them while it builds one)."""

    def walk(obj: object, where: str) -> None:
        for f in dataclasses.fields(obj):  # type: ignore[arg-type]
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, join(where, f.name))
            elif isinstance(value, tuple):
                for i, item in enumerate(value):
                    if dataclasses.is_dataclass(item):
                        walk(item, join(join(where, f.name), i))
        check = getattr(obj, "check", None)
        if check is not None:
            check(where, problems)

    walk(serving, path)


def check_serving(serving: ServingSettings, path: str, problems: Problems) -> None:
    """What SageMaker does not support together, and what the estate insists on."""
    mode = serving.mode
    if mode == "serverless":
        if serving.data_capture.enabled:
            problems.add(join(path, "data_capture.enabled"), "serverless endpoints do not support data capture; use mode 'realtime' or 'async' to monitor the model")
        if serving.variants:
            problems.add(join(path, "variants"), "serverless endpoints serve one production variant only")
        if serving.scaling.scheduled:
            problems.add(join(path, "scaling.scheduled"), "serverless endpoints scale themselves; scheduled actions need mode 'realtime' or 'async'")
    if serving.shadow is not None:
        if mode != "realtime":
            problems.add(join(path, "shadow"), f"shadow variants need mode 'realtime', not {mode!r}")
        if serving.variants:
            problems.add(join(path, "shadow"), "a shadow variant needs exactly one production variant; remove variants or the shadow")
        if not 0 < serving.shadow.weight <= 1:
            problems.add(join(path, "shadow.weight"), f"{serving.shadow.weight} is out of range; the share of copied requests must lie in (0, 1]")
    if mode == "async" and serving.variants:
        problems.add(join(path, "variants"), "async endpoints serve one production variant only")
    weights = [serving.weight, *(v.weight for v in serving.variants)]
    if all(w == 0 for w in weights):
        problems.add(join(path, "weight"), "every production variant has weight 0; at least one must receive traffic")
    names = [PRIMARY_VARIANT, *(v.name for v in serving.variants)] + ([serving.shadow.name] if serving.shadow else [])
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.add(join(path, "variants"), f"variant name {name!r} is used twice ({PRIMARY_VARIANT!r} is the primary's)")
    if serving.scaling.metric == "gpu":
        for where, instance_type in [("instance_type", serving.instance_type)] + [
            (f"variants[{i}].instance_type", v.instance_type) for i, v in enumerate(serving.variants) if v.instance_type
        ]:
            if not is_gpu(instance_type):
                problems.add(join(path, where), f"{instance_type!r} has no GPU, but scaling.metric is 'gpu'")
    inf1 = [t for t in [serving.instance_type, *(v.instance_type for v in serving.variants if v.instance_type)] if t.startswith("ml.inf1.")]
    if inf1 and mode != "serverless" and serving.rollout.strategy != "all_at_once":
        problems.add(join(path, "rollout.strategy"), f"{serving.rollout.strategy!r} traffic shifting is not available on Inf1 instances ({inf1[0]}); use 'all_at_once'")
    if mode == "async" and serving.scaling.metric != "invocations":
        problems.add(join(path, "scaling.metric"), "async endpoints scale on their backlog; leave metric at 'invocations' (the default)")


@dataclass(frozen=True)
class ServingConfig:
    """How one environment serves a model (the settings are described in this module).

    The primary variant serves the approved model package with ``weight``; ``variants`` add A/B
    variants and ``shadow`` a shadow variant, each serving its own model package.
    """

    mode: ServingMode = "realtime"
    instance_type: str = "ml.m5.large"
    min_instances: int = 1
    max_instances: int = 2
    weight: float = 1.0
    variants: tuple[VariantConfig, ...] = ()
    shadow: VariantConfig | None = None
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    data_capture: DataCaptureConfig = field(default_factory=DataCaptureConfig)
    serverless: ServerlessConfig = field(default_factory=ServerlessConfig)
    async_inference: AsyncInferenceConfig = field(default_factory=AsyncInferenceConfig)

    def check(self, path: str, problems: Problems) -> None:
        if not INSTANCE_TYPE.match(self.instance_type):
            problems.add(join(path, "instance_type"), f"{self.instance_type!r} is not a SageMaker instance type like ml.m5.large")
        floor = 0 if self.mode == "async" else 1  # only async endpoints can scale to zero
        if self.min_instances < floor:
            problems.add(join(path, "min_instances"), f"{self.min_instances} is below {floor} for mode {self.mode!r}")
        if self.max_instances < self.min_instances:
            problems.add(join(path, "max_instances"), f"{self.max_instances} is below min_instances {self.min_instances}")
        if self.max_instances > 100:
            problems.add(join(path, "max_instances"), f"{self.max_instances} is above 100 (raise the quota and this limit together)")
        if self.weight < 0:
            problems.add(join(path, "weight"), f"{self.weight} is negative; weights are >= 0")
        check_serving(self, path, problems)
