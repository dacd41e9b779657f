"""The steps of a SageMaker model building pipeline, emitted as the JSON the service accepts.

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

from mlops_estate.pipeline.conditions import Condition
from mlops_estate.pipeline.debugger import Debugger, Profiler, distributed_debugging_problems
from mlops_estate.pipeline.distribution import RESERVED, Distribution, S3Distribution, literal
from mlops_estate.pipeline.expressions import (
    NAME,
    Expression,
    Join,
    JsonGet,
    Kind,
    Property,
    PropertyFile,
    Value,
    accepts,
    kind_of,
    render,
)

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


@dataclass(frozen=True)
class ProcessingInput:
    """An S3 prefix (or file) downloaded to ``destination`` in the container before the job starts."""

    name: str
    source: Value
    destination: str

    def to_json(self) -> dict[str, Any]:
        return {
            "InputName": self.name,
            "S3Input": {
                "S3Uri": self.source,
                "LocalPath": self.destination,
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
                "S3CompressionType": "None",
            },
        }


@dataclass(frozen=True)
class ProcessingOutput:
    """A container folder uploaded to ``destination`` in S3 when the job ends."""

    name: str
    source: str
    destination: Value

    def to_json(self) -> dict[str, Any]:
        return {
            "OutputName": self.name,
            "S3Output": {"S3Uri": self.destination, "LocalPath": self.source, "S3UploadMode": "EndOfJob"},
        }


CODE_DIR = "/opt/ml/processing/input/code"


class ProcessingStep(JobStep):
    """A processing job: a script (``code``, an S3 URI of a .py file) or a container entrypoint."""

    type_name = "Processing"

    def __init__(
        self,
        name: str,
        *,
        job: JobEnvironment,
        image_uri: Value,
        instance_type: Value,
        instance_count: Value = 1,
        volume_size_gb: Value = 30,
        code: str | None = None,
        entrypoint: Sequence[Value] = (),
        arguments: Sequence[Value] = (),
        inputs: Sequence[ProcessingInput] = (),
        outputs: Sequence[ProcessingOutput] = (),
        property_files: Sequence[PropertyFile] = (),
        environment: Mapping[str, Value] | None = None,
        max_runtime_seconds: Value = 3600,
        output_kms_key_id: str | None = None,
        **options: Unpack[JobStepOptions],
    ) -> None:
        super().__init__(name, job=job, **options)
        c = self._checks
        c.value("image_uri", image_uri, STRING)
        c.value("instance_type", instance_type, STRING)
        c.positive("instance_count", instance_count, 1, 100)
        c.positive("volume_size_gb", volume_size_gb, 1, 16384)
        c.positive("max_runtime_seconds", max_runtime_seconds, 1, 777600)
        self.inputs = list(inputs)
        self.entrypoint = list(entrypoint)
        if code is not None and entrypoint:
            c.add("give code (the script to run with python3) or an entrypoint, not both")
        elif code is not None:
            if not (S3_URI.match(code) or code.startswith("${Token")) or not code.endswith(".py"):
                c.add(f"code: {code!r} must be the S3 URI of a Python script (s3://bucket/path/script.py)")
            else:
                self.inputs.append(ProcessingInput("code", code, CODE_DIR))
                self.entrypoint = ["python3", f"{CODE_DIR}/{code.rsplit('/', 1)[-1]}"]
        if not self.entrypoint:
            c.add("give code (a script's S3 URI) or an entrypoint; the container needs something to run")
        for i, item in enumerate(self.entrypoint):
            c.value(f"entrypoint[{i}]", item, STRING)
        for i, item in enumerate(arguments):
            c.value(f"arguments[{i}]", item, STRING)
        for an_input in self.inputs:
            c.s3(f"inputs[{an_input.name}].source", an_input.source)
        for an_output in outputs:
            c.s3(f"outputs[{an_output.name}].destination", an_output.destination)
        for env_key, env_value in (environment or {}).items():
            c.value(f"environment[{env_key}]", env_value, STRING)
        _unique(c, "input", [i.name for i in self.inputs])
        _unique(c, "output", [o.name for o in outputs])
        _unique(c, "property file", [p.name for p in property_files])
        output_names = {o.name for o in outputs}
        for pf in property_files:
            if pf.output_name not in output_names:
                c.add(f"property file {pf.name!r} reads output {pf.output_name!r}, which this step does not have "
                      f"(outputs: {', '.join(sorted(output_names)) or 'none'})")
        self.image_uri = image_uri
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.volume_size_gb = volume_size_gb
        self.container_arguments = list(arguments)
        self.outputs = list(outputs)
        self._property_files = list(property_files)
        self.environment = dict(environment or {})
        self.max_runtime_seconds = max_runtime_seconds
        self.output_kms_key_id = output_kms_key_id or job.kms_key_id
        if not isinstance(self, _CheckStep):
            self._done()  # check steps validate their own fields first, then raise once

    def property_files(self) -> list[PropertyFile]:
        return list(self._property_files)

    def extra(self) -> dict[str, Any]:
        out = super().extra()
        if self._property_files:
            out["PropertyFiles"] = [p.declaration() for p in self._property_files]
        return out

    def arguments(self) -> dict[str, Any]:
        app: dict[str, Any] = {"ImageUri": self.image_uri, "ContainerEntrypoint": self.entrypoint}
        if self.container_arguments:
            app["ContainerArguments"] = self.container_arguments
        args: dict[str, Any] = {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": self.instance_type,
                    "InstanceCount": self.instance_count,
                    "VolumeSizeInGB": self.volume_size_gb,
                    "VolumeKmsKeyId": self.job.kms_key_id,
                }
            },
            "AppSpecification": app,
            "RoleArn": self.job.role_arn,
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_runtime_seconds},
            "NetworkConfig": {
                "EnableNetworkIsolation": self.job.network_isolation,
                "EnableInterContainerTrafficEncryption": self.job.inter_container_encryption,
                "VpcConfig": self.job.vpc_config(),
            },
        }
        if self.inputs:
            args["ProcessingInputs"] = [i.to_json() for i in self.inputs]
        if self.outputs:
            args["ProcessingOutputConfig"] = {"Outputs": [o.to_json() for o in self.outputs], "KmsKeyId": self.output_kms_key_id}
        if self.environment:
            args["Environment"] = self.environment
        return args

    def output_uri(self, output_name: str) -> Property:
        """The S3 URI an output was uploaded to."""
        if output_name not in {o.name for o in self.outputs}:
            raise ValueError(f"step {self.name!r} has no output {output_name!r} (outputs: {', '.join(o.name for o in self.outputs)})")
        return self.prop(f"ProcessingOutputConfig.Outputs['{output_name}'].S3Output.S3Uri")

    def json_get(self, property_file: PropertyFile | str, json_path: str, kind: Kind = "Float") -> JsonGet:
        """A value from one of this step's property files, e.g. ``json_get("Evaluation", "metrics.auc.value")``."""
        name = property_file if isinstance(property_file, str) else property_file.name
        for pf in self._property_files:
            if pf.name == name:
                return JsonGet(self.name, pf, json_path, kind)
        raise ValueError(f"step {self.name!r} declares no property file {name!r}")


