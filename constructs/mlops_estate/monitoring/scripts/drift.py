"""Portable drift engine: profile training data into a baseline, then check an endpoint's captured traffic.

Runs as a SageMaker Processing job on AWS's prebuilt scikit-learn image (network-isolated: it reads and writes
local folders only; SageMaker moves them to and from S3). Needs Python >= 3.8 and numpy >= 1.21, nothing else.

``python drift.py baseline`` reads a training dataset (CSV files under ``--data``; a header row, or
``--columns a,b,c`` for headerless files, or ``--no-header`` to name them _c0, _c1, ...) and writes
``<--output>/baseline.json`` (``schema_version`` 1)::

    {"schema_version": 1, "kind": "drift-baseline", "created_at": ISO, "problem_type": str | null,
     "source": {"files": n, "rows": n, "malformed_rows": n},
     "features": [<profile>, ...],              # model input order = column order, label/prediction excluded
     "label": <profile> | null, "prediction": <profile> | null}
    <profile> = {"name", "type": "numeric" | "categorical", "rows", "count" (valid values), "missing_rate",
                 "invalid_rate",
                 numeric:     "min", "max", "mean", "std", "bin_edges" (interior edges of <= --bins quantile
                              bins, deduplicated; bin i is (edge[i-1], edge[i]]), "bin_proportions",
                              "sample" (sorted, <= --sample-size values, all of them when fewer: the KS reference),
                 categorical: "categories" {value: proportion} (top --top-categories), "other_proportion",
                              "known" (every value seen, <= 1000), "known_complete"}

Types are inferred (numeric when every non-missing value parses as a finite number) unless ``--numeric`` /
``--categorical`` say otherwise. ``--label`` names the label column (never a model input; profiled as
``label``), ``--exclude`` other non-input columns, ``--prediction-column`` or ``--predictions`` (a file, one
prediction per line) the model's predictions on the training data (profiled as ``prediction``).

``python drift.py check`` reads SageMaker data-capture JSONL under ``--capture``
(``<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``; hour folders that cannot hold the window are skipped)
and keeps the events whose ``eventMetadata.inferenceTime`` lies in [``--window-start``, ``--window-end``).
Inputs: ``CSV`` (several records per request, one per line), ``JSON`` (``{"instances": [...]}``/
``{"inputs": [...]}``, a list of records, or one record; a record is a list in feature order, ``{"features":
[...]}`` or ``{name: value}``), JSON Lines, any of them ``BASE64``-encoded. Outputs: one line / list item per
record, a number, ``{"score"|"predicted_label"|"prediction"|"label": v}`` or ``{"predictions": [...]}``; a
vector of class probabilities becomes its argmax (multiclass) or its last value (binary). Ground truth (JSONL
under ``--ground-truth``, SageMaker's merge format) is joined on ``inferenceId``, falling back to ``eventId``.
Bad lines, payloads and records are counted per reason and skipped, never fatal. Files are read by
``--workers`` processes, each streaming in bounded batches: memory does not grow with the traffic.

It writes ``<--output>/report.json`` (``report_version`` 1)::

    {"report_version": 1, "engine": "processing", "status": "ok" | "no_data", "created_at": ISO,
     "endpoint": str | null, "monitor": str | null,          # --endpoint-name / --monitor-name
     "window": {"start": ISO | null, "end": ISO | null}, "problem_type": str | null,
     "thresholds": {"psi", "ks", "chi2_p_value", "missing_rate_tolerance", "invalid_rate_tolerance",
                    "min_records", "features": {name: {"psi"?, "ks"?, "chi2_p_value"?}}},
     "records": {"files", "lines", "events", "events_outside_window", "records", "predictions",
                 "malformed", "malformed_reasons": {reason: n}},
     "features": {name: {"type", "rows", "count", "missing_rate", "baseline_missing_rate", "invalid_rate",
                         "psi", "ks" | "chi2": {"statistic", "p_value", "dof"}, "drift": bool | null, ...}},
     "prediction": {<as a feature>} | null,
     "model_quality": {"status": "ok" | "no_ground_truth" | "not_configured", "records", "metrics": {...}, ...},
     "drift": {"detected": bool, "features": [names], "prediction": bool | null},
     "violations": n,
     "metrics": [{"name", "value", "unit": "Count" | "None", "dimensions": {"Feature": name} | {}}]}

``metrics`` (finite numbers only, ready for CloudWatch): ``records``, ``malformed_records``, ``violations``,
``drift_detected_features``; per feature ``feature_psi``, ``feature_ks`` (numeric), ``feature_chi2_p_value``
(categorical), ``feature_missing_rate``, ``feature_invalid_rate`` (type violations; unseen categories),
``feature_drift`` (0/1); ``prediction_psi``, ``prediction_ks`` (numeric predictions), ``prediction_drift`` (0/1);
with ground truth ``ground_truth_records`` and the problem type's metrics: ``auc``, ``accuracy``, ``precision``,
``recall``, ``f1`` (BinaryClassification), ``accuracy``, ``weighted_f1`` (MulticlassClassification), ``rmse``,
``mae``, ``r2`` (Regression).
It also writes ``constraint_violations.json`` in Model Monitor's layout (``{"violations": [{"feature_name",
"constraint_check_type", "description"}]}``; check types ``baseline_drift_check``, ``completeness_check``,
``data_type_check``, ``categorical_values_check``, ``missing_column_check``, ``extra_column_check``).

Drift: a feature drifts when its PSI exceeds the PSI threshold, or (numeric) its KS statistic exceeds the KS
threshold, or (categorical, only when ``--chi2-p-value`` is set) its chi-square p-value is below it; a feature
with fewer than ``--min-records`` valid values is not judged (``drift`` null).

Exit codes: 0 when the report was written, including ``status: "no_data"`` (no record in the window: the
report is uploaded and the publishing Lambda turns it into ``run_status`` 0, an alarm; ``--no-data-exit-code``
makes the job fail instead); 1 when the run failed (unreadable baseline or data); 2 for bad arguments.
Values a pipeline passes may come from the environment: ``WINDOW_START``, ``WINDOW_END``, ``WINDOW_HOURS``,
``PROBLEM_TYPE``, ``PSI_THRESHOLD``, ``KS_THRESHOLD``, ``FEATURE_THRESHOLDS``, ``LABEL``, ``DATA_COLUMNS``,
``ENDPOINT_NAME``, ``MONITOR_NAME``. (Not ``COLUMNS``: shells and terminals export that as the screen width.)
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import io
import json
import math
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Optional, Sequence, Tuple

import numpy as np

BASELINE_SCHEMA = 1
REPORT_VERSION = 1
PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")
MISSING = frozenset({"", "na", "nan", "n/a", "null", "none"})
OTHER = "__other__"
EPS = 1e-4  # proportion floor in PSI: an empty bin contributes a large but finite term
KNOWN_CAP = 1000
BATCH = 20000
INPUT = Path("/opt/ml/processing/input")
OUTPUT = Path("/opt/ml/processing/output")
Array = Any  # numpy arrays (kept loose: the script supports numpy >= 1.21)


class Malformed(ValueError):
    """A capture line, payload or record that cannot be used; ``reason`` is the counter it goes to."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------- statistics


def psi(expected: Array, actual: Array) -> float:
    """Population stability index of two proportion vectors over the same bins (both floored at EPS)."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), EPS)
    a = np.maximum(np.asarray(actual, dtype=np.float64), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def chi2_sf(statistic: float, dof: int) -> float:
    """P(X >= statistic) for X ~ chi-square(dof): the regularized upper incomplete gamma Q(dof/2, statistic/2)."""
    if statistic <= 0:
        return 1.0
    a, x = dof / 2.0, statistic / 2.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:  # series for P, then Q = 1 - P
        term = total = 1.0 / a
        n = a
        for _ in range(10000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300  # continued fraction for Q (modified Lentz)
    b, c, d = x + 1 - a, 1 / tiny, 1 / (x + 1 - a)
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


def chi2_homogeneity(baseline: Sequence[float], window: Sequence[float]) -> Tuple[float, float, int]:
    """Chi-square test that two count vectors come from one distribution (2 x k table, no continuity correction).

    Bins empty in both are dropped. Returns (statistic, p-value, degrees of freedom).
    """
    table = np.array([baseline, window], dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0, 0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return statistic, chi2_sf(statistic, dof), dof


def ks_statistic(baseline_sample: Sequence[float], values: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (the same streaming computation `check` uses)."""
    spec = ColumnSpec.numeric_from_profile(numeric_profile("x", np.asarray(baseline_sample, dtype=np.float64), 0, 0,
                                                           bins=1, sample_size=len(baseline_sample) or 1))
    acc = NumericAccumulator(spec)
    acc.add(list(values))
    return acc.ks()


