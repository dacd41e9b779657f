#!/usr/bin/env python3
"""Times import, construct and synth of the default estate with each policy gate on and off (median of N fresh
processes each, run in turn so load hits every variant alike), with peak memory and the Python<->Node (jsii) message
and callback counts per phase; the CLI's `cdk synth '**'` (every gate); and the whole test suite as
./scripts/test.sh runs it, between CLI syntheses, with its length in CLI syntheses. Writes BENCHMARKS.md: its own
section on top, then the sections of the other benchmarks (see `other_sections`).

    .venv/bin/python benchmarks/synth.py [--runs 5] [--no-suite]

Variants: "all gates" = cdk-nag (AwsSolutions, NIST 800-53 R5, HIPAA) + CDK's built-in CloudFormation validation;
"nag only" and "built-in only"; "no gates" = neither, with the built-in validation really off
(``CDK_VALIDATION=false``; the context flag ``@aws-cdk/core:validateAgainstDefaultRules=false`` only turns its
errors into warnings and still runs it). The message counts are deterministic: compare them across machines.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "BENCHMARKS.md"
ENV = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


# variant -> (cdk-nag packs, CDK's built-in CloudFormation validation)
VARIANTS = {"all gates": (True, True), "nag only": (True, False), "built-in only": (False, True), "no gates": (False, False)}


class JsiiCounter:
    """Counts the requests Python sends to the jsii Node process, and the callbacks Node makes into Python."""

    def __init__(self) -> None:
        from jsii._kernel.providers import process

        self.messages = self.callbacks = 0
        original = process._NodeProcess.send
        counter = self

        def send(node: Any, request: Any, response_type: Any) -> Any:
            counter.messages += 1
            response = original(node, request, response_type)
            if isinstance(response, process.Callback):
                counter.callbacks += 1
            return response

        process._NodeProcess.send = send  # type: ignore[method-assign]

    def take(self) -> tuple[int, int]:
        return self.messages, self.callbacks


def node_peak_mb() -> float:
    """Peak resident memory (VmHWM) of the jsii Node processes, read before they exit: the ``jsii-runtime.js``
    launcher that Python starts and the ``program.js`` child it spawns, which holds the construct tree and does the
    work (reading only the launcher's, as an earlier version did, misses nearly all of it)."""
    import jsii._kernel

    launcher = jsii._kernel.Kernel().provider._process._process.pid  # type: ignore[attr-defined]
    pids, total = [launcher], 0.0
    while pids:
        pid = pids.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        total += next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0.0)
        pids += [int(c) for c in children]
    return total


def child(variant: str) -> None:
    import resource

    nag, builtin = VARIANTS[variant]
    t0 = time.perf_counter()
    counter = JsiiCounter()
    from mlops_estate.core.nag import apply_nag_packs
    from mlops_estate.stacks.estate import build_estate, estate_app

    t1 = time.perf_counter()
    m0 = counter.take()
    app, config = estate_app(ROOT / "cdk.json", outdir=tempfile.mkdtemp())
    build_estate(app, config)
    if nag:
        apply_nag_packs(app)
    t2 = time.perf_counter()
    m1 = counter.take()
    assembly = app.synth()
    t3 = time.perf_counter()
    m2 = counter.take()
    resources = sum(len(json.loads(Path(s.template_full_path).read_text()).get("Resources", {}))
                    for stage in assembly.nested_assemblies for s in stage.nested_assembly.stacks)
    python_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "import": t1 - t0, "construct": t2 - t1, "synth": t3 - t2, "resources": resources,
        "construct_messages": m1[0] - m0[0], "synth_messages": m2[0] - m1[0], "synth_callbacks": m2[1] - m1[1],
        "construct_callbacks": m1[1] - m0[1], "peak_mb": python_mb + node_peak_mb(),
    }))