@dataclass(frozen=True)
class TrainingInput:
    """A training channel: an S3 prefix (a literal or an upstream step's output).

    ``distribution`` ``ShardedByS3Key`` gives each instance of a multi-instance job a disjoint share of the
    prefix's objects (write at least as many objects as instances); ``FullyReplicated`` copies all to each.
    """

    s3_uri: Value
    content_type: str | None = None
    input_mode: Literal["File", "Pipe", "FastFile"] = "File"
    distribution: S3Distribution = "FullyReplicated"

    def to_json(self, channel: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ChannelName": channel,
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": self.s3_uri, "S3DataDistributionType": self.distribution}},
            "InputMode": self.input_mode,
        }
        if self.content_type:
            out["ContentType"] = self.content_type
        return out


@dataclass(frozen=True)
class SpotTraining:
    """Managed spot training: interrupted jobs resume from ``checkpoint_s3_uri``; wait at most ``max_wait_seconds``."""

    checkpoint_s3_uri: Value
    max_wait_seconds: int


@dataclass(frozen=True)
class MetricDefinition:
    name: str
    regex: str


class _TrainingJob:
    """The parts a training job and a tuning job's training definition share."""

    def __init__(
        self,
        checks: _Checks,
        *,
        job: JobEnvironment,
        image_uri: Value,
        instance_type: Value,
        instance_count: Value,
        volume_size_gb: Value,
        inputs: Mapping[str, TrainingInput],
        output_path: Value,
        max_runtime_seconds: int,
        spot: SpotTraining | None,
        metric_definitions: Sequence[MetricDefinition],
        output_kms_key_id: str | None,
    ) -> None:
        checks.value("image_uri", image_uri, STRING)
        checks.value("instance_type", instance_type, STRING)
        checks.positive("instance_count", instance_count, 1, 100)
        checks.positive("volume_size_gb", volume_size_gb, 1, 16384)
        checks.positive("max_runtime_seconds", max_runtime_seconds, 1, 2419200)
        checks.s3("output_path", output_path)
        if not inputs:
            checks.add("inputs: a training job needs at least one channel")
        for channel, item in inputs.items():
            if not re.fullmatch(r"[A-Za-z0-9\.\-_]{1,64}", channel):
                checks.add(f"inputs: channel name {channel!r} is invalid")
            checks.s3(f"inputs[{channel}].s3_uri", item.s3_uri)
            if item.distribution not in ("FullyReplicated", "ShardedByS3Key"):
                checks.add(f"inputs[{channel}].distribution {item.distribution!r} is not allowed; use FullyReplicated or ShardedByS3Key")
            elif item.distribution == "ShardedByS3Key" and literal(instance_count) == 1:
                checks.add(f"inputs[{channel}].distribution ShardedByS3Key with instance_count 1 shards across one instance; "
                           "use FullyReplicated, or instance_count > 1")
        if spot is not None:
            checks.s3("spot.checkpoint_s3_uri", spot.checkpoint_s3_uri)
            if spot.max_wait_seconds < max_runtime_seconds:
                checks.add(f"spot.max_wait_seconds {spot.max_wait_seconds} is below max_runtime_seconds {max_runtime_seconds}; "
                           "the wait must cover the run")
        self.job = job
        self.image_uri = image_uri
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.volume_size_gb = volume_size_gb
        self.inputs = dict(inputs)
        self.output_path = output_path
        self.max_runtime_seconds = max_runtime_seconds
        self.spot = spot
        self.metric_definitions = list(metric_definitions)
        self.output_kms_key_id = output_kms_key_id or job.kms_key_id

    def arguments(self) -> dict[str, Any]:
        algorithm: dict[str, Any] = {"TrainingImage": self.image_uri, "TrainingInputMode": "File"}
        if self.metric_definitions:
            algorithm["MetricDefinitions"] = [{"Name": m.name, "Regex": m.regex} for m in self.metric_definitions]
        stopping: dict[str, Any] = {"MaxRuntimeInSeconds": self.max_runtime_seconds}
        args: dict[str, Any] = {
            "AlgorithmSpecification": algorithm,
            "OutputDataConfig": {"S3OutputPath": self.output_path, "KmsKeyId": self.output_kms_key_id},
            "StoppingCondition": stopping,
            "ResourceConfig": {
                "InstanceCount": self.instance_count,
                "InstanceType": self.instance_type,
                "VolumeSizeInGB": self.volume_size_gb,
                "VolumeKmsKeyId": self.job.kms_key_id,
            },
            "RoleArn": self.job.role_arn,
            "InputDataConfig": [item.to_json(channel) for channel, item in self.inputs.items()],
            "VpcConfig": self.job.vpc_config(),
            "EnableNetworkIsolation": self.job.network_isolation,
            "EnableInterContainerTrafficEncryption": self.job.inter_container_encryption,
        }
        if self.spot is not None:
            args["EnableManagedSpotTraining"] = True
            stopping["MaxWaitTimeInSeconds"] = self.spot.max_wait_seconds
            args["CheckpointConfig"] = {"S3Uri": self.spot.checkpoint_s3_uri, "LocalPath": "/opt/ml/checkpoints"}
        return args