def _average_ranks(values: Array) -> Array:
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[np.ravel(inverse)]


def auc(labels: Array, scores: Array) -> Optional[float]:
    """Area under the ROC curve (Mann-Whitney, ties counted half); None without both classes."""
    positive = np.asarray(labels) == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return None
    ranks = _average_ranks(np.asarray(scores, dtype=np.float64))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def binary_metrics(labels: Array, scores: Array, cutoff: float = 0.5) -> Dict[str, Optional[float]]:
    y = np.asarray(labels, dtype=np.float64)
    p = (np.asarray(scores, dtype=np.float64) >= cutoff).astype(np.float64)
    tp, fp = float(((p == 1) & (y == 1)).sum()), float(((p == 1) & (y == 0)).sum())
    fn = float(((p == 0) & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "accuracy": float((p == y).mean()),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "auc": auc(y, scores),
    }


def multiclass_metrics(labels: Sequence[str], predicted: Sequence[str]) -> Dict[str, Optional[float]]:
    """Accuracy and the support-weighted F1 over the true classes."""
    y, p = np.asarray(labels, dtype=object), np.asarray(predicted, dtype=object)
    weighted = 0.0
    for c, support in Counter(labels).items():
        tp = float(((y == c) & (p == c)).sum())
        fp, fn = float(((y != c) & (p == c)).sum()), float(support) - tp
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        weighted += f1 * support / len(labels)
    return {"accuracy": float((y == p).mean()), "weighted_f1": weighted}


def regression_metrics(labels: Array, predictions: Array) -> Dict[str, Optional[float]]:
    y, p = np.asarray(labels, dtype=np.float64), np.asarray(predictions, dtype=np.float64)
    errors = p - y
    total = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
        "r2": 1 - float(np.sum(errors**2)) / total if total else None,
    }


# ---------------------------------------------------------------------------------------------- values


def to_float(values: Sequence[Any]) -> Tuple[Array, int, int]:
    """Finite numbers of raw values (CSV strings or JSON values) and the counts of missing and invalid ones.

    Missing: None, NaN and the strings in MISSING. Invalid: text that is not a number, infinities, lists, objects.
    """
    converted = None
    for attempt in range(2):  # as they are; then with empty strings as NaN (CSV's usual missing value)
        try:
            candidate = np.array(values if attempt == 0 else [("nan" if v == "" else v) for v in values], dtype=np.float64)
            if candidate.ndim == 1:
                converted = candidate
                break
        except (ValueError, TypeError):
            pass
    if converted is None:
        converted = np.empty(len(values), dtype=np.float64)
        invalid = 0
        for i, v in enumerate(values):
            if v is None or (isinstance(v, str) and v.strip().lower() in MISSING):
                converted[i] = np.nan
            elif not isinstance(v, (str, int, float)):  # bool is an int: 0 / 1
                converted[i], invalid = np.inf, invalid + 1
            else:
                try:
                    converted[i] = float(v)
                except (ValueError, OverflowError):
                    converted[i], invalid = np.inf, invalid + 1
    nan = np.isnan(converted)
    finite = np.isfinite(converted)
    return converted[finite], int(nan.sum()), int(len(converted) - finite.sum() - nan.sum())


