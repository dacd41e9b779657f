"""SageMaker model building pipelines without the SageMaker SDK: a typed definition builder and the
`TrainingPipeline` construct that deploys a definition with a least-privilege role.

Import the builder from here::

    from mlops_estate.pipeline import PipelineDefinition, ParameterFloat, ProcessingStep, TrainingStep, ...
"""

from mlops_estate.pipeline.conditions import (
    Condition,
    ConditionEquals,
    ConditionGreaterThan,
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionLessThan,
    ConditionLessThanOrEqualTo,
    ConditionNot,
    ConditionNotEquals,
    ConditionOr,
)
from mlops_estate.pipeline.debugger import (
    DEBUGGER_RULE_REGISTRIES,
    Debugger,
    DebuggerRule,
    DebuggerSettings,
    Profiler,
    ProfilerRule,
    ProfilerSettings,
    RuleJob,
    debugger_rules_image,
)
from mlops_estate.pipeline.definition import PipelineDefinition, PipelineDefinitionError
from mlops_estate.pipeline.distribution import SMDDP_INSTANCE_TYPES, Distribution
from mlops_estate.pipeline.expressions import (
    ExecutionVariables,
    Expression,
    Join,
    JsonGet,
    Parameter,
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    Property,
    PropertyFile,
    Value,
)
from mlops_estate.pipeline.steps import (
    DEFAULT_JOB_RETRY,
    CacheConfig,
    CategoricalRange,
    ClarifyCheckStep,
    ConditionStep,
    ContinuousRange,
    CreateModelStep,
    FailStep,
    IntegerRange,
    JobEnvironment,
    MetricDefinition,
    MetricsSource,
    ModelMetrics,
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    QualityCheckStep,
    RegisterModelStep,
    RetryPolicy,
    SpotTraining,
    Step,
    StepError,
    TrainingInput,
    TrainingStep,
    TransformStep,
    TuningObjective,
    TuningStep,
)

__all__ = [
    "CacheConfig", "CategoricalRange", "ClarifyCheckStep", "Condition", "ConditionEquals", "ConditionGreaterThan",
    "ConditionGreaterThanOrEqualTo", "ConditionIn", "ConditionLessThan", "ConditionLessThanOrEqualTo", "ConditionNot",
    "ConditionNotEquals", "ConditionOr", "ConditionStep", "ContinuousRange", "CreateModelStep", "DEBUGGER_RULE_REGISTRIES",
    "DEFAULT_JOB_RETRY", "Debugger", "DebuggerRule", "DebuggerSettings", "Distribution", "ExecutionVariables", "Expression", "FailStep", "IntegerRange", "JobEnvironment", "Join", "JsonGet",
    "MetricDefinition", "MetricsSource", "ModelMetrics", "Parameter", "ParameterBoolean", "ParameterFloat",
    "ParameterInteger", "ParameterString", "PipelineDefinition", "PipelineDefinitionError", "ProcessingInput",
    "ProcessingOutput", "ProcessingStep", "Profiler", "ProfilerRule", "ProfilerSettings", "Property", "PropertyFile", "QualityCheckStep",
    "RegisterModelStep", "RetryPolicy", "RuleJob", "SMDDP_INSTANCE_TYPES", "SpotTraining", "Step", "StepError", "TrainingInput", "TrainingStep", "TransformStep",
    "TuningObjective", "TuningStep", "Value", "debugger_rules_image",
]