class TrainingStep(JobStep):
    """A training job. Managed spot is on unless ``spot=None`` is passed explicitly.

    Extras: ``distribution`` (the launcher of a framework container; `Distribution`), ``keep_alive_seconds``
    (a SageMaker managed warm pool kept for that long after the job, 0-3600; not with spot, and only once the
    account's warm-pool service quota for the instance type is raised from its default of 0), ``debugger``
    and ``profiler`` (`Debugger`, `Profiler`: hook, profiling and built-in rules; without a profiler the job
    says ``DisableProfiler``).
    Inter-container traffic encryption comes from the `JobEnvironment` and is on by default, which is what
    a multi-instance job needs.
    """

    type_name = "Training"

    def __init__(
        self,
        name: str,
        *,
        job: JobEnvironment,
        image_uri: Value,
        instance_type: Value,
        inputs: Mapping[str, TrainingInput],
        output_path: Value,
        spot: SpotTraining | None,
        instance_count: Value = 1,
        volume_size_gb: Value = 30,
        hyperparameters: Mapping[str, Value] | None = None,
        max_runtime_seconds: int = 3600,
        metric_definitions: Sequence[MetricDefinition] = (),
        output_kms_key_id: str | None = None,
        distribution: Distribution | None = None,
        keep_alive_seconds: int | None = None,
        debugger: Debugger | None = None,
        profiler: Profiler | None = None,
        **options: Unpack[JobStepOptions],
    ) -> None:
        super().__init__(name, job=job, **options)
        c = self._checks
        self.training = _TrainingJob(
            c, job=job, image_uri=image_uri, instance_type=instance_type, instance_count=instance_count,
            volume_size_gb=volume_size_gb, inputs=inputs, output_path=output_path, max_runtime_seconds=max_runtime_seconds,
            spot=spot, metric_definitions=metric_definitions, output_kms_key_id=output_kms_key_id,
        )
        self.hyperparameters = _hyperparameters(c, hyperparameters or {})
        if distribution is not None:
            for problem in distribution.problems(instance_type, instance_count):
                c.add(problem)
            clash = sorted(set(self.hyperparameters) & set(RESERVED))
            if clash:
                c.add(f"hyperparameters {clash} are set by distribution; remove them")
            self.hyperparameters.update(_hyperparameters(c, distribution.hyperparameters(instance_type)))
        if keep_alive_seconds is not None:
            if isinstance(keep_alive_seconds, bool) or not isinstance(keep_alive_seconds, int) or not 0 <= keep_alive_seconds <= 3600:
                c.add(f"keep_alive_seconds {keep_alive_seconds!r} is out of range; a warm pool is kept 0 to 3600 seconds")
            elif keep_alive_seconds and spot is not None:
                c.add(f"keep_alive_seconds {keep_alive_seconds}: SageMaker managed warm pools cannot be used with managed spot "
                      "training; pass spot=None or drop the warm pool")
        if debugger is not None:
            for problem in distributed_debugging_problems(distribution, checkpointing=spot is not None):
                c.add(problem)
        for extra in (debugger, profiler):
            if extra is not None:
                for problem in extra.problems():
                    c.add(problem)
                c.s3(f"{type(extra).__name__.lower()}.s3_output_path", extra.s3_output_path)
        self.distribution = distribution
        self.keep_alive_seconds = keep_alive_seconds
        self.debugger = debugger
        self.profiler = profiler
        self._done()

    def rule_images(self) -> list[str]:
        """The rule evaluator images the job's Debugger and profiler rules run (pulled with the job role)."""
        return sorted({i for i in (self.debugger and self.debugger.image, self.profiler and self.profiler.image) if i})

    def arguments(self) -> dict[str, Any]:
        args = self.training.arguments()
        if self.hyperparameters:
            args["HyperParameters"] = self.hyperparameters
        if self.keep_alive_seconds is not None:
            args["ResourceConfig"]["KeepAlivePeriodInSeconds"] = self.keep_alive_seconds
        if self.debugger is not None:
            args["DebugHookConfig"] = self.debugger.hook_config()
            if self.debugger.settings.rules:
                args["DebugRuleConfigurations"] = self.debugger.rule_configurations()
        if self.profiler is not None:
            args["ProfilerConfig"] = self.profiler.config()
            if self.profiler.settings.rules:
                args["ProfilerRuleConfigurations"] = self.profiler.rule_configurations()
        else:
            # Off unless asked for, explicitly: no system metrics land next to the model (its S3OutputPath).
            args["ProfilerConfig"] = {"DisableProfiler": True}
        return args

    @property
    def model_artifacts(self) -> Property:
        """The S3 URI of the trained model (model.tar.gz)."""
        return self.prop("ModelArtifacts.S3ModelArtifacts")


