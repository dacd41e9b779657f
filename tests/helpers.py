"""Shared test helpers: an App with the repository's feature flags, a pinned test stack, the default config."""

from __future__ import annotations

import copy

import json
from pathlib import Path
from typing import Any, Callable

from aws_cdk import App, Environment, Stack
from aws_cdk.assertions import Template

from mlops_estate.config.estate import ConfigError, EstateConfig

ROOT = Path(__file__).resolve().parents[1]
CDK_JSON = ROOT / "cdk.json"
TEST_ACCOUNT = "123456789012"
TEST_REGION = "eu-west-1"
TEST_AZS = ["eu-west-1a", "eu-west-1b"]


def cdk_context() -> dict[str, Any]:
    return dict(json.loads(CDK_JSON.read_text())["context"])


def default_estate_dict() -> dict[str, Any]:
    """A fresh, mutable copy of the embedded default estate (tests edit it to make bad input)."""
    return json.loads(json.dumps(cdk_context()["estate"]))


def default_config() -> EstateConfig:
    return EstateConfig.from_dict(default_estate_dict(), "test default")


# The Model Monitor engine for churn (what existing Model Monitor customers configure): all four monitors.
MODEL_MONITOR_CHURN = {
    "engine": "model_monitor",
    "features": ["tenure_months", "monthly_charges", "total_charges", "contract_type", "support_calls", "age_band"],
    "label": "churned",
    "ground_truth_uri": "s3://mlops-ground-truth/churn/",
    "baselines_account": "ml_dev",
    "ground_truth_account": "data_lake",
    "data_quality": {"constraints_uri": "s3://mlops-monitoring-baselines/churn/data-quality/constraints.json",
                     "statistics_uri": "s3://mlops-monitoring-baselines/churn/data-quality/statistics.json",
                     "drift_features": ["tenure_months", "monthly_charges", "support_calls"], "schedule": "cron(0 * ? * * *)"},
    "model_quality": {"constraints_uri": "s3://mlops-monitoring-baselines/churn/model-quality/constraints.json",
                      "probability_attribute": "0", "probability_threshold": 0.5, "threshold": 0.75, "schedule": "cron(0 2 ? * * *)"},
    "bias": {"constraints_uri": "s3://mlops-monitoring-baselines/churn/bias/constraints.json",
             "facets": [{"name": "age_band", "values": ["65+"]}], "label_values": ["1"], "probability_attribute": "0",
             "probability_threshold": 0.5, "schedule": "cron(0 3 ? * * *)"},
    "explainability": {"constraints_uri": "s3://mlops-monitoring-baselines/churn/explainability/constraints.json",
                       "shap_baseline_uri": "s3://mlops-monitoring-baselines/churn/explainability/shap_baseline.csv",
                       "num_samples": 100, "schedule": "cron(0 4 ? * * *)", "probability_attribute": "0",
                       "shadow_instance_type": "ml.m5.large"},
}


def model_monitor_estate_dict() -> dict[str, Any]:
    """The default estate with churn on the model_monitor engine (all four monitors, Clarify included)."""
    data = default_estate_dict()
    (churn,) = [m for m in data["models"] if m["name"] == "churn"]
    churn["monitoring"] = copy.deepcopy(MODEL_MONITOR_CHURN)
    return data


def model_monitor_config() -> EstateConfig:
    return EstateConfig.from_dict(model_monitor_estate_dict(), "test (model_monitor engine)")


def config_problems(mutate: Callable[[dict[str, Any]], Any]) -> list[str]:
    """The problems the default estate has once ``mutate`` has edited it (it must have some)."""
    data = default_estate_dict()
    mutate(data)
    try:
        EstateConfig.from_dict(data)
    except ConfigError as error:
        return error.problems
    raise AssertionError("the edited estate is valid")


def make_app(**context: Any) -> App:
    merged = cdk_context()
    merged.update(context)
    return App(context=merged)


def make_stack(app: App | None = None, id: str = "Test", account: str = TEST_ACCOUNT) -> Stack:
    """A stack with an explicit env whose AZs come from context, as the estate's stacks do."""
    app = app or make_app()
    stack = Stack(app, id, env=Environment(account=account, region=TEST_REGION))
    stack.node.set_context(f"availability-zones:account={account}:region={TEST_REGION}", TEST_AZS)
    return stack


def template_of(stack: Stack) -> Template:
    return Template.from_stack(stack)


def resources_of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v["Type"] == type_name}


def policy_statements(template: dict[str, Any], logical_id_prefix: str) -> list[dict[str, Any]]:
    """Every statement of the IAM policies (inline or managed) whose logical id starts with the prefix (a role's)."""
    statements: list[dict[str, Any]] = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and logical_id.startswith(logical_id_prefix):
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    assert statements, f"no policy of {logical_id_prefix}"
    return statements


def scaled_estate_dict(models: int) -> dict[str, Any]:
    """The default estate with ``models`` models: the default ones, then copies of them in turn (``churn-3``,
    ``spend-forecast-4``, ...), so every serving mode, monitor and build option is represented at scale."""
    estate = default_estate_dict()
    base = estate["models"]
    scaled = []
    for i in range(models):
        model = json.loads(json.dumps(base[i % len(base)]))
        if i >= len(base):
            model["name"] = f"{model['name']}-{i}"
        scaled.append(model)
    estate["models"] = scaled
    # Settings naming models keep only the ones this estate has (1 model drops the others).
    names = {m["name"] for m in scaled}
    estate["projects"]["models"] = [n for n in estate["projects"].get("models", []) if n in names]
    return estate


def alarm_topics(template: dict[str, Any]) -> set[str]:
    """Logical ids of the template's SNS topics that its CloudWatch alarms notify."""
    sns_topics = resources_of_type(template, "AWS::SNS::Topic")
    alarms = [*resources_of_type(template, "AWS::CloudWatch::Alarm").values(),
              *resources_of_type(template, "AWS::CloudWatch::CompositeAlarm").values()]
    return {action["Ref"] for alarm in alarms for key in ("AlarmActions", "OKActions", "InsufficientDataActions")
            for action in alarm["Properties"].get(key, []) if isinstance(action, dict) and action.get("Ref") in sns_topics}


def alarm_topics_closed_to_cloudwatch(template: dict[str, Any]) -> list[str]:
    """Alarm topics whose resource policy has no Allow of sns:Publish for CloudWatch's service principal."""
    policies = resources_of_type(template, "AWS::SNS::TopicPolicy").values()
    closed = []
    for topic in sorted(alarm_topics(template)):
        statements = [s for p in policies if {"Ref": topic} in p["Properties"]["Topics"]
                      for s in p["Properties"]["PolicyDocument"]["Statement"]]
        if not any(s["Effect"] == "Allow" and s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
                   and s["Action"] == "sns:Publish" for s in statements):
            closed.append(topic)
    return closed