def measure(runs: int) -> dict[str, dict[str, float]]:
    samples: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for _ in range(runs):
        for variant, (_, builtin) in VARIANTS.items():  # in turn, so load drifts hit every variant alike
            env = {**ENV, **({} if builtin else {"CDK_VALIDATION": "false"})}
            out = subprocess.run([sys.executable, __file__, "--child", variant], env=env, cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout
            samples[variant].append(json.loads(out.strip().splitlines()[-1]))
    return {v: {k: statistics.median(s[k] for s in runs_) for k in runs_[0]} for v, runs_ in samples.items()}


def suite_seconds() -> float:
    """The test phase of ./scripts/test.sh: the same pytest command (every core), without its setup and mypy."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "auto", "--dist", "loadgroup"],
                   env=ENV, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - t0


def cli_synth_seconds() -> float:
    """`cdk synth '**' --quiet` of the default estate with the pinned CLI, as ./scripts/synth.sh runs it."""
    env = {**ENV, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{ENV.get('PATH', '')}"}
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run([str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "**", "--quiet", "--output", out],
                       env=env, cwd=ROOT, check=True, capture_output=True)
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


# Sections other benchmark scripts write to benchmarks/results/ (each starts with its "## " heading).
GENERATED = ("handlers.md", "scale.md")


def other_sections() -> list[str]:
    """BENCHMARKS.md after this script's own section: its sections in their order, each one a benchmark script writes
    to benchmarks/results/ taken fresh from there (new ones appended), hand-written ones (the drift script's summary)
    kept as they are."""
    generated = {}
    for name in GENERATED:
        path = ROOT / "benchmarks" / "results" / name
        if path.is_file():
            text = path.read_text().strip()
            generated[text.splitlines()[0]] = text
    previous = RESULTS.read_text() if RESULTS.is_file() else ""
    sections = ["## " + part.strip() for part in previous.split("\n## ")[1:]]
    out = [generated.pop(section.splitlines()[0], section) for section in sections]
    return out + list(generated.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-suite", action="store_true")
    parser.add_argument("--child", choices=list(VARIANTS))
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    start = machine()
    results = measure(args.runs)
    cli = [cli_synth_seconds() for _ in range(args.runs)]
    suite = None if args.no_suite else suite_seconds()
    if suite is not None:  # CLI syntheses on both sides of the suite: its length in syntheses of the same load
        cli += [cli_synth_seconds() for _ in range(args.runs)]
    cli_median = statistics.median(cli)
    none = results["no gates"]
    base = none["construct"] + none["synth"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} with `benchmarks/synth.py --runs {args.runs}` on: {start}.",
        "Each time is the median of fresh processes (variants run in turn), in seconds; peak memory is the Python",
        "process plus the jsii Node processes. Gates: cdk-nag AwsSolutions + NIST 800-53 R5 + HIPAA Security, and CDK's",
        "built-in CloudFormation validation (really off with `CDK_VALIDATION=false`). Messages are Python->Node jsii",
        "requests; callbacks are Node->Python calls (aspects, validation plugins, lazy values): both deterministic.",
        "Peak MB adds the peak resident memory of the Python process and of each jsii Node process (launcher and worker).",
        "",
        "| default estate | import | construct | synth | construct + synth | x no gates | peak MB | messages (construct / synth) | callbacks (synth) | per resource |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for variant, r in results.items():
        total = r["construct"] + r["synth"]
        messages = r["construct_messages"] + r["synth_messages"]
        per = (messages + r["synth_callbacks"] + r["construct_callbacks"]) / r["resources"]
        lines.append(
            f"| {variant} | {r['import']:.2f} | {r['construct']:.2f} | {r['synth']:.2f} | {total:.2f} | {total / base:.2f}x | "
            f"{r['peak_mb']:.0f} | {r['construct_messages']:.0f} / {r['synth_messages']:.0f} | {r['synth_callbacks']:.0f} | {per:.1f} |"
        )
    lines += ["", f"Resources in the default estate: {results['all gates']['resources']:.0f}.", "",
              "What each gate costs on top of no gates (construct + synth, peak memory):"]
    for variant, label in (("nag only", "cdk-nag packs"), ("built-in only", "built-in CloudFormation validation"),
                           ("all gates", "both")):
        r = results[variant]
        total = r["construct"] + r["synth"]
        lines.append(f"- {label}: +{total - base:.2f} s ({total / base:.2f}x), +{r['peak_mb'] - none['peak_mb']:.0f} MB")
    lines += ["", f"CLI `cdk synth '**' --quiet`, every gate: {cli_median:.1f} s, median of {len(cli)} "
              f"({min(cli):.1f}-{max(cli):.1f}; aim: <= 12 s)."]
    if suite is not None:
        lines += [f"Whole test suite, `./scripts/test.sh`'s pytest command on {os.cpu_count()} cores: {suite:.1f} s = "
                  f"{suite / cli_median:.1f} CLI syntheses (aim: <= 60 s and < 3.5 syntheses on 2 cores)."]
    RESULTS.write_text("\n\n".join(["\n".join(lines), *other_sections()]) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
