"""AWS's public pipeline-definition schema, with an explicit patch set for where it lags the service.

The schema (tests/data, provenance in tests/data/README.md) predates several constructs the service and
the SageMaker Python SDK use every day. Each patch below names the gap; nothing else is relaxed, so any
other deviation of a generated definition fails validation.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_FILE = Path(__file__).parent / "data" / "sagemaker-pipeline-definition.schema.json"
STEP_DEFS = ("ConditionStep", "TrainingStep", "ProcessingStep", "TransformStep", "CreateModelStep", "RegisterModelStep",
             "LambdaStep", "CallbackStep", "TuningStep", "ClarifyCheckStep", "QualityCheckStep", "EMRStep", "FailStep",
             "AutoMLStep", "EndpointStep", "EndpointConfigStep")
FUNCTIONS = [{"$ref": "#/definitions/GetFunction"}, {"$ref": "#/definitions/JsonGetFunction"}, {"$ref": "#/definitions/JoinFunction"}]


def raw_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def patched_schema() -> dict[str, Any]:
    schema = copy.deepcopy(raw_schema())
    d = schema["definitions"]

    # 1. Std:JsonGet (a value read from a step's property file) may stand wherever a Get may.
    d["JsonGetFunction"] = {
        "type": "object",
        "properties": {"Std:JsonGet": {
            "type": "object",
            "properties": {"PropertyFile": {"$ref": "#/definitions/GetFunction"}, "Path": {"type": "string"}},
            "required": ["PropertyFile", "Path"], "additionalProperties": False,
        }},
        "required": ["Std:JsonGet"], "additionalProperties": False,
    }
    # 2. Std:Join: the published JoinFunction nests Values/required under the property by mistake (so it
    #    checks nothing) and is referenced nowhere; define it as the service takes it and allow it where a Get may.
    d["JoinFunction"] = {
        "type": "object",
        "properties": {"Std:Join": {
            "type": "object",
            "properties": {"On": {"type": "string"}, "Values": {"type": "array", "items": {"anyOf": [
                {"type": ["string", "number", "boolean"]}, {"$ref": "#/definitions/GetFunction"},
                {"$ref": "#/definitions/JsonGetFunction"}]}}},
            "required": ["Values"], "additionalProperties": False,
        }},
        "required": ["Std:Join"], "additionalProperties": False,
    }
    for name, literal in (("StringArgumentValue", "string"), ("IntegerArgumentValue", "integer"),
                          ("FloatArgumentValue", "number"), ("BooleanArgumentValue", "boolean")):
        d[name] = {"oneOf": [{"type": literal}, *FUNCTIONS]}
    # 3. PropertyFiles on ProcessingStep and TuningStep (what JsonGet reads).
    property_files = {"type": "array", "items": {
        "type": "object",
        "properties": {"PropertyFileName": {"type": "string"}, "OutputName": {"type": "string"}, "FilePath": {"type": "string"}},
        "required": ["PropertyFileName", "OutputName", "FilePath"], "additionalProperties": False,
    }}
    d["ProcessingStep"]["properties"]["PropertyFiles"] = property_files
    d["TuningStep"]["properties"]["PropertyFiles"] = property_files
    # 4. The Not condition, and In in the shape the service takes ({"QueryValue", "Values"}, as the SDK emits it).
    value = {"anyOf": [{"$ref": f"#/definitions/{n}"} for n in ("StringArgumentValue", "IntegerArgumentValue",
                                                                  "FloatArgumentValue", "BooleanArgumentValue")]}
    d["InCondition"] = {"type": "object", "properties": {
        "Type": {"enum": ["In"]}, "QueryValue": value, "Values": {"type": "array", "items": value}},
        "required": ["Type", "QueryValue", "Values"], "additionalProperties": False}
    any_condition = {"oneOf": [{"$ref": f"#/definitions/{n}"} for n in ("BinaryCondition", "InCondition", "OrCondition", "NotCondition")]}
    d["NotCondition"] = {"type": "object", "properties": {"Type": {"enum": ["Not"]}, "Expression": any_condition},
                         "required": ["Type", "Expression"], "additionalProperties": False}
    d["OrCondition"]["properties"]["Conditions"]["items"] = any_condition
    cond_args = d["ConditionStep"]["properties"]["Arguments"]["properties"]
    cond_args["Conditions"]["items"] = any_condition
    # 5. IfSteps / ElseSteps may hold any step type.
    any_step = {"oneOf": [{"$ref": f"#/definitions/{n}"} for n in STEP_DEFS]}
    cond_args["IfSteps"]["items"] = any_step
    cond_args["ElseSteps"]["items"] = any_step
    # 6. Step Arguments fields the current SageMaker API defines for the step's call but the schema lacks:
    #    CreateModelPackage's ModelApprovalStatus, and CreateModel's ModelDataUrl as a pipeline value (the
    #    schema allows only a literal URI there, the service resolves a Get/parameter like everywhere else).
    d["RegisterModelStep"]["properties"]["Arguments"]["properties"]["ModelApprovalStatus"] = d["StringArgumentValue"]
    d["ContainerDefinition"]["properties"]["ModelDataUrl"] = {"$ref": "#/definitions/StringArgumentValue"}
    # 7. RetryPolicies: the service (and the SDK) take ExceptionType as a list of exception types.
    exception = d["RetryPolicy"]["properties"]["ExceptionType"]
    d["RetryPolicy"]["properties"]["ExceptionType"] = {"type": "array", "minItems": 1, "items": exception}
    # 8. Training extras the CreateTrainingJob API has and the schema lacks: ResourceConfig.KeepAlivePeriodInSeconds
    #    (managed warm pools), ProfilerConfig and ProfilerRuleConfigurations (Debugger profiling). Shaped as the
    #    API reference defines them, with pipeline values where the service takes them.
    training_args = d["TrainingStep"]["properties"]["Arguments"]["properties"]
    training_args["ResourceConfig"]["properties"]["KeepAlivePeriodInSeconds"] = {"$ref": "#/definitions/IntegerArgumentValue"}
    training_args["ProfilerConfig"] = {
        "type": "object",
        "properties": {
            "S3OutputPath": {"$ref": "#/definitions/StringArgumentValue"},
            "ProfilingIntervalInMilliseconds": {"$ref": "#/definitions/IntegerArgumentValue"},
            "ProfilingParameters": {"type": "object", "patternProperties": {".*": {"$ref": "#/definitions/StringArgumentValue"}}},
            "DisableProfiler": {"$ref": "#/definitions/BooleanArgumentValue"},
        },
        "additionalProperties": False,
    }
    # A profiler rule configuration has exactly the fields of a debug rule configuration, which the schema defines.
    training_args["ProfilerRuleConfigurations"] = copy.deepcopy(training_args["DebugRuleConfigurations"])
    return schema


def validate(definition: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError listing the first problem, with its path."""
    validator = jsonschema.Draft7Validator(patched_schema())
    errors = sorted(validator.iter_errors(definition), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}" for e in errors[:10]]
        raise AssertionError(f"{len(errors)} schema error(s):\n" + "\n".join(lines))


def from_template(body: Any) -> dict[str, Any]:
    """Parse a synthesized PipelineDefinitionBody (a string or an Fn::Join), tokens replaced by placeholders."""
    if isinstance(body, str):
        return json.loads(body)
    sep, parts = body["Fn::Join"]
    return json.loads(sep.join(p if isinstance(p, str) else "TOKEN" for p in parts))