def norm_key(value: Any) -> Optional[str]:
    """A categorical value as a string ("1", 1 and 1.0 are one category); None for a missing one."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    if text.lower() in MISSING:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else text


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float))


# ---------------------------------------------------------------------------------------------- baseline


def numeric_profile(name: str, values: Array, missing: int, invalid: int, bins: int = 10,
                    sample_size: int = 10000, seed: int = 0) -> Dict[str, Any]:
    """Profile of a numeric column from its finite values (quantile bins, moments, sorted KS sample)."""
    rows = len(values) + missing + invalid
    profile: Dict[str, Any] = {"name": name, "type": "numeric", "rows": rows, "count": int(len(values)),
                               "missing_rate": missing / rows if rows else 0.0,
                               "invalid_rate": invalid / rows if rows else 0.0}
    if not len(values):
        return {**profile, "min": None, "max": None, "mean": None, "std": None, "bin_edges": [],
                "bin_proportions": [], "sample": []}
    qs = np.quantile(values, np.arange(1, bins) / bins) if bins > 1 else np.array([])
    edges = np.unique(qs)
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    sample = values if len(values) <= sample_size else np.random.default_rng(seed).choice(values, sample_size, replace=False)
    return {**profile, "min": float(values.min()), "max": float(values.max()), "mean": float(values.mean()),
            "std": float(values.std()), "bin_edges": edges.tolist(),
            "bin_proportions": (counts / len(values)).tolist(), "sample": np.sort(sample).tolist()}


def categorical_profile(name: str, counts: Counter[str], missing: int, invalid: int, top: int = 20) -> Dict[str, Any]:
    """Profile of a categorical column from its value counts (top categories, the rest as other)."""
    count = sum(counts.values())
    rows = count + missing + invalid
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"name": name, "type": "categorical", "rows": rows, "count": count,
            "missing_rate": missing / rows if rows else 0.0, "invalid_rate": invalid / rows if rows else 0.0,
            "categories": {k: v / count for k, v in ranked[:top]},
            "other_proportion": sum(v for _, v in ranked[top:]) / count if count else 0.0,
            "known": sorted(k for k, _ in ranked[:KNOWN_CAP]), "known_complete": len(ranked) <= KNOWN_CAP}


def _csv_files(path: Path) -> List[Path]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".csv", ".txt"))
    if not files:
        raise FileNotFoundError(f"no CSV file at {path}")
    return files


def read_table(path: Path, columns: Optional[List[str]],
               header: bool = True) -> Tuple[List[str], Callable[[], Iterator[List[Tuple[str, ...]]]], Dict[str, int]]:
    """Column names and a re-iterable reader of column batches (tuples of strings) of the CSV files at path.

    Names come from `columns`, else from the header row, else (header False) are _c0, _c1, ... by position.
    """
    files = _csv_files(path)
    has_header = columns is None and header
    names = columns
    if names is None:
        with files[0].open(newline="", encoding="utf-8") as f:
            first = [c.strip() for c in next(csv.reader(f), [])]
        names = first if header else [f"_c{i}" for i in range(len(first))]
        if not names:
            raise ValueError(f"{files[0]} is empty: expected a header row (or pass --columns)")
    stats = {"files": len(files), "rows": 0, "malformed_rows": 0}
    width = len(names)

    def batches() -> Iterator[List[Tuple[str, ...]]]:
        stats["rows"] = stats["malformed_rows"] = 0
        for file in files:
            with file.open(newline="", encoding="utf-8") as f:
                reader = csv.reader(f)
                if has_header:
                    found = [c.strip() for c in next(reader, [])]
                    if found and found != names:
                        raise ValueError(f"{file}: header {found} differs from {names} in {files[0]}")
                rows: List[List[str]] = []
                for row in reader:
                    if len(row) != width:
                        stats["malformed_rows"] += bool(row)
                        continue
                    rows.append(row)
                    if len(rows) == BATCH:
                        stats["rows"] += len(rows)
                        yield list(zip(*rows))
                        rows = []
                if rows:
                    stats["rows"] += len(rows)
                    yield list(zip(*rows))

    return names, batches, stats


def _column_kind(problem_type: Optional[str], role: str) -> Optional[str]:
    if problem_type is None:
        return None
    if role == "prediction" and problem_type == "BinaryClassification":
        return "numeric"  # scores
    return "numeric" if problem_type == "Regression" else "categorical"


def build_baseline(data: Path, *, columns: Optional[List[str]] = None, header: bool = True, label: Optional[str] = None,
                   exclude: Sequence[str] = (), prediction_column: Optional[str] = None,
                   predictions: Optional[Path] = None, problem_type: Optional[str] = None,
                   numeric: Sequence[str] = (), categorical: Sequence[str] = (), bins: int = 10,
                   top_categories: int = 20, sample_size: int = 10000, seed: int = 0) -> Dict[str, Any]:
    """The baseline document of the training data at `data` (two passes: infer types, then profile)."""
    names, batches, stats = read_table(data, columns, header)
    unknown = [c for c in [label, prediction_column, *exclude, *numeric, *categorical] if c and c not in names]
    if unknown:
        raise ValueError(f"columns {unknown} are not in the data's columns {names}")
    forced = {**{c: "numeric" for c in numeric}, **{c: "categorical" for c in categorical}}
    for role, column in (("label", label), ("prediction", prediction_column)):
        kind = _column_kind(problem_type, role)
        if column and kind and column not in forced:
            forced[column] = kind
    kinds: Dict[str, str] = {}
    undecided = [i for i, n in enumerate(names) if n not in forced and n not in exclude]
    for batch in batches():  # pass 1: a column is numeric unless some value is neither missing nor a number
        for i in list(undecided):
            if to_float(batch[i])[2]:
                kinds[names[i]] = "categorical"
                undecided.remove(i)
        if not undecided:
            break
    kinds.update({names[i]: "numeric" for i in undecided})
    kinds.update(forced)
    wanted = [i for i, n in enumerate(names) if n not in exclude]
    floats: Dict[int, List[Array]] = {i: [] for i in wanted if kinds[names[i]] == "numeric"}
    counters: Dict[int, Counter[str]] = {i: Counter() for i in wanted if kinds[names[i]] == "categorical"}
    missing: Counter[int] = Counter()
    invalid: Counter[int] = Counter()
    for batch in batches():  # pass 2: profile
        for i in floats:
            values, m, bad = to_float(batch[i])
            floats[i].append(values)
            missing[i] += m
            invalid[i] += bad
        for i in counters:
            for key, n in Counter(batch[i]).items():
                k = norm_key(key)
                if k is None:
                    missing[i] += n
                else:
                    counters[i][k] += n
    profiles: Dict[str, Dict[str, Any]] = {}
    for i in wanted:
        if i in floats:
            values = np.concatenate(floats[i]) if floats[i] else np.array([], dtype=np.float64)
            profiles[names[i]] = numeric_profile(names[i], values, missing[i], invalid[i], bins, sample_size, seed)
        else:
            profiles[names[i]] = categorical_profile(names[i], counters[i], missing[i], invalid[i], top_categories)
    if stats["rows"] == 0:
        raise ValueError(f"no data rows in {data}")
    baseline: Dict[str, Any] = {
        "schema_version": BASELINE_SCHEMA, "kind": "drift-baseline",
        "created_at": _iso(datetime.now(timezone.utc).timestamp()), "problem_type": problem_type,
        "source": dict(stats),
        "features": [p for n, p in profiles.items() if n not in (label, prediction_column)],
        "label": profiles.get(label) if label else None,
        "prediction": profiles.get(prediction_column) if prediction_column else None,
    }
    if predictions is not None:
        baseline["prediction"] = _prediction_file_profile(predictions, problem_type, bins, top_categories, sample_size, seed)
    return baseline


def _prediction_file_profile(path: Path, problem_type: Optional[str], bins: int, top: int, sample_size: int,
                             seed: int) -> Dict[str, Any]:
    values: List[Any] = []
    for file in _csv_files(path):
        with file.open(encoding="utf-8") as f:
            values.extend(_output_value([t.strip() for t in line.split(",")], problem_type)
                          for line in f if line.strip())
    kind = _column_kind(problem_type, "prediction")
    numbers, missing, invalid = to_float(values)
    if kind == "numeric" or (kind is None and not invalid):
        return numeric_profile("prediction", numbers, missing, invalid, bins, sample_size, seed)
    counts = Counter(k for k in map(norm_key, values) if k is not None)
    return categorical_profile("prediction", counts, sum(1 for v in values if norm_key(v) is None), 0, top)


# ---------------------------------------------------------------------------------------------- window state


@dataclass
class ColumnSpec:
    """What `check` needs of one baseline profile (arrays prepared once)."""

    name: str
    kind: str
    profile: Dict[str, Any]
    edges: Array = None
    expected: Array = None
    support: Array = None  # unique sorted baseline sample
    cdf: Array = None  # baseline ECDF at support
    categories: List[str] = field(default_factory=list)
    known: Optional[FrozenSet[str]] = None

    @classmethod
    def from_profile(cls, profile: Any, where: str = "baseline") -> ColumnSpec:
        """The spec of a baseline profile; ValueError naming the profile and field when it is malformed."""
        kind = profile.get("type") if isinstance(profile, dict) else None
        try:
            if kind == "numeric":
                return cls.numeric_from_profile(profile)
            if kind == "categorical":
                return cls(str(profile["name"]), "categorical", profile, categories=list(profile["categories"]),
                           known=frozenset(profile["known"]) if profile.get("known_complete") else None,
                           expected=np.array([*profile["categories"].values(), profile["other_proportion"]],
                                             dtype=np.float64))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"{where} profile {str(profile.get('name'))!r} is malformed: "
                             f"{type(error).__name__} {error}") from None
        raise ValueError(f"{where} has type {kind!r}; expected 'numeric' or 'categorical'")

    @classmethod
    def numeric_from_profile(cls, profile: Dict[str, Any]) -> ColumnSpec:
        sample = np.asarray(profile["sample"], dtype=np.float64)
        support, counts = np.unique(sample, return_counts=True)
        return cls(profile["name"], "numeric", profile, edges=np.asarray(profile["bin_edges"], dtype=np.float64),
                   expected=np.asarray(profile["bin_proportions"], dtype=np.float64), support=support,
                   cdf=np.cumsum(counts) / max(len(sample), 1))


class NumericAccumulator:
    """Streaming state of a numeric column: bin counts (PSI), the window's ECDF counts at the baseline sample
    points (exact KS), moments shifted by the baseline mean, range, missing and invalid counts.
    Memory: O(baseline sample); each batch is sorted once and searched at the baseline's points."""

    def __init__(self, spec: ColumnSpec) -> None:
        self.spec = spec
        self.rows = self.missing = self.invalid = self.count = self.below = self.above = 0
        self.shift = float(spec.profile.get("mean") or 0.0)
        self.total = self.total_sq = 0.0
        self.low, self.high = math.inf, -math.inf
        self.bins = np.zeros(len(spec.edges) + 1, dtype=np.int64)
        self.at = np.zeros(len(spec.support), dtype=np.int64)  # values <= support[j]
        self.before = np.zeros(len(spec.support), dtype=np.int64)  # values < support[j]

    def add(self, values: Sequence[Any]) -> None:
        x, missing, invalid = to_float(values)
        self.rows += len(values)
        self.missing += missing
        self.invalid += invalid
        if not len(x):
            return
        spec = self.spec
        x.sort()
        self.count += len(x)
        shifted = x - self.shift
        self.total += float(shifted.sum())
        self.total_sq += float((shifted * shifted).sum())
        self.low, self.high = min(self.low, float(x[0])), max(self.high, float(x[-1]))
        if spec.profile.get("min") is not None:
            self.below += int(np.searchsorted(x, spec.profile["min"], side="left"))
            self.above += len(x) - int(np.searchsorted(x, spec.profile["max"], side="right"))
        cumulative = np.searchsorted(x, spec.edges, side="right")  # bin i is (edge[i-1], edge[i]]
        self.bins += np.diff(np.concatenate(([0], cumulative, [len(x)])))
        self.at += np.searchsorted(x, spec.support, side="right")
        self.before += np.searchsorted(x, spec.support, side="left")

    def merge(self, other: NumericAccumulator) -> None:
        for name in ("rows", "missing", "invalid", "count", "below", "above", "total", "total_sq", "bins", "at", "before"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.low, self.high = min(self.low, other.low), max(self.high, other.high)

    def ks(self) -> float:
        """sup |F_baseline - F_window|: both ECDFs are steps, so the sup is at a baseline point or just before it."""
        if not self.count or not len(self.spec.support):
            return 0.0
        cdf = self.spec.cdf
        at, before = self.at / self.count, self.before / self.count
        return float(max(np.max(np.abs(cdf - at)), np.max(np.abs(np.concatenate(([0.0], cdf[:-1])) - before))))

    def result(self) -> Dict[str, Any]:
        mean = std = None
        if self.count:
            m = self.total / self.count
            mean = self.shift + m
            std = math.sqrt(max(self.total_sq / self.count - m * m, 0.0))
        return {"type": "numeric", **_rates(self), "min": self.low if self.count else None,
                "max": self.high if self.count else None, "mean": mean, "std": std,
                "out_of_range_rate": (self.below + self.above) / self.count if self.count else None,
                "psi": psi(self.spec.expected, self.bins / self.count) if self.count and len(self.spec.expected) else None,
                "ks": self.ks() if self.count else None}



class CategoricalAccumulator:
    """Streaming state of a categorical column: counts of the baseline's top categories, of the other known
    values and of unseen ones (with a few unseen examples). Memory: O(top categories)."""

    def __init__(self, spec: ColumnSpec) -> None:
        self.spec = spec
        self.rows = self.missing = self.invalid = self.count = self.other = self.unseen = 0
        self.counts: Counter[str] = Counter()
        self.examples: Counter[str] = Counter()

    @property
    def bins(self) -> Array:
        return np.array([*(self.counts[c] for c in self.spec.categories), self.other], dtype=np.float64)

    def add(self, values: Sequence[Any]) -> None:
        self.rows += len(values)
        try:
            raw = Counter(values)
        except TypeError:  # lists or objects in a JSON payload
            raw = Counter(v if _scalar(v) else _INVALID for v in values)
        top, known = set(self.spec.categories), self.spec.known
        for value, n in raw.items():
            key = None if value is _INVALID else norm_key(value)
            if value is _INVALID:
                self.invalid += n
            elif key is None:
                self.missing += n
            else:
                self.count += n
                if key in top:
                    self.counts[key] += n
                else:
                    self.other += n
                    if known is not None and key not in known:
                        self.unseen += n
                        if key in self.examples or len(self.examples) < 20:
                            self.examples[key] += n

    def merge(self, other: CategoricalAccumulator) -> None:
        for name in ("rows", "missing", "invalid", "count", "other", "unseen"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.counts.update(other.counts)
        for key, n in other.examples.items():
            if key in self.examples or len(self.examples) < 20:
                self.examples[key] += n

    def result(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"type": "categorical", **_rates(self), "unseen_rate": None, "unseen_examples": {},
                               "psi": None, "chi2": None,
                               "distribution": {**{c: self.counts[c] / self.count for c in self.spec.categories},
                                                OTHER: self.other / self.count} if self.count else {}}
        if self.spec.known is not None and self.count:
            out["unseen_rate"] = self.unseen / self.count
            out["unseen_examples"] = dict(self.examples.most_common())
        if self.count:
            window = self.bins
            out["psi"] = psi(self.spec.expected, window / self.count)
            base = self.spec.expected * float(self.spec.profile.get("count") or 0)
            statistic, p_value, dof = chi2_homogeneity(base, window)
            out["chi2"] = {"statistic": statistic, "p_value": p_value, "dof": dof}
        return out


class _Invalid:
    """A value that is neither missing nor usable (one object, also across worker processes)."""

    def __reduce__(self) -> str:
        return "_INVALID"


_INVALID = _Invalid()
Accumulator = Any  # NumericAccumulator | CategoricalAccumulator


def _rates(acc: Accumulator) -> Dict[str, Any]:
    rows = acc.rows
    return {"rows": rows, "count": acc.count, "missing_rate": acc.missing / rows if rows else None,
            "baseline_missing_rate": acc.spec.profile.get("missing_rate", 0.0),
            "invalid_rate": acc.invalid / rows if rows else None}


def accumulator(spec: ColumnSpec) -> Accumulator:
    return NumericAccumulator(spec) if spec.kind == "numeric" else CategoricalAccumulator(spec)


# ---------------------------------------------------------------------------------------------- capture parsing


_MINUTES: Dict[str, float] = {}


def parse_time(text: str) -> float:
    """Seconds since the epoch of an ISO-8601 timestamp (UTC when it has no offset); fast for ...:SS[.f]Z."""
    if len(text) >= 20 and text[-1] == "Z" and text[16] == ":":
        base = _MINUTES.get(text[:16])
        if base is None:
            base = datetime.strptime(text[:16], "%Y-%m-%dT%H:%M").replace(tzinfo=timezone.utc).timestamp()
            if len(_MINUTES) > 100000:
                _MINUTES.clear()
            _MINUTES[text[:16]] = base
        seconds = float(text[17:-1])
        if 0 <= seconds < 61:
            return base + seconds
    try:
        stamp = text[:-1] + "+00:00" if text.endswith("Z") else text
        if "." in stamp:  # Python < 3.11 accepts 3 or 6 fraction digits only
            head, _, tail = stamp.partition(".")
            digits = len(tail) - len(tail.lstrip("0123456789"))
            stamp = f"{head}.{tail[:digits][:6].ljust(6, '0')}{tail[digits:]}"
        moment = datetime.fromisoformat(stamp)
    except (ValueError, TypeError) as error:
        raise Malformed("bad_timestamp", f"{text!r}: {error}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _iso(seconds: Optional[float]) -> Optional[str]:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def decode(payload: Any) -> Tuple[str, Any]:
    """("csv", text) or ("json", value) or ("jsonlines", [values]) of a capture endpointInput/Output."""
    if not isinstance(payload, dict) or "data" not in payload:
        raise Malformed("missing_data", "payload has no 'data'")
    data, encoding = payload["data"], str(payload.get("encoding", "")).upper()
    content_type = str(payload.get("observedContentType", "")).lower()
    if not isinstance(data, str):
        return "json", data
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise Malformed("bad_base64") from None
    if "jsonlines" in content_type or "x-ndjson" in content_type:
        try:
            return "jsonlines", [json.loads(line) for line in data.splitlines() if line.strip()]
        except ValueError:
            raise Malformed("bad_json_payload") from None
    if encoding == "JSON" or "json" in content_type or (encoding != "CSV" and "csv" not in content_type
                                                        and data.lstrip()[:1] in ("{", "[")):
        try:
            return "json", json.loads(data)
        except ValueError:
            raise Malformed("bad_json_payload") from None
    return "csv", data


def _csv_rows(text: str) -> List[List[str]]:
    if '"' in text:
        return [row for row in csv.reader(io.StringIO(text)) if row]
    return [line.split(",") for line in text.splitlines() if line.strip()]


def _instances(value: Any) -> List[Any]:
    if isinstance(value, dict):
        for key in ("instances", "inputs"):
            if isinstance(value.get(key), list):
                return list(value[key])
        return [value]
    if isinstance(value, list):
        return list(value) if value and all(isinstance(v, (list, dict)) for v in value) else [value]
    raise Malformed("unsupported_payload", f"a JSON {type(value).__name__} is not a record")


def input_records(payload: Any, names: List[str], reasons: Counter[str], counts: Counter[str]) -> Tuple[List[Sequence[Any]], int]:
    """The records of a capture endpointInput in baseline feature order, and how many records were unusable.

    Unusable records are counted in reasons (too_few_columns, too_many_columns, unsupported_record); JSON
    records naming columns the baseline does not have are used and counted in counts (records_with_extra_columns).
    """
    kind, value = decode(payload)
    width = len(names)
    rows: List[Sequence[Any]] = []
    if kind == "csv":
        rows.extend(_csv_rows(value))
    else:
        for instance in (value if kind == "jsonlines" else _instances(value)):
            if isinstance(instance, dict) and isinstance(instance.get("features"), list):
                instance = instance["features"]
            if isinstance(instance, dict):
                rows.append([instance.get(n) for n in names])
                if any(k not in names for k in instance):
                    counts["records_with_extra_columns"] += 1
            elif isinstance(instance, list):
                rows.append(instance)
            else:
                reasons["unsupported_record"] += 1
                rows.append(())
    good = [row for row in rows if len(row) == width]
    for row in rows:
        if row and len(row) != width:
            reasons["too_few_columns" if len(row) < width else "too_many_columns"] += 1
    return good, len(rows) - len(good)


def _output_value(tokens: Sequence[Any], problem_type: Optional[str]) -> Any:
    """One record's prediction from its output tokens: the value, or of a probability vector its last value
    (BinaryClassification) or the index of its largest (otherwise)."""
    if len(tokens) == 1:
        return tokens[0]
    try:
        numbers = [float(t) for t in tokens]
    except (TypeError, ValueError):
        return _INVALID
    if not numbers:
        return _INVALID
    if problem_type == "BinaryClassification":
        return numbers[-1]
    return str(max(range(len(numbers)), key=numbers.__getitem__))


def _output_item(item: Any, problem_type: Optional[str]) -> Any:
    if isinstance(item, dict):
        keys = ("predicted_label", "label", "prediction", "score") if problem_type == "MulticlassClassification" \
            else ("score", "prediction", "predicted_label", "label")
        for key in (*keys, "probabilities", "scores"):
            if key in item:
                return _output_item(item[key], problem_type)
        return _INVALID
    if isinstance(item, list):
        return _output_value(item, problem_type)
    return item


def output_predictions(payload: Any, problem_type: Optional[str], records: int) -> List[Any]:
    """One prediction per record of a capture endpointOutput (`records`: how many records the input had, to
    tell one record's probability vector from one score per record)."""
    kind, value = decode(payload)
    if kind == "csv":
        rows = _csv_rows(value)
        if len(rows) == 1 and records > 1 and len(rows[0]) == records:
            return [t.strip() for t in rows[0]]  # one line of comma-separated predictions
        return [_output_value([t.strip() for t in row], problem_type) for row in rows]
    if kind == "jsonlines":
        return [_output_item(v, problem_type) for v in value]
    if isinstance(value, dict) and isinstance(value.get("predictions"), list):
        value = value["predictions"]
    if isinstance(value, list) and (records != 1 or len(value) == 1 or not all(_scalar(v) for v in value)):
        return [_output_item(v, problem_type) for v in value]
    return [_output_item(value, problem_type)]


def hour_of(path: Path) -> Optional[float]:
    """Start (epoch seconds) of the capture hour folder .../yyyy/mm/dd/hh/<file>, None for other layouts."""
    parts = path.parts[-5:-1]
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        try:
            return datetime(int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), tzinfo=timezone.utc).timestamp()
        except ValueError:
            return None
    return None


def capture_files(root: Path, start: Optional[float], end: Optional[float]) -> List[Path]:
    """Capture files under root that may hold events of the window (a folder's hour is when AWS wrote the file,
    at or after the inference: files of hours ending before the start, or starting an hour past the end, skip)."""
    if not root.exists():
        return []
    files = []
    for path in sorted(root.rglob("*.jsonl")):
        hour = hour_of(path)
        if hour is not None and ((start is not None and hour + 3600 <= start) or (end is not None and hour >= end + 3600)):
            continue
        files.append(path)
    return files


# ---------------------------------------------------------------------------------------------- check


@dataclass
class Context:
    """Everything a worker needs (sent once to each worker process)."""

    specs: List[ColumnSpec]
    prediction: Optional[ColumnSpec]
    problem_type: Optional[str]
    start: Optional[float]
    end: Optional[float]
    truth_by_inference: Dict[str, List[Any]]
    truth_by_event: Dict[str, List[Any]]


@dataclass
class State:
    """Additive result of reading some capture files."""

    columns: List[Accumulator]
    prediction: Optional[Accumulator]
    reasons: Counter[str] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)
    labels: List[Any] = field(default_factory=list)
    predicted: List[Any] = field(default_factory=list)
    first: float = math.inf
    last: float = -math.inf

    def merge(self, other: State) -> None:
        for mine, theirs in zip(self.columns, other.columns):
            mine.merge(theirs)
        if self.prediction is not None and other.prediction is not None:
            self.prediction.merge(other.prediction)
        self.reasons.update(other.reasons)
        self.counts.update(other.counts)
        self.labels.extend(other.labels)
        self.predicted.extend(other.predicted)
        self.first, self.last = min(self.first, other.first), max(self.last, other.last)


def new_state(ctx: Context) -> State:
    return State([accumulator(s) for s in ctx.specs], accumulator(ctx.prediction) if ctx.prediction else None)


# A capture line exactly as AWS writes it (compact, fields in this order, no escapes but \n in the data): matched
# by one regex instead of json.loads. Any other line takes the json.loads path, with identical results.
_CAPTURE_LINE = re.compile(
    r'\{"captureData":\{"endpointInput":\{"observedContentType":"([^"\\]*)","mode":"INPUT",'
    r'"data":"([^"\\]*(?:\\n[^"\\]*)*)","encoding":"([A-Z0-9]+)"\}'
    r'(?:,"endpointOutput":\{"observedContentType":"([^"\\]*)","mode":"OUTPUT",'
    r'"data":"([^"\\]*(?:\\n[^"\\]*)*)","encoding":"([A-Z0-9]+)"\})?\},'
    r'"eventMetadata":\{"eventId":"([^"\\]*)"(?:,"inferenceId":"([^"\\]*)")?(?:,"inferenceTime":"([^"\\]*)")?\},'
    r'"eventVersion":"[^"\\]*"\}\s*$').match


def _event_of(line: str) -> Tuple[Any, Any, Optional[str], Optional[str], Optional[str]]:
    """(endpointInput, endpointOutput or None, eventId, inferenceId, inferenceTime) of a capture line. On the fast
    path a CSV input is its text and the output an (encoding, content type, data) tuple; else payload objects."""
    match = _CAPTURE_LINE(line)
    if match is not None:
        in_type, in_data, in_enc, out_type, out_data, out_enc, event_id, inference_id, when = match.groups()
        if "\\" in in_data:
            in_data = in_data.replace("\\n", "\n")
        inp: Any = in_data if in_enc == "CSV" and '"' not in in_data else \
            {"observedContentType": in_type, "data": in_data, "encoding": in_enc}
        return inp, None if out_data is None else (out_enc, out_type, out_data), event_id, inference_id, when
    try:
        event = json.loads(line)
    except ValueError:
        raise Malformed("invalid_json") from None
    try:
        capture, meta = event["captureData"], event.get("eventMetadata") or {}
        inp, out = capture["endpointInput"], capture.get("endpointOutput")
        if not isinstance(inp, dict) or not isinstance(meta, dict):
            raise TypeError("not an object")
    except (KeyError, TypeError, AttributeError):
        raise Malformed("missing_capture_data") from None
    ids = [meta.get(k) for k in ("eventId", "inferenceId", "inferenceTime")]
    event_id, inference_id, when = (v if isinstance(v, str) else None if v is None else str(v) for v in ids)
    return inp, out if isinstance(out, dict) else None, event_id, inference_id, when


def read_capture_file(path: Path, ctx: Context, state: State) -> None:
    """Stream one capture file into state, in batches of BATCH records (CSV records stay text until the batch is
    split into columns in one go). The loop is the hot path of a day of capture: it keeps its counts in locals."""
    names = [s.name for s in ctx.specs]
    width = len(names)
    commas = width - 1
    csv_rows: List[str] = []  # well-formed CSV records of the batch
    rows: List[Sequence[Any]] = []  # other records, as lists in feature order
    outputs: List[Any] = []
    reasons = state.reasons
    joined = bool(ctx.truth_by_inference or ctx.truth_by_event)
    windowed = ctx.start is not None or ctx.end is not None
    start = -math.inf if ctx.start is None else ctx.start
    end = math.inf if ctx.end is None else ctx.end
    first, last = state.first, state.last
    lines = events = outside = records = predicted = 0

    def flush() -> None:
        if csv_rows:
            tokens = ",".join(csv_rows).split(",")
            for j, acc in enumerate(state.columns):
                acc.add(tokens[j::width])
            csv_rows.clear()
        if rows:
            for acc, column in zip(state.columns, zip(*rows)):
                acc.add(column)
            rows.clear()
        if outputs and state.prediction is not None:
            state.prediction.add(outputs)
        outputs.clear()

    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if len(line) < 3 and not line.strip():
                continue
            lines += 1
            try:
                inp, out, event_id, inference_id, when = _event_of(line)
                if windowed:
                    if when is None:
                        raise Malformed("missing_inference_time")
                    moment = parse_time(when)
                    if not start <= moment < end:
                        outside += 1
                        continue
                    if moment < first:
                        first = moment
                    if moment > last:
                        last = moment
                if inp.__class__ is str:  # CSV text
                    if "\n" not in inp and "\r" not in inp and inp.count(",") == commas:
                        csv_rows.append(inp)
                        n, bad = 1, 0
                    else:
                        parts = [r for r in inp.splitlines() if r.strip()] or [inp]
                        good = [r for r in parts if r.count(",") == commas]
                        for r in parts:
                            if r.count(",") != commas:
                                reasons["too_few_columns" if r.count(",") < commas else "too_many_columns"] += 1
                        csv_rows.extend(good)
                        n, bad = len(good), len(parts) - len(good)
                else:
                    found, bad = input_records(inp, names, reasons, state.counts)
                    rows.extend(found)
                    n = len(found)
            except Malformed as error:
                reasons[error.reason] += 1
                continue
            events += 1
            if not n:
                continue
            records += n
            predictions: Optional[List[Any]] = None
            if out is None:
                reasons["missing_output"] += 1
            else:
                if out.__class__ is tuple:
                    encoding, content_type, data = out
                    if n + bad == 1 and encoding == "CSV" and "," not in data and "\\" not in data and '"' not in data:
                        predictions = [data.strip()]
                    else:
                        out = {"observedContentType": content_type, "data": data.replace("\\n", "\n"),
                               "encoding": encoding}
                if predictions is None:
                    try:
                        predictions = output_predictions(out, ctx.problem_type, n + bad)
                    except Malformed as error:
                        reasons["output_" + error.reason] += 1
                    if predictions is not None and len(predictions) != n + bad:
                        reasons["output_count_mismatch"] += 1
                        predictions = None
                if predictions is not None:
                    predicted += len(predictions)
                    outputs.extend(predictions)
            if joined:
                truth = ctx.truth_by_inference.get(inference_id) if inference_id else None
                if truth is None and event_id:
                    truth = ctx.truth_by_event.get(event_id)
                if truth is not None:
                    if predictions is None or bad or len(truth) != len(predictions):
                        reasons["ground_truth_unmatched"] += 1
                    else:
                        state.labels.extend(truth)
                        state.predicted.extend(predictions)
            if len(csv_rows) + len(rows) >= BATCH:
                flush()
    flush()
    state.first, state.last = first, last
    state.counts.update(files=1, lines=lines, events=events, events_outside_window=outside, records=records,
                        predictions=predicted)


def read_ground_truth(root: Optional[Path]) -> Tuple[Dict[str, List[Any]], Dict[str, List[Any]], Counter[str]]:
    """Labels by inferenceId and by eventId from ground-truth JSONL files under root (all of them: labels
    arrive after the window), and counts (lines, labels, malformed reasons)."""
    by_inference: Dict[str, List[Any]] = {}
    by_event: Dict[str, List[Any]] = {}
    counts: Counter[str] = Counter()
    if root is None or not root.exists():
        return by_inference, by_event, counts
    for path in sorted(root.rglob("*.jsonl")):
        with path.open("rb") as f:
            for line in f:
                if not line.strip():
                    continue
                counts["lines"] += 1
                try:
                    item = json.loads(line)
                    meta = item.get("eventMetadata") or {}
                    kind, value = decode(item["groundTruthData"])
                    labels = [row[0].strip() if len(row) == 1 else _INVALID for row in _csv_rows(value)] if kind == "csv" \
                        else (value if isinstance(value, list) else [value])
                    if not labels or any(v is _INVALID or not _scalar(v) for v in labels):
                        raise Malformed("unsupported_payload")
                    if not (meta.get("inferenceId") or meta.get("eventId")):
                        raise Malformed("missing_id")
                except Malformed as error:
                    counts["malformed_" + error.reason] += 1
                    continue
                except (ValueError, KeyError, TypeError, AttributeError):
                    counts["malformed_line"] += 1
                    continue
                counts["labels"] += len(labels)
                if meta.get("inferenceId"):
                    by_inference[str(meta["inferenceId"])] = labels
                if meta.get("eventId"):
                    by_event[str(meta["eventId"])] = labels
    return by_inference, by_event, counts


_WORKER_CTX: Optional[Context] = None


def _init_worker(ctx: Context) -> None:
    global _WORKER_CTX
    _WORKER_CTX = ctx


def _read_one(path: Path) -> State:
    assert _WORKER_CTX is not None  # set by _init_worker
    state = new_state(_WORKER_CTX)
    read_capture_file(path, _WORKER_CTX, state)
    return state


def read_window(files: List[Path], ctx: Context, workers: int = 1) -> State:
    """The merged state of all files, read by `workers` processes (1: in this process)."""
    state = new_state(ctx)
    if workers <= 1 or len(files) <= 1:
        for path in files:
            read_capture_file(path, ctx, state)
        return state
    import multiprocessing  # noqa: PLC0415 - only for parallel reads

    with multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn").Pool(
            min(workers, len(files)), initializer=_init_worker, initargs=(ctx,)) as pool:
        for part in pool.imap_unordered(_read_one, files):
            state.merge(part)
    return state