@dataclass(frozen=True)
class IntegerRange:
    name: str
    min_value: int
    max_value: int
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"


@dataclass(frozen=True)
class ContinuousRange:
    name: str
    min_value: float
    max_value: float
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"


@dataclass(frozen=True)
class CategoricalRange:
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class TuningObjective:
    metric_name: str
    type: Literal["Maximize", "Minimize"]


class TuningStep(JobStep):
    """A hyperparameter tuning job over one training definition."""

    type_name = "Tuning"

    def __init__(
        self,
        name: str,
        *,
        job: JobEnvironment,
        image_uri: Value,
        instance_type: Value,
        inputs: Mapping[str, TrainingInput],
        output_path: Value,
        spot: SpotTraining | None,
        objective: TuningObjective,
        ranges: Sequence[IntegerRange | ContinuousRange | CategoricalRange],
        metric_definitions: Sequence[MetricDefinition],
        max_jobs: int = 10,
        max_parallel_jobs: int = 2,
        strategy: Literal["Bayesian", "Random"] = "Bayesian",
        early_stopping: Literal["Off", "Auto"] = "Auto",
        static_hyperparameters: Mapping[str, Value] | None = None,
        instance_count: Value = 1,
        volume_size_gb: Value = 30,
        max_runtime_seconds: int = 3600,
        output_kms_key_id: str | None = None,
        **options: Unpack[JobStepOptions],
    ) -> None:
        super().__init__(name, job=job, **options)
        c = self._checks
        self.training = _TrainingJob(
            c, job=job, image_uri=image_uri, instance_type=instance_type, instance_count=instance_count,
            volume_size_gb=volume_size_gb, inputs=inputs, output_path=output_path, max_runtime_seconds=max_runtime_seconds,
            spot=spot, metric_definitions=metric_definitions, output_kms_key_id=output_kms_key_id,
        )
        if not ranges:
            c.add("ranges: a tuning job needs at least one hyperparameter range")
        for r in ranges:
            if isinstance(r, (IntegerRange, ContinuousRange)) and r.min_value >= r.max_value:
                c.add(f"ranges[{r.name}]: min_value {r.min_value} must be below max_value {r.max_value}")
            if isinstance(r, CategoricalRange) and not r.values:
                c.add(f"ranges[{r.name}]: a categorical range needs values")
        _unique(c, "range", [r.name for r in ranges])
        if objective.metric_name not in {m.name for m in metric_definitions}:
            c.add(f"objective: metric {objective.metric_name!r} is not among metric_definitions "
                  f"({', '.join(m.name for m in metric_definitions) or 'none'})")
        if not 1 <= max_parallel_jobs <= max_jobs:
            c.add(f"max_parallel_jobs {max_parallel_jobs} must lie in [1, max_jobs={max_jobs}]")
        self.static_hyperparameters = _hyperparameters(c, static_hyperparameters or {})
        overlap = sorted(set(self.static_hyperparameters) & {r.name for r in ranges})
        if overlap:
            c.add(f"static_hyperparameters {overlap} are also tuned; a hyperparameter is either static or a range")
        self.objective = objective
        self.ranges = list(ranges)
        self.max_jobs = max_jobs
        self.max_parallel_jobs = max_parallel_jobs
        self.strategy = strategy
        self.early_stopping = early_stopping
        self._done()

    def arguments(self) -> dict[str, Any]:
        definition = self.training.arguments()
        definition["StaticHyperParameters"] = self.static_hyperparameters
        definition["HyperParameterRanges"] = {
            "IntegerParameterRanges": [
                {"Name": r.name, "MinValue": str(r.min_value), "MaxValue": str(r.max_value), "ScalingType": r.scaling}
                for r in self.ranges if isinstance(r, IntegerRange)
            ],
            "ContinuousParameterRanges": [
                {"Name": r.name, "MinValue": str(r.min_value), "MaxValue": str(r.max_value), "ScalingType": r.scaling}
                for r in self.ranges if isinstance(r, ContinuousRange)
            ],
            "CategoricalParameterRanges": [{"Name": r.name, "Values": list(r.values)} for r in self.ranges if isinstance(r, CategoricalRange)],
        }
        return {
            "HyperParameterTuningJobConfig": {
                "Strategy": self.strategy,
                "HyperParameterTuningJobObjective": {"Type": self.objective.type, "MetricName": self.objective.metric_name},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": self.max_jobs, "MaxParallelTrainingJobs": self.max_parallel_jobs},
                "TrainingJobEarlyStoppingType": self.early_stopping,
            },
            "TrainingJobDefinition": definition,
        }

    def top_model_s3_uri(self, top_k: int = 0) -> Join:
        """The model of the ``top_k``-th best training job (0 = best)."""
        if not 0 <= top_k < self.max_jobs:
            raise ValueError(f"step {self.name!r}: top_k {top_k} must lie in [0, max_jobs={self.max_jobs})")
        job_name = self.prop(f"TrainingJobSummaries[{top_k}].TrainingJobName")
        return Join([self.training.output_path, job_name, "output/model.tar.gz"], on="/")


