"""The pipeline definition builder: every step type emits schema-valid JSON, references resolve, bad input fails."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

from mlops_estate.pipeline import (
    CacheConfig,
    ClarifyCheckStep,
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionLessThanOrEqualTo,
    ConditionNot,
    ConditionOr,
    ConditionStep,
    CreateModelStep,
    ExecutionVariables,
    FailStep,
    IntegerRange,
    ContinuousRange,
    JobEnvironment,
    Join,
    MetricDefinition,
    MetricsSource,
    ModelMetrics,
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    PipelineDefinition,
    PipelineDefinitionError,
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    PropertyFile,
    QualityCheckStep,
    RegisterModelStep,
    RetryPolicy,
    SpotTraining,
    StepError,
    TrainingInput,
    TrainingStep,
    TransformStep,
    TuningObjective,
    TuningStep,
)
from tests.pipeline_schema import raw_schema, validate

IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
JOBS = JobEnvironment(
    role_arn="arn:aws:iam::123456789012:role/jobs",
    subnet_ids=("subnet-1", "subnet-2"),
    security_group_ids=("sg-1",),
    kms_key_id="arn:aws:kms:eu-west-1:123456789012:key/abc",
)
BUCKET = "s3://bucket"


def full_pipeline() -> tuple[PipelineDefinition, dict[str, Any]]:
    """One pipeline that uses every step type the builder offers."""
    data = ParameterString("InputData", f"{BUCKET}/in/")
    count = ParameterInteger("TrainCount", 1)
    threshold = ParameterFloat("Threshold", 0.8)
    skip = ParameterBoolean("SkipChecks", False)
    report = PropertyFile("Report", "evaluation", "evaluation.json")
    prep = ProcessingStep(
        "Prep", job=JOBS, image_uri=IMAGE, instance_type="ml.m5.large", code=f"{BUCKET}/code/prep.py",
        inputs=[ProcessingInput("raw", data, "/opt/ml/processing/input")],
        outputs=[ProcessingOutput("train", "/opt/ml/processing/train", Join([BUCKET, ExecutionVariables.PIPELINE_EXECUTION_ID, "train"], on="/"))],
        cache=CacheConfig("PT12H"),
    )
    quality = QualityCheckStep(
        "DataQuality", check_type="DATA_QUALITY", model_package_group="group", job=JOBS, image_uri=IMAGE,
        instance_type="ml.m5.large", entrypoint=["/opt/amazon/bin/analyzer"], skip_check=skip,
        inputs=[ProcessingInput("baseline", prep.output_uri("train"), "/opt/ml/processing/baseline")],
        outputs=[ProcessingOutput("result", "/opt/ml/processing/output", f"{BUCKET}/quality")],
    )
    train = TrainingStep(
        "Train", job=JOBS, image_uri=IMAGE, instance_type="ml.m5.xlarge", instance_count=count,
        inputs={"train": TrainingInput(prep.output_uri("train"), "text/csv")}, output_path=f"{BUCKET}/models",
        spot=SpotTraining(f"{BUCKET}/checkpoints", 7200), hyperparameters={"num_round": 100, "eta": 0.2, "verbose": True},
        depends_on=[quality],
    )
    tune = TuningStep(
        "Tune", job=JOBS, image_uri=IMAGE, instance_type="ml.m5.xlarge",
        inputs={"train": TrainingInput(prep.output_uri("train"))}, output_path=f"{BUCKET}/tuning",
        spot=SpotTraining(f"{BUCKET}/checkpoints-tuning", 7200), objective=TuningObjective("validation:auc", "Maximize"),
        ranges=[IntegerRange("max_depth", 3, 10), ContinuousRange("eta", 0.01, 0.3)],
        metric_definitions=[MetricDefinition("validation:auc", r"validation-auc:([0-9\.]+)")],
        static_hyperparameters={"objective": "binary:logistic"},
    )
    evaluate = ProcessingStep(
        "Evaluate", job=JOBS, image_uri=IMAGE, instance_type="ml.m5.large", code=f"{BUCKET}/code/evaluate.py",
        inputs=[ProcessingInput("model", train.model_artifacts, "/opt/ml/processing/model"),
                ProcessingInput("tuned", tune.top_model_s3_uri(0), "/opt/ml/processing/tuned")],
        outputs=[ProcessingOutput("evaluation", "/opt/ml/processing/evaluation", f"{BUCKET}/evaluation")],
        property_files=[report],
    )
    clarify = ClarifyCheckStep(
        "Bias", check_type="MODEL_BIAS", model_package_group="group", job=JOBS, image_uri=IMAGE, instance_type="ml.m5.large",
        entrypoint=["python3", "-m", "clarify"], outputs=[ProcessingOutput("analysis", "/opt/ml/processing/output", f"{BUCKET}/bias")],
        depends_on=[evaluate],
    )
    register = RegisterModelStep(
        "Register", model_package_group="arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/group",
        image_uri=IMAGE, model_data=train.model_artifacts,
        model_metrics=ModelMetrics(model_statistics=MetricsSource(Join([evaluate.output_uri("evaluation"), "evaluation.json"], on="/"))),
        retry_policies=[RetryPolicy(("Step.THROTTLING",), max_attempts=5)],
    )
    create = CreateModelStep("CreateModel", job=JOBS, image_uri=IMAGE, model_data=train.model_artifacts)
    transform = TransformStep("Score", job=JOBS, model_name=create.model_name, instance_type="ml.m5.large",
                              input_s3_uri=f"{BUCKET}/batch", output_path=f"{BUCKET}/scored", cache=CacheConfig())
    fail = FailStep("Failed", error_message=Join(["auc below", threshold], on=" "))
    gate = ConditionStep(
        "Gate",
        conditions=[
            ConditionGreaterThanOrEqualTo(evaluate.json_get(report, "metrics.auc.value"), threshold),
            ConditionOr([ConditionNot(ConditionIn(data, ["a", "b"])), ConditionLessThanOrEqualTo(count, 4)]),
        ],
        if_steps=[register, create, transform],
        else_steps=[fail],
    )
    definition = PipelineDefinition("full", parameters=[data, count, threshold, skip],
                                    steps=[prep, quality, train, tune, evaluate, clarify, gate])
    return definition, definition.to_dict()


@pytest.fixture(scope="module")
def full() -> dict[str, Any]:
    return full_pipeline()[1]


def _steps(body: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in body["Steps"]:
        out.append(s)
        if s["Type"] == "Condition":
            out.extend(_steps({"Steps": s["Arguments"]["IfSteps"] + s["Arguments"]["ElseSteps"]}))
    return out


def _gets(node: Any) -> list[str]:
    if isinstance(node, dict):
        if "Get" in node:
            return [node["Get"]]
        return [g for v in node.values() for g in _gets(v)]
    if isinstance(node, list):
        return [g for v in node for g in _gets(v)]
    return []


def test_every_step_type_validates_against_the_published_schema(full):
    validate(full)
    assert {s["Type"] for s in _steps(full)} == {
        "Processing", "QualityCheck", "Training", "Tuning", "ClarifyCheck", "Condition", "RegisterModel", "Model",
        "Transform", "Fail",
    }


def test_the_unpatched_schema_rejects_only_the_documented_gaps(full):
    errors = list(jsonschema.Draft7Validator(raw_schema()).iter_errors(full))
    assert errors, "the published schema lags the service; if it accepts this now, drop the patches"
    # A definition with no JsonGet/Join/PropertyFiles/condition branches and no retry lists passes unpatched.
    plain = PipelineDefinition("plain", steps=[FailStep("Stop", error_message="nothing to do")]).to_dict()
    assert list(jsonschema.Draft7Validator(raw_schema()).iter_errors(plain)) == []


def test_references_resolve_to_declared_parameters_and_steps(full):
    names = {s["Name"] for s in _steps(full)}
    params = {p["Name"] for p in full["Parameters"]}
    gets = _gets(full)
    assert gets
    for ref in gets:
        kind, name = ref.split(".")[:2]
        if kind == "Parameters":
            assert name in params, ref
        elif kind == "Steps":
            assert name in names, ref
        else:
            assert ref == "Execution.PipelineExecutionId"
    assert "Steps.Evaluate.PropertyFiles.Report" in gets
    assert "Steps.Train.ModelArtifacts.S3ModelArtifacts" in gets
    assert "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri" in gets


def test_jobs_run_isolated_in_the_vpc_with_kms(full):
    steps = {s["Name"]: s for s in _steps(full)}
    vpc = {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1", "subnet-2"]}
    for name in ("Prep", "Evaluate", "DataQuality", "Bias"):
        args = steps[name]["Arguments"]
        assert args["NetworkConfig"] == {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True, "VpcConfig": vpc}
        assert args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == JOBS.kms_key_id
        assert args["ProcessingOutputConfig"]["KmsKeyId"] == JOBS.kms_key_id
        assert args["StoppingCondition"]["MaxRuntimeInSeconds"] == 3600
    train = steps["Train"]["Arguments"]
    tuning = steps["Tune"]["Arguments"]["TrainingJobDefinition"]
    for args in (train, tuning):
        assert args["EnableNetworkIsolation"] is True and args["EnableInterContainerTrafficEncryption"] is True
        assert args["VpcConfig"] == vpc
        assert args["EnableManagedSpotTraining"] is True
        assert args["CheckpointConfig"]["S3Uri"].startswith(f"{BUCKET}/checkpoints")
        assert args["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
        assert args["ResourceConfig"]["VolumeKmsKeyId"] == JOBS.kms_key_id
        assert args["OutputDataConfig"]["KmsKeyId"] == JOBS.kms_key_id
    assert steps["CreateModel"]["Arguments"]["EnableNetworkIsolation"] is True
    assert steps["CreateModel"]["Arguments"]["VpcConfig"] == vpc
    assert steps["Score"]["Arguments"]["TransformResources"]["VolumeKmsKeyId"] == JOBS.kms_key_id
    assert steps["Score"]["Arguments"]["TransformOutput"]["KmsKeyId"] == JOBS.kms_key_id


def test_register_defaults_to_pending_manual_approval_with_metrics(full):
    register = next(s for s in _steps(full) if s["Type"] == "RegisterModel")
    assert register["Arguments"]["ModelApprovalStatus"] == "PendingManualApproval"
    stats = register["Arguments"]["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert stats["ContentType"] == "application/json"
    assert stats["S3Uri"]["Std:Join"]["Values"][1] == "evaluation.json"


def test_cache_retry_and_hyperparameters_are_emitted(full):
    steps = {s["Name"]: s for s in _steps(full)}
    assert steps["Prep"]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "PT12H"}
    assert steps["Prep"]["RetryPolicies"][0]["ExceptionType"] == [
        "SageMaker.CAPACITY_ERROR", "SageMaker.JOB_INTERNAL_ERROR", "Step.THROTTLING", "Step.SERVICE_FAULT"]
    assert steps["Register"]["RetryPolicies"] == [{"ExceptionType": ["Step.THROTTLING"], "IntervalSeconds": 10, "BackoffRate": 2.0, "MaxAttempts": 5}]
    assert steps["Train"]["Arguments"]["HyperParameters"] == {"num_round": "100", "eta": "0.2", "verbose": "true"}
    assert steps["Evaluate"]["PropertyFiles"] == [{"PropertyFileName": "Report", "OutputName": "evaluation", "FilePath": "evaluation.json"}]
    assert steps["Train"]["DependsOn"] == ["DataQuality"]
    assert steps["Tune"]["Arguments"]["TrainingJobDefinition"]["HyperParameterRanges"]["IntegerParameterRanges"] == [
        {"Name": "max_depth", "MinValue": "3", "MaxValue": "10", "ScalingType": "Auto"}]


# -- bad input: one test per kind -----------------------------------------------------------------------


def _fail(name: str = "Stop") -> FailStep:
    return FailStep(name, error_message="stop")


def test_unknown_step_reference_is_rejected():
    ghost = ProcessingStep("Ghost", job=JOBS, image_uri=IMAGE, instance_type="ml.m5.large", code=f"{BUCKET}/g.py",
                           outputs=[ProcessingOutput("out", "/opt/ml/processing/out", f"{BUCKET}/out")])
    train = TrainingStep("Train", job=JOBS, image_uri=IMAGE, instance_type="ml.m5.large",
                         inputs={"train": TrainingInput(ghost.output_uri("out"))}, output_path=f"{BUCKET}/m", spot=None)
    with pytest.raises(PipelineDefinitionError, match=re.escape("step 'Train' references unknown step 'Ghost'")):
        PipelineDefinition("p", steps=[train]).to_dict()


def test_unknown_depends_on_is_rejected():
    with pytest.raises(PipelineDefinitionError, match=re.escape("step 'Stop' depends on unknown step 'Nope'")):
        PipelineDefinition("p", steps=[FailStep("Stop", error_message="x", depends_on=["Nope"])]).to_dict()


def test_duplicate_step_name_is_rejected_even_inside_a_branch():
    gate = ConditionStep("Gate", conditions=[ConditionLessThanOrEqualTo(1, 2)], if_steps=[_fail("Stop")])
    with pytest.raises(PipelineDefinitionError, match=re.escape("step name 'Stop' is used twice")):
        PipelineDefinition("p", steps=[_fail("Stop"), gate]).to_dict()


def test_wrong_parameter_type_for_a_field_is_rejected():
    with pytest.raises(StepError, match=re.escape("instance_count: String parameter 'Count' is String; expected Integer")):
        ProcessingStep("Prep", job=JOBS, image_uri=IMAGE, instance_type="ml.m5.large", code=f"{BUCKET}/p.py",
                       instance_count=ParameterString("Count", "2"))


def test_parameter_default_of_the_wrong_type_is_rejected():
    with pytest.raises(ValueError, match=re.escape("parameter 'Count': 1 problem(s):\n  - default: '2' (str) is not a valid Integer value")):
        ParameterInteger("Count", "2")  # type: ignore[arg-type]


def test_ordering_comparison_on_a_string_is_rejected():
    with pytest.raises(ValueError, match="an ordering comparison needs an Integer or Float value"):
        ConditionGreaterThanOrEqualTo(ParameterString("Name", "x"), 1)


def test_undeclared_parameter_is_rejected():
    fail = FailStep("Stop", error_message=ParameterString("Reason", "x"))
    with pytest.raises(PipelineDefinitionError, match=re.escape("step 'Stop' references undeclared parameter 'Reason'")):
        PipelineDefinition("p", steps=[fail]).to_dict()


def test_parameter_redeclared_with_another_type_is_rejected():
    fail = FailStep("Stop", error_message=Join(["x", ParameterInteger("Level", 1)]))
    with pytest.raises(PipelineDefinitionError, match=re.escape("uses Integer parameter 'Level', but the declared parameter 'Level' is String")):
        PipelineDefinition("p", parameters=[ParameterString("Level", "1")], steps=[fail]).to_dict()


def test_property_file_of_another_step_must_be_declared_there():
    report = PropertyFile("Report", "evaluation", "evaluation.json")
    evaluate = ProcessingStep("Evaluate", job=JOBS, image_uri=IMAGE, instance_type="ml.m5.large", code=f"{BUCKET}/e.py",
                              outputs=[ProcessingOutput("evaluation", "/opt/ml/processing/e", f"{BUCKET}/e")], property_files=[report])
    with pytest.raises(ValueError, match=re.escape("step 'Evaluate' declares no property file 'Other'")):
        evaluate.json_get("Other", "metrics.auc.value")
    with pytest.raises(StepError, match=re.escape("property_files[R].output_name: 'missing' is not an output of this step")):
        ProcessingStep("E2", job=JOBS, image_uri=IMAGE, instance_type="ml.m5.large", code=f"{BUCKET}/e.py",
                       property_files=[PropertyFile("R", "missing", "r.json")])


def test_dependency_cycle_is_rejected():
    a = FailStep("A", error_message="a", depends_on=["B"])
    b = FailStep("B", error_message="b", depends_on=["A"])
    with pytest.raises(PipelineDefinitionError, match=re.escape("cycle: A -> B -> A")):
        PipelineDefinition("p", steps=[a, b]).to_dict()


def test_spot_wait_shorter_than_runtime_is_rejected():
    with pytest.raises(StepError, match=re.escape("spot.max_wait_seconds: 600 is below max_runtime_seconds 3600")):
        TrainingStep("Train", job=JOBS, image_uri=IMAGE, instance_type="ml.m5.large", inputs={"train": TrainingInput(f"{BUCKET}/t")},
                     output_path=f"{BUCKET}/m", spot=SpotTraining(f"{BUCKET}/c", 600))


def test_every_problem_of_a_step_is_reported_at_once():
    with pytest.raises(StepError) as failure:
        ProcessingStep("bad name!", job=JOBS, image_uri=IMAGE, instance_type=3, code="not-s3.py",  # type: ignore[arg-type]
                       cache=CacheConfig("30 days"), retry_policies=[RetryPolicy(("Nope",), max_attempts=50)])
    text = str(failure.value)
    with pytest.raises(StepError, match="code: give code .* or an entrypoint, not both"):
        ProcessingStep("Both", job=JOBS, image_uri=IMAGE, instance_type="ml.m5.large", code=f"{BUCKET}/p.py", entrypoint=["python3"])
    for expected in ("name: 'bad name!' is invalid; expected 1-64 letters, digits, hyphens or underscores",
                     "instance_type: 3 is Integer; expected String", "code: 'not-s3.py' is not the S3 URI of a Python script",
                     "cache.expire_after: '30 days' is not an ISO 8601 duration; expected e.g. P30D or PT12H",
                     "retry_policies[0].exception_types: 'Nope' is not allowed on this step; expected one of",
                     "retry_policies[0].max_attempts: 50 is out of range; allowed between 1 and 20"):
        assert expected in text, expected


def test_register_rejects_an_unknown_approval_status():
    with pytest.raises(StepError, match="approval_status: 'Maybe' is not allowed; expected one of 'PendingManualApproval', 'Approved', 'Rejected'"):
        RegisterModelStep("Register", model_package_group="g", image_uri=IMAGE, model_data=f"{BUCKET}/model.tar.gz",
                          approval_status="Maybe")  # type: ignore[arg-type]


# -- condition semantics ------------------------------------------------------------------------------------

COMPARE = {
    "GreaterThanOrEqualTo": lambda a, b: a >= b, "GreaterThan": lambda a, b: a > b,
    "LessThanOrEqualTo": lambda a, b: a <= b, "LessThan": lambda a, b: a < b,
    "Equals": lambda a, b: a == b, "NotEquals": lambda a, b: a != b,
}


def evaluate_condition(condition: dict[str, Any], params: dict[str, Any], report: dict[str, Any]) -> bool:
    """What the service does with a condition, for the shapes the builder emits."""

    def value(v: Any) -> Any:
        if isinstance(v, dict) and "Get" in v:
            return params[v["Get"].split(".", 1)[1]]
        if isinstance(v, dict) and "Std:JsonGet" in v:
            node: Any = report
            for part in v["Std:JsonGet"]["Path"].split("."):
                node = node[part]
            return node
        return v

    kind = condition["Type"]
    if kind == "Not":
        return not evaluate_condition(condition["Expression"], params, report)
    if kind == "Or":
        return any(evaluate_condition(c, params, report) for c in condition["Conditions"])
    if kind == "In":
        return value(condition["QueryValue"]) in [value(v) for v in condition["Values"]]
    return bool(COMPARE[kind](value(condition["LeftValue"]), value(condition["RightValue"])))


@pytest.mark.parametrize(
    ("auc", "threshold", "passes"),
    [(0.85, 0.8, True), (0.8, 0.8, True), (0.79, 0.8, False)],
)
def test_quality_gate_semantics(full, auc, threshold, passes):
    gate = next(s for s in full["Steps"] if s["Type"] == "Condition")
    conditions = gate["Arguments"]["Conditions"]
    params = {"Threshold": threshold, "InputData": "a", "TrainCount": 1}
    report = {"metrics": {"auc": {"value": auc}}}
    assert all(evaluate_condition(c, params, report) for c in conditions) is passes
    # InputData "a" is in the list, so the Or rests on TrainCount <= 4.
    assert evaluate_condition(conditions[1], {**params, "TrainCount": 9}, report) is False