def model_quality(problem_type: Optional[str], labels: List[Any], predicted: List[Any],
                  cutoff: float = 0.5) -> Tuple[Dict[str, Optional[float]], int]:
    """Metrics of the joined (label, prediction) pairs and the number of pairs that could not be used."""
    if problem_type == "MulticlassClassification":
        pairs = [(norm_key(y), norm_key(p)) for y, p in zip(labels, predicted) if p is not _INVALID]
        good = [(y, p) for y, p in pairs if y is not None and p is not None]
        return (multiclass_metrics([y for y, _ in good], [p for _, p in good]) if good else {}), len(labels) - len(good)
    ys, ps = to_float_pairs(labels, predicted, binary=problem_type == "BinaryClassification")
    if not len(ys):
        return {}, len(labels)
    metrics = binary_metrics(ys, ps, cutoff) if problem_type == "BinaryClassification" else regression_metrics(ys, ps)
    return metrics, len(labels) - len(ys)


_TRUE, _FALSE = frozenset({"1", "true", "yes"}), frozenset({"0", "false", "no"})


def to_float_pairs(labels: List[Any], predicted: List[Any], binary: bool) -> Tuple[Array, Array]:
    ys, ps = [], []
    for y, p in zip(labels, predicted):
        try:
            score = float(p)
            if binary:
                key = (norm_key(y) or "").lower()
                label = 1.0 if key in _TRUE else 0.0 if key in _FALSE else math.nan
            else:
                label = float(y)
        except (TypeError, ValueError):
            continue
        if math.isfinite(label) and math.isfinite(score):
            ys.append(label)
            ps.append(score)
    return np.array(ys, dtype=np.float64), np.array(ps, dtype=np.float64)