class CreateModelStep(Step):
    """A SageMaker model (for batch transform), VPC-bound and network-isolated like the jobs."""

    type_name = "Model"

    def __init__(
        self,
        name: str,
        *,
        job: JobEnvironment,
        image_uri: Value,
        model_data: Value,
        environment: Mapping[str, Value] | None = None,
        retry_policies: Sequence[RetryPolicy] = (),
        **options: Unpack[StepOptions],
    ) -> None:
        super().__init__(name, **options)
        self._checks.value("image_uri", image_uri, STRING)
        self._checks.s3("model_data", model_data)
        for env_key, env_value in (environment or {}).items():
            self._checks.value(f"environment[{env_key}]", env_value, STRING)
        for policy in retry_policies:
            policy.check(self._checks, job_step=False)
        self.job = job
        self.image_uri = image_uri
        self.model_data = model_data
        self.environment = dict(environment or {})
        self.retry_policies = list(retry_policies)
        self._done()

    def extra(self) -> dict[str, Any]:
        return {"RetryPolicies": [p.to_json() for p in self.retry_policies]} if self.retry_policies else {}

    def arguments(self) -> dict[str, Any]:
        container: dict[str, Any] = {"Image": self.image_uri, "ModelDataUrl": self.model_data}
        if self.environment:
            container["Environment"] = self.environment
        return {
            "ExecutionRoleArn": self.job.role_arn,
            "PrimaryContainer": container,
            "EnableNetworkIsolation": self.job.network_isolation,
            "VpcConfig": self.job.vpc_config(),
        }

    @property
    def model_name(self) -> Property:
        return self.prop("ModelName")


