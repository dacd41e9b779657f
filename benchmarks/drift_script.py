"""Runtime of the drift script's ``check`` on one day of data capture at 100 requests/s (8.64M records).

Generates, in a temporary folder, training data of a 15-feature churn model (12 numeric, 3 categorical, the
label and the model's score; 100k rows) and profiles it with ``drift.py baseline``; 24 hourly capture files in
SageMaker's layout (``<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``, one CSV record per request, a CSV score per
response, 1% missing values in two features, ``monthly_charges`` shifted by +15 from noon, 0.01% malformed
lines: 4 GB) and ground truth for 1% of the requests. Then runs ``drift.py check`` over the day ``--runs``
times, each in a fresh process, and prints the median and worst wall time, the CPU time of the run (script and
workers) and the peak resident memory of its largest process.

    .venv/bin/python benchmarks/drift_script.py [--runs 3] [--workers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "constructs" / "mlops_estate" / "monitoring" / "scripts" / "drift.py"
DAY = "2026-11-26"
RATE = 100  # requests per second
NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "age", "support_calls", "data_gb",
           "minutes_day", "minutes_night", "sms", "late_payments", "discount", "satisfaction"]
CATEGORICAL = {"plan": (["basic", "plus", "premium", "family"], [0.4, 0.3, 0.2, 0.1]),
               "region": (["north", "south", "east", "west", "central"], [0.25, 0.25, 0.2, 0.2, 0.1]),
               "channel": (["web", "store", "phone"], [0.6, 0.3, 0.1])}


def features(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    """n rows of the model's inputs (numeric as float arrays, categorical as string arrays)."""
    columns = {
        "tenure_months": rng.gamma(2.0, 12.0, n), "monthly_charges": rng.normal(65 + shift, 20, n),
        "total_charges": rng.lognormal(7.0, 1.0, n), "age": rng.normal(45, 12, n),
        "support_calls": rng.poisson(1.5, n).astype(float), "data_gb": rng.exponential(8.0, n),
        "minutes_day": rng.normal(180, 50, n), "minutes_night": rng.normal(200, 50, n),
        "sms": rng.poisson(20, n).astype(float), "late_payments": rng.binomial(6, 0.1, n).astype(float),
        "discount": rng.uniform(0, 0.3, n), "satisfaction": rng.integers(1, 6, n).astype(float),
    }
    out: dict[str, np.ndarray] = {name: np.char.mod("%.2f", values) for name, values in columns.items()}
    for name, (values, p) in CATEGORICAL.items():
        out[name] = rng.choice(values, n, p=p)
    for name in ("total_charges", "data_gb"):  # 1% missing
        out[name][rng.random(n) < 0.01] = ""
    return out


def rows(columns: dict[str, np.ndarray]) -> list[str]:
    return [",".join(r) for r in zip(*(columns[n] for n in [*NUMERIC, *CATEGORICAL]))]


