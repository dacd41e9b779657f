"""The reference scripts shipped with the library: splitting, metrics, and the report the quality gate reads."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType

import pytest

from mlops_estate.config.estate import METRICS_BY_PROBLEM
from mlops_estate.reference.pipelines import reference_script
from tests.unit.test_pipeline_builder import evaluate_condition


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"reference_{name}", reference_script(f"{name}.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


preprocess = _load("preprocess")
evaluate = _load("evaluate")


def test_preprocess_drops_header_and_incomplete_rows_and_splits_everything(tmp_path: Path):
    data = tmp_path / "in"
    data.mkdir()
    rows = [[str(i % 2), str(i), str(i * 2)] for i in range(100)]
    with (data / "a.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["label", "x", "y"], *rows[:60], ["1", "", "3"]])
    with (data / "b.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows[60:])
    counts = preprocess.main(data, tmp_path / "out")
    assert counts == {"train": 70, "validation": 15, "test": 15}
    written = []
    for split in counts:
        with (tmp_path / "out" / split / f"{split}.csv").open() as f:
            written.extend(tuple(r) for r in csv.reader(f))
    assert sorted(written) == sorted(tuple(r) for r in rows)  # every row exactly once, none invented


def test_preprocess_writes_one_train_shard_per_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "in"
    data.mkdir()
    rows = [[str(i % 2), str(i)] for i in range(100)]
    with (data / "a.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    monkeypatch.setenv("TRAIN_SHARDS", "3")
    counts = preprocess.main(data, tmp_path / "out")
    shards = sorted((tmp_path / "out" / "train").glob("*.csv"))
    assert [p.name for p in shards] == ["train-0000.csv", "train-0001.csv", "train-0002.csv"]
    sizes = [sum(1 for _ in csv.reader(p.open())) for p in shards]
    assert sum(sizes) == counts["train"] == 70 and max(sizes) - min(sizes) <= 1  # every train row once, evenly spread
    assert [p.name for p in (tmp_path / "out" / "validation").glob("*.csv")] == ["validation.csv"]


def test_preprocess_refuses_too_little_data(tmp_path: Path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("1,2\n0,3\n")
    with pytest.raises(SystemExit, match="found 2 usable rows"):
        preprocess.main(tmp_path / "in", tmp_path / "out")


def test_binary_metrics():
    labels = [1, 1, 0, 0, 1, 0]
    scores = [0.9, 0.4, 0.3, 0.6, 0.8, 0.1]
    m = evaluate.binary_metrics(labels, scores)
    # predicted 1,0,0,1,1,0 -> tp=2 tn=2 fp=1 fn=1
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["auc"] == pytest.approx(8 / 9)  # 8 of 9 positive/negative pairs ranked right


def test_regression_and_multiclass_metrics():
    r = evaluate.regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert r["mse"] == pytest.approx(4 / 3) and r["rmse"] == pytest.approx(math.sqrt(4 / 3)) and r["mae"] == pytest.approx(2 / 3)
    assert r["r2"] == pytest.approx(1 - 4 / 2)
    m = evaluate.multiclass_metrics([0, 1, 2, 2], [0, 1, 1, 2])
    assert m["accuracy"] == pytest.approx(0.75)


@pytest.mark.parametrize("problem_type", sorted(METRICS_BY_PROBLEM))
def test_report_has_every_configurable_metric_where_the_gate_reads_it(problem_type):
    labels = [0, 1, 1, 0, 1, 0]
    outputs: list[object] = {
        "BinaryClassification": [0.2, 0.7, 0.9, 0.4, 0.6, 0.1],
        "MulticlassClassification": [[0.8, 0.2], [0.3, 0.7], [0.1, 0.9], [0.6, 0.4], [0.4, 0.6], [0.9, 0.1]],
        "Regression": [0.1, 0.9, 1.1, 0.2, 0.8, 0.0],
    }[problem_type]
    result = json.loads(json.dumps(evaluate.report(problem_type, labels, outputs)))
    assert METRICS_BY_PROBLEM[problem_type] <= set(result["metrics"])
    for metric in METRICS_BY_PROBLEM[problem_type]:
        value = result["metrics"][metric]["value"]
        # The reference pipeline's condition reads metrics.<metric>.value from this report.
        condition = {"Type": "GreaterThanOrEqualTo", "RightValue": {"Get": "Parameters.T"},
                     "LeftValue": {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                                                   "Path": f"metrics.{metric}.value"}}}
        assert evaluate_condition(condition, {"T": value}, result) is True
        assert evaluate_condition(condition, {"T": value + 0.01}, result) is False


def test_unknown_script_is_named():
    with pytest.raises(ValueError, match=r"no reference script 'train.py'; shipped: evaluate.py, preprocess.py"):
        reference_script("train.py")