@dataclass(frozen=True)
class MetricsSource:
    """A metrics report in S3 attached to a model package."""

    s3_uri: Value
    content_type: str = "application/json"

    def to_json(self) -> dict[str, Any]:
        return {"ContentType": self.content_type, "S3Uri": self.s3_uri}


@dataclass(frozen=True)
class ModelMetrics:
    model_statistics: MetricsSource | None = None
    model_constraints: MetricsSource | None = None
    data_statistics: MetricsSource | None = None
    data_constraints: MetricsSource | None = None
    bias_report: MetricsSource | None = None
    explainability_report: MetricsSource | None = None

    def to_json(self) -> dict[str, Any]:
        def pair(stats: MetricsSource | None, cons: MetricsSource | None) -> dict[str, Any] | None:
            out = {k: v.to_json() for k, v in (("Statistics", stats), ("Constraints", cons)) if v is not None}
            return out or None

        result = {
            "ModelQuality": pair(self.model_statistics, self.model_constraints),
            "ModelDataQuality": pair(self.data_statistics, self.data_constraints),
            "Bias": {"Report": self.bias_report.to_json()} if self.bias_report else None,
            "Explainability": {"Report": self.explainability_report.to_json()} if self.explainability_report else None,
        }
        return {k: v for k, v in result.items() if v is not None}

    def sources(self) -> list[tuple[str, MetricsSource]]:
        return [(f.name, getattr(self, f.name)) for f in self.__dataclass_fields__.values() if getattr(self, f.name) is not None]


class RegisterModelStep(Step):
    """A model package version in a group (which may live in another account: pass the group's ARN).

    New versions wait for a human (``PendingManualApproval``) unless told otherwise.
    """

    type_name = "RegisterModel"

    def __init__(
        self,
        name: str,
        *,
        model_package_group: str,
        image_uri: Value,
        model_data: Value,
        content_types: Sequence[str] = ("text/csv",),
        response_types: Sequence[str] = ("text/csv",),
        realtime_instance_types: Sequence[str] = ("ml.m5.large",),
        transform_instance_types: Sequence[str] = ("ml.m5.large",),
        approval_status: ApprovalStatus | Expression = "PendingManualApproval",
        model_metrics: ModelMetrics | None = None,
        package_description: str = "",
        retry_policies: Sequence[RetryPolicy] = (),
        **options: Unpack[StepOptions],
    ) -> None:
        super().__init__(name, **options)
        c = self._checks
        if not model_package_group:
            c.add("model_package_group is required (a group name, or its ARN for a group in another account)")
        c.value("image_uri", image_uri, STRING)
        c.s3("model_data", model_data)
        c.value("approval_status", approval_status, STRING)
        if isinstance(approval_status, str) and approval_status not in ("PendingManualApproval", "Approved", "Rejected"):
            c.add(f"approval_status {approval_status!r} is not allowed; use PendingManualApproval, Approved or Rejected")
        if not content_types or not response_types:
            c.add("content_types and response_types must name at least one MIME type each")
        for label, source in (model_metrics.sources() if model_metrics else []):
            c.s3(f"model_metrics.{label}", source.s3_uri)
        for policy in retry_policies:
            policy.check(c, job_step=False)
        self.model_package_group = model_package_group
        self.image_uri = image_uri
        self.model_data = model_data
        self.content_types = list(content_types)
        self.response_types = list(response_types)
        self.realtime_instance_types = list(realtime_instance_types)
        self.transform_instance_types = list(transform_instance_types)
        self.approval_status = approval_status
        self.model_metrics = model_metrics
        self.package_description = package_description
        self.retry_policies = list(retry_policies)
        self._done()

    def extra(self) -> dict[str, Any]:
        return {"RetryPolicies": [p.to_json() for p in self.retry_policies]} if self.retry_policies else {}

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "ModelPackageGroupName": self.model_package_group,
            "InferenceSpecification": {
                "Containers": [{"Image": self.image_uri, "ModelDataUrl": self.model_data}],
                "SupportedContentTypes": self.content_types,
                "SupportedResponseMIMETypes": self.response_types,
                "SupportedRealtimeInferenceInstanceTypes": self.realtime_instance_types,
                "SupportedTransformInstanceTypes": self.transform_instance_types,
            },
            "ModelApprovalStatus": self.approval_status,
        }
        if self.model_metrics is not None:
            args["ModelMetrics"] = self.model_metrics.to_json()
        if self.package_description:
            args["ModelPackageDescription"] = self.package_description
        return args

    @property
    def model_package_arn(self) -> Property:
        return self.prop("ModelPackageArn")


