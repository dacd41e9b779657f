"""models[].build and models[].governance: defaults, and one clear error per kind of bad value."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlops_estate.config import EstateConfig
from mlops_estate.config_parsing import ConfigError
from tests.helpers import default_config, default_estate_dict


def _with(build: dict[str, Any] | None = None, governance: dict[str, Any] | None = None) -> dict[str, Any]:
    data = default_estate_dict()
    model = data["models"][0]
    if build is not None:
        model["build"] = build
    if governance is not None:
        model["governance"] = governance
    return data


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(data, "test")
    return str(failure.value)


def test_defaults_and_the_default_estate():
    config = default_config()
    churn, spend, fraud = config.models
    assert churn.build.schedule == "cron(0 3 ? * MON *)"
    assert churn.governance.risk_rating == "Medium"
    assert spend.build.max_wait_minutes == 360
    assert fraud.build.batch_inference is True and not churn.build.batch_inference
    bare = EstateConfig.from_dict(_with(build={}, governance={}), "test").models[0]
    assert bare.build.spot is True and bare.build.xgboost_version == "1.7-1" and bare.build.training_image is None
    assert bare.governance.risk_rating == "Unknown"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        ({"training_image": "docker.io/me/model:1"}, "models[0].build.training_image: 'docker.io/me/model:1' is not an ECR image URI"),
        ({"schedule": "every monday"}, "models[0].build.schedule: 'every monday' is not a schedule expression"),
        ({"max_runtime_minutes": 300, "max_wait_minutes": 200}, "models[0].build.max_wait_minutes: 200 is below max_runtime_minutes 300"),
        ({"preprocess_script": "s3://bucket/prep.sh"}, "models[0].build.preprocess_script: 's3://bucket/prep.sh' is not the S3 URI of a Python script"),
        ({"training_instance_type": "m5.large"}, "models[0].build.training_instance_type: 'm5.large' is not a SageMaker instance type"),
        ({"max_runtime_minutes": 0}, "models[0].build.max_runtime_minutes: 0 must lie in [1, 40320]"),
        ({"xgboost_version": "0.9"}, "models[0].build.xgboost_version: '0.9' is not allowed; expected one of '1.5-1', '1.7-1'"),
        ({"schedule_parameters": {"MetricThreshold": "0.9"}}, "models[0].build.schedule_parameters: given without a schedule"),
        ({"spott": True}, "models[0].build.spott: unknown key; did you mean 'spot'?"),
    ],
)
def test_bad_build_settings(build, message):
    assert message in _error(_with(build=build))


def test_bad_governance_settings():
    text = _error(_with(governance={"risk_rating": "Severe", "owner": "x" * 2000}))
    assert re.search(r"models\[0\]\.governance\.risk_rating: 'Severe' is not allowed; expected one of 'High', 'Medium', 'Low', 'Unknown'", text)
    # Field checks run only on a parsed object: fix the rating and the owner length is reported.
    assert "models[0].governance.owner: is 2000 characters; a model card allows 1024" in _error(_with(governance={"owner": "x" * 2000}))
