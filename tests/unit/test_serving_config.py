"""Serving settings in the estate config: parsing, defaults and every validation rule, with paths."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_estate.config.estate import EstateConfig, ServingConfig
from mlops_estate.core.validation import ConfigError, Problems
from mlops_estate.serving.serving_config import RolloutConfig, validate_serving
from tests.helpers import default_estate_dict


def _problems(edit) -> list[str]:
    data = default_estate_dict()
    edit(data)
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(data, "test")
    return failure.value.problems


def _serving(data: dict[str, Any], model: int, env: str) -> dict[str, Any]:
    return data["models"][model]["serving"][env]


def test_default_estate_exercises_every_mode_and_option():
    config = EstateConfig.from_dict(default_estate_dict(), "test")
    churn, spend, fraud = config.models
    assert {m.serving[e].mode for m in config.models for e in ("staging", "prod")} == {"realtime", "serverless", "async"}
    prod = churn.serving["prod"]
    assert prod.min_instances >= 2 and prod.rollout.strategy == "canary"
    assert prod.shadow is not None and prod.shadow.name == "shadow"
    assert [s.name for s in prod.scaling.scheduled] == ["business-hours", "after-hours"]
    staging = churn.serving["staging"]
    assert [v.name for v in staging.variants] == ["challenger"] and staging.instance_type == "ml.m5.large"
    assert spend.serving["prod"].serverless.provisioned_concurrency == 2
    assert fraud.serving["prod"].min_instances == 0 and fraud.serving["prod"].async_inference.backlog_per_instance == 10


def test_defaults_are_safe():
    serving = ServingConfig()
    assert serving.rollout == RolloutConfig(strategy="canary", size_percent=10, wait_minutes=5,
                                            termination_wait_minutes=10, max_execution_minutes=60)
    assert serving.scaling.metric == "invocations" and serving.data_capture.enabled is None
    problems = Problems()
    validate_serving(serving, "serving", problems)
    assert problems.items == []


def test_unknown_serving_key_suggests_the_right_one():
    def edit(d):
        _serving(d, 0, "prod")["rollout"]["strategi"] = "linear"
    assert "models[0].serving.prod.rollout.strategi: unknown key; did you mean 'strategy'?" in _problems(edit)


def test_unknown_strategy():
    def edit(d):
        _serving(d, 0, "prod")["rollout"]["strategy"] = "rolling"
    assert "models[0].serving.prod.rollout.strategy: 'rolling' is not allowed; expected one of 'all_at_once', 'canary', 'linear'" in _problems(edit)


def test_prod_realtime_needs_two_instances():
    def edit(d):
        _serving(d, 0, "prod")["min_instances"] = 1
    assert any(p.startswith("models[0].serving.prod.min_instances: 1 is below 2") for p in _problems(edit))


def test_serverless_with_data_capture_names_the_path():
    def edit(d):
        _serving(d, 1, "staging")["data_capture"] = {"enabled": True}
    assert any(p.startswith("models[1].serving.staging.data_capture.enabled: serverless endpoints do not support data capture")
               for p in _problems(edit))


def test_serverless_limits():
    def edit(d):
        _serving(d, 1, "prod")["serverless"] = {"memory_mb": 1500, "max_concurrency": 300, "provisioned_concurrency": 400}
        _serving(d, 1, "staging")["serverless"] = {"max_concurrency": 10, "max_provisioned_concurrency": 20, "provisioned_utilization": 1.5}
    problems = _problems(edit)
    staging = "models[1].serving.staging.serverless"
    assert f"{staging}.max_provisioned_concurrency: 20 is out of range; it must lie in [provisioned_concurrency 0, max_concurrency 10]" in problems
    assert f"{staging}.provisioned_concurrency: must be at least 1 to scale provisioned concurrency" in problems
    assert f"{staging}.provisioned_utilization: 1.5 is out of range; it must lie in (0, 1]" in problems
    assert "models[1].serving.prod.serverless.memory_mb: 1500 is not allowed; use one of 1024, 2048, 3072, 4096, 5120, 6144" in problems
    assert any(p.startswith("models[1].serving.prod.serverless.max_concurrency: 300 is out of range") for p in problems)
    assert any(p.startswith("models[1].serving.prod.serverless.provisioned_concurrency: 400 is out of range") for p in problems)


def test_canary_and_deadline():
    def edit(d):
        _serving(d, 0, "prod")["rollout"] = {"strategy": "canary", "size_percent": 75, "wait_minutes": 30,
                                             "termination_wait_minutes": 40, "max_execution_minutes": 60}
    problems = _problems(edit)
    assert any(p.startswith("models[0].serving.prod.rollout.size_percent: 75 is out of range") for p in problems)
    assert any(p.startswith("models[0].serving.prod.rollout.max_execution_minutes: 60 is shorter than the 70 minutes") for p in problems)


def test_scaling_rules():
    def edit(d):
        _serving(d, 0, "staging")["scaling"] = {
            "metric": "custom", "target": 0, "scale_in_cooldown_seconds": 7200,
            "scheduled": [{"name": "a", "schedule": "every day", "min_instances": 3, "max_instances": 1},
                          {"name": "a", "schedule": "rate(1 day)", "min_instances": 1, "max_instances": 1}],
        }
    problems = _problems(edit)
    path = "models[0].serving.staging.scaling"
    assert f"{path}.custom_metric: is required when metric is 'custom'" in problems
    assert f"{path}.target: 0.0 must be above 0" in problems
    assert any(p.startswith(f"{path}.scale_in_cooldown_seconds: 7200 is out of range") for p in problems)
    assert f"{path}.scheduled[0].schedule: 'every day' is not a schedule; use cron(...), rate(...) or at(...)" in problems
    assert f"{path}.scheduled[0].max_instances: 1 is below min_instances 3" in problems
    assert f"{path}.scheduled[1]: duplicate scheduled action name 'a'" in problems


def test_async_scales_on_backlog_only():
    def edit(d):
        _serving(d, 2, "prod")["scaling"] = {"metric": "cpu", "target": 50}
    assert any(p.startswith("models[2].serving.prod.scaling.metric: async endpoints scale on their backlog") for p in _problems(edit))


def test_variant_and_capture_rules():
    def edit(d):
        s = _serving(d, 0, "staging")
        s["variants"] = [{"name": "primary", "weight": -1}, {"name": "bad name!"}]
        s["data_capture"] = {"sampling_percentage": 0, "capture_input": False, "capture_output": False, "csv_content_types": ["csv"]}
    problems = _problems(edit)
    path = "models[0].serving.staging"
    assert f"{path}.variants[0].weight: -1.0 is negative; weights are >= 0" in problems
    assert any(p.startswith(f"{path}.variants[1].name: 'bad name!' is not a valid variant name") for p in problems)
    assert f"{path}.variants: variant name 'primary' is used twice ('primary' is the primary's)" in problems
    assert any(p.startswith(f"{path}.data_capture.sampling_percentage: 0 is out of range") for p in problems)
    assert f"{path}.data_capture: captures neither input nor output; set enabled to false instead" in problems
    assert f"{path}.data_capture.csv_content_types[0]: 'csv' is not a content type like text/csv" in problems


def test_alarm_thresholds():
    def edit(d):
        _serving(d, 0, "prod")["alarms"] = {"latency_p99_ms": 0, "evaluation_minutes": 120}
    problems = _problems(edit)
    assert any(p.startswith("models[0].serving.prod.alarms.latency_p99_ms: 0 is out of range") for p in problems)
    assert any(p.startswith("models[0].serving.prod.alarms.evaluation_minutes: 120 is out of range") for p in problems)


def test_local_storage_instances_need_the_volume_key_turned_off_explicitly():
    """SageMaker rejects a volume KMS key on local NVMe storage: the estate file says so, the endpoint never drops it."""
    def edit(d):
        d["guardrails"]["require_kms"] = False
        d["guardrails"]["instance_types"]["prod"].append("ml.g5.*")
        _serving(d, 0, "prod")["instance_type"] = "ml.g5.xlarge"
    (problem,) = _problems(edit)
    assert problem.startswith("models[0].serving.prod.instance_type: 'ml.g5.xlarge' has local NVMe instance storage, on which "
                              "SageMaker rejects the endpoint's volume KMS key; choose an EBS-backed instance type")
    assert "or set volume_kms_key to false" in problem
