"""The retraining and promotion config: defaults, derived names, and one error per kind of bad value."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_estate.config.estate import EstateConfig
from mlops_estate.core.validation import ConfigError
from mlops_estate.lifecycle.approved_model import approved_arn_parameter_name
from mlops_estate.config.retraining import drift_alarm_name, monitoring_schedule_arns, retraining_triggers
from mlops_estate.config.retraining import BUILD_DATA_PARAMETERS, promotion_pipeline_name
from tests.pipeline_schema import from_template
from tests.helpers import default_config, default_estate_dict, model_monitor_config


def test_names_derived_from_config() -> None:
    assert drift_alarm_name("mlops", "churn", "prod") == "mlops-churn-prd-drift"
    assert promotion_pipeline_name("mlops", "spend-forecast") == "mlops-spend-forecast-promotion"
    assert approved_arn_parameter_name("mlops", "ChurnModelPackageArn") == "/mlops/serving/ChurnModelPackageArn"
    config = default_config()
    churn = next(m for m in config.models if m.name == "churn")
    assert monitoring_schedule_arns(config, churn, "staging")[0].endswith(":monitoring-schedule/mlops-churn-stg-dq")


def test_default_estate_settings() -> None:
    config = default_config()
    churn, spend, fraud = config.models
    assert (churn.retraining.cooldown_minutes, churn.retraining.data_prefix) == (720, "datasets/churn/")
    assert spend.retraining.cooldown_minutes == 1440 and spend.retraining.data_prefix is None
    # churn is on the portable engine: its drift and violations alarms are one alarm trigger.
    drift, arrival = retraining_triggers(config, churn)
    assert type(drift).__name__ == "DriftAlarmTrigger" and type(arrival).__name__ == "DataArrivalTrigger"
    assert drift.pattern()["detail"]["alarmName"] == [
        "mlops-churn-prd-drift", "mlops-churn-prd-violations", "mlops-churn-stg-drift", "mlops-churn-stg-violations"]
    # On Model Monitor, violations come as processing-job events of the schedules.
    mm = model_monitor_config()
    assert [type(t).__name__ for t in retraining_triggers(mm, next(m for m in mm.models if m.name == "churn"))] == [
        "DriftAlarmTrigger", "MonitoringViolationTrigger", "DataArrivalTrigger"]
    # spend-forecast has no monitors, so only new data retrains it, under the data lake's arrival prefix.
    assert [type(t).__name__ for t in retraining_triggers(config, spend)] == ["DataArrivalTrigger"]
    assert retraining_triggers(config, spend)[0].key_prefix == "datasets/spend-forecast/"
    assert retraining_triggers(config, fraud) == []
    assert config.promotion.approver_emails == ("ml-approvers@example.com",)


def test_serving_account_forwards_the_real_drift_and_violations_alarms(default_estate: Any) -> None:
    """The portable engine: both alarms go to the build account in one forwarding rule each (drift, violations)."""
    template = default_estate.templates["Prod/Serving"]
    rules = [r["Properties"] for k, r in template["Resources"].items()
             if r["Type"] == "AWS::Events::Rule" and k.startswith("RetrainingEvents")]
    names = sorted(n for p in rules for n in p["EventPattern"]["detail"]["alarmName"])
    assert names == ["mlops-churn-prd-drift", "mlops-churn-prd-violations"]
    assert all(p["EventPattern"]["account"] == ["666666666666"] for p in rules)


def test_serving_account_forwards_the_real_monitor_alarms_and_schedules(model_monitor_estate: Any) -> None:
    prod = model_monitor_estate.estate.prod
    monitor = prod.monitors["churn"]
    template = model_monitor_estate.templates["Prod/Serving"]
    rules = {k: r["Properties"] for k, r in template["Resources"].items()
             if r["Type"] == "AWS::Events::Rule" and k.startswith("RetrainingEvents")}
    drift = next(p for p in rules.values() if p["EventPattern"]["source"] == ["aws.cloudwatch"])
    composite = next(r["Properties"]["AlarmName"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::CompositeAlarm")
    assert drift["EventPattern"]["detail"]["alarmName"] == [composite] == ["mlops-churn-prd-drift"]
    assert drift["EventPattern"]["account"] == ["666666666666"]
    violations = next(p for p in rules.values() if p["EventPattern"]["source"] == ["aws.sagemaker"])
    assert sorted(violations["EventPattern"]["detail"]["MonitoringScheduleArn"]) == sorted(
        f"arn:aws:sagemaker:eu-west-1:666666666666:monitoring-schedule/{n}" for n in monitor.schedule_names.values())
    # The build account's rules expect exactly these names.
    churn = next(m for m in model_monitor_config().models if m.name == "churn")
    [trigger] = [t for t in retraining_triggers(model_monitor_config(), churn) if type(t).__name__ == "DriftAlarmTrigger"]
    assert "mlops-churn-prd-drift" in trigger.pattern()["detail"]["alarmName"]


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
        (lambda d: d["models"][0]["retraining"].update(data_prefix="churn/"),
         "models[0].retraining.data_prefix: 'churn/' is not under data_lake.arrival_prefix 'datasets/'"),
        (lambda d: d["models"][0]["retraining"].update(input_parameter="input-uri"), "models[0].retraining.input_parameter: 'input-uri' is not a pipeline parameter name"),
        (lambda d: d["models"][0]["retraining"].update(input_parameter="TrainingDataUri"),
         "models[0].retraining.input_parameter: 'TrainingDataUri' is not a parameter of the model's build pipeline that takes "
         "an S3 URI; use one of: InputDataUrl"),
        (lambda d: d["models"][0]["retraining"].update(input_parameter="TrainingInstanceType"),
         "models[0].retraining.input_parameter: 'TrainingInstanceType' is not a parameter of the model's build pipeline"),
        (lambda d: d["models"][0]["retraining"].update(on_drift="yes"), "models[0].retraining.on_drift"),
        (lambda d: d["promotion"].update(approver_emails=["nobody"]), "promotion.approver_emails[0]: 'nobody' is not an email address"),
        (lambda d: d["promotion"].update(bootstrap_qualifier="Bad_Q"), "promotion.bootstrap_qualifier: has moved: set the estate-wide 'bootstrap_qualifier' instead"),
        (lambda d: d["promotion"].update(source_key="assembly.tar"), "promotion.source_key: 'assembly.tar' must be an S3 key of a .zip file"),
        (lambda d: d["promotion"].update(approvers=[]), "promotion.approvers: unknown key"),
    ],
    ids=["cooldown", "batching", "prefix", "outside-arrival-prefix", "parameter", "unknown-parameter", "non-uri-parameter", "bool", "email", "qualifier", "source-key", "unknown-key"],
)
def test_bad_values_are_reported_with_their_path(edit: Any, message: str) -> None:
    assert message in _errors(edit)


def test_build_data_parameters_are_the_build_pipelines_s3_uri_parameters(default_estate: Any) -> None:
    # The config check's list must match what the reference build pipeline really declares.
    pipelines = [r for t in default_estate.templates.values() for r in t["Resources"].values()
                 if r["Type"] == "AWS::SageMaker::Pipeline" and r["Properties"]["PipelineName"].endswith("-build")]
    assert pipelines
    for pipeline in pipelines:
        body = from_template(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"])
        uri_parameters = {p["Name"] for p in body["Parameters"]
                          if p["Type"] == "String" and str(p.get("DefaultValue", "")).startswith("s3://")}
        assert uri_parameters == set(BUILD_DATA_PARAMETERS), pipeline["Properties"]["PipelineName"]
