"""Per-model Model Monitor settings: which monitors run, when, against which baselines, and what alarms.

Hung on `ModelConfig.monitoring`. A monitor type is enabled by giving its section (``data_quality``,
``model_quality``, ``bias``, ``explainability``); each is validated at parse time, including SageMaker's
narrow cron rules, so a bad schedule never reaches CloudFormation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from mlops_estate.core.validation import Problems, join
from mlops_estate.config.governance import GovernedRole
from mlops_estate.core.instance_types import always_keyed_problem

MonitorType = Literal["data_quality", "model_quality", "bias", "explainability"]
MONITOR_TYPES: tuple[MonitorType, ...] = ("data_quality", "model_quality", "bias", "explainability")

HOURLY = "cron(0 * ? * * *)"
DAILY = "cron(0 0 ? * * *)"
# SageMaker Model Monitor accepts only these shapes (ScheduleConfig.ScheduleExpression):
#   cron(0 * ? * * *)            hourly
#   cron(0 H ? * * *)            daily at hour H (0-23)
#   cron(0 H/N ? * * *)          every N hours (1-24) starting at hour H
CRON = re.compile(r"^cron\(0 (?:(?P<hourly>\*)|(?P<start>\d{1,2})(?:/(?P<every>\d{1,2}))?) \? \* \* \*\)$")
CRON_HELP = "use cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at hour H, 0-23) or cron(0 H/N ? * * *) (every N hours, N 1-24)"

S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>\S*)$")
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+[a-z0-9-]*\.(?:[0-9]*x?large|medium|small|xlarge|[0-9]+xlarge)$")
# Feature and metric names end up in CloudWatch metric names (<= 255 characters, printable ASCII).
FEATURE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")
ISO_OFFSET = re.compile(r"^-P(?:T\d{1,3}[HM]|\d{1,2}D(?:T\d{1,2}H)?)$")

# Metric names the model quality monitor publishes (aws/sagemaker/Endpoints/model-metrics), by problem type.
MODEL_QUALITY_METRICS: dict[str, frozenset[str]] = {
    "BinaryClassification": frozenset({
        "accuracy", "auc", "f0_5", "f1", "f2", "precision", "recall", "true_positive_rate", "true_negative_rate",
        "false_positive_rate", "false_negative_rate",
    }),
    "MulticlassClassification": frozenset({
        "accuracy", "weighted_precision", "weighted_recall", "weighted_f0_5", "weighted_f1", "weighted_f2",
    }),
    "Regression": frozenset({"mae", "mse", "rmse", "r2"}),
}
# Where a lower value is better, the alarm fires above the threshold; everywhere else below it.
LOWER_IS_BETTER = frozenset({"mae", "mse", "rmse", "false_positive_rate", "false_negative_rate"})
# The quality gate's metric names as the model quality monitor spells them.
GATE_TO_MONITOR_METRIC = {
    "MulticlassClassification": {"f1": "weighted_f1", "precision": "weighted_precision", "recall": "weighted_recall"},
}


def monitor_role_path(estate_name: str) -> str:
    """The IAM path of the estate's Model Monitor roles. Clarify creates its explainability shadow endpoint
    config (``sm-clarify-*``, no KMS key) as the monitoring job's role; the guardrail SCP exempts exactly
    that: configs of that name, created by roles under this path."""
    return f"/{estate_name}/model-monitor/"


@dataclass(frozen=True)
class Cadence:
    """A validated schedule: how often a monitor runs, in hours (24 for daily)."""

    expression: str
    interval_hours: int


def parse_schedule(expression: str) -> Cadence | None:
    """The cadence of a SageMaker monitoring cron expression, or None when SageMaker would reject it."""
    match = CRON.match(expression)
    if match is None:
        return None
    if match["hourly"]:
        return Cadence(expression, 1)
    start = int(match["start"])
    if not 0 <= start <= 23:
        return None
    if match["every"] is None:
        return Cadence(expression, 24)
    every = int(match["every"])
    if not 1 <= every <= 24:
        return None
    return Cadence(expression, every)


def _schedule(path: str, value: str, problems: Problems) -> None:
    if value.strip().upper() == "NOW":
        problems.add(path, f"{value!r} runs once; a monitoring schedule must recur: {CRON_HELP}")
    elif parse_schedule(value) is None:
        problems.add(path, f"{value!r} is not a cron expression SageMaker Model Monitor accepts; {CRON_HELP}")


def _s3_uri(path: str, value: str, problems: Problems, *, what: str) -> None:
    if not S3_URI.match(value):
        problems.add(path, f"{value!r} is not an S3 URI like s3://bucket/prefix/{what}")


def _baselines_and_schedule(path: str, section: object, problems: Problems) -> None:
    """What every monitor section shares: its baseline constraints, an optional Clarify config, its schedule."""
    _s3_uri(join(path, "constraints_uri"), getattr(section, "constraints_uri"), problems, what="constraints.json")
    if getattr(section, "analysis_config_uri", ""):
        _s3_uri(join(path, "analysis_config_uri"), getattr(section, "analysis_config_uri"), problems, what="analysis_config.json")
    _schedule(join(path, "schedule"), getattr(section, "schedule"), problems)


def _probability_threshold(path: str, value: float | None, problems: Problems) -> None:
    if value is not None and not 0.0 < value < 1.0:
        problems.add(join(path, "probability_threshold"), f"{value} must lie in (0, 1)")


def _features(path: str, names: tuple[str, ...], problems: Problems) -> None:
    for i, name in enumerate(names):
        if not FEATURE_NAME.match(name):
            problems.add(join(path, i), f"{name!r} is not a usable feature name (1-200 letters, digits, _ . -)")
    if len(set(names)) != len(names):
        problems.add(path, "lists a feature twice")


@dataclass(frozen=True)
class DataQualityMonitorConfig:
    """Data quality: captured requests against the training data's statistics and constraints.

    ``drift_features`` are the features whose drift distance (``feature_baseline_drift_<feature>``)
    alarms above ``drift_threshold``; the statistics/constraints come from a baselining job.
    """

    constraints_uri: str
    statistics_uri: str
    drift_features: tuple[str, ...]
    drift_threshold: float = 0.1
    schedule: str = HOURLY

    def check(self, path: str, problems: Problems) -> None:
        _baselines_and_schedule(path, self, problems)
        _s3_uri(join(path, "statistics_uri"), self.statistics_uri, problems, what="statistics.json")
        if not self.drift_features:
            problems.add(join(path, "drift_features"), "name at least one feature whose drift should raise the drift alarm")
        _features(join(path, "drift_features"), self.drift_features, problems)
        if not 0.0 < self.drift_threshold <= 1.0:
            problems.add(join(path, "drift_threshold"), f"{self.drift_threshold} is not a drift distance in (0, 1]")


@dataclass(frozen=True)
class ModelQualityMonitorConfig:
    """Model quality: predictions merged with ground truth labels, scored with the problem type's metrics.

    ``metric``/``threshold`` default to the model's quality gate (``threshold`` is the alarm's floor, or
    ceiling for error metrics such as rmse).
    """

    constraints_uri: str
    inference_attribute: str = ""
    probability_attribute: str = ""
    probability_threshold: float | None = None
    metric: str = ""
    threshold: float | None = None
    schedule: str = DAILY

    def check(self, path: str, problems: Problems) -> None:
        _baselines_and_schedule(path, self, problems)
        _probability_threshold(path, self.probability_threshold, problems)

    def check_for(self, problem_type: str, path: str, problems: Problems) -> None:
        if problem_type == "BinaryClassification":
            if not self.inference_attribute and not self.probability_attribute:
                problems.add(path, "BinaryClassification needs inference_attribute or probability_attribute (where the prediction is in the response)")
            if self.probability_attribute and self.probability_threshold is None:
                problems.add(join(path, "probability_threshold"), "is required with probability_attribute (the score above which the label is positive)")
        elif not self.inference_attribute:
            problems.add(join(path, "inference_attribute"), f"is required for {problem_type} (where the prediction is in the response)")
        allowed = MODEL_QUALITY_METRICS[problem_type]
        if self.metric and self.metric not in allowed:
            problems.add(join(path, "metric"), f"{self.metric!r} is not a {problem_type} model quality metric; use one of {', '.join(sorted(allowed))}")
        if self.threshold is not None and self.metric in LOWER_IS_BETTER and self.threshold < 0:
            problems.add(join(path, "threshold"), f"{self.threshold} must be >= 0 for {self.metric}")
        if self.threshold is not None and self.metric not in LOWER_IS_BETTER and self.metric != "r2" and not 0 <= self.threshold <= 1:
            problems.add(join(path, "threshold"), f"{self.threshold} must lie in [0, 1] for a ratio metric")


@dataclass(frozen=True)
class FacetConfig:
    """A sensitive attribute and (optionally) the values that form the group bias is measured against."""

    name: str
    values: tuple[str, ...] = ()

    def check(self, path: str, problems: Problems) -> None:
        if not FEATURE_NAME.match(self.name):
            problems.add(join(path, "name"), f"{self.name!r} is not a usable feature name (1-200 letters, digits, _ . -)")


@dataclass(frozen=True)
class BiasMonitorConfig:
    """Bias drift (SageMaker Clarify): post-training bias metrics per facet against the baseline's constraints.

    ``facets`` (sensitive attributes and the group values measured against) and ``label_values`` (the
    positive outcome) make up the Clarify analysis config that `ModelMonitor` renders and ships with the
    stack; give ``analysis_config_uri`` only to use a config of your own instead.
    """

    constraints_uri: str
    facets: tuple[FacetConfig, ...] = ()
    label_values: tuple[str, ...] = ("1",)
    inference_attribute: str = ""
    probability_attribute: str = ""
    probability_threshold: float | None = None
    analysis_config_uri: str = ""
    schedule: str = DAILY

    def check(self, path: str, problems: Problems) -> None:
        _baselines_and_schedule(path, self, problems)
        _probability_threshold(path, self.probability_threshold, problems)
        if not self.facets:
            problems.add(join(path, "facets"), "bias monitoring needs at least one facet (a sensitive attribute such as age or gender)")
        names = [f.name for f in self.facets]
        if len(set(names)) != len(names):
            problems.add(join(path, "facets"), "lists a facet twice")
        if not self.label_values:
            problems.add(join(path, "label_values"), "name the label value(s) that count as the positive outcome")


@dataclass(frozen=True)
class ExplainabilityMonitorConfig:
    """Feature attribution drift (SageMaker Clarify Kernel SHAP): global SHAP values against the baseline's ranking.

    ``shap_baseline_uri`` is the SHAP baseline (background) dataset: CSV rows of feature values only.
    Clarify computes SHAP values on a temporary shadow endpoint of the endpoint's model
    (``shadow_instance_type``). Give ``analysis_config_uri`` only to use a config of your own.
    """

    constraints_uri: str
    shap_baseline_uri: str
    num_samples: int = 100
    agg_method: Literal["mean_abs", "median", "mean_sq"] = "mean_abs"
    probability_attribute: str = ""
    shadow_instance_type: str = "ml.m5.xlarge"
    analysis_config_uri: str = ""
    schedule: str = DAILY

    def check(self, path: str, problems: Problems) -> None:
        _baselines_and_schedule(path, self, problems)
        _s3_uri(join(path, "shap_baseline_uri"), self.shap_baseline_uri, problems, what="baseline.csv")
        if not 1 <= self.num_samples <= 10_000:
            problems.add(join(path, "num_samples"), f"{self.num_samples} is out of range; use 1-10000 SHAP samples")
        if not INSTANCE_TYPE.match(self.shadow_instance_type):
            problems.add(join(path, "shadow_instance_type"), f"{self.shadow_instance_type!r} is not a SageMaker instance type like ml.m5.xlarge")


@dataclass(frozen=True)
class MonitoringConfig:
    """Model Monitor for one model's endpoints (staging and prod).

    ``features`` and ``label`` name the columns of the captured CSV requests (in order) and of the ground
    truth; ``ground_truth_uri`` is the S3 prefix where labels are uploaded (model quality and bias need it).
    Labels arrive late, so those runs analyse the window from ``ground_truth_start_offset`` to
    ``ground_truth_end_offset`` before each run. ``baselines_account`` and ``ground_truth_account`` name the
    estate account (by role, e.g. ``ml_dev``) owning the baseline and ground-truth buckets (default: the
    serving account itself); the monitor role reads them only in that account (``s3:ResourceAccount``).
    """

    features: tuple[str, ...] = ()
    label: str = "label"
    ground_truth_uri: str = ""
    baselines_account: GovernedRole | None = None
    ground_truth_account: GovernedRole | None = None
    ground_truth_start_offset: str = "-P2D"
    ground_truth_end_offset: str = "-P1D"
    instance_type: str = "ml.m5.xlarge"
    volume_size_gb: int = 30
    max_runtime_minutes: int = 50
    data_quality: DataQualityMonitorConfig | None = None
    model_quality: ModelQualityMonitorConfig | None = None
    bias: BiasMonitorConfig | None = None
    explainability: ExplainabilityMonitorConfig | None = None

    @property
    def enabled(self) -> tuple[MonitorType, ...]:
        return tuple(t for t in MONITOR_TYPES if getattr(self, t) is not None)

    def schedule_of(self, monitor: MonitorType) -> Cadence:
        section = getattr(self, monitor)
        cadence = parse_schedule(section.schedule) if section is not None else None
        if cadence is None:
            raise ValueError(f"monitoring.{monitor}: not enabled or not a valid schedule")
        return cadence

    def check(self, path: str, problems: Problems) -> None:
        if not self.enabled:
            problems.add(path, f"enables no monitor; give at least one of {', '.join(MONITOR_TYPES)} (or remove 'monitoring')")
        _features(join(path, "features"), self.features, problems)
        if not FEATURE_NAME.match(self.label):
            problems.add(join(path, "label"), f"{self.label!r} is not a usable column name")
        needs_truth = [t for t in ("model_quality", "bias") if getattr(self, t) is not None]
        if needs_truth and not self.ground_truth_uri:
            problems.add(join(path, "ground_truth_uri"), f"{' and '.join(needs_truth)} monitoring needs ground truth: set the S3 prefix where labels are uploaded")
        elif self.ground_truth_uri:
            _s3_uri(join(path, "ground_truth_uri"), self.ground_truth_uri, problems, what="ground-truth/")
        for name in ("ground_truth_start_offset", "ground_truth_end_offset"):
            value = getattr(self, name)
            if not ISO_OFFSET.match(value):
                problems.add(join(path, name), f"{value!r} is not a negative ISO 8601 offset like -PT1H or -P1D")
        if (self.bias is not None or self.explainability is not None) and not self.features:
            problems.add(join(path, "features"), "bias and explainability monitoring need the feature column names (in request order)")
        if self.data_quality is not None and self.features:
            for i, feature in enumerate(self.data_quality.drift_features):
                if feature not in self.features:
                    problems.add(join(join(join(path, "data_quality"), "drift_features"), i), f"{feature!r} is not one of features {list(self.features)}")
        if self.bias is not None:
            for i, facet in enumerate(self.bias.facets):
                if self.features and facet.name not in self.features:
                    problems.add(join(join(join(path, "bias"), "facets"), i), f"facet {facet.name!r} is not one of features {list(self.features)}")
        if not INSTANCE_TYPE.match(self.instance_type):
            problems.add(join(path, "instance_type"), f"{self.instance_type!r} is not a SageMaker instance type like ml.m5.xlarge")
        elif problem := always_keyed_problem(self.instance_type, "Model Monitor jobs (VolumeKmsKeyId)"):
            problems.add(join(path, "instance_type"), problem)
        if not 1 <= self.volume_size_gb <= 16_384:
            problems.add(join(path, "volume_size_gb"), f"{self.volume_size_gb} is out of range 1-16384")
        shortest = min((c.interval_hours for t in self.enabled if (c := parse_schedule(getattr(self, t).schedule))), default=24)
        if not 1 <= self.max_runtime_minutes < shortest * 60:
            problems.add(
                join(path, "max_runtime_minutes"),
                f"{self.max_runtime_minutes} must be at least 1 and shorter than the most frequent schedule ({shortest} h), "
                "or runs overlap and SageMaker skips them",
            )

    def check_for(self, problem_type: str, gate_metric: str, path: str, problems: Problems) -> None:
        """Checks that need the model: the problem type decides which quality metrics exist."""
        if self.model_quality is None:
            return
        section = join(path, "model_quality")
        self.model_quality.check_for(problem_type, section, problems)
        if not self.model_quality.metric:
            default = GATE_TO_MONITOR_METRIC.get(problem_type, {}).get(gate_metric, gate_metric)
            if default not in MODEL_QUALITY_METRICS[problem_type]:
                problems.add(
                    join(section, "metric"),
                    f"the quality gate's {gate_metric!r} is not published by the model quality monitor; name one of "
                    f"{', '.join(sorted(MODEL_QUALITY_METRICS[problem_type]))}",
                )


def model_quality_alarm(problem_type: str, monitoring: ModelQualityMonitorConfig, gate_metric: str, gate_threshold: float) -> tuple[str, float]:
    """The model quality metric and threshold to alarm on: the section's own, else the model's quality gate."""
    metric = monitoring.metric or GATE_TO_MONITOR_METRIC.get(problem_type, {}).get(gate_metric, gate_metric)
    if metric not in MODEL_QUALITY_METRICS[problem_type]:
        raise ValueError(f"model quality metric {metric!r} is not published for {problem_type}; set monitoring.model_quality.metric")
    threshold = monitoring.threshold if monitoring.threshold is not None else gate_threshold
    return metric, threshold
