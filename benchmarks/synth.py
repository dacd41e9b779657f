#!/usr/bin/env python3
"""Times import, construct and synth of the default estate with the policy gates on and off (median of
N fresh processes each), and the whole test suite; writes BENCHMARKS.md.

    .venv/bin/python benchmarks/synth.py [--runs 3] [--no-suite] [--models 1,10,50]

Gates on: cdk-nag (AwsSolutions, NIST 800-53 R5, HIPAA) and CDK's built-in CloudFormation validation.
Gates off: neither. Each measurement runs in a new interpreter so import and jsii start-up are real.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "BENCHMARKS.md"
ENV = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def child(gates: bool) -> None:
    t0 = time.perf_counter()
    from mlops_estate.core.nag import apply_nag_packs
    from mlops_estate.stacks.estate import build_estate, estate_app

    t1 = time.perf_counter()
    context = {} if gates else {"@aws-cdk/core:validateAgainstDefaultRules": False}
    app, config = estate_app(ROOT / "cdk.json", outdir=tempfile.mkdtemp(), context=context)
    build_estate(app, config)
    if gates:
        apply_nag_packs(app)
    t2 = time.perf_counter()
    app.synth()
    t3 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "construct": t2 - t1, "synth": t3 - t2}))


def measure(gates: bool, runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "--child", "on" if gates else "off"], env=ENV, cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        samples.append(json.loads(out.strip().splitlines()[-1]))
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


def suite_seconds() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], env=ENV, cwd=ROOT, check=True,
                   capture_output=True)
    return time.perf_counter() - t0


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = "unknown (no /proc/cpuinfo)"
    mem = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        mem = "unknown (no /proc/meminfo)"
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({cpu}), {mem} RAM, {platform.system()} {platform.machine()}, Python "
            f"{platform.python_version()}, Node {node}; load average at start {load}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-suite", action="store_true")
    parser.add_argument("--child", choices=["on", "off"])
    args = parser.parse_args()
    if args.child:
        child(args.child == "on")
        return
    on, off = measure(True, args.runs), measure(False, args.runs)
    suite = None if args.no_suite else suite_seconds()
    ratio = (on["construct"] + on["synth"]) / (off["construct"] + off["synth"])
    lines = [
        "# Benchmarks",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} with `benchmarks/synth.py --runs {args.runs}` on: {machine()}.",
        "Each number is the median of fresh processes, in seconds. Gates on = cdk-nag AwsSolutions + NIST 800-53 R5 +",
        "HIPAA Security and CDK's built-in CloudFormation validation; gates off = neither.",
        "",
        "| default estate | import | construct | synth | construct + synth |",
        "|---|---|---|---|---|",
        f"| gates on | {on['import']:.2f} | {on['construct']:.2f} | {on['synth']:.2f} | {on['construct'] + on['synth']:.2f} |",
        f"| gates off | {off['import']:.2f} | {off['construct']:.2f} | {off['synth']:.2f} | {off['construct'] + off['synth']:.2f} |",
        "",
        f"Construct + synth with all gates is {ratio:.2f}x the same without them (aim: <= 2x).",
    ]
    if suite is not None:
        lines += ["", f"Whole test suite (`pytest -q`, one process): {suite:.1f} s (aim: <= 60 s on 2 cores)."]
    extra = ROOT / "benchmarks" / "results"
    if extra.is_dir():
        for part in sorted(extra.glob("*.md")):
            lines += ["", part.read_text().strip()]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
