"""How an endpoint serves a model: `ServingConfig` and the settings it is made of (variants, rollout, scaling,
data capture, serverless and asynchronous inference).

Each dataclass validates itself in ``check``; `ServingConfig.check` adds the rules that span several of them
(what SageMaker does not support together). `mlops_estate.serving.endpoint.ModelEndpoint` runs every check on
the props it is given (`validate_serving`); the estate file (``models[].serving.<env>``) parses into the same
classes and runs the same checks while it parses. Instance types given as tokens (deploy-time values) are not
checked.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Literal

from aws_cdk import Token

from mlops_estate.core.instance_types import has_local_storage
from mlops_estate.core.patterns import INSTANCE_TYPE, SAGEMAKER_NAME, SCHEDULE
from mlops_estate.core.validation import Problems, join

MIME_TYPE = re.compile(r"^[a-zA-Z0-9*][a-zA-Z0-9!#$&^_.+*-]*/[a-zA-Z0-9*][a-zA-Z0-9!#$&^_.+*-]*$")
METRIC_PART = re.compile(r"^[^:]{1,255}$")

PRIMARY_VARIANT = "primary"
# Serverless memory sizes SageMaker accepts (MB).
SERVERLESS_MEMORY = (1024, 2048, 3072, 4096, 5120, 6144)
# Application Auto Scaling's and this library's bound on a variant's instances (raise the quota and this together).
MAX_INSTANCES = 100

ServingMode = Literal["realtime", "serverless", "async"]
RolloutStrategy = Literal["all_at_once", "canary", "linear"]
ScalingMetric = Literal["invocations", "cpu", "gpu", "custom"]
Statistic = Literal["Average", "Sum", "Maximum", "Minimum", "SampleCount"]

GPU_FAMILIES = re.compile(r"^ml\.(g|p)\d")
EBS_BACKED_EXAMPLES = "ml.m5, ml.c5, ml.r5, ml.p3, ml.inf2, ..."


def instance_type_problem(value: str) -> str | None:
    """What is wrong with a literal instance type, if anything (a token is accepted: it is known at deploy time)."""
    if Token.is_unresolved(value) or INSTANCE_TYPE.match(value):
        return None
    return f"{value!r} is not a SageMaker instance type like ml.m5.large"


def is_gpu(instance_type: str) -> bool:
    return bool(GPU_FAMILIES.match(instance_type))


def _range(path: str, value: float, low: float, high: float, problems: Problems, what: str = "") -> None:
    if not low <= value <= high:
        problems.add(path, f"{value} is out of range; {what or 'it'} must lie in [{low:g}, {high:g}]")


@dataclass(frozen=True)
class VariantConfig:
    """A further production variant (A/B test) or the shadow variant, serving its own model.

    Attributes:
        name: the variant's name (letters, digits, single hyphens, up to 63; not ``primary``).
        weight: an A/B variant's traffic weight relative to the others; for a shadow variant the share of the
            primary's requests copied to it (0 < weight <= 1).
        instance_type: its instance type; the primary's when unset.
        min_instances: its initial (and minimum autoscaled) instance count; 1 when unset.
        max_instances: its maximum autoscaled instance count; ``min_instances`` when unset.
    """

    name: str
    weight: float = 1.0
    instance_type: str | None = None
    min_instances: int | None = None
    max_instances: int | None = None

    def check(self, path: str, problems: Problems) -> None:
        if not SAGEMAKER_NAME.match(self.name):
            problems.add(join(path, "name"), f"{self.name!r} is not a valid variant name (letters, digits, single hyphens, up to 63)")
        if self.weight < 0:
            problems.add(join(path, "weight"), f"{self.weight} is negative; weights are >= 0")
        if self.instance_type is not None and (problem := instance_type_problem(self.instance_type)):
            problems.add(join(path, "instance_type"), problem)
        if self.min_instances is not None and self.min_instances < 1:
            problems.add(join(path, "min_instances"), f"{self.min_instances} is below 1")
        if self.max_instances is not None and self.max_instances > MAX_INSTANCES:
            problems.add(join(path, "max_instances"), f"{self.max_instances} is above {MAX_INSTANCES} (raise the quota and this limit together)")
        if self.min_instances is not None and self.max_instances is not None and self.max_instances < self.min_instances:
            problems.add(join(path, "max_instances"), f"{self.max_instances} is below min_instances {self.min_instances}")


@dataclass(frozen=True)
class AlarmsConfig:
    """The alarms every endpoint variant gets; they roll a blue/green deployment back and notify the alarm topic.

    Attributes:
        latency_p99_ms: p99 model latency (milliseconds, 1-3,600,000) at or above which a minute counts as bad.
        errors_5xx: failed invocations a minute (5XX errors; failures for async endpoints) that count as bad.
        model_errors: model errors a minute that count as bad (not for async endpoints).
        evaluation_minutes: consecutive bad minutes (1-60) before an alarm fires.
    """

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

    Attributes:
        strategy: ``canary`` (a slice, then the rest), ``linear`` (equal steps) or ``all_at_once``.
        size_percent: the canary size (1-50 % of the fleet) or the linear step (10-50 %).
        wait_minutes: the bake after each step (0-60).
        termination_wait_minutes: how long the old fleet is kept after the last step (0-60).
        max_execution_minutes: the deadline of the whole deployment (10-480), at least the time it bakes.
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
    """A CloudWatch metric of the variant to track (its dimensions are EndpointName and VariantName).

    Attributes:
        namespace: the metric's namespace (1-255 characters, no ':').
        metric_name: the metric's name (1-255 characters, no ':').
        statistic: how datapoints are aggregated.
    """

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
    """A scheduled change of the primary variant's capacity bounds (e.g. business hours).

    Attributes:
        name: the action's name (letters, digits, single hyphens).
        schedule: when: ``cron(<6 fields>)``, ``rate(<n> <minutes|hours|days>)`` or ``at(yyyy-mm-ddThh:mm:ss)`` (UTC).
        min_instances: the lower bound from then on (0 or more).
        max_instances: the upper bound from then on (at least ``min_instances``, at most 100).
    """

    name: str
    schedule: str
    min_instances: int
    max_instances: int

    def check(self, path: str, problems: Problems) -> None:
        if not SAGEMAKER_NAME.match(self.name):
            problems.add(join(path, "name"), f"{self.name!r} is not a valid action name (letters, digits, single hyphens)")
        if not SCHEDULE.match(self.schedule):
            problems.add(join(path, "schedule"), f"{self.schedule!r} is not a schedule; use cron(...), rate(...) or at(...)")
        if self.min_instances < 0:
            problems.add(join(path, "min_instances"), f"{self.min_instances} is negative; instance counts are >= 0")
        if self.max_instances > MAX_INSTANCES:
            problems.add(join(path, "max_instances"), f"{self.max_instances} is above {MAX_INSTANCES} (raise the quota and this limit together)")
        if self.max_instances < self.min_instances:
            problems.add(join(path, "max_instances"), f"{self.max_instances} is below min_instances {self.min_instances}")


@dataclass(frozen=True)
class ScalingConfig:
    """Target tracking per variant, and scheduled changes of the primary's bounds.

    Attributes:
        metric: what to track: invocations per instance (per minute), ``cpu`` or ``gpu`` utilisation (%), or a
            ``custom`` metric. Async endpoints always track their backlog (leave it at ``invocations``).
        target: the value to hold (above 0; at most 100 for utilisation).
        scale_in_cooldown_seconds: the wait after a scale-in (0-3600).
        scale_out_cooldown_seconds: the wait after a scale-out (0-3600).
        custom_metric: the metric to track, with ``metric`` ``custom`` only.
        scheduled: scheduled changes of the primary variant's bounds (unique names).
    """

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
    """What the endpoint records for Model Monitor.

    Attributes:
        enabled: ``None`` (the default) means on wherever SageMaker supports it (real-time and async), off for
            serverless; ``True`` or ``False`` decide explicitly.
        sampling_percentage: the share of requests captured (1-100).
        capture_input: whether requests are captured.
        capture_output: whether responses are captured (at least one of the two).
        csv_content_types: content types captured as CSV.
        json_content_types: content types captured as JSON.
    """

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
    """Serverless inference: memory per worker, concurrency limits, and an optional warm pool.

    Attributes:
        memory_mb: memory per worker: 1024-6144 MB in 1 GB steps.
        max_concurrency: concurrent invocations at most (1-200).
        provisioned_concurrency: workers kept warm (no cold starts), 0 to ``max_concurrency``.
        max_provisioned_concurrency: above ``provisioned_concurrency``, Application Auto Scaling moves the warm
            pool between the two to hold ``provisioned_utilization``; 0 keeps it fixed.
        provisioned_utilization: the warm pool's target utilisation, in (0, 1].
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
    """Asynchronous inference: requests queue up; the endpoint scales on its backlog, down to zero.

    Attributes:
        max_concurrent_invocations_per_instance: requests an instance works on at once (1-1000).
        backlog_per_instance: queued requests per instance to hold (above 0).
    """

    max_concurrent_invocations_per_instance: int = 4
    backlog_per_instance: float = 5.0

    def check(self, path: str, problems: Problems) -> None:
        _range(join(path, "max_concurrent_invocations_per_instance"), self.max_concurrent_invocations_per_instance, 1, 1000, problems)
        if self.backlog_per_instance <= 0:
            problems.add(join(path, "backlog_per_instance"), f"{self.backlog_per_instance} must be above 0")


