#!/usr/bin/env python3
"""Synth cost and the largest stack of the estate at 1, 10, 50 and 100 models, with the policy gates on and off.

    .venv/bin/python benchmarks/scale.py [--models 1,10,50,100]

Models are the default estate's, then copies of them in turn (tests.helpers.scaled_estate_dict). Each size runs
once per gate setting in a fresh interpreter; construct + synth time is measured (import excluded). Gates on =
cdk-nag AwsSolutions + NIST 800-53 R5 + HIPAA Security and CDK's built-in CloudFormation validation; gates off =
neither (the validation really off: the context flag @aws-cdk/core:validateAgainstDefaultRules=false only turns its
errors into warnings and still runs it). "s / added model" is the cost of each model beyond the previous row's.
Writes benchmarks/results/scale.md (benchmarks/synth.py appends it to BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "scale.md"
ENV = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def child(models: int, gates: bool) -> None:
    sys.path.insert(0, str(ROOT))
    from mlops_estate.stacks.model_groups import MODELS_PER_STACK
    from mlops_estate.core.nag import apply_nag_packs
    from mlops_estate.stacks.estate import build_estate, estate_app
    from tests.helpers import scaled_estate_dict

    context: dict[str, object] = {"estate": scaled_estate_dict(models)}
    t0 = time.perf_counter()
    app, config = estate_app(ROOT / "cdk.json", outdir=tempfile.mkdtemp(), context=context, builtin_validation=gates)
    build_estate(app, config)
    if gates:
        apply_nag_packs(app)
    assembly = app.synth()
    seconds = time.perf_counter() - t0
    stacks = []
    for stage in assembly.nested_assemblies:
        for stack in stage.nested_assembly.stacks:
            path = Path(stack.template_full_path)
            template = json.loads(path.read_text())
            stacks.append({"stack": stack.hierarchical_id, "resources": len(template.get("Resources", {})),
                           "bytes": path.stat().st_size, "parameters": len(template.get("Parameters", {})),
                           "outputs": len(template.get("Outputs", {}))})
    by_resources = max(stacks, key=lambda s: s["resources"])
    by_bytes = max(stacks, key=lambda s: s["bytes"])
    print(json.dumps({"seconds": seconds, "stacks": len(stacks), "largest": by_resources, "heaviest": by_bytes,
                      "max_parameters": max(s["parameters"] for s in stacks),
                      "max_outputs": max(s["outputs"] for s in stacks),
                      "per_stack": MODELS_PER_STACK}))


def run(models: int, gates: bool) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--child", str(models), "on" if gates else "off"], env=ENV, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="1,10,50,100")
    parser.add_argument("--child", nargs=2, metavar=("MODELS", "GATES"))
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1] == "on")
        return
    load_start = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    rows = []
    per_stack = None
    previous: dict[bool, tuple[int, float]] = {}
    for models in [int(m) for m in args.models.split(",")]:
        for gates in (True, False):
            r = run(models, gates)
            per_stack = r["per_stack"]
            largest, heaviest = r["largest"], r["heaviest"]
            assert isinstance(largest, dict) and isinstance(heaviest, dict)
            seconds = float(r["seconds"])  # type: ignore[arg-type]
            before = previous.get(gates)
            added = f"{(seconds - before[1]) / (models - before[0]):.2f}" if before else "-"
            previous[gates] = (models, seconds)
            rows.append(
                f"| {models} | {'on' if gates else 'off'} | {seconds:.1f} | {seconds / models:.2f} | {added} | {r['stacks']} "
                f"| {largest['stack']}: {largest['resources']} | {heaviest['stack']}: {int(heaviest['bytes']) / 1024:.0f} KB "
                f"| {r['max_parameters']} | {r['max_outputs']} |"
            )
            print(rows[-1], flush=True)
    lines = [
        "## Scale",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} with `benchmarks/scale.py` (one fresh process per row; construct + synth",
        "seconds, import excluded). Models are the three default models, then copies of them in turn. Per-model",
        f"resources are split into model-group stacks of {per_stack} models (mlops_estate/stacks/model_groups.py). Limits per",
        "stack: 500 resources, 1 MB template, 200 parameters, 200 outputs. Machine: "
        f"{os.cpu_count()} cores; load average {load_start} at the start, "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg()) + " at the end.",
        "",
        "| models | gates | synth s | s / model | s / added model | stacks | most resources (stack: count) | largest template | max parameters | max outputs |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    RESULT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
