"""The portable drift engine's script (monitoring/scripts/drift.py) on generated SageMaker data-capture files.

Capture lines are built exactly as AWS writes them (compact JSON, captureData / eventMetadata / eventVersion),
and also spaced or reordered so that the json.loads path is tested against the fast path. Statistics are
checked against hand-computed values, and against scipy where it is installed (reference values computed
with scipy 1.17.1 are also written out, so the checks run without it).
"""

from __future__ import annotations

import base64
import csv
import importlib.util
import json
import math
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, Sequence

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "constructs" / "mlops_estate" / "monitoring" / "scripts" / "drift.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("drift_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["drift_script"] = module  # dataclasses and pickling (worker processes) look the module up
    spec.loader.exec_module(module)
    return module


drift = _load()

FEATURES = ["age", "income", "tenure", "plan"]
HOUR = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)
WINDOW = (HOUR.timestamp(), (HOUR + timedelta(hours=1)).timestamp())


# ---------------------------------------------------------------------------------------------- data


def population(rng: np.random.Generator, n: int, *, age_shift: float = 0.0,
               plans: Sequence[float] = (0.5, 0.3, 0.15, 0.05)) -> list[list[str]]:
    """n rows of the model's inputs as CSV cells: age, income (2% missing), tenure (discrete), plan."""
    age = np.round(rng.normal(40 + age_shift, 10, n), 1)
    income = np.round(rng.lognormal(10, 0.5, n), 2)
    tenure = rng.poisson(3, n)
    plan = rng.choice(["basic", "plus", "premium", "family"], n, p=list(plans))
    missing = rng.random(n) < 0.02
    return [[f"{a}", "" if m else f"{i}", f"{t}", p] for a, i, t, p, m in zip(age, income, tenure, plan, missing)]


def score(row: Sequence[str]) -> float:
    """The model: a churn probability from age and tenure."""
    return round(1 / (1 + math.exp(-(float(row[0]) - 40) / 8 + 0.2 * int(row[2]))), 4)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Baseline of 4,000 training rows (label first, a prediction column), seed 1."""
    folder = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(1)
    rows = population(rng, 4000)
    with (folder / "train.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["churned", *FEATURES, "score"])
        for row in rows:
            writer.writerow([int(rng.random() < score(row)), *row, score(row)])
    result: dict[str, Any] = drift.build_baseline(folder, label="churned", prediction_column="score",
                                                  problem_type="BinaryClassification")
    return result


def capture_line(data: str, output: str | None = "0.5", *, encoding: str = "CSV", content_type: str = "text/csv",
                 out_encoding: str = "CSV", out_type: str = "text/csv; charset=utf-8", event_id: str = "e",
                 inference_id: str | None = None, when: datetime | str = HOUR, compact: bool = True) -> str:
    """One data-capture line as SageMaker writes it (compact), or spaced and reordered (compact=False)."""
    stamp = when if isinstance(when, str) else when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    capture: dict[str, Any] = {"endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data,
                                                 "encoding": encoding}}
    if output is not None:
        capture["endpointOutput"] = {"observedContentType": out_type, "mode": "OUTPUT", "data": output,
                                     "encoding": out_encoding}
    meta = {"eventId": event_id, **({"inferenceId": inference_id} if inference_id else {}), "inferenceTime": stamp}
    if compact:
        return json.dumps({"captureData": capture, "eventMetadata": meta, "eventVersion": "0"}, separators=(",", ":"))
    return json.dumps({"eventVersion": "0", "eventMetadata": meta, "captureData": capture})


def write_capture(root: Path, lines: Iterable[str], hour: datetime = HOUR, name: str = "capture") -> Path:
    folder = root / "churn-prod" / "AllTraffic" / hour.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hour:%M-%S}-000-{name}.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def csv_lines(rows: Sequence[Sequence[str]], **kwargs: Any) -> list[str]:
    """One request per row, spread over the hour, the model's score as the response."""
    return [capture_line(",".join(row), str(score(row)), event_id=f"e{i}", inference_id=f"i{i}",
                         when=HOUR + timedelta(seconds=i * 3600 / len(rows)), **kwargs) for i, row in enumerate(rows)]


def run_check(baseline: dict[str, Any], capture: Path, **kwargs: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    kwargs.setdefault("start", WINDOW[0])
    kwargs.setdefault("end", WINDOW[1])
    report, violations = drift.check(baseline, capture, **kwargs)
    json.dumps(report, allow_nan=False)  # the report is strict JSON
    return report, violations


def metric(report: dict[str, Any], name: str, feature: str | None = None) -> float | None:
    found = [m["value"] for m in report["metrics"] if m["name"] == name and m["dimensions"].get("Feature") == feature]
    assert len(found) <= 1
    return found[0] if found else None


# ---------------------------------------------------------------------------------------------- statistics


def test_psi_against_hand_computed_values() -> None:
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5) = 0.17329 + 0.10137
    assert drift.psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.274653, abs=1e-6)
    assert drift.psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    # an empty bin is floored at 1e-4: (0.5 - 1e-4) ln(0.5 / 1e-4) + (0.5 - 1) ln(0.5 / 1) = 4.25774 + 0.34657
    assert drift.psi([0.0, 1.0], [0.5, 0.5]) == pytest.approx(4.604318, abs=1e-6)


