"""Per-model monitoring settings of the estate file (``models[].monitoring``).

The settings are `mlops_estate.monitoring.props.MonitoringProps` (the props of `DriftMonitor` and `ModelMonitor`,
validated there); the estate adds the engine, which estate account owns the baseline and ground-truth buckets, by
role, and names each serving account's monitors of a model ``<estate>-<model>-<stg|prd>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlops_estate.config.governance import GovernedRole
from mlops_estate.core.validation import Problems, join
from mlops_estate.monitoring.props import MonitoringProps
from mlops_estate.monitoring.quality import PORTABLE_QUALITY_METRICS, monitor_metric

Engine = Literal["processing", "model_monitor"]

# How a serving environment appears in the names of its monitors.
ENV_ABBREVIATION: dict[str, str] = {"staging": "stg", "prod": "prd"}


@dataclass(frozen=True)
class MonitoringConfig(MonitoringProps):
    """Monitoring of one model's endpoints (staging and prod): `MonitoringProps` plus the engine and bucket owners.

    Attributes:
        engine: ``processing`` (default: the portable `DriftMonitor`, which works in every account; the build
            pipeline profiles the training data and registers the baseline with each version) or
            ``model_monitor`` (`ModelMonitor`: SageMaker Model Monitor schedules, for accounts that still have it;
            the only engine with bias and explainability monitoring).
        baselines_account: the estate account (by role, e.g. ``ml_dev``) owning Model Monitor's baseline buckets
            (``model_monitor`` engine); default the serving account itself. The monitor role reads them only in
            that account (``s3:ResourceAccount``). The portable engine reads the registry's baselines.
        ground_truth_account: the estate account owning the ground-truth bucket; default the serving account.
    """

    engine: Engine = "processing"
    baselines_account: GovernedRole | None = None
    ground_truth_account: GovernedRole | None = None

    def check(self, path: str, problems: Problems) -> None:
        super().check(path, problems)
        if self.engine == "model_monitor":
            for monitor in self.enabled:
                fields = ("constraints_uri", "statistics_uri") if monitor == "data_quality" else ("constraints_uri",)
                for name in fields:
                    if not getattr(getattr(self, monitor), name):
                        problems.add(join(join(path, monitor), name), f"is empty; the model_monitor engine needs the S3 URI "
                                                                      f"of the baselining job's {name.removesuffix('_uri')}.json")
            return
        if self.data_quality is None:
            problems.add(join(path, "data_quality"), "is missing; the processing engine always checks data quality: give "
                                                     "drift_features (and thresholds, schedule)")
        if not self.features:
            problems.add(join(path, "features"), "is empty; the processing engine profiles the training data and reads "
                                                 "headerless CSV requests by these names (in request order)")
        for monitor in ("bias", "explainability"):
            if getattr(self, monitor) is not None:
                problems.add(join(path, monitor), f"needs SageMaker Clarify inside Model Monitor; set engine to "
                                                  f"'model_monitor' (accounts that still have Model Monitor) or remove {monitor}")
        if self.baselines_account is not None:
            problems.add(join(path, "baselines_account"), f"{self.baselines_account!r} is only read by the model_monitor engine "
                                                          "(the processing engine reads the baseline each version registered)")

    def check_for(self, problem_type: str, default_metric: str | None, path: str, problems: Problems) -> None:
        if self.engine == "model_monitor":
            super().check_for(problem_type, default_metric, path, problems)
            return
        if self.model_quality is None:
            return
        allowed = PORTABLE_QUALITY_METRICS[problem_type]
        metric = self.model_quality.metric or monitor_metric(problem_type, default_metric or "")
        where = join(join(path, "model_quality"), "metric")
        if metric not in allowed:
            what = repr(metric) if self.model_quality.metric else f"the quality gate's {default_metric!r}"
            problems.add(where, f"{what} is not a {problem_type} metric the processing engine computes; name one of "
                                f"{', '.join(sorted(allowed))}")


def monitor_name_prefix(estate_name: str, model: str, environment: str) -> str:
    """``<estate>-<model>-<stg|prd>``: what a serving account's monitors of a model are named after."""
    return f"{estate_name}-{model}-{ENV_ABBREVIATION[environment]}"