@dataclass(frozen=True)
class ServingConfig:
    """How an endpoint serves its model: mode, instances, variants, rollout, alarms, scaling, data capture.

    The primary variant (named ``primary``) serves the endpoint's model with ``weight``; ``variants`` add A/B
    variants and ``shadow`` a shadow variant, each serving its own model.

    Attributes:
        mode: ``realtime`` (instances), ``serverless`` (no VPC, no data capture) or ``async`` (queued requests,
            scales to zero).
        instance_type: the primary variant's instance type (not used by serverless endpoints).
        min_instances: the primary's initial and minimum instance count (1 or more; 0 allowed for async).
        max_instances: the primary's maximum autoscaled instance count (at most 100).
        weight: the primary's traffic weight (>= 0; some production variant must get traffic).
        variants: further production variants (A/B), real-time only; not with a shadow variant.
        shadow: a shadow variant (real-time, with exactly one production variant) that gets copies of requests.
        rollout: the blue/green deployment settings.
        alarms: the rollback alarms' thresholds.
        scaling: autoscaling settings.
        data_capture: what the endpoint captures for Model Monitor.
        serverless: serverless settings (mode ``serverless`` only).
        async_inference: asynchronous inference settings (mode ``async`` only).
        volume_kms_key: whether the endpoint config encrypts the instances' storage volumes with the endpoint's
            CMK (KmsKeyId). Keep it on; SageMaker rejects a volume key on instance types with local NVMe
            storage (ml.g5, ml.p4d, ml.m5d, ...), which it encrypts with the instance's hardware module: serving
            on those is an explicit choice, ``False``, and only allowed then.
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
    volume_kms_key: bool = True

    @property
    def captures_data(self) -> bool:
        """Whether the endpoint captures data: as configured, else wherever SageMaker supports it (not serverless)."""
        enabled = self.data_capture.enabled
        return self.mode != "serverless" if enabled is None else enabled

    def instance_types(self) -> list[tuple[str, str]]:
        """(path, instance type) of every variant that runs on instances (none for serverless endpoints)."""
        if self.mode == "serverless":
            return []
        out = [("instance_type", self.instance_type)]
        out += [(f"variants[{i}].instance_type", v.instance_type) for i, v in enumerate(self.variants) if v.instance_type]
        if self.shadow is not None and self.shadow.instance_type:
            out.append(("shadow.instance_type", self.shadow.instance_type))
        return out

    def check(self, path: str, problems: Problems) -> None:
        if problem := instance_type_problem(self.instance_type):
            problems.add(join(path, "instance_type"), problem)
        floor = 0 if self.mode == "async" else 1  # only async endpoints can scale to zero
        if self.min_instances < floor:
            problems.add(join(path, "min_instances"), f"{self.min_instances} is below {floor} for mode {self.mode!r}")
        if self.max_instances < self.min_instances:
            problems.add(join(path, "max_instances"), f"{self.max_instances} is below min_instances {self.min_instances}")
        if self.max_instances > MAX_INSTANCES:
            problems.add(join(path, "max_instances"), f"{self.max_instances} is above {MAX_INSTANCES} (raise the quota and this limit together)")
        if self.weight < 0:
            problems.add(join(path, "weight"), f"{self.weight} is negative; weights are >= 0")
        self._check_combinations(path, problems)
        self._check_volume_key(path, problems)

    def _check_combinations(self, path: str, problems: Problems) -> None:
        """What SageMaker does not support together, and what the library insists on."""
        mode = self.mode
        if mode == "serverless":
            if self.data_capture.enabled:
                problems.add(join(path, "data_capture.enabled"), "serverless endpoints do not support data capture; use mode 'realtime' or 'async' to monitor the model")
            if self.variants:
                problems.add(join(path, "variants"), "serverless endpoints serve one production variant only")
            if self.scaling.scheduled:
                problems.add(join(path, "scaling.scheduled"), "serverless endpoints scale themselves; scheduled actions need mode 'realtime' or 'async'")
        if self.shadow is not None:
            if mode != "realtime":
                problems.add(join(path, "shadow"), f"shadow variants need mode 'realtime', not {mode!r}")
            if self.variants:
                problems.add(join(path, "shadow"), "a shadow variant needs exactly one production variant; remove variants or the shadow")
            if not 0 < self.shadow.weight <= 1:
                problems.add(join(path, "shadow.weight"), f"{self.shadow.weight} is out of range; the share of copied requests must lie in (0, 1]")
        if mode == "async" and self.variants:
            problems.add(join(path, "variants"), "async endpoints serve one production variant only")
        weights = [self.weight, *(v.weight for v in self.variants)]
        if all(w == 0 for w in weights):
            problems.add(join(path, "weight"), "every production variant has weight 0; at least one must receive traffic")
        names = [PRIMARY_VARIANT, *(v.name for v in self.variants)] + ([self.shadow.name] if self.shadow else [])
        for i, name in enumerate(names):
            if name in names[:i]:
                problems.add(join(path, "variants"), f"variant name {name!r} is used twice ({PRIMARY_VARIANT!r} is the primary's)")
        literal = [(where, t) for where, t in self.instance_types() if not Token.is_unresolved(t)]
        if self.scaling.metric == "gpu":
            for where, instance_type in literal:
                if where != "shadow.instance_type" and not is_gpu(instance_type):
                    problems.add(join(path, where), f"{instance_type!r} has no GPU, but scaling.metric is 'gpu'")
        inf1 = [t for where, t in literal if where != "shadow.instance_type" and t.startswith("ml.inf1.")]
        if inf1 and self.rollout.strategy != "all_at_once":
            problems.add(join(path, "rollout.strategy"), f"{self.rollout.strategy!r} traffic shifting is not available on Inf1 instances ({inf1[0]}); use 'all_at_once'")
        if mode == "async" and self.scaling.metric != "invocations":
            problems.add(join(path, "scaling.metric"), "async endpoints scale on their backlog; leave metric at 'invocations' (the default)")

    def _check_volume_key(self, path: str, problems: Problems) -> None:
        """SageMaker rejects a volume KMS key on instance storage it encrypts itself: refuse, never drop the key."""
        typed = [(where, t) for where, t in self.instance_types() if not Token.is_unresolved(t)]
        local = [(where, t) for where, t in typed if INSTANCE_TYPE.match(t) and has_local_storage(t)]
        if self.volume_kms_key:
            for where, instance_type in local:
                problems.add(
                    join(path, where),
                    f"{instance_type!r} has local NVMe instance storage, on which SageMaker rejects the endpoint's volume KMS key; "
                    f"choose an EBS-backed instance type ({EBS_BACKED_EXAMPLES}) or set volume_kms_key to false (SageMaker "
                    "then encrypts the instance storage with the instance's hardware module, not your key)",
                )
        elif self.mode == "serverless" or (not local and len(typed) == len(self.instance_types())):
            problems.add(
                join(path, "volume_kms_key"),
                "is false, but no variant runs on an instance type with local NVMe storage; only those cannot take the "
                "volume key: leave it true",
            )


def validate_serving(serving: ServingConfig, path: str, problems: Problems) -> None:
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