@dataclass
class Thresholds:
    psi: float = 0.2
    ks: float = 0.1
    chi2_p_value: Optional[float] = None
    missing_rate_tolerance: float = 0.05
    invalid_rate_tolerance: float = 0.01
    min_records: int = 30
    features: Dict[str, Dict[str, float]] = field(default_factory=dict)

    def of(self, feature: str, name: str) -> Optional[float]:
        value = self.features.get(feature, {}).get(name, getattr(self, name))
        return None if value is None else float(value)


def judge(feature: str, result: Dict[str, Any], thresholds: Thresholds) -> List[Dict[str, str]]:
    """Set result["drift"] and return the feature's Model-Monitor-style violations."""
    violations = []
    t_psi, t_ks, t_p = (thresholds.of(feature, n) for n in ("psi", "ks", "chi2_p_value"))
    if result["count"] < thresholds.min_records:
        result["drift"] = None
    else:
        reasons = []
        if result["psi"] is not None and t_psi is not None and result["psi"] > t_psi:
            reasons.append(f"PSI {result['psi']:.4f} > {t_psi:g}")
        if result.get("ks") is not None and t_ks is not None and result["ks"] > t_ks:
            reasons.append(f"KS statistic {result['ks']:.4f} > {t_ks:g}")
        chi2 = result.get("chi2")
        if chi2 and t_p is not None and chi2["dof"] and chi2["p_value"] < t_p:
            reasons.append(f"chi-square p-value {chi2['p_value']:.3g} < {t_p:g}")
        result["drift"] = bool(reasons)
        if reasons:
            violations.append(_violation(feature, "baseline_drift_check",
                                         f"Baseline drift distance exceeds the threshold: {'; '.join(reasons)}"))
    rows = result["rows"]
    if rows and result["missing_rate"] > result["baseline_missing_rate"] + thresholds.missing_rate_tolerance:
        violations.append(_violation(feature, "completeness_check",
                                     f"Missing rate {result['missing_rate']:.4f} exceeds the baseline's "
                                     f"{result['baseline_missing_rate']:.4f} by more than "
                                     f"{thresholds.missing_rate_tolerance:g}"))
    if rows and result["invalid_rate"] > thresholds.invalid_rate_tolerance:
        violations.append(_violation(feature, "data_type_check",
                                     f"{result['invalid_rate']:.4f} of the values are not of the baseline type "
                                     f"{result['type']} (tolerance {thresholds.invalid_rate_tolerance:g})"))
    if result.get("unseen_rate") is not None and result["unseen_rate"] > thresholds.invalid_rate_tolerance:
        examples = ", ".join(repr(k) for k in list(result["unseen_examples"])[:5])
        violations.append(_violation(feature, "categorical_values_check",
                                     f"{result['unseen_rate']:.4f} of the values are not in the baseline's "
                                     f"categories (e.g. {examples}; tolerance {thresholds.invalid_rate_tolerance:g})"))
    return violations


