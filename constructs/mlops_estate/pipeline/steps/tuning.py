"""Tuning steps: a hyperparameter tuning job over one training definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Unpack

from mlops_estate.pipeline.expressions import Join, Value
from mlops_estate.pipeline.steps.base import JobEnvironment, JobStep, JobStepOptions, _hyperparameters, _unique
from mlops_estate.pipeline.steps.training import MetricDefinition, SpotTraining, TrainingInput, _TrainingJob


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


__all__ = ["CategoricalRange", "ContinuousRange", "IntegerRange", "TuningObjective", "TuningStep"]
