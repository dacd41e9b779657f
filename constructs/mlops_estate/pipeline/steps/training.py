"""Training steps: a training job, with spot, distribution, warm pools, Debugger and profiler.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Unpack

from mlops_estate.pipeline.debugger import Debugger, Profiler, distributed_debugging_problems
from mlops_estate.pipeline.distribution import RESERVED, Distribution, S3Distribution, literal
from mlops_estate.pipeline.expressions import Property, Value
from mlops_estate.pipeline.steps.base import STRING, JobEnvironment, JobStep, JobStepOptions, _Checks, _hyperparameters


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


__all__ = ["MetricDefinition", "SpotTraining", "TrainingInput", "TrainingStep"]