def _violation(feature: str, check: str, description: str) -> Dict[str, str]:
    return {"feature_name": feature, "constraint_check_type": check, "description": description}


def _metric(name: str, value: Any, unit: str = "None", feature: Optional[str] = None) -> List[Dict[str, Any]]:
    if value is None:
        return []
    number = float(value)
    if not math.isfinite(number):
        return []
    return [{"name": name, "value": number, "unit": unit, "dimensions": {"Feature": feature} if feature else {}}]


def check(baseline: Dict[str, Any], capture: Path, *, ground_truth: Optional[Path] = None,
          start: Optional[float] = None, end: Optional[float] = None, problem_type: Optional[str] = None,
          thresholds: Optional[Thresholds] = None, cutoff: float = 0.5, workers: int = 1) -> Tuple[Dict[str, Any], List[Dict[str, str]]]:
    """The report and the violations of the capture under `capture` in [start, end) against `baseline`."""
    if baseline.get("schema_version") != BASELINE_SCHEMA:
        raise ValueError(f"baseline schema_version {baseline.get('schema_version')!r} is not {BASELINE_SCHEMA}")
    thresholds = thresholds or Thresholds()
    problem_type = problem_type or baseline.get("problem_type")
    by_inference, by_event, truth_counts = read_ground_truth(ground_truth)
    if not isinstance(baseline.get("features"), list) or not baseline["features"]:
        raise ValueError(f"baseline features is {str(baseline.get('features'))[:100]!r}; expected a list of profiles")
    ctx = Context([ColumnSpec.from_profile(p, f"baseline features[{i}]") for i, p in enumerate(baseline["features"])],
                  ColumnSpec.from_profile(baseline["prediction"], "baseline prediction") if baseline.get("prediction") else None,
                  problem_type, start, end, by_inference, by_event)
    unknown = sorted(set(thresholds.features) - {s.name for s in ctx.specs} - {"prediction"})
    if unknown:
        raise ValueError(f"feature thresholds name features {unknown} that the baseline does not have")
    files = capture_files(capture, start, end)
    state = read_window(files, ctx, workers)
    counts = state.counts
    reasons = dict(sorted(state.reasons.items()))
    records = {"files": len(files), "lines": counts["lines"], "events": counts["events"],
               "events_outside_window": counts["events_outside_window"], "records": counts["records"],
               "predictions": counts["predictions"], "records_with_extra_columns": counts["records_with_extra_columns"],
               "malformed": sum(reasons.values()), "malformed_reasons": reasons}
    status = "ok" if counts["records"] else "no_data"
    features: Dict[str, Dict[str, Any]] = {}
    violations: List[Dict[str, str]] = []
    metrics = [*_metric("records", counts["records"], "Count"), *_metric("malformed_records", records["malformed"], "Count")]
    prediction = None
    quality: Dict[str, Any] = {"status": "not_configured" if ground_truth is None else "no_ground_truth",
                               "problem_type": problem_type, "records": len(state.labels),
                               "ground_truth": dict(truth_counts), "metrics": {}}
    if status == "ok":
        for spec, acc in zip(ctx.specs, state.columns):
            result = acc.result()
            violations.extend(judge(spec.name, result, thresholds))
            features[spec.name] = result
            metrics += _metric("feature_psi", result["psi"], feature=spec.name)
            metrics += _metric("feature_ks", result.get("ks"), feature=spec.name)
            metrics += _metric("feature_chi2_p_value", (result.get("chi2") or {}).get("p_value"), feature=spec.name)
            metrics += _metric("feature_missing_rate", result["missing_rate"], feature=spec.name)
            invalid = result["invalid_rate"] + (result.get("unseen_rate") or 0.0)
            metrics += _metric("feature_invalid_rate", invalid, feature=spec.name)
            metrics += _metric("feature_drift", None if result["drift"] is None else int(result["drift"]), feature=spec.name)
        for reason, check_type, comparison in (("too_few_columns", "missing_column_check", "fewer"),
                                               ("too_many_columns", "extra_column_check", "more")):
            if state.reasons[reason]:
                violations.append(_violation("", check_type, f"{state.reasons[reason]} records had {comparison} columns "
                                             f"than the baseline's {len(ctx.specs)} (not used)"))
        if counts["records_with_extra_columns"]:
            violations.append(_violation("", "extra_column_check", f"{counts['records_with_extra_columns']} JSON "
                                         "records named columns that are not baseline features (ignored)"))
        if state.prediction is not None:
            prediction = state.prediction.result()
            judge("prediction", prediction, thresholds)
            metrics += _metric("prediction_psi", prediction["psi"]) + _metric("prediction_ks", prediction.get("ks"))
            metrics += _metric("prediction_drift", None if prediction["drift"] is None else int(prediction["drift"]))
        if state.labels:
            scores, unusable = model_quality(problem_type, state.labels, state.predicted, cutoff)
            quality.update(status="ok" if scores else "no_ground_truth", metrics=scores, unusable=unusable)
            if scores:
                metrics += _metric("ground_truth_records", len(state.labels) - unusable, "Count")
                for name, value in scores.items():
                    metrics += _metric(name, value)
    drifted = [name for name, r in features.items() if r["drift"]]
    metrics += _metric("drift_detected_features", len(drifted), "Count") if status == "ok" else []
    metrics += _metric("violations", len(violations), "Count")
    report = {
        "report_version": REPORT_VERSION, "engine": "processing", "status": status,
        "created_at": _iso(datetime.now(timezone.utc).timestamp()),
        "window": {"start": _iso(start), "end": _iso(end),
                   "first_event": _iso(state.first) if math.isfinite(state.first) else None,
                   "last_event": _iso(state.last) if math.isfinite(state.last) else None},
        "problem_type": problem_type,
        "baseline": {"created_at": baseline.get("created_at"), "rows": baseline.get("source", {}).get("rows")},
        "thresholds": {"psi": thresholds.psi, "ks": thresholds.ks, "chi2_p_value": thresholds.chi2_p_value,
                       "missing_rate_tolerance": thresholds.missing_rate_tolerance,
                       "invalid_rate_tolerance": thresholds.invalid_rate_tolerance,
                       "min_records": thresholds.min_records, "features": thresholds.features},
        "records": records, "features": features, "prediction": prediction, "model_quality": quality,
        "drift": {"detected": bool(drifted) or bool(prediction and prediction["drift"]), "features": drifted,
                  "prediction": prediction["drift"] if prediction else None},
        "violations": len(violations), "metrics": metrics,
    }
    return report, violations