class TransformStep(JobStep):
    """A batch transform job: scores every record under ``input_s3_uri`` with a model."""

    type_name = "Transform"

    def __init__(
        self,
        name: str,
        *,
        job: JobEnvironment,
        model_name: Value,
        instance_type: Value,
        input_s3_uri: Value,
        output_path: Value,
        instance_count: Value = 1,
        content_type: str = "text/csv",
        split_type: Literal["None", "Line", "RecordIO", "TFRecord"] = "Line",
        accept: str = "text/csv",
        assemble_with: Literal["None", "Line"] = "Line",
        batch_strategy: Literal["MultiRecord", "SingleRecord"] = "MultiRecord",
        max_payload_mb: int = 6,
        **options: Unpack[JobStepOptions],
    ) -> None:
        super().__init__(name, job=job, **options)
        c = self._checks
        c.value("model_name", model_name, STRING)
        c.value("instance_type", instance_type, STRING)
        c.positive("instance_count", instance_count, 1, 100)
        c.s3("input_s3_uri", input_s3_uri)
        c.s3("output_path", output_path)
        if not 0 <= max_payload_mb <= 100:
            c.add(f"max_payload_mb {max_payload_mb} must lie in [0, 100]")
        self.job = job
        self.model_name = model_name
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.input_s3_uri = input_s3_uri
        self.output_path = output_path
        self.content_type = content_type
        self.split_type = split_type
        self.accept = accept
        self.assemble_with = assemble_with
        self.batch_strategy = batch_strategy
        self.max_payload_mb = max_payload_mb
        self._done()

    def arguments(self) -> dict[str, Any]:
        return {
            "ModelName": self.model_name,
            "BatchStrategy": self.batch_strategy,
            "MaxPayloadInMB": self.max_payload_mb,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": self.input_s3_uri}},
                "ContentType": self.content_type,
                "SplitType": self.split_type,
            },
            "TransformOutput": {
                "S3OutputPath": self.output_path,
                "Accept": self.accept,
                "AssembleWith": self.assemble_with,
                "KmsKeyId": self.job.kms_key_id,
            },
            "TransformResources": {
                "InstanceCount": self.instance_count,
                "InstanceType": self.instance_type,
                "VolumeKmsKeyId": self.job.kms_key_id,
            },
        }

    @property
    def output_uri(self) -> Property:
        return self.prop("TransformOutput.S3OutputPath")


class _CheckStep(ProcessingStep):
    """A Model Monitor / Clarify processing job whose result the pipeline records as a baseline or a drift check."""

    check_type = ""

    def __init__(
        self,
        name: str,
        *,
        check_type: str,
        allowed: Sequence[str],
        model_package_group: str,
        skip_check: Value = False,
        register_new_baseline: Value = False,
        supplied_baseline_constraints: Value | None = None,
        **processing: Any,
    ) -> None:
        self.check_type = check_type
        self.model_package_group = model_package_group
        self.skip_check = skip_check
        self.register_new_baseline = register_new_baseline
        self.supplied_baseline_constraints = supplied_baseline_constraints
        super().__init__(name, **processing)
        c = self._checks
        if check_type not in allowed:
            c.add(f"check_type {check_type!r} is not allowed; use one of {', '.join(allowed)}")
        c.value("skip_check", skip_check, BOOLEAN)
        c.value("register_new_baseline", register_new_baseline, BOOLEAN)
        c.s3("supplied_baseline_constraints", supplied_baseline_constraints)

    def extra(self) -> dict[str, Any]:
        out = super().extra()
        out.update({
            "CheckType": self.check_type,
            "ModelPackageGroupName": self.model_package_group,
            "SkipCheck": render(self.skip_check),
            "RegisterNewBaseline": render(self.register_new_baseline),
        })
        if self.supplied_baseline_constraints is not None:
            out["SuppliedBaselineConstraints"] = render(self.supplied_baseline_constraints)
        return out