def test_ks_statistic_against_hand_computed_values() -> None:
    assert drift.ks_statistic([1, 2, 3, 4], [3, 4, 5, 6]) == pytest.approx(0.5)
    assert drift.ks_statistic([1, 1, 2, 2], [1, 2, 2, 2]) == pytest.approx(0.25)  # ties: F = 0.5 vs 0.25 at 1
    assert drift.ks_statistic([1, 2, 3], [10, 11]) == pytest.approx(1.0)
    assert drift.ks_statistic([1, 2, 3], [1, 2, 3]) == 0.0
    assert drift.ks_statistic([1, 2, 3, 4], [2.5]) == pytest.approx(0.5)  # just before 2.5 it is 0.5 vs 0
    # the sup lies between baseline points: just before 2, F_window = 1 and F_baseline = 0.25
    assert drift.ks_statistic([1, 2, 3, 4], [1.5, 1.6]) == pytest.approx(0.75)


def test_ks_statistic_matches_scipy_on_samples_with_ties() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(7)
    for shift in (0.0, 0.3, 2.0):
        a, b = np.round(rng.normal(0, 1, 700), 1), np.round(rng.normal(shift, 1.2, 1900), 1)
        assert drift.ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
        a, b = rng.normal(0, 1, 50), rng.normal(shift, 0.5, 3000)  # continuous: the window's jumps fall between
        assert drift.ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


CHI2_SF = [  # (statistic, dof, scipy.stats.chi2.sf) computed with scipy 1.17.1
    (5.0, 3, 0.1717971442967335), (100.0, 50, 3.454931382984871e-05), (0.5, 7, 0.9994464813904249),
    (200.0, 10, 1.6139305336977317e-37), (80.0, 3, 3.0692774861724164e-17),
    (30.0, 4, 4.894437128029217e-06), (3.841458820694124, 1, 0.04999999999999989), (1e-3, 1, 0.9747728793699604),
    (250.0, 200, 0.009379131668826098),
]


@pytest.mark.parametrize(("statistic", "dof", "expected"), CHI2_SF)
def test_chi2_survival_function(statistic: float, dof: int, expected: float) -> None:
    assert drift.chi2_sf(statistic, dof) == pytest.approx(expected, rel=1e-9)


def test_chi2_survival_function_matches_scipy_live() -> None:
    stats = pytest.importorskip("scipy.stats")
    for dof in (1, 2, 3, 9, 30, 120):
        for statistic in (0.01, 0.7, dof - 0.5, dof + 3.0, 4.0 * dof + 20):
            assert drift.chi2_sf(statistic, dof) == pytest.approx(float(stats.chi2.sf(statistic, dof)), rel=1e-8, abs=1e-300)


def test_chi2_homogeneity_against_hand_computed_values() -> None:
    # expected 15, 20, 25 in both rows: 2 * (25/15 + 0 + 25/25) = 5.3333; 2 dof: p = exp(-5.3333 / 2)
    statistic, p_value, dof = drift.chi2_homogeneity([10, 20, 30], [20, 20, 20])
    assert (statistic, dof) == (pytest.approx(16 / 3), 2)
    assert p_value == pytest.approx(math.exp(-8 / 3))
    assert drift.chi2_homogeneity([10, 0, 30], [20, 0, 20])[2] == 1  # a bin empty in both is dropped
    assert drift.chi2_homogeneity([5, 5], [0, 0]) == (0.0, 1.0, 0)


def test_binary_metrics_against_hand_computed_values() -> None:
    labels, scores = [1, 0, 1, 1, 0, 0], [0.9, 0.4, 0.35, 0.8, 0.1, 0.6]
    # at 0.5: tp 2 (0.9, 0.8), fp 1 (0.6), fn 1 (0.35), tn 2; auc: 0.9 and 0.8 beat every negative, 0.35 one
    assert drift.binary_metrics(labels, scores) == {
        "accuracy": pytest.approx(4 / 6), "precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3),
        "f1": pytest.approx(2 / 3), "auc": pytest.approx(7 / 9)}
    assert drift.auc(np.array([1, 0, 1, 0]), np.array([0.5, 0.5, 0.7, 0.2])) == pytest.approx(3.5 / 4)  # tie = 1/2
    assert drift.auc(np.array([1, 1]), np.array([0.5, 0.7])) is None


