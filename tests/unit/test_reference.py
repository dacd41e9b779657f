"""ModelBuildPipelines with settings the default estate does not use: a custom image, bad combinations."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlops_estate.config.estate import ModelConfig, QualityGateConfig
from mlops_estate.security.encryption import EstateKeys
from mlops_estate.config.model_build import BuildConfig
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.pipeline.debugger import DebuggerRule, DebuggerSettings, ProfilerSettings
from mlops_estate.pipeline.distribution import Distribution
from mlops_estate.reference.pipelines import ModelBuildPipelines
from mlops_estate.config.registry import registry_location
from mlops_estate.security.storage import SecureBucket
from tests.helpers import TEST_AZS, default_config, make_stack, resources_of_type, template_of
from tests.pipeline_schema import from_template, validate

CUSTOM = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/ranker:2.1"


def _model(**build: Any) -> ModelConfig:
    return ModelConfig(name="ranker", problem_type="MulticlassClassification",
                       quality_gate=QualityGateConfig("accuracy", 0.9), build=BuildConfig(**build))


def _pipelines(stack: Any, model: ModelConfig, id: str = "Ranker") -> ModelBuildPipelines:
    keys = EstateKeys(stack, f"Keys{id}", estate_name=f"t{id.lower()}")
    network = PrivateNetwork(stack, f"Network{id}", cidr="10.70.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs)
    return ModelBuildPipelines(stack, id, estate_name="team", region="eu-west-1", model=model, placement=network.placement,
                               key=keys.models, artifacts=SecureBucket(stack, f"Artifacts{id}", key=keys.models),
                               data=SecureBucket(stack, f"Data{id}", key=keys.data), registry=registry_location(default_config()))


@pytest.fixture(scope="module")
def custom() -> tuple[ModelBuildPipelines, dict[str, Any]]:
    stack = make_stack()
    pipelines = _pipelines(stack, _model(training_image=CUSTOM, spot=False, batch_inference=True, schedule="rate(7 days)",
                                         schedule_parameters={"MetricThreshold": "0.95"}))
    return pipelines, template_of(stack).to_json()


def test_custom_image_runs_every_step_and_is_the_only_pullable_repository(custom):
    pipelines, template = custom
    assert pipelines.batch is not None
    for resource in resources_of_type(template, "AWS::SageMaker::Pipeline").values():
        body = from_template(resource["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"])
        validate(body)
        text = str(body)
        assert "sagemaker-xgboost" not in text
        assert CUSTOM in text
    ecr = [s for p in resources_of_type(template, "AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]
           if "ecr:BatchGetImage" in s["Action"]]
    assert ecr and all(s["Resource"] == "arn:aws:ecr:eu-west-1:123456789012:repository/team/ranker" for s in ecr)


def test_without_spot_training_has_no_spot_settings(custom):
    pipelines, _ = custom
    train = pipelines.training.definition.to_dict()["Steps"][1]["Arguments"]
    assert "EnableManagedSpotTraining" not in train and "CheckpointConfig" not in train
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 120 * 60}
    assert "HyperParameters" not in train  # no XGBoost defaults for a custom image


def test_image_from_another_region_is_rejected():
    with pytest.raises(ValueError, match=re.escape("is not in the estate's region 'eu-west-1'")):
        _pipelines(make_stack(), _model(training_image=CUSTOM.replace("eu-west-1", "us-east-1")))


def test_builtin_multiclass_needs_num_class():
    with pytest.raises(ValueError, match=re.escape("model ranker: the built-in XGBoost multiclass objective needs build.hyperparameters.num_class")):
        _pipelines(make_stack(), _model())
    ok = _pipelines(make_stack(), _model(hyperparameters={"num_class": "4"}))
    train = ok.training.definition.to_dict()["Steps"][1]["Arguments"]
    assert train["HyperParameters"]["objective"] == "multi:softprob" and train["HyperParameters"]["num_class"] == "4"


def test_schedule_passes_the_configured_parameters(custom):
    _, template = custom
    (schedule,) = resources_of_type(template, "AWS::Scheduler::Schedule").values()
    assert schedule["Properties"]["ScheduleExpression"] == "rate(7 days)"
    assert schedule["Properties"]["Target"]["SageMakerPipelineParameters"] == {
        "PipelineParameterList": [{"Name": "MetricThreshold", "Value": "0.95"}]}


def _forecaster(id: str, **build: Any) -> dict[str, Any]:
    """The build pipeline body of a regression model (no num_class needed), validated against the pipeline schema."""
    stack = make_stack()
    model = ModelConfig(name="forecast", problem_type="Regression", quality_gate=QualityGateConfig("rmse", 10.0),
                        build=BuildConfig(spot=False, **build))
    body = _pipelines(stack, model, id).training.definition.to_dict()
    validate(body)
    return body  # type: ignore[no-any-return]


def test_sharded_preprocessing_writes_as_many_shards_as_the_run_has_instances():
    body = _forecaster("Sharded", training_instance_count=2, training_data_distribution="ShardedByS3Key")
    (count,) = [p for p in body["Parameters"] if p["Name"] == "TrainingInstanceCount"]
    assert count["DefaultValue"] == 2
    preprocess, train = body["Steps"][0]["Arguments"], body["Steps"][1]["Arguments"]
    # The shard count is the parameter itself, so a run that overrides it gets one shard per instance.
    assert preprocess["Environment"] == {"TRAIN_SHARDS": {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.TrainingInstanceCount"}]}}}
    assert train["ResourceConfig"]["InstanceCount"] == {"Get": "Parameters.TrainingInstanceCount"}


def test_a_distribution_fixes_the_instance_count_it_was_checked_against():
    body = _forecaster("Distributed", training_image=CUSTOM, training_instance_type="ml.p3.16xlarge", training_instance_count=2,
                       training_data_distribution="ShardedByS3Key", distribution=Distribution("pytorchddp"))
    assert "TrainingInstanceCount" not in [p["Name"] for p in body["Parameters"]]
    preprocess, train = body["Steps"][0]["Arguments"], body["Steps"][1]["Arguments"]
    assert preprocess["Environment"] == {"TRAIN_SHARDS": "2"} and train["ResourceConfig"]["InstanceCount"] == 2


def test_debugger_on_the_builtin_xgboost_image_reads_the_metrics_collection():
    rules = (DebuggerRule("LossNotDecreasing", {"num_steps": "10"}), DebuggerRule("Overfit"))
    body = _forecaster("Debugged", debugger=DebuggerSettings(rules=rules), profiler=ProfilerSettings())
    train = body["Steps"][1]["Arguments"]
    # XGBoost's hook has no `losses` collection: it saves `metrics`, and LossNotDecreasing is pointed there.
    assert [c["CollectionName"] for c in train["DebugHookConfig"]["CollectionConfigurations"]] == ["metrics"]
    by_name = {r["RuleConfigurationName"]: r["RuleParameters"] for r in train["DebugRuleConfigurations"]}
    assert by_name == {"LossNotDecreasing": {"rule_to_invoke": "LossNotDecreasing", "collection_names": "metrics", "num_steps": "10"},
                       "Overfit": {"rule_to_invoke": "Overfit"}}
    assert [r["RuleConfigurationName"] for r in train["ProfilerRuleConfigurations"]] == ["ProfilerReport"]
    # Tensors, profiles and rule reports stay in the ML dev artifacts bucket, per execution.
    for path in (train["DebugHookConfig"]["S3OutputPath"], train["ProfilerConfig"]["S3OutputPath"]):
        assert path["Std:Join"]["Values"][1] == {"Get": "Execution.PipelineExecutionId"}
    # An explicit collection_names wins.
    own = _forecaster("OwnCollection", debugger=DebuggerSettings(rules=(DebuggerRule("LossNotDecreasing", {"collection_names": "x"}),)))
    assert own["Steps"][1]["Arguments"]["DebugRuleConfigurations"][0]["RuleParameters"]["collection_names"] == "x"


def test_debugger_on_a_framework_image_keeps_the_losses_collection():
    body = _forecaster("Framework", training_image=CUSTOM, debugger=DebuggerSettings(rules=(DebuggerRule("LossNotDecreasing"),)))
    train = body["Steps"][1]["Arguments"]
    assert [c["CollectionName"] for c in train["DebugHookConfig"]["CollectionConfigurations"]] == ["losses"]
    assert train["DebugRuleConfigurations"][0]["RuleParameters"] == {"rule_to_invoke": "LossNotDecreasing"}