class QualityCheckStep(_CheckStep):
    """A data or model quality check (the Model Monitor analyzer image) against a supplied or new baseline."""

    type_name = "QualityCheck"

    def __init__(
        self,
        name: str,
        *,
        check_type: Literal["DATA_QUALITY", "MODEL_QUALITY"],
        model_package_group: str,
        supplied_baseline_statistics: Value | None = None,
        **kwargs: Any,
    ) -> None:
        self.supplied_baseline_statistics = supplied_baseline_statistics
        super().__init__(name, check_type=check_type, allowed=("DATA_QUALITY", "MODEL_QUALITY"),
                         model_package_group=model_package_group, **kwargs)
        self._checks.s3("supplied_baseline_statistics", supplied_baseline_statistics)
        self._done()

    def extra(self) -> dict[str, Any]:
        out = super().extra()
        if self.supplied_baseline_statistics is not None:
            out["SuppliedBaselineStatistics"] = render(self.supplied_baseline_statistics)
        return out

    @property
    def calculated_statistics(self) -> Property:
        return self.prop("CalculatedBaselineStatistics")

    @property
    def calculated_constraints(self) -> Property:
        return self.prop("CalculatedBaselineConstraints")


class ClarifyCheckStep(_CheckStep):
    """A bias or explainability check (the Clarify image) driven by an analysis config among the inputs."""

    type_name = "ClarifyCheck"

    def __init__(
        self,
        name: str,
        *,
        check_type: Literal["DATA_BIAS", "MODEL_BIAS", "MODEL_EXPLAINABILITY"],
        model_package_group: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, check_type=check_type, allowed=("DATA_BIAS", "MODEL_BIAS", "MODEL_EXPLAINABILITY"),
                         model_package_group=model_package_group, **kwargs)
        self._done()

    @property
    def calculated_constraints(self) -> Property:
        return self.prop("CalculatedBaselineConstraints")


class FailStep(Step):
    """Stop the execution as failed with a message (a literal or a Join of values)."""

    type_name = "Fail"

    def __init__(self, name: str, *, error_message: Value, **options: Unpack[StepOptions]) -> None:
        super().__init__(name, **options)
        self._checks.value("error_message", error_message, STRING)
        self.error_message = error_message
        self._done()

    def arguments(self) -> dict[str, Any]:
        return {"ErrorMessage": self.error_message}


class ConditionStep(Step):
    """Run ``if_steps`` when every condition holds, else ``else_steps``."""

    type_name = "Condition"

    def __init__(
        self,
        name: str,
        *,
        conditions: Sequence[Condition],
        if_steps: Sequence[Step] = (),
        else_steps: Sequence[Step] = (),
        **options: Unpack[StepOptions],
    ) -> None:
        super().__init__(name, **options)
        if not conditions:
            self._checks.add("conditions: at least one condition is required")
        if not if_steps and not else_steps:
            self._checks.add("give if_steps or else_steps; a condition that branches nowhere does nothing")
        self.conditions = list(conditions)
        self.if_steps = list(if_steps)
        self.else_steps = list(else_steps)
        self._done()

    def children(self) -> list[Step]:
        return [*self.if_steps, *self.else_steps]

    def arguments(self) -> dict[str, Any]:
        return {
            "Conditions": [c.to_json() for c in self.conditions],
            "IfSteps": [s.to_json() for s in self.if_steps],
            "ElseSteps": [s.to_json() for s in self.else_steps],
        }

    @property
    def outcome(self) -> Property:
        return self.prop("Outcome", "Boolean")


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


__all__ = [
    "ApprovalStatus", "CacheConfig", "CategoricalRange", "ClarifyCheckStep", "ConditionStep", "ContinuousRange",
    "CreateModelStep", "DEFAULT_JOB_RETRY", "FailStep", "IntegerRange", "JobEnvironment", "JobStep", "MetricDefinition",
    "MetricsSource", "ModelMetrics", "ProcessingInput", "ProcessingOutput", "ProcessingStep", "QualityCheckStep",
    "RegisterModelStep", "RetryPolicy", "SpotTraining", "Step", "StepError", "TrainingInput", "TrainingStep",
    "TransformStep", "TuningObjective", "TuningStep",
]
