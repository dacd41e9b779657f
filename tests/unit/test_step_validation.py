"""Bad input per step family: each step refuses it in its constructor, every problem at once, each naming the
field's path, quoting the value and saying what is allowed."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from mlops_estate.core.validation import ConfigError
from mlops_estate.pipeline import (
    CategoricalRange,
    ClarifyCheckStep,
    ConditionLessThanOrEqualTo,
    ConditionStep,
    ContinuousRange,
    CreateModelStep,
    FailStep,
    IntegerRange,
    JobEnvironment,
    MetricDefinition,
    ParameterInteger,
    ParameterString,
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    QualityCheckStep,
    RegisterModelStep,
    RetryPolicy,
    StepError,
    TrainingInput,
    TrainingStep,
    TransformStep,
    TuningObjective,
    TuningStep,
)
from tests.unit.test_pipeline_builder import BUCKET, IMAGE, JOBS

FORM = "expected ml.<family>.<size>, e.g. ml.m5.large"


def processing(**kwargs: Any) -> ProcessingStep:
    args: dict[str, Any] = {"job": JOBS, "image_uri": IMAGE, "instance_type": "ml.m5.large", "code": f"{BUCKET}/p.py", **kwargs}
    return ProcessingStep("Prep", **args)


def training(**kwargs: Any) -> TrainingStep:
    args: dict[str, Any] = {"job": JOBS, "image_uri": IMAGE, "instance_type": "ml.m5.xlarge",
                            "inputs": {"train": TrainingInput(f"{BUCKET}/train")}, "output_path": f"{BUCKET}/model", "spot": None,
                            **kwargs}
    return TrainingStep("Train", **args)


def tuning(**kwargs: Any) -> TuningStep:
    args: dict[str, Any] = {"job": JOBS, "image_uri": IMAGE, "instance_type": "ml.m5.xlarge",
                            "inputs": {"train": TrainingInput(f"{BUCKET}/train")}, "output_path": f"{BUCKET}/tuning", "spot": None,
                            "objective": TuningObjective("auc", "Maximize"), "ranges": [IntegerRange("max_depth", 3, 10)],
                            "metric_definitions": [MetricDefinition("auc", "auc:([0-9.]+)")], **kwargs}
    return TuningStep("Tune", **args)


def transform(**kwargs: Any) -> TransformStep:
    args: dict[str, Any] = {"job": JOBS, "model_name": "model", "instance_type": "ml.m5.large", "input_s3_uri": f"{BUCKET}/in",
                            "output_path": f"{BUCKET}/out", **kwargs}
    return TransformStep("Score", **args)


def register(**kwargs: Any) -> RegisterModelStep:
    args: dict[str, Any] = {"model_package_group": "churn", "image_uri": IMAGE, "model_data": f"{BUCKET}/model.tar.gz", **kwargs}
    return RegisterModelStep("Register", **args)


def quality(**kwargs: Any) -> QualityCheckStep:
    args: dict[str, Any] = {"check_type": "DATA_QUALITY", "model_package_group": "churn", "job": JOBS, "image_uri": IMAGE,
                            "instance_type": "ml.m5.large", "entrypoint": ["/opt/amazon/bin/analyzer"], **kwargs}
    return QualityCheckStep("DataQuality", **args)


CASES: list[tuple[str, Callable[[], Any], str]] = [
    # The headline case of issue 16: a literal instance type without the ml. prefix.
    ("processing", lambda: processing(instance_type="m5.large"), f"instance_type: 'm5.large' is not a SageMaker instance type; {FORM}"),
    ("processing", lambda: processing(instance_type=ParameterString("Type", "m5.large")),
     f"instance_type: String parameter 'Type' defaults to 'm5.large', which is not a SageMaker instance type; {FORM}"),
    ("processing", lambda: processing(instance_type="ml.g5.xlarge"),
     "instance_type: 'ml.g5.xlarge' has local NVMe instance storage, on which SageMaker rejects a volume KMS key"),
    ("processing", lambda: processing(instance_count=0), "instance_count: 0 is out of range; allowed between 1 and 100"),
    ("processing", lambda: processing(instance_count=ParameterInteger("Count", 500)),
     "instance_count: Integer parameter 'Count' defaults to 500, which is out of range; allowed between 1 and 100"),
    ("processing", lambda: processing(inputs=[ProcessingInput("raw", f"{BUCKET}/raw", "/tmp/raw")]),
     "inputs[raw].destination: '/tmp/raw' is outside the container's processing folder; expected a path under /opt/ml/processing/"),
    ("processing", lambda: processing(outputs=[ProcessingOutput("out", "/opt/ml/processing/out", "bucket/out")]),
     "outputs[out].destination: 'bucket/out' is not an S3 URI; expected s3://bucket/prefix"),
    ("processing", lambda: processing(inputs=[ProcessingInput("a", f"{BUCKET}/a", "/opt/ml/processing/a")] * 2),
     "inputs: 'a' is given twice; names must be unique"),
    ("processing", lambda: processing(code=None), "code: give code (a script's S3 URI) or an entrypoint"),
    ("check", lambda: quality(check_type="MODEL_BIAS"),
     "check_type: 'MODEL_BIAS' is not allowed; expected one of 'DATA_QUALITY', 'MODEL_QUALITY'"),
    ("check", lambda: quality(skip_check="yes"), "skip_check: 'yes' is String; expected Boolean"),
    ("check", lambda: quality(supplied_baseline_statistics="stats.json"),
     "supplied_baseline_statistics: 'stats.json' is not an S3 URI; expected s3://bucket/prefix"),
    ("check", lambda: quality(model_package_group=""), "model_package_group: '' is empty"),
    ("check", lambda: ClarifyCheckStep("Bias", check_type="DATA_QUALITY", model_package_group="churn", job=JOBS,  # type: ignore[arg-type]
                                       image_uri=IMAGE, instance_type="m5.large", entrypoint=["python3"]),
     "check_type: 'DATA_QUALITY' is not allowed; expected one of 'DATA_BIAS', 'MODEL_BIAS', 'MODEL_EXPLAINABILITY'"),
    ("training", lambda: training(instance_type="m5.xlarge"), f"instance_type: 'm5.xlarge' is not a SageMaker instance type; {FORM}"),
    ("training", lambda: training(instance_type="ml.p4d.24xlarge"), "instance_type: 'ml.p4d.24xlarge' has local NVMe instance storage"),
    ("training", lambda: training(volume_size_gb=0), "volume_size_gb: 0 is out of range; allowed between 1 and 16384"),
    ("training", lambda: training(output_path="models/"), "output_path: 'models/' is not an S3 URI; expected s3://bucket/prefix"),
    ("training", lambda: training(inputs={"train set": TrainingInput(f"{BUCKET}/t")}),
     "inputs[train set]: channel name 'train set' is invalid; expected 1-64 of [A-Za-z0-9.-_]"),
    ("training", lambda: training(inputs={"train": TrainingInput(f"{BUCKET}/t", input_mode="Stream")}),  # type: ignore[arg-type]
     "inputs[train].input_mode: 'Stream' is not allowed; expected one of 'File', 'Pipe', 'FastFile'"),
    ("training", lambda: training(inputs={}), "inputs: {} has no channel; a training job needs at least one"),
    ("training", lambda: training(max_runtime_seconds=3_000_000), "max_runtime_seconds: 3000000 is out of range; allowed between 1 and 2419200"),
    ("training", lambda: training(hyperparameters={"depth": [1, 2]}),
     "hyperparameters[depth]: [1, 2] is not a string, number, boolean or pipeline expression"),
    ("tuning", lambda: tuning(ranges=[]), "ranges: [] is empty; a tuning job needs at least one hyperparameter range"),
    ("tuning", lambda: tuning(ranges=[ContinuousRange("eta", 0.3, 0.1)]), "ranges[eta]: min_value 0.3 must be below max_value 0.1"),
    ("tuning", lambda: tuning(ranges=[IntegerRange("depth", 1, 5, "Exponential")]),  # type: ignore[arg-type]
     "ranges[depth].scaling: 'Exponential' is not allowed; expected one of 'Auto', 'Linear', 'Logarithmic', 'ReverseLogarithmic'"),
    ("tuning", lambda: tuning(ranges=[CategoricalRange("booster", ())]), "ranges[booster].values: () is empty; a categorical range needs values"),
    ("tuning", lambda: tuning(objective=TuningObjective("rmse", "Minimize")),
     "objective.metric_name: 'rmse' is not among metric_definitions; expected one of auc"),
    ("tuning", lambda: tuning(strategy="Grid"), "strategy: 'Grid' is not allowed; expected one of 'Bayesian', 'Random'"),
    ("tuning", lambda: tuning(max_jobs=0), "max_jobs: 0 is out of range; allowed between 1 and 750"),
    ("tuning", lambda: tuning(instance_type="xlarge"), f"instance_type: 'xlarge' is not a SageMaker instance type; {FORM}"),
    ("transform", lambda: transform(instance_type="c5.xlarge"), f"instance_type: 'c5.xlarge' is not a SageMaker instance type; {FORM}"),
    ("transform", lambda: transform(split_type="Paragraph"),
     "split_type: 'Paragraph' is not allowed; expected one of 'None', 'Line', 'RecordIO', 'TFRecord'"),
    ("transform", lambda: transform(max_payload_mb=200), "max_payload_mb: 200 is out of range; allowed between 0 and 100"),
    ("transform", lambda: transform(input_s3_uri="in/"), "input_s3_uri: 'in/' is not an S3 URI; expected s3://bucket/prefix"),
    ("model", lambda: CreateModelStep("CreateModel", job=JOBS, image_uri=IMAGE, model_data="model.tar.gz"),
     "model_data: 'model.tar.gz' is not an S3 URI; expected s3://bucket/prefix"),
    ("model", lambda: CreateModelStep("CreateModel", job=JOBS, image_uri=IMAGE, model_data=f"{BUCKET}/m.tar.gz",
                                      retry_policies=[RetryPolicy(("SageMaker.CAPACITY_ERROR",))]),
     "retry_policies[0].exception_types: 'SageMaker.CAPACITY_ERROR' is not allowed on this step; expected one of Step.SERVICE_FAULT, Step.THROTTLING"),
    ("register", lambda: register(model_package_group="churn_model"),
     "model_package_group: 'churn_model' is not a model package group name (up to 63 letters, digits and single hyphens) or the group's ARN"),
    ("register", lambda: register(model_package_group="arn:aws:sagemaker:eu-west-1:1234:model-package-group/churn"),
     "model_package_group: 'arn:aws:sagemaker:eu-west-1:1234:model-package-group/churn' is not a model package group name"),
    ("register", lambda: register(model_package_group=object()),
     "model_package_group.model_package_group_name: None is not a name or ARN"),
    ("register", lambda: register(realtime_instance_types=["m5.large"]),
     f"realtime_instance_types[0]: 'm5.large' is not a SageMaker instance type; {FORM}"),
    ("register", lambda: register(content_types=[]), "content_types: [] needs at least one MIME type, none empty"),
    ("register", lambda: register(package_description="x" * 2000), "package_description: is 2000 characters; at most 1024 are allowed"),
    ("condition", lambda: ConditionStep("Gate", conditions=[], if_steps=[FailStep("Stop", error_message="x")]),
     "conditions: [] is empty; expected at least one condition"),
    ("condition", lambda: ConditionStep("Gate", conditions=[ConditionLessThanOrEqualTo(1, 2)]),
     "if_steps: give if_steps or else_steps; a condition that branches nowhere does nothing"),
    ("fail", lambda: FailStep("Stop", error_message=ParameterInteger("Code", 1)), "error_message: Integer parameter 'Code' is Integer; expected String"),
    ("fail", lambda: FailStep("Stop", error_message="x", display_name="not ok"),
     "display_name: 'not ok' is invalid; expected 1-64 letters, digits, hyphens or underscores"),
]


@pytest.mark.parametrize(("family", "build", "message"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_names_the_path_and_quotes_the_value(family: str, build: Callable[[], Any], message: str) -> None:
    with pytest.raises(StepError, match=re.escape(message)) as failure:
        build()
    assert isinstance(failure.value, ConfigError) and isinstance(failure.value, ValueError)
    assert str(failure.value).startswith(f"step {failure.value.step!r}: ")


def test_every_step_family_has_a_bad_input_case() -> None:
    assert {c[0] for c in CASES} >= {"processing", "check", "training", "tuning", "transform", "model", "register", "condition", "fail"}


def test_a_token_stands_where_a_literal_would_be_checked() -> None:
    token = "${Token[TOKEN.123]}"
    step = processing(instance_type=token, code=f"s3://{token}/code/p.py")
    assert step.instance_type == token
    register(model_package_group=token)


def test_job_environment_needs_a_placement_and_a_key() -> None:
    with pytest.raises(ConfigError) as failure:
        JobEnvironment(role_arn="arn:aws:iam::123456789012:role/jobs", subnet_ids=(), security_group_ids=(), kms_key_id="")
    text = str(failure.value)
    assert text.startswith("JobEnvironment: 3 problem(s)")
    assert "subnet_ids: () is empty; jobs run in the VPC, expected at least one id" in text
    assert "kms_key_id: '' is empty" in text