def test_multiclass_and_regression_metrics_against_hand_computed_values() -> None:
    # f1: a 2*1/(2+1+1) = 0.5 (support 2), b 4/5 = 0.8 (support 2), c 0 (support 1): (1 + 1.6 + 0) / 5
    assert drift.multiclass_metrics(["a", "a", "b", "b", "c"], ["a", "b", "b", "b", "a"]) == {
        "accuracy": pytest.approx(0.6), "weighted_f1": pytest.approx(0.52)}
    assert drift.regression_metrics([1, 2, 3, 4], [1, 2, 3, 5]) == {
        "rmse": pytest.approx(0.5), "mae": pytest.approx(0.25), "r2": pytest.approx(0.8)}


# ---------------------------------------------------------------------------------------------- baseline


def test_baseline_profiles_every_input_feature(baseline: dict[str, Any]) -> None:
    assert baseline["schema_version"] == 1 and baseline["problem_type"] == "BinaryClassification"
    assert [f["name"] for f in baseline["features"]] == FEATURES  # label and prediction are not inputs
    age, income, tenure, plan = baseline["features"]
    assert [f["type"] for f in baseline["features"]] == ["numeric", "numeric", "numeric", "categorical"]
    assert age["missing_rate"] == 0 and 0.01 < income["missing_rate"] < 0.03
    assert len(age["bin_edges"]) == 9 and sum(age["bin_proportions"]) == pytest.approx(1.0)
    assert age["bin_proportions"] == pytest.approx([0.1] * 10, abs=0.01)
    assert tenure["bin_edges"] == sorted(set(tenure["bin_edges"])) and len(tenure["bin_edges"]) < 9  # deduplicated
    assert len(age["sample"]) == 4000 and age["sample"] == sorted(age["sample"])
    assert age["mean"] == pytest.approx(40, abs=0.5) and age["std"] == pytest.approx(10, abs=0.5)
    assert plan["categories"] == pytest.approx({"basic": 0.5, "plus": 0.3, "premium": 0.15, "family": 0.05}, abs=0.02)
    assert plan["known_complete"] and plan["known"] == ["basic", "family", "plus", "premium"]
    assert baseline["label"]["type"] == "categorical" and baseline["prediction"]["type"] == "numeric"