# ---------------------------------------------------------------------------------------------- command line


def _time_arg(text: str) -> float:
    try:
        return parse_time(text if "T" in text else text + "T00:00:00Z")
    except Malformed:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 timestamp (e.g. 2026-11-26T10:00:00Z)") from None


def _names(text: str) -> List[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _env(name: str, default: Optional[str] = None) -> Optional[str]:
    return os.environ.get(name) or default


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="drift.py", description=__doc__.split("\n\n")[0])
    modes = p.add_subparsers(dest="mode", required=True)
    b = modes.add_parser("baseline", help="profile training data into baseline.json")
    b.add_argument("--data", type=Path, default=INPUT / "data", help="a CSV file or a folder of them")
    b.add_argument("--output", type=Path, default=OUTPUT)
    b.add_argument("--columns", type=_names, default=_names(os.environ.get("DATA_COLUMNS", "")) or None,
                   help="column names of headerless CSV (comma-separated)")
    b.add_argument("--no-header", action="store_true",
                   help="headerless CSV without --columns: columns are named _c0, _c1, ... (e.g. --label _c0)")
    b.add_argument("--label", default=_env("LABEL"), help="the label column (not a model input)")
    b.add_argument("--exclude", type=_names, default=[], help="other columns that are not model inputs")
    b.add_argument("--prediction-column", help="a column holding the model's predictions")
    b.add_argument("--predictions", type=Path, help="a file (or folder) of predictions, one per line")
    b.add_argument("--numeric", type=_names, default=[], help="columns to profile as numeric")
    b.add_argument("--categorical", type=_names, default=[], help="columns to profile as categorical")
    b.add_argument("--bins", type=int, default=10)
    b.add_argument("--top-categories", type=int, default=20)
    b.add_argument("--sample-size", type=int, default=10000)
    c = modes.add_parser("check", help="compare a window of data capture with the baseline")
    c.add_argument("--baseline", type=Path, default=INPUT / "baseline", help="baseline.json or its folder")
    c.add_argument("--capture", type=Path, default=INPUT / "capture")
    c.add_argument("--ground-truth", type=Path, default=None, help="folder of ground-truth JSONL")
    c.add_argument("--output", type=Path, default=OUTPUT)
    c.add_argument("--window-start", type=_time_arg, default=None)
    c.add_argument("--window-end", type=_time_arg, default=None)
    c.add_argument("--window-hours", type=float, default=float(_env("WINDOW_HOURS", "0") or 0),
                   help="window length when --window-start is not given")
    c.add_argument("--psi-threshold", type=float, default=float(_env("PSI_THRESHOLD", "0.2") or 0.2))
    c.add_argument("--ks-threshold", type=float, default=float(_env("KS_THRESHOLD", "0.1") or 0.1))
    c.add_argument("--chi2-p-value", type=float, default=None, help="flag categorical drift below this p-value")
    c.add_argument("--feature-thresholds", default=_env("FEATURE_THRESHOLDS", "{}"),
                   help='JSON: {"feature": {"psi": 0.3, "ks": 0.2, "chi2_p_value": 0.001}}')
    c.add_argument("--missing-rate-tolerance", type=float, default=0.05)
    c.add_argument("--invalid-rate-tolerance", type=float, default=0.01)
    c.add_argument("--min-records", type=int, default=30)
    c.add_argument("--probability-threshold", type=float, default=0.5, help="binary cutoff on the score")
    c.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    c.add_argument("--no-data-exit-code", type=int, default=0)
    c.add_argument("--endpoint-name", default=_env("ENDPOINT_NAME"), help="recorded in the report (metric dimension)")
    c.add_argument("--monitor-name", default=_env("MONITOR_NAME"), help="recorded in the report (metric dimension)")
    for sub in (b, c):
        sub.add_argument("--problem-type", choices=PROBLEM_TYPES, default=_env("PROBLEM_TYPE"))
    return p


