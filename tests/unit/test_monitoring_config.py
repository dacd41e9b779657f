"""Monitoring config: SageMaker's cron rules, ground truth, facets and quality metrics are checked at parse time."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlops_estate.config.estate import EstateConfig
from mlops_estate.core.validation import ConfigError
from mlops_estate.monitoring.schedule import HOURLY, parse_schedule
from tests.helpers import default_estate_dict, model_monitor_estate_dict


def _with_monitoring(edit: Any) -> dict[str, Any]:
    data = model_monitor_estate_dict()
    edit(data["models"][0]["monitoring"])
    return data


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(data, "test")
    return failure.value.problems


def test_default_estate_monitors_churn_with_the_portable_engine():
    churn = next(m for m in EstateConfig.from_dict(default_estate_dict(), "test").models if m.name == "churn")
    assert churn.monitoring is not None and churn.monitoring.engine == "processing"
    assert churn.monitoring.enabled == ("data_quality", "model_quality")
    assert churn.monitoring.data_quality is not None and not churn.monitoring.data_quality.constraints_uri


def _portable(edit: Any) -> list[str]:
    data = default_estate_dict()
    edit(data["models"][0]["monitoring"])
    return _problems(data)


def test_the_portable_engine_refuses_clarify_monitors_and_needs_features_and_data_quality():
    problems = _portable(lambda m: (m.update(features=[], bias={"constraints_uri": "s3://b/bias/constraints.json", "facets": [{"name": "age_band"}]}), m.pop("data_quality")))
    assert ("models[0].monitoring.bias: needs SageMaker Clarify inside Model Monitor; set engine to 'model_monitor' "
            "(accounts that still have Model Monitor) or remove bias") in problems
    assert any(p.startswith("models[0].monitoring.features: is empty; the processing engine profiles the training data") for p in problems)
    assert any(p.startswith("models[0].monitoring.data_quality: is missing; the processing engine always checks data quality")
               for p in problems), problems


def test_the_portable_engine_refuses_a_metric_it_does_not_compute_and_model_monitor_baselines_owner():
    problems = _portable(lambda m: (m["model_quality"].update(metric="f0_5"), m.update(baselines_account="ml_dev")))
    assert ("models[0].monitoring.model_quality.metric: 'f0_5' is not a BinaryClassification metric the processing engine "
            "computes; name one of accuracy, auc, f1, precision, recall") in problems
    assert any(p.startswith("models[0].monitoring.baselines_account: 'ml_dev' is only read by the model_monitor engine")
               for p in problems), problems


def test_the_model_monitor_engine_needs_the_baselining_jobs_files():
    def edit(m):
        m["data_quality"].pop("statistics_uri")
        m["model_quality"].pop("constraints_uri")

    problems = _problems(_with_monitoring(edit))
    assert ("models[0].monitoring.data_quality.statistics_uri: is empty; the model_monitor engine needs the S3 URI of the "
            "baselining job's statistics.json") in problems
    assert any(p.startswith("models[0].monitoring.model_quality.constraints_uri: is empty; the model_monitor engine") for p in problems)


def test_an_unknown_engine_is_refused_with_the_choices():
    problems = _portable(lambda m: m.update(engine="clarify"))
    assert any(p.startswith("models[0].monitoring.engine: 'clarify'") and "'processing'" in p and "'model_monitor'" in p
               for p in problems), problems


def test_the_model_monitor_engine_config_enables_all_four_monitors_on_churn():
    config = EstateConfig.from_dict(model_monitor_estate_dict(), "test")
    churn = next(m for m in config.models if m.name == "churn")
    assert churn.monitoring is not None
    assert churn.monitoring.enabled == ("data_quality", "model_quality", "bias", "explainability")
    assert churn.monitoring.bias is not None and churn.monitoring.bias.facets[0].name == "age_band"


@pytest.mark.parametrize(
    ("expression", "hours"),
    [(HOURLY, 1), ("cron(0 0 ? * * *)", 24), ("cron(0 12 ? * * *)", 24), ("cron(0 17/12 ? * * *)", 12), ("cron(0 0/2 ? * * *)", 2)],
)
def test_sagemaker_cron_shapes_are_accepted(expression, hours):
    cadence = parse_schedule(expression)
    assert cadence is not None and cadence.interval_hours == hours


@pytest.mark.parametrize(
    "expression",
    ["cron(30 * ? * * *)", "cron(0 24 ? * * *)", "cron(0 0/25 ? * * *)", "cron(0 0/0 ? * * *)", "cron(0 * * * ? *)", "rate(1 hour)", "0 * * * *"],
)
def test_other_cron_shapes_are_rejected(expression):
    assert parse_schedule(expression) is None


def test_invalid_cron_is_reported_with_its_path_and_the_allowed_shapes():
    problems = _problems(_with_monitoring(lambda m: m["data_quality"].update(schedule="cron(15 * ? * * *)")))
    assert any(
        p.startswith("models[0].monitoring.data_quality.schedule: 'cron(15 * ? * * *)' is not a cron expression SageMaker")
        and "cron(0 * ? * * *) (hourly)" in p
        for p in problems
    ), problems


def test_now_is_rejected_as_a_recurring_schedule():
    problems = _problems(_with_monitoring(lambda m: m["bias"].update(schedule="NOW")))
    assert any(p.startswith("models[0].monitoring.bias.schedule: 'NOW' runs once") for p in problems), problems


def test_model_quality_without_ground_truth_is_an_error():
    problems = _problems(_with_monitoring(lambda m: m.pop("ground_truth_uri")))
    assert "models[0].monitoring.ground_truth_uri: model_quality and bias monitoring needs ground truth: set the S3 prefix where labels are uploaded" in problems


def test_bias_without_facets_is_an_error():
    problems = _problems(_with_monitoring(lambda m: m["bias"].update(facets=[])))
    assert any(p.startswith("models[0].monitoring.bias.facets: bias monitoring needs at least one facet") for p in problems), problems


def test_facet_must_be_one_of_the_features():
    problems = _problems(_with_monitoring(lambda m: m["bias"].update(facets=[{"name": "gender"}])))
    assert any(re.match(r"models\[0\]\.monitoring\.bias\.facets\[0\]: facet 'gender' is not one of features", p) for p in problems), problems


def test_drift_features_must_be_features():
    problems = _problems(_with_monitoring(lambda m: m["data_quality"].update(drift_features=["tenure_months", "shoe_size"])))
    assert any(p.startswith("models[0].monitoring.data_quality.drift_features[1]: 'shoe_size' is not one of features") for p in problems), problems


def test_binary_model_quality_needs_a_prediction_attribute():
    def edit(m):
        m["model_quality"].pop("probability_attribute")
        m["model_quality"].pop("probability_threshold")

    problems = _problems(_with_monitoring(edit))
    assert any(p.startswith("models[0].monitoring.model_quality: BinaryClassification needs inference_attribute or probability_attribute") for p in problems)


def test_probability_attribute_needs_a_threshold():
    problems = _problems(_with_monitoring(lambda m: m["model_quality"].pop("probability_threshold")))
    assert any(p.startswith("models[0].monitoring.model_quality.probability_threshold: is required with probability_attribute") for p in problems)


def test_quality_metric_must_be_published_for_the_problem_type():
    problems = _problems(_with_monitoring(lambda m: m["model_quality"].update(metric="rmse")))
    assert any(p.startswith("models[0].monitoring.model_quality.metric: 'rmse' is not a BinaryClassification model quality metric") for p in problems)


def test_a_quality_gate_metric_the_monitor_does_not_publish_needs_an_explicit_metric():
    data = model_monitor_estate_dict()
    data["models"][0]["quality_gate"] = {"metric": "balanced_accuracy", "threshold": 0.8}
    problems = _problems(data)
    assert any(p.startswith("models[0].monitoring.model_quality.metric: the quality gate's 'balanced_accuracy' is not published") for p in problems)


def test_max_runtime_must_fit_between_hourly_runs():
    problems = _problems(_with_monitoring(lambda m: m.update(max_runtime_minutes=60)))
    assert any(p.startswith("models[0].monitoring.max_runtime_minutes: 60 must be at least 1 and shorter than the most frequent schedule (1 h)") for p in problems)


def test_monitoring_that_enables_nothing_is_an_error():
    def edit(m):
        for section in ("data_quality", "model_quality", "bias", "explainability"):
            m.pop(section)

    problems = _problems(_with_monitoring(edit))
    assert any(p.startswith("models[0].monitoring: enables no monitor") for p in problems), problems


def test_bad_uris_and_thresholds_are_all_reported_at_once():
    def edit(m):
        m["data_quality"]["constraints_uri"] = "bucket/constraints.json"
        m["data_quality"]["drift_threshold"] = 0
        m["ground_truth_start_offset"] = "2 days"

    problems = _problems(_with_monitoring(edit))
    paths = {p.split(":")[0] for p in problems}
    assert {
        "models[0].monitoring.data_quality.constraints_uri",
        "models[0].monitoring.data_quality.drift_threshold",
        "models[0].monitoring.ground_truth_start_offset",
    } <= paths


def test_unknown_monitoring_key_is_an_error_with_a_hint():
    problems = _problems(_with_monitoring(lambda m: m.update(data_qualty={})))
    assert "models[0].monitoring.data_qualty: unknown key; did you mean 'data_quality'?" in problems


def test_the_model_monitor_config_names_the_accounts_owning_the_baseline_and_ground_truth_buckets():
    config = EstateConfig.from_dict(model_monitor_estate_dict(), "test")
    churn = next(m for m in config.models if m.name == "churn")
    assert churn.monitoring is not None
    assert (churn.monitoring.baselines_account, churn.monitoring.ground_truth_account) == ("ml_dev", "data_lake")


@pytest.mark.parametrize("key", ["baselines_account", "ground_truth_account"])
def test_a_bucket_account_must_be_an_estate_account_role(key):
    problems = _problems(_with_monitoring(lambda m: m.update({key: "444444444444"})))
    assert any(p.startswith(f"models[0].monitoring.{key}: '444444444444' is not allowed; expected one of 'shared_services'")
               for p in problems), problems