def test_the_terminal_width_variable_is_not_read_as_column_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shells, terminals and test runners export COLUMNS as the screen width: the column names come from
    DATA_COLUMNS (it once read COLUMNS=80 as one column named '80')."""
    monkeypatch.setenv("COLUMNS", "80")
    (tmp_path / "train.csv").write_text("age,plan\n" + "".join(f"{20 + i % 50},{'ab'[i % 2]}\n" for i in range(100)))
    assert drift.main(["baseline", "--data", str(tmp_path / "train.csv"), "--output", str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "baseline.json").read_text())
    assert [f["name"] for f in result["features"]] == ["age", "plan"] and result["source"]["rows"] == 100
    monkeypatch.setenv("DATA_COLUMNS", "years,tier")
    (tmp_path / "train.csv").write_text("".join(f"{20 + i % 50},{'ab'[i % 2]}\n" for i in range(100)))
    assert drift.main(["baseline", "--data", str(tmp_path / "train.csv"), "--output", str(tmp_path / "named")]) == 0
    named = json.loads((tmp_path / "named" / "baseline.json").read_text())
    assert [f["name"] for f in named["features"]] == ["years", "tier"] and named["source"]["rows"] == 100


def test_baseline_headerless_with_overrides_caps_and_top_categories(tmp_path: Path) -> None:
    rows = population(np.random.default_rng(3), 500)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "part.csv").write_text("".join(",".join(r) + "\n" for r in rows))
    code = drift.main(["baseline", "--data", str(tmp_path / "data"), "--columns", ",".join(FEATURES), "--output",
                       str(tmp_path / "out"), "--categorical", "tenure", "--top-categories", "2", "--sample-size", "100"])
    assert code == 0
    result = json.loads((tmp_path / "out" / "baseline.json").read_text())
    age, _, tenure, plan = result["features"]
    assert result["source"]["rows"] == 500 and len(age["sample"]) == 100 and age["sample"] == sorted(age["sample"])
    assert tenure["type"] == "categorical" and len(tenure["categories"]) == 2
    assert list(plan["categories"]) == ["basic", "plus"] and plan["other_proportion"] == pytest.approx(
        1 - sum(plan["categories"].values()))
    assert drift.main(["baseline", "--data", str(tmp_path / "data"), "--no-header", "--label", "_c0", "--output",
                       str(tmp_path / "positional")]) == 0  # the reference pipeline's layout: label first, no header
    positional = json.loads((tmp_path / "positional" / "baseline.json").read_text())
    assert [f["name"] for f in positional["features"]] == ["_c1", "_c2", "_c3"] and positional["label"]["name"] == "_c0"
    assert positional["source"]["rows"] == 500
    assert drift.main(["baseline", "--data", str(tmp_path / "data"), "--columns", "a,b", "--output",
                       str(tmp_path / "x")]) == 1  # every row has 4 cells, not 2: no usable row is a failure
    assert not (tmp_path / "x" / "baseline.json").exists()


# ---------------------------------------------------------------------------------------------- drift


def test_resampled_traffic_does_not_drift(baseline: dict[str, Any], tmp_path: Path) -> None:
    write_capture(tmp_path, csv_lines(population(np.random.default_rng(2), 1500)))
    report, violations = run_check(baseline, tmp_path)
    assert report["status"] == "ok" and report["records"]["records"] == 1500
    assert report["drift"] == {"detected": False, "features": [], "prediction": False}
    for name in ("age", "income", "tenure"):
        assert report["features"][name]["psi"] < 0.05 and report["features"][name]["ks"] < 0.06
    assert report["features"]["plan"]["chi2"]["p_value"] > 0.01
    assert violations == [] and metric(report, "drift_detected_features") == 0
    assert metric(report, "feature_drift", "age") == 0 and metric(report, "records") == 1500


def test_shifted_traffic_drifts(baseline: dict[str, Any], tmp_path: Path) -> None:
    rows = population(np.random.default_rng(2), 1500, age_shift=8, plans=(0.2, 0.3, 0.3, 0.2))
    write_capture(tmp_path, csv_lines(rows))
    report, violations = run_check(baseline, tmp_path)
    assert report["drift"]["features"] == ["age", "plan"] and report["drift"]["detected"]
    age = report["features"]["age"]
    assert age["psi"] > 0.2 and age["ks"] > 0.25 and age["mean"] == pytest.approx(48, abs=1)
    assert report["features"]["plan"]["chi2"]["p_value"] < 1e-10
    assert report["drift"]["prediction"] is True  # older customers churn more: the scores moved too
    assert metric(report, "drift_detected_features") == 2 and metric(report, "feature_drift", "plan") == 1
    assert metric(report, "feature_psi", "age") == age["psi"] and metric(report, "prediction_psi") > 0.2
    assert metric(report, "prediction_drift") == 1
    assert {(v["feature_name"], v["constraint_check_type"]) for v in violations} == {
        ("age", "baseline_drift_check"), ("plan", "baseline_drift_check")}


def test_streamed_statistics_equal_direct_computation(baseline: dict[str, Any], tmp_path: Path) -> None:
    rows = population(np.random.default_rng(5), 2500, age_shift=2)
    write_capture(tmp_path, csv_lines(rows))
    drift_module_batch = drift.BATCH
    drift.BATCH = 700  # several batches per file
    try:
        report, _ = run_check(baseline, tmp_path)
    finally:
        drift.BATCH = drift_module_batch
    age_profile = baseline["features"][0]
    ages = np.array([float(r[0]) for r in rows])
    assert report["features"]["age"]["ks"] == pytest.approx(drift.ks_statistic(age_profile["sample"], ages), abs=1e-12)
    counts = np.bincount(np.searchsorted(age_profile["bin_edges"], ages, side="left"), minlength=10)
    assert report["features"]["age"]["psi"] == pytest.approx(drift.psi(age_profile["bin_proportions"], counts / len(ages)))
    assert report["features"]["age"]["std"] == pytest.approx(ages.std())
    incomes = [r[1] for r in rows]
    assert report["features"]["income"]["missing_rate"] == pytest.approx(incomes.count("") / len(rows))


def test_payload_encodings_give_the_same_result(baseline: dict[str, Any], tmp_path: Path) -> None:
    rows = population(np.random.default_rng(4), 600)
    def num(cell: str) -> float | None:
        return float(cell) if cell else None
    records = [{"age": num(r[0]), "income": num(r[1]), "tenure": int(r[2]), "plan": r[3]} for r in rows]
    scores = [score(r) for r in rows]
    variants: dict[str, list[str]] = {
        "csv": csv_lines(rows),
        "csv-spaced": csv_lines(rows, compact=False),
        "csv-multi-record": [capture_line("\n".join(",".join(r) for r in rows[i:i + 10]),
                                          "\n".join(str(s) for s in scores[i:i + 10]), event_id=f"e{i}")
                             for i in range(0, 600, 10)],
        "csv-base64": [capture_line(base64.b64encode(",".join(r).encode()).decode(), str(score(r)), encoding="BASE64",
                                    event_id=f"e{i}") for i, r in enumerate(rows)],
        "json-instances": [capture_line(json.dumps({"instances": [[x["age"], x["income"], x["tenure"], x["plan"]]
                                                                  for x in records[i:i + 5]]}),
                                        json.dumps({"predictions": [{"score": s} for s in scores[i:i + 5]]}),
                                        encoding="JSON", content_type="application/json", out_encoding="JSON",
                                        out_type="application/json", event_id=f"e{i}") for i in range(0, 600, 5)],
        "json-named": [capture_line(json.dumps(x), json.dumps(s), encoding="JSON", content_type="application/json",
                                    out_encoding="JSON", event_id=f"e{i}") for i, (x, s) in enumerate(zip(records, scores))],
        "jsonlines-base64": [capture_line(base64.b64encode("\n".join(json.dumps(x) for x in records[i:i + 3]).encode()).decode(),
                                          base64.b64encode("\n".join(json.dumps(s) for s in scores[i:i + 3]).encode()).decode(),
                                          encoding="BASE64", content_type="application/jsonlines", out_encoding="BASE64",
                                          out_type="application/jsonlines", event_id=f"e{i}") for i in range(0, 600, 3)],
    }
    results = {}
    for name, lines in variants.items():
        write_capture(tmp_path / name, lines)
        report, _ = run_check(baseline, tmp_path / name)
        assert report["records"]["records"] == 600 and report["records"]["predictions"] == 600, name
        assert report["records"]["malformed"] == 0, (name, report["records"])
        results[name] = {f: {k: r[k] for k in ("psi", "ks", "missing_rate", "mean", "invalid_rate") if k in r}
                         for f, r in report["features"].items()} | {"prediction": report["prediction"]["psi"]}
    for name, result in results.items():
        assert result.keys() == results["csv"].keys(), name
        for feature, values in result.items():
            assert values == pytest.approx(results["csv"][feature], rel=1e-12), (name, feature)


def test_fast_path_and_json_path_write_identical_reports(baseline: dict[str, Any], tmp_path: Path) -> None:
    rows = population(np.random.default_rng(6), 400, age_shift=3)
    lines = csv_lines(rows)
    assert drift._CAPTURE_LINE(lines[0]) is not None and drift._CAPTURE_LINE(csv_lines(rows, compact=False)[0]) is None
    write_capture(tmp_path / "fast", lines)
    write_capture(tmp_path / "json", csv_lines(rows, compact=False))
    fast, _ = run_check(baseline, tmp_path / "fast")
    slow, _ = run_check(baseline, tmp_path / "json")
    for report in (fast, slow):
        report.pop("created_at")
    assert fast == slow


def test_malformed_input_is_counted_never_fatal(baseline: dict[str, Any], tmp_path: Path) -> None:
    rows = population(np.random.default_rng(8), 300)
    good = csv_lines(rows)
    bad = [
        "this is not json",
        '{"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INP',  # truncated
        json.dumps({"eventMetadata": {"eventId": "x", "inferenceTime": "2026-11-26T10:00:00Z"}}),  # no captureData
        capture_line("41,50000,3", event_id="few"),  # too few columns
        capture_line("41,50000,3,basic,extra", event_id="many"),  # too many
        capture_line("%%%not base64", encoding="BASE64", event_id="b64"),
        capture_line("[1, 2", encoding="JSON", content_type="application/json", event_id="badjson"),
        capture_line("41,50000,3,basic", when="yesterday", event_id="time"),
        capture_line("41,50000,3,basic", "0.1\n0.2", event_id="outputs"),  # 2 predictions for 1 record: kept as input
        capture_line("41,50000,3,basic", None, event_id="noout"),  # no endpointOutput: kept as input
    ]
    write_capture(tmp_path, good[:150] + bad + good[150:])
    report, violations = run_check(baseline, tmp_path)
    records = report["records"]
    assert records["lines"] == 310 and records["records"] == 302 and records["predictions"] == 300
    assert records["malformed_reasons"] == {
        "invalid_json": 2, "missing_capture_data": 1, "too_few_columns": 1, "too_many_columns": 1, "bad_base64": 1,
        "bad_json_payload": 1, "bad_timestamp": 1, "output_count_mismatch": 1, "missing_output": 1}
    assert records["malformed"] == 10 and metric(report, "malformed_records") == 10
    assert report["status"] == "ok" and report["drift"]["features"] == []
    assert [v for v in violations if v["feature_name"] == ""] == [
        {"feature_name": "", "constraint_check_type": "missing_column_check",
         "description": "1 records had fewer columns than the baseline's 4 (not used)"},
        {"feature_name": "", "constraint_check_type": "extra_column_check",
         "description": "1 records had more columns than the baseline's 4 (not used)"}]


def test_data_quality_violations(baseline: dict[str, Any], tmp_path: Path) -> None:
    rows = population(np.random.default_rng(9), 1000)
    for i, row in enumerate(rows):
        if i % 10 == 0:
            row[0] = "forty"  # a string in a numeric feature: 10%
        if i % 5 == 1:
            row[1] = ""  # income missing in 20% + 2%
        if i % 50 == 2:
            row[3] = "enterprise"  # an unseen category: 2% (PSI 0.02 ln(0.02 / 1e-4) = 0.11 + the rest < 0.2)
    write_capture(tmp_path, [capture_line(",".join(r), "0.5", event_id=str(i)) for i, r in enumerate(rows)])
    report, violations = run_check(baseline, tmp_path)
    age, income, plan = (report["features"][n] for n in ("age", "income", "plan"))
    assert age["invalid_rate"] == pytest.approx(0.1) and age["count"] == 900
    assert income["missing_rate"] == pytest.approx(0.2 + 0.8 * 0.02, abs=0.01)
    assert plan["unseen_rate"] == pytest.approx(0.02) and plan["unseen_examples"] == {"enterprise": 20}
    assert plan["drift"] is False and plan["distribution"]["__other__"] == pytest.approx(0.02)
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    assert checks == {("age", "data_type_check"), ("income", "completeness_check"), ("plan", "categorical_values_check")}
    assert metric(report, "feature_invalid_rate", "age") == pytest.approx(0.1)
    assert metric(report, "feature_invalid_rate", "plan") == pytest.approx(0.02)
    assert metric(report, "feature_missing_rate", "income") == income["missing_rate"]


def test_window_selects_events_and_skips_hour_folders(baseline: dict[str, Any], tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    for offset in (-2, -1, 0, 1, 2):
        hour = HOUR + timedelta(hours=offset)
        rows = population(rng, 60)
        lines = [capture_line(",".join(r), "0.5", event_id=f"{offset}-{i}", when=hour + timedelta(minutes=i))
                 for i, r in enumerate(rows)]
        write_capture(tmp_path, lines, hour=hour)
    # a late file: events of 10:59:30 written in the 11 o'clock folder
    write_capture(tmp_path, [capture_line("40,50000,3,basic", "0.5", event_id="late",
                                          when=HOUR + timedelta(minutes=59, seconds=30))], hour=HOUR + timedelta(hours=1),
                  name="late")
    report, _ = run_check(baseline, tmp_path)
    records = report["records"]
    assert records["files"] == 3  # 10:00, 11:00 (events may be late) and the late file; 08, 09 and 12 skipped
    assert records["records"] == 61 and records["events_outside_window"] == 60
    assert report["window"] == {"start": "2026-11-26T10:00:00Z", "end": "2026-11-26T11:00:00Z",
                                "first_event": "2026-11-26T10:00:00Z", "last_event": "2026-11-26T10:59:30Z"}
    everything, _ = drift.check(baseline, tmp_path)
    assert everything["records"]["records"] == 301 and everything["window"]["start"] is None


def test_window_without_traffic_reports_no_data(baseline: dict[str, Any], tmp_path: Path) -> None:
    write_capture(tmp_path / "capture", csv_lines(population(np.random.default_rng(11), 50)),
                  hour=HOUR - timedelta(hours=5))
    report, violations = run_check(baseline, tmp_path / "capture")
    assert report["status"] == "no_data" and report["records"]["records"] == 0 and violations == []
    assert report["features"] == {} and report["drift"]["detected"] is False
    assert [m["name"] for m in report["metrics"]] == ["records", "malformed_records", "violations"]
    assert metric(report, "records") == 0
    assert drift.check(baseline, tmp_path / "absent")[0]["status"] == "no_data"
    (tmp_path / "baseline.json").write_text(json.dumps(baseline))
    args = ["check", "--baseline", str(tmp_path), "--capture", str(tmp_path / "capture"), "--output",
            str(tmp_path / "out"), "--window-start", "2026-11-26T10:00:00Z", "--window-end", "2026-11-26T11:00:00Z"]
    assert drift.main(args) == 0  # the report is written and uploaded; run_status 0 raises the alarm
    assert json.loads((tmp_path / "out" / "report.json").read_text())["status"] == "no_data"
    assert json.loads((tmp_path / "out" / "constraint_violations.json").read_text()) == {"violations": []}
    assert drift.main([*args, "--no-data-exit-code", "3"]) == 3


def test_sampled_capture_and_small_windows(baseline: dict[str, Any], tmp_path: Path) -> None:
    rows = population(np.random.default_rng(12), 3000)
    sampled = [line for i, line in enumerate(csv_lines(rows)) if i % 10 == 3]  # 10% sampling
    write_capture(tmp_path / "sampled", sampled)
    report, _ = run_check(baseline, tmp_path / "sampled")
    assert report["records"]["records"] == 300 and report["drift"]["features"] == []
    assert all(f["drift"] is False for f in report["features"].values())
    write_capture(tmp_path / "few", sampled[:12])
    few, _ = run_check(baseline, tmp_path / "few")
    assert few["status"] == "ok" and all(f["drift"] is None for f in few["features"].values())  # < 30 values
    assert metric(few, "feature_drift", "age") is None and metric(few, "feature_psi", "age") is not None


def test_feature_threshold_overrides(baseline: dict[str, Any], tmp_path: Path) -> None:
    write_capture(tmp_path, csv_lines(population(np.random.default_rng(2), 1500, age_shift=8)))
    thresholds = drift.Thresholds(features={"age": {"psi": 5.0, "ks": 0.9}})
    report, _ = run_check(baseline, tmp_path, thresholds=thresholds)
    assert "age" not in report["drift"]["features"] and report["thresholds"]["features"] == {"age": {"psi": 5.0, "ks": 0.9}}
    strict, _ = run_check(baseline, tmp_path, thresholds=drift.Thresholds(features={"tenure": {"psi": 0.0, "ks": 0.0}}))
    assert "tenure" in strict["drift"]["features"]
    with pytest.raises(ValueError, match="'salary'"):
        run_check(baseline, tmp_path, thresholds=drift.Thresholds(features={"salary": {"psi": 0.1}}))
    (tmp_path / "b.json").write_text(json.dumps(baseline))
    base = ["check", "--baseline", str(tmp_path / "b.json"), "--capture", str(tmp_path), "--output", str(tmp_path / "o")]
    assert drift.main([*base, "--feature-thresholds", '{"age": {"psi": "high"}}']) == 1
    assert drift.main([*base, "--feature-thresholds", '{"age": {"psi": 5, "ks": 0.9}}']) == 0


def test_categorical_chi2_threshold(baseline: dict[str, Any], tmp_path: Path) -> None:
    write_capture(tmp_path, csv_lines(population(np.random.default_rng(2), 1500, plans=(0.45, 0.33, 0.16, 0.06))))
    report, _ = run_check(baseline, tmp_path)
    plan = report["features"]["plan"]
    assert plan["psi"] < 0.2 and plan["drift"] is False
    flagged, _ = run_check(baseline, tmp_path, thresholds=drift.Thresholds(chi2_p_value=plan["chi2"]["p_value"] * 2))
    assert flagged["features"]["plan"]["drift"] is True


# ---------------------------------------------------------------------------------------------- ground truth


def write_truth(root: Path, items: Iterable[tuple[dict[str, str], str]]) -> None:
    folder = root / "churn-prod" / "2026" / "11" / "27" / "09"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labels.jsonl").write_text("".join(
        json.dumps({"groundTruthData": {"data": label, "encoding": "CSV"}, "eventMetadata": ids, "eventVersion": "0"}) + "\n"
        for ids, label in items))


def test_ground_truth_joined_on_inference_id_then_event_id(baseline: dict[str, Any], tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    rows = population(rng, 400)
    lines = [capture_line(",".join(r), str(score(r)), event_id=f"e{i}", inference_id=f"i{i}" if i % 2 else None,
                          when=HOUR + timedelta(seconds=i)) for i, r in enumerate(rows)]
    write_capture(tmp_path / "capture", lines)
    labels = {i: int(rng.random() < score(r)) for i, r in enumerate(rows) if i % 4 != 0}  # 3/4 labelled
    truth = [({"eventId": f"x{i}", "inferenceId": f"i{i}"} if i % 2 else {"eventId": f"e{i}"}, str(y))
             for i, y in labels.items()]
    truth += [({"eventId": "unknown", "inferenceId": "unknown"}, "1")]  # a label of another window: not joined
    write_truth(tmp_path / "truth", truth)
    (tmp_path / "truth" / "churn-prod" / "2026" / "11" / "27" / "09" / "bad.jsonl").write_text('{"groundTruthData": 1}\nnope\n')
    report, _ = run_check(baseline, tmp_path / "capture", ground_truth=tmp_path / "truth")
    quality = report["model_quality"]
    assert quality["status"] == "ok" and quality["records"] == 300
    assert quality["ground_truth"] == {"lines": 303, "labels": 301, "malformed_line": 1, "malformed_missing_data": 1}
    expected = drift.binary_metrics([labels[i] for i in sorted(labels)], [score(rows[i]) for i in sorted(labels)])
    assert quality["metrics"] == pytest.approx(expected)
    assert metric(report, "auc") == pytest.approx(expected["auc"]) and metric(report, "ground_truth_records") == 300
    assert 0.5 < expected["auc"] < 1  # the labels follow the scores


def test_model_quality_multiclass_and_regression(baseline: dict[str, Any], tmp_path: Path) -> None:
    rows = population(np.random.default_rng(14), 60)
    probabilities = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]]
    lines = [capture_line(",".join(r), json.dumps({"predictions": [{"probabilities": probabilities[i % 3]}]}),
                          out_encoding="JSON", out_type="application/json", event_id=f"e{i}", inference_id=f"i{i}")
             for i, r in enumerate(rows)]
    write_capture(tmp_path / "capture", lines)
    true_class = ["0", "2", "2"]  # the third prediction (class 1) is wrong
    write_truth(tmp_path / "truth", [({"eventId": f"e{i}", "inferenceId": f"i{i}"}, true_class[i % 3]) for i in range(60)])
    report, _ = run_check(baseline, tmp_path / "capture", ground_truth=tmp_path / "truth",
                          problem_type="MulticlassClassification")
    # class 0: f1 1 (support 20); class 2: tp 20, fn 20 -> 2*20/(40+20) = 2/3 (support 40); weighted 7/9
    assert report["model_quality"]["metrics"] == {"accuracy": pytest.approx(2 / 3), "weighted_f1": pytest.approx(7 / 9)}
    regression = [capture_line(",".join(r), f"{i}.5", event_id=f"r{i}") for i, r in enumerate(rows[:4])]
    write_capture(tmp_path / "reg", regression)
    write_truth(tmp_path / "reg-truth", [({"eventId": f"r{i}"}, f"{i}") for i in range(4)])
    report, _ = run_check(baseline, tmp_path / "reg", ground_truth=tmp_path / "reg-truth", problem_type="Regression")
    assert report["model_quality"]["metrics"] == {"rmse": pytest.approx(0.5), "mae": pytest.approx(0.5), "r2": pytest.approx(0.8)}
    assert metric(report, "rmse") == pytest.approx(0.5)


def test_no_ground_truth(baseline: dict[str, Any], tmp_path: Path) -> None:
    write_capture(tmp_path, csv_lines(population(np.random.default_rng(15), 50)))
    report, _ = run_check(baseline, tmp_path)
    assert report["model_quality"]["status"] == "not_configured" and report["model_quality"]["metrics"] == {}
    report, _ = run_check(baseline, tmp_path, ground_truth=tmp_path / "nothing-yet")
    assert report["model_quality"]["status"] == "no_ground_truth" and metric(report, "auc") is None


# ---------------------------------------------------------------------------------------------- process


def test_worker_processes_give_the_same_report(baseline: dict[str, Any], tmp_path: Path) -> None:
    rng = np.random.default_rng(16)
    for minute in range(0, 60, 15):
        write_capture(tmp_path, csv_lines(population(rng, 300, age_shift=4)), name=f"m{minute}")
    one, _ = run_check(baseline, tmp_path, workers=1)
    two, _ = run_check(baseline, tmp_path, workers=2)
    for report in (one, two):
        report.pop("created_at")
    assert one["records"]["files"] == 4 and one["records"]["records"] == 1200
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)


def test_command_line_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(17)
    train = population(rng, 2000)
    (tmp_path / "train.csv").write_text("".join(f"{int(rng.random() < score(r))},{','.join(r)}\n" for r in train))
    monkeypatch.setenv("DATA_COLUMNS", ",".join(["churned", *FEATURES]))
    monkeypatch.setenv("LABEL", "churned")
    monkeypatch.setenv("PROBLEM_TYPE", "BinaryClassification")
    assert drift.main(["baseline", "--data", str(tmp_path / "train.csv"), "--output", str(tmp_path / "baseline")]) == 0
    write_capture(tmp_path / "capture", csv_lines(population(rng, 800, age_shift=10)))
    monkeypatch.setenv("WINDOW_START", "2026-11-26T10:00:00Z")
    monkeypatch.setenv("WINDOW_END", "2026-11-26T11:00:00Z")
    monkeypatch.setenv("PSI_THRESHOLD", "0.25")
    monkeypatch.setenv("ENDPOINT_NAME", "churn-prod")
    assert drift.main(["check", "--baseline", str(tmp_path / "baseline"), "--capture", str(tmp_path / "capture"),
                       "--output", str(tmp_path / "out"), "--workers", "1", "--monitor-name", "churn-drift"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["report_version"] == 1 and report["engine"] == "processing" and report["thresholds"]["psi"] == 0.25
    assert (report["endpoint"], report["monitor"]) == ("churn-prod", "churn-drift")
    assert report["window"]["start"] == "2026-11-26T10:00:00Z" and report["drift"]["features"] == ["age"]
    violations = json.loads((tmp_path / "out" / "constraint_violations.json").read_text())["violations"]
    assert violations == [{"feature_name": "age", "constraint_check_type": "baseline_drift_check",
                           "description": violations[0]["description"]}]
    assert "PSI" in violations[0]["description"] and "KS statistic" in violations[0]["description"]
    for item in report["metrics"]:
        assert set(item) == {"name", "value", "unit", "dimensions"} and math.isfinite(item["value"])
        assert item["unit"] in ("Count", "None") and set(item["dimensions"]) <= {"Feature"}
    assert drift.main(["check", "--baseline", str(tmp_path / "missing.json"), "--capture", str(tmp_path),
                       "--output", str(tmp_path / "o2")]) == 1
    with pytest.raises(SystemExit) as exit_info:
        drift.main(["check", "--window-start", "not a time"])
    assert exit_info.value.code == 2


def test_malformed_baseline_fails_naming_the_profile(baseline: dict[str, Any], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    broken = json.loads(json.dumps(baseline))
    del broken["features"][2]["bin_edges"]
    (tmp_path / "baseline.json").write_text(json.dumps(broken))
    assert drift.main(["check", "--baseline", str(tmp_path), "--capture", str(tmp_path), "--output", str(tmp_path)]) == 1
    assert "baseline features[2] profile 'tenure' is malformed: KeyError 'bin_edges'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="schema_version 7"):
        drift.check({**baseline, "schema_version": 7}, tmp_path)
