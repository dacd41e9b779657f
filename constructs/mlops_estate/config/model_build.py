"""Per-model settings for building (the reference pipelines) and governing (the registry's model card) a model.

They hang on `ModelConfig` as ``build`` and ``governance``; both have defaults, so a model needs neither.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from mlops_estate.core.validation import Problems, join
from mlops_estate.core.instance_types import always_keyed_problem
from mlops_estate.pipeline.debugger import DEEP_LEARNING_ONLY, DebuggerSettings, ProfilerSettings, distributed_debugging_problems
from mlops_estate.pipeline.distribution import Distribution, S3Distribution
from mlops_estate.core.patterns import ECR_IMAGE, INSTANCE_TYPE, SCHEDULE

RiskRating = Literal["High", "Medium", "Low", "Unknown"]

S3_SCRIPT = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+\.py$")
HYPERPARAMETER = re.compile(r"^[A-Za-z0-9_.:-]{1,256}$")
# SageMaker's limits: a training job runs at most 28 days, on at most 100 instances; a warm pool waits at most an hour.
MAX_RUNTIME_MINUTES = 28 * 24 * 60
MAX_TRAINING_INSTANCES = 100
MAX_WARM_POOL_SECONDS = 3600


@dataclass(frozen=True)
class BuildConfig:
    """How the reference pipelines of a model train and score it (in the ML dev account).

    ``training_image`` is an ECR image URI of your own algorithm; without it the built-in XGBoost image of
    ``xgboost_version`` in the estate's region is used. ``preprocess_script`` / ``evaluate_script`` are S3
    URIs of the scripts; by default they are read from ``code/<model>/preprocess.py`` and
    ``code/<model>/evaluate.py`` in the ML dev artifacts bucket, where your CI uploads them. ``baseline_script``
    (default ``code/<model>/drift.py``) is the portable drift engine's script
    (``mlops_estate/monitoring/scripts/drift.py``), run by the build pipeline's Baseline step when the model is
    monitored with the ``processing`` engine.
    ``schedule`` starts the build pipeline, with ``schedule_parameters`` as pipeline parameter values.

    Training extras: ``training_instance_count`` instances, the ``train`` channel ``FullyReplicated`` or
    ``ShardedByS3Key`` (``training_data_distribution``; the reference preprocessing then writes one shard per
    instance); ``distribution``, the launcher of a framework ``training_image`` (`Distribution`);
    ``warm_pool_seconds``, a managed warm pool kept after each run (needs ``spot: false`` and a raised
    warm-pool service quota); ``debugger`` and ``profiler`` (`DebuggerSettings`, `ProfilerSettings`).
    """

    training_image: str | None = None
    xgboost_version: Literal["1.5-1", "1.7-1"] = "1.7-1"
    training_instance_type: str = "ml.m5.xlarge"
    processing_instance_type: str = "ml.m5.large"
    max_runtime_minutes: int = 120
    max_wait_minutes: int = 240
    spot: bool = True
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    preprocess_script: str | None = None
    evaluate_script: str | None = None
    baseline_script: str | None = None
    schedule: str | None = None
    schedule_parameters: Mapping[str, str] = field(default_factory=dict)
    batch_inference: bool = False
    batch_instance_type: str = "ml.m5.large"
    training_instance_count: int = 1
    training_data_distribution: S3Distribution = "FullyReplicated"
    distribution: Distribution | None = None
    warm_pool_seconds: int = 0
    debugger: DebuggerSettings | None = None
    profiler: ProfilerSettings | None = None

    def check(self, path: str, problems: Problems) -> None:
        if self.training_image is not None and not ECR_IMAGE.match(self.training_image):
            problems.add(join(path, "training_image"),
                         f"{self.training_image!r} is not an ECR image URI like 123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo:tag")
        for name in ("training_instance_type", "processing_instance_type", "batch_instance_type"):
            value = getattr(self, name)
            if not INSTANCE_TYPE.match(value):
                problems.add(join(path, name), f"{value!r} is not a SageMaker instance type like ml.m5.large")
            elif problem := always_keyed_problem(value, "the reference pipelines' jobs (VolumeKmsKeyId)"):
                problems.add(join(path, name), problem)
        if not 1 <= self.max_runtime_minutes <= MAX_RUNTIME_MINUTES:
            problems.add(join(path, "max_runtime_minutes"), f"{self.max_runtime_minutes} must lie in [1, {MAX_RUNTIME_MINUTES}]")
        if self.spot and self.max_wait_minutes < self.max_runtime_minutes:
            problems.add(join(path, "max_wait_minutes"),
                         f"{self.max_wait_minutes} is below max_runtime_minutes {self.max_runtime_minutes}; spot jobs must be allowed to wait at least as long as they run")
        for name in ("preprocess_script", "evaluate_script", "baseline_script"):
            value = getattr(self, name)
            if value is not None and not S3_SCRIPT.match(value):
                problems.add(join(path, name), f"{value!r} is not the S3 URI of a Python script (s3://bucket/path/script.py)")
        if self.schedule is not None and not SCHEDULE.match(self.schedule):
            problems.add(join(path, "schedule"), f"{self.schedule!r} is not a schedule expression like 'cron(0 3 ? * MON *)', 'rate(7 days)' or 'at(2026-01-01T03:00:00)'")
        if self.schedule_parameters and self.schedule is None:
            problems.add(join(path, "schedule_parameters"), "given without a schedule; set build.schedule too")
        for key, value in self.hyperparameters.items():
            if not HYPERPARAMETER.match(key) or not value:
                problems.add(join(join(path, "hyperparameters"), key), f"{key!r}={value!r}: names are 1-256 of [A-Za-z0-9_.:-], values non-empty")
        self._check_training_extras(path, problems)

    def _check_training_extras(self, path: str, problems: Problems) -> None:
        count = self.training_instance_count
        if not 1 <= count <= MAX_TRAINING_INSTANCES:
            problems.add(join(path, "training_instance_count"), f"{count} must lie in [1, {MAX_TRAINING_INSTANCES}]")
        if self.training_data_distribution == "ShardedByS3Key" and count == 1:
            problems.add(join(path, "training_data_distribution"),
                         "ShardedByS3Key with training_instance_count 1 shards across one instance; use FullyReplicated or more instances")
        if self.distribution is not None:
            if self.training_image is None:
                problems.add(join(path, "distribution"),
                             f"{self.distribution.strategy!r} launches a framework (script-mode) container; the built-in XGBoost image "
                             "distributes by training_instance_count and training_data_distribution alone. Set training_image or drop distribution")
            for problem in self.distribution.problems(self.training_instance_type, count):
                problems.add(path, "distribution." + problem.replace("instance_count", "training_instance_count")
                             .replace("instance_type", "training_instance_type"))
        if not 0 <= self.warm_pool_seconds <= MAX_WARM_POOL_SECONDS:
            problems.add(join(path, "warm_pool_seconds"), f"{self.warm_pool_seconds} must lie in [0, {MAX_WARM_POOL_SECONDS}]")
        elif self.warm_pool_seconds and self.spot:
            problems.add(join(path, "warm_pool_seconds"),
                         "SageMaker managed warm pools cannot be used with spot training; set spot to false or warm_pool_seconds to 0")
        if self.debugger is not None:
            for problem in distributed_debugging_problems(self.distribution, checkpointing=self.spot):
                problems.add(path, f"debugger: {problem}")
        if self.debugger is not None and self.training_image is None:
            for i, rule in enumerate(self.debugger.rules):
                if rule.name in DEEP_LEARNING_ONLY:
                    problems.add(join(path, f"debugger.rules[{i}].name"),
                                 f"{rule.name!r} reads neural-network tensors and is not available for the built-in XGBoost algorithm; "
                                 "set training_image to a deep learning container, or use a rule that reads the XGBoost hook's "
                                 "collections, such as LossNotDecreasing (pointed at its metrics collection), TreeDepth or "
                                 "FeatureImportanceOverweight")


@dataclass(frozen=True)
class GovernanceConfig:
    """What the model card of a model says: why it exists, how risky it is, who answers for it."""

    intended_use: str = ""
    risk_rating: RiskRating = "Unknown"
    owner: str = ""

    def check(self, path: str, problems: Problems) -> None:
        if len(self.intended_use) > 2048:
            problems.add(join(path, "intended_use"), f"is {len(self.intended_use)} characters; a model card allows 2048")
        if len(self.owner) > 1024:
            problems.add(join(path, "owner"), f"is {len(self.owner)} characters; a model card allows 1024")
