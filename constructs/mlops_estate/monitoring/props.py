"""What to monitor on an endpoint: which monitors run, when, against which baselines, and what they alarm on.

`MonitoringProps` describes the monitoring of one endpoint; a monitor type is enabled by giving its section
(``data_quality``, ``model_quality``, ``bias``, ``explainability``). The props say what is watched (feature
columns, drift features and threshold, schedules, the model quality metric), not how an engine computes it,
so another drift engine can take the same props.

Each class validates itself (``check``), in the one style of `mlops_estate.core.validation`: the estate file's
parser runs ``check`` on every object it parses; `ModelMonitor` runs `MonitoringProps.check_all`, which checks
every section too. SageMaker's narrow cron rules are checked, so a bad schedule never reaches CloudFormation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from mlops_estate.core.instance_types import always_keyed_problem
from mlops_estate.core.patterns import INSTANCE_TYPE
from mlops_estate.core.validation import Problems, join
from mlops_estate.monitoring.quality import MODEL_QUALITY_METRICS, monitor_metric, threshold_problem
from mlops_estate.monitoring.s3_uri import check_s3_uri, is_unresolved
from mlops_estate.monitoring.schedule import DAILY, HOURLY, Cadence, check_schedule, parse_schedule

MonitorType = Literal["data_quality", "model_quality", "bias", "explainability"]
MONITOR_TYPES: tuple[MonitorType, ...] = ("data_quality", "model_quality", "bias", "explainability")

# Feature and metric names end up in CloudWatch metric names (<= 255 characters, printable ASCII).
FEATURE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")
ISO_OFFSET = re.compile(r"^-P(?:T\d{1,3}[HM]|\d{1,2}D(?:T\d{1,2}H)?)$")


def _baselines_and_schedule(path: str, section: object, problems: Problems) -> None:
    """What every monitor section shares: its baseline constraints (when given), an optional Clarify config, its schedule."""
    if getattr(section, "constraints_uri"):
        check_s3_uri(join(path, "constraints_uri"), getattr(section, "constraints_uri"), problems, what="constraints.json")
    if getattr(section, "analysis_config_uri", ""):
        check_s3_uri(join(path, "analysis_config_uri"), getattr(section, "analysis_config_uri"), problems, what="analysis_config.json")
    check_schedule(join(path, "schedule"), getattr(section, "schedule"), problems)


def _probability_threshold(path: str, value: float | None, problems: Problems) -> None:
    if value is not None and not 0.0 < value < 1.0:
        problems.add(join(path, "probability_threshold"), f"{value} must lie in (0, 1)")


def _features(path: str, names: tuple[str, ...], problems: Problems) -> None:
    for i, name in enumerate(names):
        if not FEATURE_NAME.match(name):
            problems.add(join(path, i), f"{name!r} is not a usable feature name (1-200 letters, digits, _ . -)")
    if len(set(names)) != len(names):
        problems.add(path, "lists a feature twice")


def _instance_type(path: str, value: str, problems: Problems, *, keyed: str = "") -> None:
    """A literal instance type (a token is taken as it is); ``keyed`` names jobs whose volumes always take a CMK."""
    if is_unresolved(value):
        return
    if not INSTANCE_TYPE.match(value):
        problems.add(path, f"{value!r} is not a SageMaker instance type like ml.m5.xlarge")
    elif keyed and (problem := always_keyed_problem(value, keyed)):
        problems.add(path, problem)


@dataclass(frozen=True)
class DataQualityMonitorProps:
    """Data quality: captured requests against the training data's profile (feature drift, missing values, types).

    Attributes:
        drift_features: the features whose drift from the baseline raises the drift alarm; each must be one of
            `MonitoringProps.features` when those are given.
        drift_threshold: the distribution distance above which a feature drifts, in (0, 1]: Model Monitor's
            distance from the baseline, the portable engine's Kolmogorov-Smirnov statistic (numeric features; both
            are the largest gap between the two distributions).
        psi_threshold: the population stability index above which a feature drifts (portable engine; numeric and
            categorical features), greater than 0; 0.1 is a moderate shift, 0.25 a large one.
        schedule: when the monitor runs (a cron expression SageMaker accepts; hourly by default).
        constraints_uri: S3 URI of Model Monitor's baseline ``constraints.json`` (a bucket token allowed, e.g.
            ``bucket.s3_url_for_object(key)``); the ``model_monitor`` engine needs it, the portable engine reads
            the ``baseline.json`` its build pipeline registered instead.
        statistics_uri: S3 URI of Model Monitor's baseline ``statistics.json`` (``model_monitor`` engine).
    """

    drift_features: tuple[str, ...]
    drift_threshold: float = 0.1
    psi_threshold: float = 0.2
    schedule: str = HOURLY
    constraints_uri: str = ""
    statistics_uri: str = ""

    def check(self, path: str, problems: Problems) -> None:
        _baselines_and_schedule(path, self, problems)
        if self.statistics_uri:
            check_s3_uri(join(path, "statistics_uri"), self.statistics_uri, problems, what="statistics.json")
        if not self.drift_features:
            problems.add(join(path, "drift_features"), "name at least one feature whose drift should raise the drift alarm")
        _features(join(path, "drift_features"), self.drift_features, problems)
        if not 0.0 < self.drift_threshold <= 1.0:
            problems.add(join(path, "drift_threshold"), f"{self.drift_threshold} is not a drift distance in (0, 1]")
        if not 0.0 < self.psi_threshold <= 10.0:
            problems.add(join(path, "psi_threshold"), f"{self.psi_threshold} is not a population stability index in (0, 10]")


@dataclass(frozen=True)
class ModelQualityMonitorProps:
    """Model quality: predictions merged with ground truth labels, scored with the problem type's metrics.

    Attributes:
        constraints_uri: S3 URI of Model Monitor's baseline ``constraints.json`` (``model_monitor`` engine; the
            portable engine needs none).
        inference_attribute: where the predicted label is in the response (a CSV index or JSON path).
        probability_attribute: where the predicted probability is (binary classification).
        probability_threshold: the probability above which the label is positive, in (0, 1); required with
            ``probability_attribute``.
        metric: the metric the quality alarm watches; by default the model's quality target.
        threshold: the alarm's floor (ceiling for error metrics such as rmse); by default the quality target's.
        schedule: when the monitor runs (daily by default).
    """

    constraints_uri: str = ""
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
        """Checks that need the problem type: where the prediction is, and which metrics exist."""
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


@dataclass(frozen=True)
class FacetProps:
    """A sensitive attribute and (optionally) the values that form the group bias is measured against.

    Attributes:
        name: the feature column (one of `MonitoringProps.features`).
        values: the values (or a threshold) of the group; empty to let Clarify compare every value.
    """

    name: str
    values: tuple[str, ...] = ()

    def check(self, path: str, problems: Problems) -> None:
        if not FEATURE_NAME.match(self.name):
            problems.add(join(path, "name"), f"{self.name!r} is not a usable feature name (1-200 letters, digits, _ . -)")


@dataclass(frozen=True)
class BiasMonitorProps:
    """Bias drift (SageMaker Clarify): post-training bias metrics per facet against the baseline's constraints.

    ``facets`` and ``label_values`` make up the Clarify analysis config that `ModelMonitor` renders and ships
    with the stack.

    Attributes:
        constraints_uri: S3 URI of the baseline's ``constraints.json``.
        facets: the sensitive attributes (at least one) and the group values measured against.
        label_values: the label value(s) that count as the positive outcome.
        inference_attribute: where the predicted label is in the response.
        probability_attribute: where the predicted probability is.
        probability_threshold: the probability above which the label is positive, in (0, 1).
        analysis_config_uri: S3 URI of an analysis config of your own, used instead of the rendered one.
        schedule: when the monitor runs (daily by default).
    """

    constraints_uri: str
    facets: tuple[FacetProps, ...] = ()
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
class ExplainabilityMonitorProps:
    """Feature attribution drift (SageMaker Clarify Kernel SHAP): global SHAP values against the baseline's ranking.

    Clarify computes SHAP values on a temporary shadow endpoint of the endpoint's model.

    Attributes:
        constraints_uri: S3 URI of the baseline's ``constraints.json``.
        shap_baseline_uri: S3 URI of the SHAP baseline (background) dataset: CSV rows of feature values only.
        num_samples: SHAP samples per record, 1-10000.
        agg_method: how SHAP values aggregate into the global attribution.
        probability_attribute: where the predicted probability is in the response.
        shadow_instance_type: the instance type of the shadow endpoint.
        analysis_config_uri: S3 URI of an analysis config of your own, used instead of the rendered one.
        schedule: when the monitor runs (daily by default).
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
        check_s3_uri(join(path, "shap_baseline_uri"), self.shap_baseline_uri, problems, what="baseline.csv")
        if not 1 <= self.num_samples <= 10_000:
            problems.add(join(path, "num_samples"), f"{self.num_samples} is out of range; use 1-10000 SHAP samples")
        _instance_type(join(path, "shadow_instance_type"), self.shadow_instance_type, problems)


