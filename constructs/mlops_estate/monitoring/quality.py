"""Model quality in production: the metrics the model quality monitor publishes per problem type, and the target
a model must keep (its alarm threshold).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

ProblemType = Literal["BinaryClassification", "MulticlassClassification", "Regression"]
PROBLEM_TYPES: tuple[ProblemType, ...] = get_args(ProblemType)

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
# Metric names the portable drift engine (monitoring/scripts/drift.py) computes with ground truth, by problem type.
PORTABLE_QUALITY_METRICS: dict[str, frozenset[str]] = {
    "BinaryClassification": frozenset({"accuracy", "auc", "f1", "precision", "recall"}),
    "MulticlassClassification": frozenset({"accuracy", "weighted_f1"}),
    "Regression": frozenset({"mae", "rmse", "r2"}),
}
# Where a lower value is better, the alarm fires above the threshold; everywhere else below it.
LOWER_IS_BETTER = frozenset({"mae", "mse", "rmse", "false_positive_rate", "false_negative_rate"})
# Errors are >= 0 and r2 is at most 1; every other metric is a ratio in [0, 1].
ERROR_METRICS = frozenset({"mae", "mse", "rmse"})
# A quality gate's metric names (as a build pipeline's evaluation spells them) as the model quality monitor spells them.
GATE_TO_MONITOR_METRIC = {
    "MulticlassClassification": {"f1": "weighted_f1", "precision": "weighted_precision", "recall": "weighted_recall"},
}


@dataclass(frozen=True)
class QualityTarget:
    """The quality a model must keep in production: the model quality alarm fires when ``metric`` falls below
    ``threshold`` (rises above it for error metrics such as rmse).

    Attributes:
        metric: a metric the model quality monitor publishes for the problem type (auc, f1, rmse, ...); a quality
            gate's name is translated (``f1`` of a multiclass model is ``weighted_f1``).
        threshold: the alarm's floor, or ceiling for error metrics.
    """

    metric: str
    threshold: float


def monitor_metric(problem_type: str, metric: str) -> str:
    """``metric`` as the model quality monitor of ``problem_type`` names it."""
    return GATE_TO_MONITOR_METRIC.get(problem_type, {}).get(metric, metric)


def metric_problem(problem_type: str, metric: str) -> str | None:
    """Why ``metric`` cannot be alarmed on for ``problem_type``, if it cannot."""
    allowed = MODEL_QUALITY_METRICS[problem_type]
    if monitor_metric(problem_type, metric) in allowed:
        return None
    return f"{metric!r} is not a {problem_type} model quality metric; use one of {', '.join(sorted(allowed))}"


def threshold_problem(metric: str, threshold: float) -> str | None:
    """Why ``threshold`` is out of range for ``metric``, if it is."""
    if metric in ERROR_METRICS:
        return None if threshold >= 0 else f"{threshold!r} is out of range for {metric}; it must be >= 0"
    if metric == "r2":
        return None if threshold <= 1 else f"{threshold!r} is out of range for r2; it must be <= 1"
    return None if 0 <= threshold <= 1 else f"{threshold!r} is out of range for {metric}; it must lie in [0, 1]"
