"""The default estate: every model's reference pipelines in ML dev, and the registry in shared services."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlops_estate.pipeline.builtin_images import BUILTIN_REGISTRIES as XGBOOST_REGISTRIES, xgboost_image
from tests.helpers import default_config, policy_statements, resources_of_type
from tests.pipeline_schema import from_template, validate

CONFIG = default_config()


def _pipelines(default_estate) -> dict[str, dict[str, Any]]:
    resources = resources_of_type(default_estate.templates["MlDev/Workspace"], "AWS::SageMaker::Pipeline")
    return {r["Properties"]["PipelineName"]: from_template(r["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"])
            for r in resources.values()}


def _all_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for s in steps:
        out.append(s)
        if s["Type"] == "Condition":
            out.extend(_all_steps(s["Arguments"]["IfSteps"] + s["Arguments"]["ElseSteps"]))
    return out


def test_build_pipeline_per_model_and_batch_only_where_configured(default_estate):
    names = sorted(_pipelines(default_estate))
    assert names == ["mlops-churn-build", "mlops-fraud-batch-batch", "mlops-fraud-batch-build", "mlops-spend-forecast-build"]


def test_every_generated_definition_validates(default_estate):
    pipelines = _pipelines(default_estate)
    assert pipelines
    for name, body in pipelines.items():
        try:
            validate(body)
        except AssertionError as failure:
            raise AssertionError(f"{name}: {failure}") from None


def test_build_pipeline_shape(default_estate):
    body = _pipelines(default_estate)["mlops-churn-build"]
    # churn is monitored with the portable drift engine: its build profiles the training data into the drift baseline.
    assert [s["Name"] for s in body["Steps"]] == ["Preprocess", "Train", "Evaluate", "Baseline", "QualityGate"]
    gate = next(s for s in body["Steps"] if s["Name"] == "QualityGate")["Arguments"]
    assert [s["Type"] for s in gate["IfSteps"]] == ["RegisterModel"]
    assert [s["Type"] for s in gate["ElseSteps"]] == ["Fail"]
    register = gate["IfSteps"][0]["Arguments"]
    # Always waiting for a person: no run of the pipeline can register an approved version.
    assert register["ModelApprovalStatus"] == "PendingManualApproval"
    params = {p["Name"]: p for p in body["Parameters"]}
    assert "ModelApprovalStatus" not in params
    assert params["MetricThreshold"] == {"Name": "MetricThreshold", "Type": "Float", "DefaultValue": 0.8,
                                         "Description": "auc the candidate must reach (at least)"}
    assert register["ModelPackageGroupName"].endswith(":sagemaker:eu-west-1:222222222222:model-package-group/mlops-churn")


@pytest.mark.parametrize(("pipeline", "metric", "comparison"), [
    ("mlops-churn-build", "auc", "GreaterThanOrEqualTo"),
    ("mlops-fraud-batch-build", "f1", "GreaterThanOrEqualTo"),
    ("mlops-spend-forecast-build", "rmse", "LessThanOrEqualTo"),  # an error metric: lower is better
])
def test_quality_gate_direction_follows_the_metric(default_estate, pipeline, metric, comparison):
    gate = next(s for s in _pipelines(default_estate)[pipeline]["Steps"] if s["Name"] == "QualityGate")
    (condition,) = gate["Arguments"]["Conditions"]
    assert condition["Type"] == comparison
    assert condition["LeftValue"] == {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                                                      "Path": f"metrics.{metric}.value"}}
    assert condition["RightValue"] == {"Get": "Parameters.MetricThreshold"}


def test_every_job_is_isolated_encrypted_and_bounded(default_estate):
    for name, body in _pipelines(default_estate).items():
        for step in _all_steps(body["Steps"]):
            args = step["Arguments"]
            if step["Type"] == "Processing":
                assert args["NetworkConfig"]["EnableNetworkIsolation"] is True, name
                assert args["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True, name
                assert len(args["NetworkConfig"]["VpcConfig"]["Subnets"]) == 2, name
                assert args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"], name
                assert args["ProcessingOutputConfig"]["KmsKeyId"], name
            if step["Type"] == "Training":
                assert args["EnableNetworkIsolation"] and args["EnableInterContainerTrafficEncryption"], name
                stop = args["StoppingCondition"]
                if "KeepAlivePeriodInSeconds" in args["ResourceConfig"]:  # a warm pool: on-demand instances (no spot)
                    assert "EnableManagedSpotTraining" not in args and "MaxWaitTimeInSeconds" not in stop, name
                else:
                    assert args["EnableManagedSpotTraining"] is True, name
                    assert args["CheckpointConfig"]["S3Uri"], name
                    assert stop["MaxWaitTimeInSeconds"] >= stop["MaxRuntimeInSeconds"] > 0, name
                assert args["ResourceConfig"]["VolumeKmsKeyId"] and args["OutputDataConfig"]["KmsKeyId"], name
                # The model goes straight to the registry's artifacts, with the registry's key.
                assert args["OutputDataConfig"]["S3OutputPath"].startswith("s3://mlops-artifacts-222222222222-eu-west-1/models/"), name
                assert args["OutputDataConfig"]["KmsKeyId"].endswith(":kms:eu-west-1:222222222222:alias/mlops/models"), name
            if step["Type"] == "Model":
                assert args["EnableNetworkIsolation"] is True and args["VpcConfig"]["Subnets"], name


def test_spend_forecast_uses_its_configured_limits(default_estate):
    train = _pipelines(default_estate)["mlops-spend-forecast-build"]["Steps"][1]["Arguments"]
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 180 * 60, "MaxWaitTimeInSeconds": 360 * 60}
    assert train["HyperParameters"]["objective"] == "reg:squarederror"


def test_builtin_xgboost_image_resolved_per_region(default_estate):
    train = _pipelines(default_estate)["mlops-churn-build"]["Steps"][1]["Arguments"]
    assert train["AlgorithmSpecification"]["TrainingImage"] == "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert xgboost_image("us-east-1", "1.5-1") == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.5-1"
    assert all(re.fullmatch(r"\d{12}", a) for a in XGBOOST_REGISTRIES.values())
    with pytest.raises(ValueError, match="no built-in XGBoost image is known for region 'xx-east-9'.*set build.training_image"):
        xgboost_image("xx-east-9", "1.7-1")


def test_churn_retrains_on_its_schedule(default_estate):
    schedules = list(resources_of_type(default_estate.templates["MlDev/Workspace"], "AWS::Scheduler::Schedule").values())
    assert [s["Properties"]["ScheduleExpression"] for s in schedules] == ["cron(0 3 ? * MON *)"]
    assert schedules[0]["Properties"]["Target"]["Arn"] == "arn:aws:sagemaker:eu-west-1:444444444444:pipeline/mlops-churn-build"


def test_registry_policy_names_exactly_the_consumer_accounts(default_estate):
    accounts = CONFIG.accounts
    groups = resources_of_type(default_estate.templates["SharedServices/Registry"], "AWS::SageMaker::ModelPackageGroup")
    assert len(groups) == len(CONFIG.models)
    for group in groups.values():
        principals: dict[str, list[str]] = {}
        for statement in group["Properties"]["ModelPackageGroupPolicy"]["Statement"]:
            arns = ["".join(p for p in a["Fn::Join"][1] if isinstance(p, str)) for a in statement["Principal"]["AWS"]]
            principals[statement["Sid"]] = sorted(re.search(r"::(\d{12}):", a).group(1) for a in arns)  # type: ignore[union-attr]
        consumers = sorted([accounts.staging, accounts.prod])
        assert principals == {
            "ConsumersDescribeGroup": consumers,
            "ConsumersReadVersions": consumers,
            "BuildAccountDescribesGroup": [accounts.ml_dev],
            "BuildAccountReadsVersions": [accounts.ml_dev],
            "BuildAccountRegistersVersions": [accounts.ml_dev],
        }


def test_models_key_admits_build_to_write_and_consumers_to_read(default_estate):
    keys = resources_of_type(default_estate.templates["SharedServices/Registry"], "AWS::KMS::Key")
    models = next(k for k in keys.values() if "models encryption key" in k["Properties"]["Description"])
    statements = {s.get("Sid"): s for s in models["Properties"]["KeyPolicy"]["Statement"]}
    def accounts(sid: str) -> list[str]:
        aws = statements[sid]["Principal"]["AWS"]
        return sorted(re.search(r"::(\d{12}):", json.dumps(a)).group(1) for a in (aws if isinstance(aws, list) else [aws]))  # type: ignore[union-attr]
    assert accounts("EstateAccountsReadWrite") == [CONFIG.accounts.ml_dev]
    assert accounts("EstateAccountsRead") == sorted([CONFIG.accounts.staging, CONFIG.accounts.prod])


def test_spend_forecast_trains_on_two_sharded_instances_without_debugger(default_estate):
    body = _pipelines(default_estate)["mlops-spend-forecast-build"]
    params = {p["Name"]: p for p in body["Parameters"]}
    assert params["TrainingInstanceCount"]["DefaultValue"] == 2
    preprocess, train = body["Steps"][0]["Arguments"], body["Steps"][1]["Arguments"]
    # One shard per instance, also when a run overrides the count.
    assert preprocess["Environment"] == {"TRAIN_SHARDS": {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.TrainingInstanceCount"}]}}}
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3DataDistributionType"] for c in train["InputDataConfig"]}
    assert channels == {"train": "ShardedByS3Key", "validation": "FullyReplicated"}
    assert train["EnableInterContainerTrafficEncryption"] is True
    # AWS closed Debugger to new customers: no pipeline of the default estate uses Debugger or profiler rules.
    steps = [s["Arguments"] for body in _pipelines(default_estate).values() for s in body["Steps"]]
    assert not any({"DebugHookConfig", "DebugRuleConfigurations", "ProfilerRuleConfigurations"} & set(a) for a in steps)


def _create_training_condition(default_estate, role_prefix: str) -> dict[str, Any]:
    statements = policy_statements(default_estate.templates["MlDev/Workspace"], role_prefix)
    (statement,) = [s for s in statements if s["Action"] == "sagemaker:CreateTrainingJob"]
    return statement["Condition"]  # type: ignore[no-any-return]


def test_warm_pool_only_where_configured_and_bounded_by_the_pipeline_role(default_estate):
    pipelines = _pipelines(default_estate)
    fraud = pipelines["mlops-fraud-batch-build"]["Steps"][1]["Arguments"]
    assert fraud["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 600
    assert all("KeepAlivePeriodInSeconds" not in pipelines[n]["Steps"][1]["Arguments"]["ResourceConfig"]
               for n in ("mlops-churn-build", "mlops-spend-forecast-build"))
    fraud_role = _create_training_condition(default_estate, "PipelinesfraudbatchBuildPipelineRole")
    churn_role = _create_training_condition(default_estate, "PipelineschurnBuildPipelineRole")
    assert fraud_role["NumericLessThanEqualsIfExists"] == {"sagemaker:KeepAlivePeriod": "600"}
    assert churn_role["NumericLessThanEqualsIfExists"] == {"sagemaker:KeepAlivePeriod": "0"}
