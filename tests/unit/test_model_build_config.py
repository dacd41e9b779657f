"""models[].build and models[].governance: defaults, and one clear error per kind of bad value."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlops_estate.config.estate import EstateConfig
from mlops_estate.core.validation import ConfigError
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
        # training extras
        ({"training_instance_count": 0}, "models[0].build.training_instance_count: 0 must lie in [1, 100]"),
        ({"training_data_distribution": "ShardedByS3Key"},
         "models[0].build.training_data_distribution: ShardedByS3Key with training_instance_count 1 shards across one instance"),
        ({"training_data_distribution": "Sharded"},
         "models[0].build.training_data_distribution: 'Sharded' is not allowed; expected one of 'FullyReplicated', 'ShardedByS3Key'"),
        ({"distribution": {"strategy": "torch_distributed"}},
         "models[0].build.distribution: 'torch_distributed' launches a framework (script-mode) container; the built-in XGBoost image"),
        ({"training_image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/pt:1", "distribution": {"strategy": "parameter_server"}},
         "models[0].build: distribution.strategy 'parameter_server' with training_instance_count 1: a parameter server needs at least 2 instances"),
        ({"training_image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/pt:1", "training_instance_type": "ml.g5.xlarge",
          "training_instance_count": 2, "distribution": {"strategy": "smdistributed_dataparallel"}},
         "models[0].build: distribution.strategy 'smdistributed_dataparallel' does not run on training_instance_type 'ml.g5.xlarge'"),
        ({"distribution": {"strategy": "horovod"}},
         "models[0].build.distribution.strategy: 'horovod' is not allowed; expected one of 'parameter_server', 'mpi'"),
        ({"warm_pool_seconds": 600}, "models[0].build.warm_pool_seconds: SageMaker managed warm pools cannot be used with spot training"),
        ({"spot": False, "warm_pool_seconds": 7200}, "models[0].build.warm_pool_seconds: 7200 must lie in [0, 3600]"),
        ({"debugger": {"rules": [{"name": "VanishingGradient"}]}},
         "models[0].build.debugger.rules[0].name: 'VanishingGradient' reads neural-network tensors and is not available for the built-in "
         "XGBoost algorithm; set training_image to a deep learning container, or use a rule that reads the XGBoost hook's collections, "
         "such as LossNotDecreasing (pointed at its metrics collection), TreeDepth or FeatureImportanceOverweight"),
        ({"debugger": {"rules": [{"name": "Overfit"}, {"name": "Overfit"}]}},
         "models[0].build.debugger: rules: 'Overfit' is given twice; a rule configuration name must be unique"),
        ({"debugger": {"rules": [{"name": "Overfit", "job": {"instance_type": "ml.m5.xlarge", "volume_size_gb": 0}}]}},
         "models[0].build.debugger: rules[0].job.volume_size_gb 0 must lie in [1, 16384]"),
        ({"debugger": {"rules": [{"name": "Overfitting"}]}},
         "models[0].build.debugger.rules[0].name: 'Overfitting' is not allowed; expected one of 'VanishingGradient', 'Overfit'"),
        ({"training_image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/pt:1", "training_instance_count": 2,
          "distribution": {"strategy": "mpi"}, "debugger": {"rules": [{"name": "Overfit"}]}},
         "models[0].build: debugger: SageMaker Debugger is not available for distributed training ('mpi') with SageMaker checkpoints"),
        ({"debugger": {"collections": ["metrics", ""]}},
         "models[0].build.debugger: collections[1] '' is 0 characters; a CollectionName has 1 to 256"),
        ({"debugger": {"collections": ["x" * 257]}},
         f"models[0].build.debugger: collections[0] '{'x' * 257}' is 257 characters; a CollectionName has 1 to 256"),
        ({"debugger": {"collections": ["metrics", "metrics"]}}, "models[0].build.debugger: collections[1] 'metrics' is given twice"),
        ({"profiler": {"interval_ms": 250}}, "models[0].build.profiler: interval_ms 250 is not allowed; use one of 100, 200, 500, 1000, 5000, 60000"),
        ({"profiler": {"rules": [{"name": "ProfilerReport", "parameters": {"rule_to_invoke": "X"}}]}},
         "models[0].build.profiler: rules[0].parameters: rule_to_invoke is set from the rule name; remove it"),
    ],
)
def test_bad_build_settings(build, message):
    assert message in _error(_with(build=build))


def test_training_extras_of_the_default_estate():
    churn, spend, fraud = default_config().models
    assert churn.build.training_instance_count == 1 and churn.build.debugger is None and churn.build.warm_pool_seconds == 0
    assert spend.build.training_instance_count == 2 and spend.build.training_data_distribution == "ShardedByS3Key"
    # AWS closed Debugger to new customers (2026-07-30): the default estate must run in a new account.
    assert all(m.build.debugger is None and m.build.profiler is None for m in (churn, spend, fraud))
    assert fraud.build.warm_pool_seconds == 600 and fraud.build.spot is False
    # SMDDP on the one supported type with EBS volumes (the others have NVMe storage, which takes no volume KMS key).
    data = _with(build={
        "training_image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/pt:1", "training_instance_type": "ml.p3.16xlarge",
        "training_instance_count": 2, "distribution": {"strategy": "smdistributed_dataparallel"},
        "debugger": {"rules": [{"name": "VanishingGradient"}]}, "spot": False, "warm_pool_seconds": 3600,
    })
    data["guardrails"]["instance_types"]["ml_dev"].append("ml.p3.16xlarge")
    framework = EstateConfig.from_dict(data, "test").models[0].build
    assert framework.distribution is not None and framework.distribution.strategy == "smdistributed_dataparallel"


def test_bad_governance_settings():
    text = _error(_with(governance={"risk_rating": "Severe", "owner": "x" * 2000}))
    assert re.search(r"models\[0\]\.governance\.risk_rating: 'Severe' is not allowed; expected one of 'High', 'Medium', 'Low', 'Unknown'", text)
    # Field checks run only on a parsed object: fix the rating and the owner length is reported.
    assert "models[0].governance.owner: is 2000 characters; a model card allows 1024" in _error(_with(governance={"owner": "x" * 2000}))
