"""Tuning steps: a hyperparameter tuning job over one training definition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Unpack

from mlops_estate.pipeline.expressions import Join, Value
from mlops_estate.pipeline.steps.base import JobEnvironment, JobStep, JobStepOptions
from mlops_estate.pipeline.steps.fields import check_choice, check_unique, string_hyperparameters
from mlops_estate.pipeline.steps.permissions import JobSecurity, SageMakerJob
from mlops_estate.pipeline.steps.training import (
    MetricDefinition,
    SpotTraining,
    TrainingInput,
    _TrainingJob,
    training_job_security,
)

Scaling = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]
SCALINGS: tuple[str, ...] = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
# CreateHyperParameterTuningJob's ResourceLimits.
MAX_TRAINING_JOBS = 750
MAX_PARALLEL_TRAINING_JOBS = 100


@dataclass(frozen=True)
class IntegerRange:
    """An integer hyperparameter tuned between two bounds.

    Attributes:
        name: the hyperparameter.
        min_value: the lower bound (below ``max_value``).
        max_value: the upper bound.
        scaling: how the range is searched: ``Auto``, ``Linear``, ``Logarithmic`` or ``ReverseLogarithmic``.
    """

    name: str
    min_value: int
    max_value: int
    scaling: Scaling = "Auto"


@dataclass(frozen=True)
class ContinuousRange:
    """A continuous hyperparameter tuned between two bounds.

    Attributes:
        name: the hyperparameter.
        min_value: the lower bound (below ``max_value``).
        max_value: the upper bound.
        scaling: how the range is searched: ``Auto``, ``Linear``, ``Logarithmic`` or ``ReverseLogarithmic``.
    """

    name: str
    min_value: float
    max_value: float
    scaling: Scaling = "Auto"


@dataclass(frozen=True)
class CategoricalRange:
    """A hyperparameter tuned over a set of values.

    Attributes:
        name: the hyperparameter.
        values: the values to try (at least one).
    """

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class TuningObjective:
    """What the tuning job optimizes.

    Attributes:
        metric_name: one of the training definition's metric definitions.
        type: ``Maximize`` or ``Minimize``.
    """

    metric_name: str
    type: Literal["Maximize", "Minimize"]


class TuningStep(JobStep):
    """A hyperparameter tuning job over one training definition, its training jobs isolated in the pipeline's VPC.

    Args:
        name: see `Step`.
        job: the `JobEnvironment` the training jobs run with.
        image_uri: the training image (a literal ECR image URI).
        instance_type: ``ml.<family>.<size>`` without local NVMe storage; a literal or a String parameter.
        inputs: the channels, by name (at least one).
        output_path: where the training jobs' model artifacts go (S3).
        spot: managed spot training (`SpotTraining`), or None for on-demand.
        objective: the metric to maximize or minimize (one of ``metric_definitions``).
        ranges: the tuned hyperparameters (at least one, names unique).
        metric_definitions: metrics read from the training jobs' logs.
        max_jobs: training jobs in all, 1 to 750.
        max_parallel_jobs: training jobs at once, 1 to ``max_jobs`` (and at most 100).
        strategy: ``Bayesian`` or ``Random``.
        early_stopping: ``Off`` or ``Auto``.
        static_hyperparameters: hyperparameters every training job gets (none of them tuned).
        instance_count: 1 to 100 instances per training job.
        volume_size_gb: 1 to 16384 GB per instance.
        max_runtime_seconds: each training job is stopped after this long.
        output_kms_key_id: the key of the model artifacts (default: the environment's key).
        **options: ``retry_policies``, ``cache``, ``depends_on``, ``display_name``, ``description`` (see `JobStep`).
    """

    type_name = "Tuning"
    # Tuning jobs get generated names, and their training jobs are named after the tuning job.
    sagemaker_job: ClassVar[SageMakerJob] = SageMakerJob(
        "hyper-parameter-tuning-job", "sagemaker:CreateHyperParameterTuningJob",
        ("sagemaker:DescribeHyperParameterTuningJob", "sagemaker:StopHyperParameterTuningJob",
         "sagemaker:ListTrainingJobsForHyperParameterTuningJob"),
        name="*", also=("training-job",))

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
        p = self._problems
        self.training = _TrainingJob(
            p, job=job, image_uri=image_uri, instance_type=instance_type, instance_count=instance_count,
            volume_size_gb=volume_size_gb, inputs=inputs, output_path=output_path, max_runtime_seconds=max_runtime_seconds,
            spot=spot, metric_definitions=metric_definitions, output_kms_key_id=output_kms_key_id,
        )
        if not ranges:
            p.add("ranges", f"{list(ranges)!r} is empty; a tuning job needs at least one hyperparameter range")
        for r in ranges:
            if isinstance(r, (IntegerRange, ContinuousRange)):
                if r.min_value >= r.max_value:
                    p.add(f"ranges[{r.name}]", f"min_value {r.min_value!r} must be below max_value {r.max_value!r}")
                check_choice(p, f"ranges[{r.name}].scaling", r.scaling, SCALINGS)
            if isinstance(r, CategoricalRange) and not r.values:
                p.add(f"ranges[{r.name}].values", f"{r.values!r} is empty; a categorical range needs values")
        check_unique(p, "ranges", [r.name for r in ranges])
        if objective.metric_name not in {m.name for m in metric_definitions}:
            p.add("objective.metric_name", f"{objective.metric_name!r} is not among metric_definitions; expected one of "
                  f"{', '.join(m.name for m in metric_definitions) or 'none (define the metric)'}")
        check_choice(p, "objective.type", objective.type, ("Maximize", "Minimize"))
        check_choice(p, "strategy", strategy, ("Bayesian", "Random"))
        check_choice(p, "early_stopping", early_stopping, ("Off", "Auto"))
        if not 1 <= max_jobs <= MAX_TRAINING_JOBS:
            p.add("max_jobs", f"{max_jobs!r} is out of range; allowed between 1 and {MAX_TRAINING_JOBS}")
        if not 1 <= max_parallel_jobs <= min(max_jobs, MAX_PARALLEL_TRAINING_JOBS):
            p.add("max_parallel_jobs", f"{max_parallel_jobs!r} is out of range; allowed between 1 and max_jobs={max_jobs} "
                  f"(at most {MAX_PARALLEL_TRAINING_JOBS})")
        self.static_hyperparameters = string_hyperparameters(p, "static_hyperparameters", static_hyperparameters or {})
        overlap = sorted(set(self.static_hyperparameters) & {r.name for r in ranges})
        if overlap:
            p.add("static_hyperparameters", f"{overlap} are also tuned; a hyperparameter is either static or a range")
        self.objective = objective
        self.ranges = list(ranges)
        self.max_jobs = max_jobs
        self.max_parallel_jobs = max_parallel_jobs
        self.strategy = strategy
        self.early_stopping = early_stopping
        self._done()

    def images(self) -> list[Value]:
        return [self.training.image_uri]

    @classmethod
    def job_security(cls, arguments: Mapping[str, Any]) -> JobSecurity | None:
        # Its training jobs are described by the training job definition.
        definition = arguments.get("TrainingJobDefinition")
        return training_job_security(definition if isinstance(definition, Mapping) else {})

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


__all__ = ["CategoricalRange", "ContinuousRange", "IntegerRange", "TuningObjective", "TuningStep"]