def generate(folder: Path) -> tuple[int, int]:
    """Writes training data, the day's capture and ground truth; returns (records, bytes of capture)."""
    rng = np.random.default_rng(20261126)
    train = features(rng, 100_000)
    scores = rng.beta(2, 5, 100_000)
    label = (rng.random(100_000) < scores).astype(int)
    (folder / "train").mkdir(parents=True)
    with (folder / "train" / "train.csv").open("w") as f:
        f.write(",".join(["churn", *NUMERIC, *CATEGORICAL, "score"]) + "\n")
        f.writelines(f"{y},{r},{s:.4f}\n" for y, r, s in zip(label, rows(train), scores))
    records = size = 0
    per_hour = RATE * 3600
    for hour in range(24):
        shift = 15.0 if hour >= 12 else 0.0
        batch = rows(features(rng, per_hour, shift))
        scores = np.char.mod("%.4f", rng.beta(2, 5, per_hour))
        seconds = np.sort(rng.integers(0, 3600, per_hour))
        folder_hour = folder / "capture" / "churn-prod" / "AllTraffic" / DAY.replace("-", "/") / f"{hour:02d}"
        folder_hour.mkdir(parents=True)
        truth = []
        path = folder_hour / f"{hour:02d}-00-000-{rng.integers(1 << 32):08x}.jsonl"
        with path.open("w") as f:
            for i, (row, score, second) in enumerate(zip(batch, scores, seconds)):
                event_id = f"{hour:02d}{i:07d}-7f3c-4b2a-9d1e-5a6b7c8d9e0f"
                stamp = f"{DAY}T{hour:02d}:{second // 60:02d}:{second % 60:02d}Z"
                if i % 10_000 == 9_999:
                    f.write('{"captureData": {"endpointInput": {"observedContentType": "text/csv", "mod\n')
                    continue
                f.write('{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"'
                        f'{row}","encoding":"CSV"}},"endpointOutput":{{"observedContentType":"text/csv; charset=utf-8",'
                        f'"mode":"OUTPUT","data":"{score}","encoding":"CSV"}}}},"eventMetadata":{{"eventId":"{event_id}",'
                        f'"inferenceId":"{event_id}","inferenceTime":"{stamp}"}},"eventVersion":"0"}}\n')
                if i % 100 == 0:
                    truth.append(f'{{"groundTruthData":{{"data":"{int(rng.random() < float(score))}","encoding":"CSV"}},'
                                 f'"eventMetadata":{{"eventId":"{event_id}","inferenceId":"{event_id}"}},"eventVersion":"0"}}\n')
        records += per_hour
        size += path.stat().st_size
        gt = folder / "ground_truth" / "churn-prod" / DAY.replace("-", "/") / f"{hour:02d}"
        gt.mkdir(parents=True)
        (gt / "labels.jsonl").write_text("".join(truth))
    return records, size


CHILD = r"""
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the script and its workers (waited for by the script)
print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""


def run_check(folder: Path, workers: int) -> dict[str, float]:
    """One `check` in a fresh process: wall seconds and the peak RSS (MiB) of its largest process (the script
    or one of its workers; Linux keeps the maximum over the whole process tree)."""
    command = [sys.executable, str(SCRIPT), "check", "--baseline", str(folder / "baseline"),
               "--capture", str(folder / "capture"), "--ground-truth", str(folder / "ground_truth"),
               "--output", str(folder / "report"), "--window-start", f"{DAY}T00:00:00Z",
               "--window-end", "2026-11-27T00:00:00Z", "--problem-type", "BinaryClassification",
               "--workers", str(workers)]
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, *command], check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    peak_kib, cpu = out.split()[-2:]
    return {"wall": wall, "cpu": float(cpu), "peak_mib": int(peak_kib) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this folder instead of a temporary one")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="drift-bench-"))
    try:
        if not (folder / "capture").exists():
            t0 = time.perf_counter()
            records, size = generate(folder)
            print(f"generated {records:,} records, {size / 2**20:,.0f} MiB of capture in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(SCRIPT), "baseline", "--data", str(folder / "train"), "--label", "churn",
                        "--prediction-column", "score", "--output", str(folder / "baseline"),
                        "--problem-type", "BinaryClassification"],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"baseline of 100,000 rows: {time.perf_counter() - t0:.1f} s")
        load = os.getloadavg()
        runs = [run_check(folder, args.workers) for _ in range(args.runs)]
        report = json.loads((folder / "report" / "report.json").read_text())
        walls = [r["wall"] for r in runs]
        print(json.dumps({
            "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
                       f"numpy {np.__version__}",
            "load_average_at_start": [round(x, 1) for x in load], "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
            "workers": args.workers, "runs": len(runs), "wall_median_s": round(statistics.median(walls), 1),
            "wall_max_s": round(max(walls), 1), "cpu_median_s": round(statistics.median(r["cpu"] for r in runs), 1),
            "peak_rss_mib": round(max(r["peak_mib"] for r in runs)),
            "records_per_s": round(report["records"]["records"] / statistics.median(walls)),
            "cpu_us_per_record": round(1e6 * statistics.median(r["cpu"] for r in runs) / report["records"]["records"], 1),
            "records": report["records"], "drift": report["drift"],
            "prediction_psi": (report["prediction"] or {}).get("psi"), "model_quality": report["model_quality"]["metrics"],
        }, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
