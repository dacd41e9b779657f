"""Training steps: a training job, with spot, distribution, warm pools, Debugger and profiler."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Unpack

from mlops_estate.core.validation import Problems
from mlops_estate.pipeline.debugger import Debugger, Profiler, distributed_debugging_problems
from mlops_estate.pipeline.distribution import RESERVED, Distribution, S3Distribution, literal
from mlops_estate.pipeline.expressions import Property, Value
from mlops_estate.pipeline.steps.base import JobEnvironment, JobStep, JobStepOptions
from mlops_estate.pipeline.steps.fields import (
    STRING,
    check_choice,
    check_instance_type,
    check_kind,
    check_range,
    check_s3_uri,
    string_hyperparameters,
)
from mlops_estate.pipeline.steps.permissions import JobSecurity, PipelineRoleScope, SageMakerJob, get

CHANNEL_NAME = re.compile(r"^[A-Za-z0-9\.\-_]{1,64}$")
MAX_TRAINING_SECONDS = 2419200  # 28 days


@dataclass(frozen=True)
class TrainingInput:
    """A training channel: an S3 prefix (a literal or an upstream step's output).

    Attributes:
        s3_uri: the channel's S3 prefix.
        content_type: the MIME type of its records (optional).
        input_mode: ``File``, ``Pipe`` or ``FastFile``.
        distribution: ``ShardedByS3Key`` gives each instance of a multi-instance job a disjoint share of the
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
    """Managed spot training: an interrupted job resumes from its checkpoints.

    Attributes:
        checkpoint_s3_uri: where the job writes its checkpoints.
        max_wait_seconds: how long to wait for spot capacity and run, at least the job's max runtime.
    """

    checkpoint_s3_uri: Value
    max_wait_seconds: int


@dataclass(frozen=True)
class MetricDefinition:
    """A metric the service reads from the job's log.

    Attributes:
        name: the metric's name (a tuning objective names it).
        regex: a regular expression whose first group is the value.
    """

    name: str
    regex: str


class _TrainingJob:
    """The parts a training job and a tuning job's training definition share."""

    def __init__(
        self,
        problems: Problems,
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
        p = problems
        check_kind(p, "image_uri", image_uri, STRING)
        check_instance_type(p, "instance_type", instance_type, volume_key=True)
        check_range(p, "instance_count", instance_count, 1, 100)
        check_range(p, "volume_size_gb", volume_size_gb, 1, 16384)
        check_range(p, "max_runtime_seconds", max_runtime_seconds, 1, MAX_TRAINING_SECONDS)
        check_s3_uri(p, "output_path", output_path)
        if not inputs:
            p.add("inputs", "{} has no channel; a training job needs at least one")
        for channel, item in inputs.items():
            if not CHANNEL_NAME.match(channel):
                p.add(f"inputs[{channel}]", f"channel name {channel!r} is invalid; expected 1-64 of [A-Za-z0-9.-_]")
            check_s3_uri(p, f"inputs[{channel}].s3_uri", item.s3_uri)
            check_choice(p, f"inputs[{channel}].input_mode", item.input_mode, ("File", "Pipe", "FastFile"))
            if item.distribution not in ("FullyReplicated", "ShardedByS3Key"):
                p.add(f"inputs[{channel}].distribution", f"{item.distribution!r} is not allowed; use FullyReplicated or ShardedByS3Key")
            elif item.distribution == "ShardedByS3Key" and literal(instance_count) == 1:
                p.add(f"inputs[{channel}].distribution", "ShardedByS3Key with instance_count 1 shards across one instance; "
                      "use FullyReplicated, or instance_count > 1")
        for i, metric in enumerate(metric_definitions):
            if not metric.name or not metric.regex:
                p.add(f"metric_definitions[{i}]", f"{metric!r} needs a name and a regex")
        if spot is not None:
            check_s3_uri(p, "spot.checkpoint_s3_uri", spot.checkpoint_s3_uri)
            if spot.max_wait_seconds < max_runtime_seconds:
                p.add("spot.max_wait_seconds", f"{spot.max_wait_seconds!r} is below max_runtime_seconds {max_runtime_seconds}; "
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


def training_job_security(arguments: Mapping[str, Any]) -> JobSecurity:
    """Where a CreateTrainingJob request (or a tuning job's training definition) keeps its security settings."""
    return JobSecurity(
        volume_kms_key=get(arguments, "ResourceConfig", "VolumeKmsKeyId"),
        output_kms_key=get(arguments, "OutputDataConfig", "KmsKeyId"),
        network={key: arguments.get(key) for key in ("VpcConfig", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption")},
    )


class TrainingStep(JobStep):
    """A training job in the pipeline's VPC, isolated and encrypted with the environment's key.

    Inter-container traffic encryption comes from the `JobEnvironment` and is on by default, which is what a
    multi-instance job needs.

    Args:
        name: see `Step`.
        job: the `JobEnvironment` the job runs with.
        image_uri: the training image (a literal ECR image URI).
        instance_type: ``ml.<family>.<size>`` without local NVMe storage; a literal or a String parameter.
        inputs: the channels, by name (at least one).
        output_path: where the model artifacts go (S3).
        spot: managed spot training (`SpotTraining`), or None for on-demand; required, so the choice is explicit.
        instance_count: 1 to 100 instances.
        volume_size_gb: 1 to 16384 GB per instance.
        hyperparameters: passed to the container as strings (literals are converted).
        max_runtime_seconds: the job is stopped after this long, up to 28 days.
        metric_definitions: metrics read from the job's log.
        output_kms_key_id: the key of the model artifacts (default: the environment's key).
        distribution: the launcher of a framework container (`Distribution`).
        keep_alive_seconds: a SageMaker managed warm pool kept for that long after the job, 0-3600; not with spot,
            and only once the account's warm-pool service quota for the instance type is raised from its default 0.
        debugger: the Debugger hook and its built-in rules (`Debugger`).
        profiler: profiling and its rules (`Profiler`); without one the job says ``DisableProfiler``.
        **options: ``retry_policies``, ``cache``, ``depends_on``, ``display_name``, ``description`` (see `JobStep`).
    """

    type_name = "Training"
    sagemaker_job: ClassVar[SageMakerJob] = SageMakerJob(
        "training-job", "sagemaker:CreateTrainingJob", ("sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"))

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
        p = self._problems
        self.training = _TrainingJob(
            p, job=job, image_uri=image_uri, instance_type=instance_type, instance_count=instance_count,
            volume_size_gb=volume_size_gb, inputs=inputs, output_path=output_path, max_runtime_seconds=max_runtime_seconds,
            spot=spot, metric_definitions=metric_definitions, output_kms_key_id=output_kms_key_id,
        )
        self.hyperparameters = string_hyperparameters(p, "hyperparameters", hyperparameters or {})
        if distribution is not None:
            for problem in distribution.problems(instance_type, instance_count):
                p.add("distribution", problem)
            clash = sorted(set(self.hyperparameters) & set(RESERVED))
            if clash:
                p.add("hyperparameters", f"{clash} are set by distribution; remove them")
            self.hyperparameters.update(string_hyperparameters(p, "distribution", distribution.hyperparameters(instance_type)))
        if keep_alive_seconds is not None:
            if isinstance(keep_alive_seconds, bool) or not isinstance(keep_alive_seconds, int) or not 0 <= keep_alive_seconds <= 3600:
                p.add("keep_alive_seconds", f"{keep_alive_seconds!r} is out of range; a warm pool is kept 0 to 3600 seconds")
            elif keep_alive_seconds and spot is not None:
                p.add("keep_alive_seconds", f"{keep_alive_seconds!r} asks for a SageMaker managed warm pool, which cannot be used "
                      "with managed spot training; pass spot=None or drop the warm pool")
        if debugger is not None:
            for problem in distributed_debugging_problems(distribution, checkpointing=spot is not None):
                p.add("debugger", problem)
        for path, extra in (("debugger", debugger), ("profiler", profiler)):
            if extra is not None:
                for problem in extra.problems():
                    p.add(path, problem)
                check_s3_uri(p, f"{path}.s3_output_path", extra.s3_output_path)
        self.distribution = distribution
        self.keep_alive_seconds = keep_alive_seconds
        self.debugger = debugger
        self.profiler = profiler
        self._done()

    def rule_images(self) -> list[str]:
        """The rule evaluator images the job's Debugger and profiler rules run (pulled with the job role)."""
        return sorted({i for i in (self.debugger and self.debugger.image, self.profiler and self.profiler.image) if i})

    def images(self) -> list[Value]:
        return [self.training.image_uri, *self.rule_images()]

    def create_conditions(self, scope: PipelineRoleScope) -> Mapping[str, Any] | None:
        # Warm pools are billed while they wait: no longer than this step asks for (0: none).
        return {**scope.isolated, "NumericLessThanEqualsIfExists": {"sagemaker:KeepAlivePeriod": str(self.keep_alive_seconds or 0)}}

    @classmethod
    def job_security(cls, arguments: Mapping[str, Any]) -> JobSecurity | None:
        return training_job_security(arguments)

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
