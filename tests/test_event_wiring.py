"""The default estate's retraining and promotion wiring, across accounts, from the synthesized templates."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.handlers.events import (
    PROD, REGION, STAGING, alarm_state_change, load_handler, matches, model_package_state_change, object_created,
)
from tests.helpers import resources_of_type

ML_DEV_BUS = "arn:aws:events:eu-west-1:444444444444:event-bus/mlops-ml-dev"
MODELS = ("churn", "spend-forecast", "fraud-batch")


def _rules(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources_of_type(template, "AWS::Events::Rule").values()]


def _functions(template: dict[str, Any], variable: str) -> list[dict[str, Any]]:
    return [f["Properties"] for f in resources_of_type(template, "AWS::Lambda::Function").values()
            if variable in f["Properties"].get("Environment", {}).get("Variables", {})]


def test_ml_dev_retrains_each_model_from_its_estate_bus(default_estate: Any) -> None:
    template = default_estate.templates["MlDev/Workspace"]
    rules = _rules(template)
    # The real bus of this stack (MlDevStack.event_bus), by reference: not an import by name.
    [bus_id] = [k for k, r in resources_of_type(template, "AWS::Events::EventBus").items() if r["Properties"]["Name"] == "mlops-ml-dev"]
    assert all(r.get("EventBusName") == {"Ref": bus_id} for r in rules)
    # churn (monitored, portable engine): its drift and violations alarms (one rule) + data arrival; spend-forecast
    # (unmonitored): data arrival; fraud-batch opts out.
    assert len(rules) == 3
    (alarms,) = [r for r in rules if r["EventPattern"].get("detail-type") == ["CloudWatch Alarm State Change"]]
    assert sorted(alarms["EventPattern"]["detail"]["alarmName"]) == [
        "mlops-churn-prd-drift", "mlops-churn-prd-violations", "mlops-churn-stg-drift", "mlops-churn-stg-violations"]
    functions = _functions(template, "PIPELINE_NAME")
    assert sorted(f["Environment"]["Variables"]["PIPELINE_NAME"] for f in functions) == ["mlops-churn-build", "mlops-spend-forecast-build"]
    assert all("VpcConfig" in f and f["Runtime"] == "python3.14" for f in functions)


def _forwarder_patterns(default_estate: Any, stack: str) -> list[dict[str, Any]]:
    rules = [r for r in _rules(default_estate.templates[stack]) if any(t["Arn"] == ML_DEV_BUS for t in r.get("Targets", []))]
    assert rules
    return [r["EventPattern"] for r in rules]


@pytest.mark.parametrize(("stack", "account", "other"), [("Staging/Serving", STAGING, PROD), ("Prod/Serving", PROD, STAGING)])
def test_serving_accounts_forward_their_own_drift_alarms_only(default_estate: Any, stack: str, account: str, other: str) -> None:
    env = {"Staging": "stg", "Prod": "prd"}[stack.split("/")[0]]
    patterns = _forwarder_patterns(default_estate, stack)
    assert len(patterns) == 2
    assert any(matches(p, alarm_state_change(alarm=f"mlops-churn-{env}-drift", account=account)) for p in patterns)
    assert not any(matches(p, alarm_state_change(alarm=f"mlops-churn-{env}-drift", account=other)) for p in patterns)
    assert not any(matches(p, alarm_state_change(alarm=f"mlops-churn-{env}-drift", account=account, state="OK")) for p in patterns)


def test_a_staging_drift_alarm_reaches_and_starts_the_churn_pipeline(default_estate: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    event = alarm_state_change(alarm="mlops-churn-stg-drift", account=STAGING)
    assert any(matches(p, event) for p in _forwarder_patterns(default_estate, "Staging/Serving"))
    ml_dev = default_estate.templates["MlDev/Workspace"]
    matching = [r for r in _rules(ml_dev) if matches(r["EventPattern"], event)]
    assert len(matching) == 1  # only churn's drift rule on the ML dev bus
    [churn] = [f for f in _functions(ml_dev, "PIPELINE_NAME") if f["Environment"]["Variables"]["PIPELINE_NAME"] == "mlops-churn-build"]
    for key, value in {**churn["Environment"]["Variables"], "AWS_DEFAULT_REGION": REGION,
                       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_pipeline(PipelineName="mlops-churn-build", RoleArn="arn:aws:iam::444444444444:role/p",
                                  PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}))
        result = load_handler("start_retraining").handler({"Records": [{"messageId": "m1", "body": json.dumps(event)}]})
        assert result["started"] is True
        assert len(sagemaker.list_pipeline_executions(PipelineName="mlops-churn-build")["PipelineExecutionSummaries"]) == 1


def test_data_arrival_reaches_only_the_models_reading_that_prefix(default_estate: Any) -> None:
    rules = _rules(default_estate.templates["MlDev/Workspace"])
    assert len([r for r in rules if matches(r["EventPattern"], object_created(key="datasets/churn/2026/p.parquet"))]) == 1
    assert len([r for r in rules if matches(r["EventPattern"], object_created(key="datasets/spend-forecast/p.csv"))]) == 1
    assert len([r for r in rules if matches(r["EventPattern"], object_created(key="datasets/fraud-batch/p.parquet"))]) == 0


def test_shared_services_promotes_every_model(default_estate: Any) -> None:
    template = default_estate.templates["SharedServices/Registry"]
    pipelines = sorted(p["Properties"]["Name"] for p in resources_of_type(template, "AWS::CodePipeline::Pipeline").values())
    assert pipelines == sorted(f"mlops-{m}-promotion" for m in MODELS)
    [fn] = _functions(template, "PIPELINES")
    assert json.loads(fn["Environment"]["Variables"]["PIPELINES"]) == {f"mlops-{m}": f"mlops-{m}-promotion" for m in MODELS}
    rules = _rules(template)
    [bus_id] = resources_of_type(template, "AWS::Events::EventBus")
    buses = [json.dumps(r.get("EventBusName", "default")) for r in rules]
    assert sorted(buses) == sorted(['"default"', json.dumps({"Ref": bus_id})])
    assert all(matches(r["EventPattern"], model_package_state_change("Approved", group="mlops-fraud-batch")) for r in rules)
    # Model package state changes originate in this account (the registry's), on its default bus; no other
    # account forwards any, so the estate bus admits no other account (least privilege).
    assert resources_of_type(template, "AWS::Events::EventBusPolicy") == {}
    for name, other in default_estate.templates.items():
        if name != "SharedServices/Registry":
            assert "event-bus/mlops-shared-services" not in json.dumps(_rules(other)), name
    topic = next(k for k, t in resources_of_type(template, "AWS::SNS::Topic").items() if k.startswith("Approvals"))
    [subscription] = [s for s in resources_of_type(template, "AWS::SNS::Subscription").values()
                      if s["Properties"]["TopicArn"] == {"Ref": topic}]
    assert subscription["Properties"]["Endpoint"] == "ml-approvers@example.com"


def test_promotion_deploys_the_estates_own_serving_templates(default_estate: Any) -> None:
    template = default_estate.templates["SharedServices/Registry"]
    pipelines = resources_of_type(template, "AWS::CodePipeline::Pipeline").values()
    [churn] = [p["Properties"] for p in pipelines if p["Properties"]["Name"] == "mlops-churn-promotion"]
    release, deploy = sorted(churn["Stages"][1]["Actions"], key=lambda a: a["RunOrder"])
    approved = default_estate.estate.approved_models["staging"]["ChurnModelPackageArn"]
    staging_stack = default_estate.estate.staging
    # First the churn ARN into SSM (the approved stack's only parameter), then the serving stack with no overrides.
    assert release["Configuration"]["StackName"] == approved.stack_name
    assert json.loads(release["Configuration"]["ParameterOverrides"]) == {"ModelPackageArn": "#{variables.ModelPackageArn}"}
    approved_template = default_estate.templates["Staging/ApprovedChurn"]
    assert set(json.loads(release["Configuration"]["ParameterOverrides"])) <= set(approved_template["Parameters"])
    assert deploy["Configuration"]["StackName"] == staging_stack.stack_name
    assert "ParameterOverrides" not in deploy["Configuration"]
    for action, stack in ((release, approved), (deploy, staging_stack)):
        assert action["Configuration"]["TemplatePath"] == f"CloudAssembly::assembly-Staging/{stack.template_file}"
        assert (default_estate.outdir / "assembly-Staging" / stack.template_file).is_file()
