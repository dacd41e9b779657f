"""Reference evaluation for the build pipeline (runs in the SageMaker XGBoost container).

Loads the trained model from /opt/ml/processing/model/model.tar.gz, scores the test split
(/opt/ml/processing/test, label first) and writes /opt/ml/processing/evaluation/evaluation.json as
``{"metrics": {"<metric>": {"value": <number>}}}``, the shape the quality gate reads. ``METRIC`` and
``PROBLEM_TYPE`` come from the step's environment. Metrics are computed here with the stdlib, so only
loading the model needs xgboost.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tarfile
from pathlib import Path
from typing import Any

MODEL = Path("/opt/ml/processing/model")
TEST = Path("/opt/ml/processing/test")
OUTPUT = Path("/opt/ml/processing/evaluation")


def _confusion(labels: list[float], predicted: list[int]) -> tuple[int, int, int, int]:
    tp = sum(1 for y, p in zip(labels, predicted) if y == 1 and p == 1)
    tn = sum(1 for y, p in zip(labels, predicted) if y == 0 and p == 0)
    fp = sum(1 for y, p in zip(labels, predicted) if y == 0 and p == 1)
    fn = sum(1 for y, p in zip(labels, predicted) if y == 1 and p == 0)
    return tp, tn, fp, fn


def auc(labels: list[float], scores: list[float]) -> float:
    """Area under the ROC curve (rank statistic, ties counted half)."""
    pos = [s for y, s in zip(labels, scores) if y == 1]
    neg = [s for y, s in zip(labels, scores) if y == 0]
    if not pos or not neg:
        raise ValueError("auc needs both classes in the test set")
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def binary_metrics(labels: list[float], scores: list[float], cutoff: float = 0.5) -> dict[str, float]:
    predicted = [1 if s >= cutoff else 0 for s in scores]
    tp, tn, fp, fn = _confusion(labels, predicted)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    specificity = tn / (tn + fp) if tn + fp else 0.0
    return {
        "accuracy": (tp + tn) / len(labels),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "balanced_accuracy": (recall + specificity) / 2,
        "auc": auc(labels, scores),
    }


def multiclass_metrics(labels: list[float], predicted: list[int]) -> dict[str, float]:
    classes = sorted({int(y) for y in labels} | set(predicted))
    per_class = []
    for c in classes:
        tp = sum(1 for y, p in zip(labels, predicted) if y == c and p == c)
        fp = sum(1 for y, p in zip(labels, predicted) if y != c and p == c)
        fn = sum(1 for y, p in zip(labels, predicted) if y == c and p != c)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append((precision, recall, f1))
    n = len(per_class)
    return {
        "accuracy": sum(1 for y, p in zip(labels, predicted) if y == p) / len(labels),
        "precision": sum(c[0] for c in per_class) / n,
        "recall": sum(c[1] for c in per_class) / n,
        "f1": sum(c[2] for c in per_class) / n,
        "balanced_accuracy": sum(c[1] for c in per_class) / n,
    }


def regression_metrics(labels: list[float], predictions: list[float]) -> dict[str, float]:
    errors = [p - y for y, p in zip(labels, predictions)]
    mse = sum(e * e for e in errors) / len(errors)
    mean = sum(labels) / len(labels)
    total = sum((y - mean) ** 2 for y in labels)
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": sum(abs(e) for e in errors) / len(errors),
        "r2": 1 - sum(e * e for e in errors) / total if total else 0.0,
    }


def report(problem_type: str, labels: list[float], outputs: list[Any]) -> dict[str, Any]:
    """The evaluation report: every metric of the problem type, each as {"value": x}."""
    if problem_type == "BinaryClassification":
        metrics = binary_metrics(labels, [float(o) for o in outputs])
    elif problem_type == "MulticlassClassification":
        predicted = [max(range(len(o)), key=o.__getitem__) if isinstance(o, (list, tuple)) else int(o) for o in outputs]
        metrics = multiclass_metrics(labels, predicted)
    elif problem_type == "Regression":
        metrics = regression_metrics(labels, [float(o) for o in outputs])
    else:
        raise ValueError(f"unknown problem type {problem_type!r}")
    return {"metrics": {name: {"value": value} for name, value in sorted(metrics.items())}}


def _read_test(folder: Path) -> tuple[list[float], list[list[float]]]:
    labels, features = [], []
    for path in sorted(folder.rglob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                labels.append(float(row[0]))
                features.append([float(x) for x in row[1:]])
    return labels, features


def main() -> None:  # pragma: no cover - needs the XGBoost container
    import xgboost  # type: ignore[import-not-found]  # noqa: PLC0415 - only present in the container

    with tarfile.open(MODEL / "model.tar.gz") as archive:
        for member in archive.getmembers():  # plain files at the top level only: never write outside MODEL
            if member.isfile() and "/" not in member.name.removeprefix("./") and ".." not in member.name:
                archive.extract(member, MODEL)
    booster = xgboost.Booster()
    booster.load_model(str(next(p for p in MODEL.iterdir() if p.name.startswith("xgboost-model"))))
    labels, features = _read_test(TEST)
    outputs = booster.predict(xgboost.DMatrix(features)).tolist()
    result = report(os.environ["PROBLEM_TYPE"], labels, outputs)
    metric = os.environ.get("METRIC")
    if metric and metric not in result["metrics"]:
        raise SystemExit(f"evaluate: metric {metric!r} is not computed for {os.environ['PROBLEM_TYPE']}")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "evaluation.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"evaluate: {metric} = {result['metrics'].get(metric, {}).get('value')}")


if __name__ == "__main__":
    main()
