"""SageMaker model building pipelines without the SageMaker SDK: a typed definition builder and the
`TrainingPipeline` construct that deploys a definition with least-privilege roles.

Import everything from here::

    from mlops_estate.pipeline import TrainingPipeline, PipelineStorage, PipelineDefinition, ProcessingStep, LambdaStep, ...
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
from mlops_estate.pipeline import steps
from mlops_estate.pipeline.steps import *  # noqa: F403
from mlops_estate.pipeline.training_pipeline import CrossAccountStore, PipelineSchedule, PipelineStorage, TrainingPipeline

__all__ = [
    "Condition", "ConditionEquals", "ConditionGreaterThan", "ConditionGreaterThanOrEqualTo", "ConditionIn",
    "ConditionLessThan", "ConditionLessThanOrEqualTo", "ConditionNot", "ConditionNotEquals", "ConditionOr", "CrossAccountStore",
    "DEBUGGER_RULE_REGISTRIES", "Debugger", "DebuggerRule", "DebuggerSettings", "Distribution", "ExecutionVariables",
    "Expression", "Join", "JsonGet", "Parameter", "ParameterBoolean", "ParameterFloat", "ParameterInteger",
    "ParameterString", "PipelineDefinition", "PipelineDefinitionError", "PipelineSchedule", "PipelineStorage", "Profiler", "ProfilerRule",
    "ProfilerSettings", "Property", "PropertyFile", "RuleJob", "SMDDP_INSTANCE_TYPES", "TrainingPipeline", "Value",
    "debugger_rules_image",
]
__all__ += steps.__all__
