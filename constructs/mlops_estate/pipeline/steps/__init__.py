"""The steps of a SageMaker model building pipeline, emitted as the JSON the service accepts: one module per
step family (`base` holds what every step shares). Everything is re-exported here and from `mlops_estate.pipeline`."""

from mlops_estate.pipeline.steps.base import (
    DEFAULT_JOB_RETRY,
    ApprovalStatus,
    CacheConfig,
    JobEnvironment,
    JobStep,
    RetryPolicy,
    Step,
    StepError,
)
from mlops_estate.pipeline.steps.condition import ConditionStep, FailStep
from mlops_estate.pipeline.steps.model import CreateModelStep, MetricsSource, ModelMetrics, RegisterModelStep
from mlops_estate.pipeline.steps.processing import (
    ClarifyCheckStep,
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    QualityCheckStep,
)
from mlops_estate.pipeline.steps.training import MetricDefinition, SpotTraining, TrainingInput, TrainingStep
from mlops_estate.pipeline.steps.transform import TransformStep
from mlops_estate.pipeline.steps.tuning import CategoricalRange, ContinuousRange, IntegerRange, TuningObjective, TuningStep

__all__ = [
    "ApprovalStatus", "CacheConfig", "CategoricalRange", "ClarifyCheckStep", "ConditionStep", "ContinuousRange",
    "CreateModelStep", "DEFAULT_JOB_RETRY", "FailStep", "IntegerRange", "JobEnvironment", "JobStep", "MetricDefinition",
    "MetricsSource", "ModelMetrics", "ProcessingInput", "ProcessingOutput", "ProcessingStep", "QualityCheckStep",
    "RegisterModelStep", "RetryPolicy", "SpotTraining", "Step", "StepError", "TrainingInput", "TrainingStep",
    "TransformStep", "TuningObjective", "TuningStep",
]