@dataclass(frozen=True)
class MonitoringProps:
    """The monitoring of one endpoint (see the module docstring).

    Labels arrive late, so model quality and bias runs analyse the window from ``ground_truth_start_offset`` to
    ``ground_truth_end_offset`` before each run.

    Attributes:
        features: the feature columns of the captured CSV requests, in order (bias and explainability need them;
            drift features and facets are checked against them).
        label: the label column of the ground truth.
        ground_truth_uri: S3 prefix where labels are uploaded (model quality and bias need it).
        ground_truth_start_offset: start of the analysed window, a negative ISO 8601 offset (``-P2D``).
        ground_truth_end_offset: end of the analysed window (``-P1D``).
        instance_type: the instance type of the monitoring jobs (EBS-backed: their volumes take a CMK).
        volume_size_gb: the jobs' volume size, 1-16384 GB.
        max_runtime_minutes: the longest a run may take; shorter than the most frequent schedule, or runs overlap
            and SageMaker skips them.
        data_quality: data quality monitoring (feature drift), or None.
        model_quality: model quality monitoring (against ground truth), or None.
        bias: bias drift monitoring, or None.
        explainability: feature attribution drift monitoring, or None.
    """

    features: tuple[str, ...] = ()
    label: str = "label"
    ground_truth_uri: str = ""
    ground_truth_start_offset: str = "-P2D"
    ground_truth_end_offset: str = "-P1D"
    instance_type: str = "ml.m5.xlarge"
    volume_size_gb: int = 30
    max_runtime_minutes: int = 50
    data_quality: DataQualityMonitorProps | None = None
    model_quality: ModelQualityMonitorProps | None = None
    bias: BiasMonitorProps | None = None
    explainability: ExplainabilityMonitorProps | None = None

    @property
    def enabled(self) -> tuple[MonitorType, ...]:
        return tuple(t for t in MONITOR_TYPES if getattr(self, t) is not None)

    def schedule_of(self, monitor: MonitorType) -> Cadence:
        """The cadence of an enabled monitor (its schedule checked)."""
        section = getattr(self, monitor)
        cadence = parse_schedule(section.schedule) if section is not None else None
        if cadence is None:
            raise ValueError(f"monitoring.{monitor}: not enabled or not a valid schedule")
        return cadence

    def check_all(self, path: str, problems: Problems) -> None:
        """Every check of these props and their sections (what the parser runs object by object)."""
        for monitor in self.enabled:
            section = getattr(self, monitor)
            section.check(join(path, monitor), problems)
        if self.bias is not None:
            for i, facet in enumerate(self.bias.facets):
                facet.check(join(join(join(path, "bias"), "facets"), i), problems)
        self.check(path, problems)

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
            check_s3_uri(join(path, "ground_truth_uri"), self.ground_truth_uri, problems, what="ground-truth/")
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
        _instance_type(join(path, "instance_type"), self.instance_type, problems, keyed="Model Monitor jobs (VolumeKmsKeyId)")
        if not 1 <= self.volume_size_gb <= 16_384:
            problems.add(join(path, "volume_size_gb"), f"{self.volume_size_gb} is out of range 1-16384")
        shortest = min((c.interval_hours for t in self.enabled if (c := parse_schedule(getattr(self, t).schedule))), default=24)
        if not 1 <= self.max_runtime_minutes < shortest * 60:
            problems.add(
                join(path, "max_runtime_minutes"),
                f"{self.max_runtime_minutes} must be at least 1 and shorter than the most frequent schedule ({shortest} h), "
                "or runs overlap and SageMaker skips them",
            )

    def check_for(self, problem_type: str, default_metric: str | None, path: str, problems: Problems) -> None:
        """Checks that need the model: the problem type decides which quality metrics exist. ``default_metric`` is
        the metric model quality alarms on when its section names none (the model's quality gate); None skips
        checking it (the caller checks its own default)."""
        if self.model_quality is None:
            return
        section = join(path, "model_quality")
        model_quality = self.model_quality
        model_quality.check_for(problem_type, section, problems)
        if not model_quality.metric and default_metric is not None:
            default = monitor_metric(problem_type, default_metric)
            if default not in MODEL_QUALITY_METRICS[problem_type]:
                problems.add(
                    join(section, "metric"),
                    f"the quality gate's {default_metric!r} is not published by the model quality monitor; name one of "
                    f"{', '.join(sorted(MODEL_QUALITY_METRICS[problem_type]))}",
                )
        metric = model_quality.metric or (monitor_metric(problem_type, default_metric) if default_metric else "")
        if model_quality.threshold is not None and metric and (problem := threshold_problem(metric, model_quality.threshold)):
            problems.add(join(section, "threshold"), problem)
