"""The retraining and promotion config: defaults, derived names, and one error per kind of bad value."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_estate.config import EstateConfig
from mlops_estate.config_parsing import ConfigError
from mlops_estate.retraining import forwarded_retraining_patterns, retraining_triggers
from mlops_estate.retraining_config import (
    bus_name, drift_alarm_name, estate_bus_arn, model_package_group_name, model_package_parameter, pipeline_name,
    promotion_pipeline_name,
)
from tests.helpers import default_config, default_estate_dict


def test_names_derived_from_config() -> None:
    assert pipeline_name("mlops", "churn") == "mlops-churn-build"
    assert model_package_group_name("mlops", "churn") == "mlops-churn"
    assert drift_alarm_name("mlops", "churn", "prod") == "mlops-churn-prod-drift"
    assert promotion_pipeline_name("mlops", "spend-forecast") == "mlops-spend-forecast-promotion"
    assert model_package_parameter("spend-forecast") == "SpendForecastModelPackageArn"
    assert bus_name("mlops", "shared_services") == "mlops-shared-services"
    assert estate_bus_arn(default_config(), "ml_dev") == "arn:aws:events:eu-west-1:444444444444:event-bus/mlops-ml-dev"


def test_default_estate_settings() -> None:
    config = default_config()
    churn, spend, fraud = config.models
    assert (churn.retraining.cooldown_minutes, churn.retraining.data_prefix) == (720, "churn/daily/")
    assert spend.retraining.cooldown_minutes == 360 and spend.retraining.data_prefix is None
    assert [type(t).__name__ for t in retraining_triggers(config, spend)] == [
        "DriftAlarmTrigger", "MonitoringViolationTrigger", "DataArrivalTrigger"]
    assert retraining_triggers(config, spend)[2].key_prefix == "spend-forecast/"
    assert [type(t).__name__ for t in retraining_triggers(config, fraud)] == ["DriftAlarmTrigger", "MonitoringViolationTrigger"]
    assert config.promotion.approver_emails == ("ml-approvers@example.com",)


def test_serving_account_forwards_only_its_own_models_events() -> None:
    patterns = forwarded_retraining_patterns(default_config(), "prod")
    assert patterns["DriftAlarms"]["account"] == ["666666666666"]
    assert patterns["DriftAlarms"]["detail"]["alarmName"] == [
        "mlops-churn-prod-drift", "mlops-fraud-batch-prod-drift", "mlops-spend-forecast-prod-drift"]
    assert {p["prefix"] for p in patterns["MonitoringViolations"]["detail"]["MonitoringScheduleArn"]} == {
        f"arn:aws:sagemaker:eu-west-1:666666666666:monitoring-schedule/mlops-{m}-prod-" for m in ("churn", "spend-forecast", "fraud-batch")}


def _errors(edit: Any) -> str:
    data = default_estate_dict()
    edit(data)
    with pytest.raises(ConfigError) as raised:
        EstateConfig.from_dict(data, "test")
    return str(raised.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["models"][0]["retraining"].update(cooldown_minutes=-1), "models[0].retraining.cooldown_minutes: -1 is out of range"),
        (lambda d: d["models"][0]["retraining"].update(batching_window_seconds=600), "models[0].retraining.batching_window_seconds: 600 is out of range"),
        (lambda d: d["models"][0]["retraining"].update(data_prefix="/churn"), "models[0].retraining.data_prefix: '/churn' is not an S3 key prefix"),
        (lambda d: d["models"][0]["retraining"].update(input_parameter="input-uri"), "models[0].retraining.input_parameter: 'input-uri' is not a pipeline parameter name"),
        (lambda d: d["models"][0]["retraining"].update(on_drift="yes"), "models[0].retraining.on_drift"),
        (lambda d: d["promotion"].update(approver_emails=["nobody"]), "promotion.approver_emails[0]: 'nobody' is not an email address"),
        (lambda d: d["promotion"].update(bootstrap_qualifier="Bad_Q"), "promotion.bootstrap_qualifier: 'Bad_Q' is not a CDK bootstrap qualifier"),
        (lambda d: d["promotion"].update(source_key="assembly.tar"), "promotion.source_key: 'assembly.tar' must be an S3 key of a .zip file"),
        (lambda d: d["promotion"].update(approvers=[]), "promotion.approvers: unknown key"),
    ],
    ids=["cooldown", "batching", "prefix", "parameter", "bool", "email", "qualifier", "source-key", "unknown-key"],
)
def test_bad_values_are_reported_with_their_path(edit: Any, message: str) -> None:
    assert message in _errors(edit)