def _feature_thresholds(text: str) -> Dict[str, Dict[str, float]]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ValueError(f"--feature-thresholds is not JSON ({error}): {text!r}") from None
    ok = isinstance(value, dict) and all(isinstance(v, dict) and all(
        k in ("psi", "ks", "chi2_p_value") and isinstance(x, (int, float)) and not isinstance(x, bool)
        for k, x in v.items()) for v in value.values())
    if not ok:
        raise ValueError(f'--feature-thresholds must map features to {{"psi"|"ks"|"chi2_p_value": number}}: {text!r}')
    return value  # type: ignore[no-any-return]


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1, allow_nan=False), encoding="utf-8")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.mode == "baseline":
            result = build_baseline(args.data, columns=args.columns, header=not args.no_header, label=args.label,
                                    exclude=args.exclude,
                                    prediction_column=args.prediction_column, predictions=args.predictions,
                                    problem_type=args.problem_type, numeric=args.numeric,
                                    categorical=args.categorical, bins=args.bins, top_categories=args.top_categories,
                                    sample_size=args.sample_size)
            _write_json(args.output / "baseline.json", result)
            print(f"drift baseline: {len(result['features'])} features from {result['source']['rows']} rows "
                  f"-> {args.output / 'baseline.json'}")
            return 0
        end = args.window_end if args.window_end is not None else (
            _time_arg(os.environ["WINDOW_END"]) if os.environ.get("WINDOW_END") else None)
        start = args.window_start if args.window_start is not None else (
            _time_arg(os.environ["WINDOW_START"]) if os.environ.get("WINDOW_START") else None)
        if start is None and args.window_hours:
            end = end if end is not None else datetime.now(timezone.utc).timestamp()
            start = end - args.window_hours * 3600
        if start is not None and end is not None and start >= end:
            raise ValueError(f"window start {_iso(start)} is not before its end {_iso(end)}")
        baseline_path = args.baseline / "baseline.json" if args.baseline.is_dir() else args.baseline
        baseline = json.loads(baseline_path.read_text(encoding="utf-8"))
        thresholds = Thresholds(args.psi_threshold, args.ks_threshold, args.chi2_p_value, args.missing_rate_tolerance,
                                args.invalid_rate_tolerance, args.min_records, _feature_thresholds(args.feature_thresholds))
        truth = args.ground_truth
        if truth is None and (INPUT / "ground_truth").is_dir():
            truth = INPUT / "ground_truth"
        report, violations = check(baseline, args.capture, ground_truth=truth, start=start, end=end,
                                   problem_type=args.problem_type, thresholds=thresholds,
                                   cutoff=args.probability_threshold, workers=args.workers)
    except (OSError, ValueError, KeyError, TypeError, argparse.ArgumentTypeError) as error:
        print(f"drift {args.mode}: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    report = {**report, "endpoint": args.endpoint_name, "monitor": args.monitor_name}
    _write_json(args.output / "report.json", report)
    _write_json(args.output / "constraint_violations.json", {"violations": violations})
    records = report["records"]
    print(f"drift check: status {report['status']}, {records['records']} records from {records['events']} events "
          f"({records['malformed']} malformed), drift in {report['drift']['features']}, {len(violations)} violations")
    if report["status"] == "no_data":
        print(f"drift check: NO DATA in window {report['window']['start']} .. {report['window']['end']}: "
              "the report says status no_data (run_status 0 when published)", file=sys.stderr)
        return int(args.no_data_exit_code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
