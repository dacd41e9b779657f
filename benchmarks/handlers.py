"""Cold start of each Lambda handler: import of index.py (boto3 included) and its first call, in a fresh interpreter.

AWS is simulated (moto for SageMaker and SNS, botocore's Stubber for CodePipeline), so the first call measures
the handler's own work plus boto3 client creation, not network latency. Each handler runs ``--runs`` times in a
new process; the median and the worst run are printed.

    .venv/bin/python benchmarks/handlers.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time, importlib.util
sys.path.insert(0, {root!r})
name = {name!r}
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("index", {root!r} + f"/lambda/{{name}}/index.py")
module = importlib.util.module_from_spec(spec); sys.modules["index"] = module; spec.loader.exec_module(module)
t_import = time.perf_counter() - t0
import boto3
from moto import mock_aws
from botocore.stub import Stubber
from tests.handlers import events
with mock_aws():
    if name == "start_retraining":
        boto3.client("sagemaker").create_pipeline(PipelineName="mlops-churn-build", RoleArn="arn:aws:iam::444444444444:role/p",
                                                  PipelineDefinition=json.dumps({{"Version": "2020-12-01", "Steps": []}}))
        event = events.sqs_batch(*[events.object_created(key=f"churn/daily/p{{i}}.parquet", event_id=str(i)) for i in range(1000)])
        t1 = time.perf_counter(); result = module.handler(event); t_call = time.perf_counter() - t1
        assert result["started"], result
    else:
        os.environ["TOPIC_ARN"] = boto3.client("sns").create_topic(Name="approvals")["TopicArn"]
        t1 = time.perf_counter()  # includes creating the CodePipeline client, as the handler's first call would
        client = module.client("codepipeline")
        stub = Stubber(client); stub.add_response("start_pipeline_execution", {{"pipelineExecutionId": "3137f7cb-7cf7-4b2f-9c4e-3ed5b2b6d1e9"}}); stub.activate()
        result = module.handler(events.model_package_state_change("Approved"))
        t_call = time.perf_counter() - t1
        assert result["action"] == "promote", result
print(json.dumps({{"import": t_import, "first_call": t_call}}))
"""

ENV = {
    "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "PIPELINE_NAME": "mlops-churn-build", "COOLDOWN_SECONDS": "21600", "INPUT_PARAMETER": "InputDataUrl",
    "ALARM_NAMES": "mlops-churn-staging-drift", "PIPELINES": json.dumps({"mlops-churn": "mlops-churn-promotion"}),
    "VARIABLE_NAME": "ModelPackageArn",
}


def measure(name: str, runs: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"import": [], "first_call": []}
    for _ in range(runs):
        child = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), name=name)], env={**os.environ, **ENV},
                               capture_output=True, text=True, check=False, cwd=ROOT)
        if child.returncode:
            raise SystemExit(f"{name} failed:\n{child.stderr[-2000:]}")
        sample = json.loads(child.stdout.strip().splitlines()[-1])
        for key in out:
            out[key].append(sample[key] * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows = []
    print(f"{'handler':<18} {'import ms (median/max)':>24} {'first call ms (median/max)':>28}")
    for name in ("start_retraining", "promote_model"):
        m = measure(name, args.runs)
        imp, call = m["import"], m["first_call"]  # already in ms
        print(f"{name:<18} {statistics.median(imp):>14.1f} / {max(imp):>6.1f} {statistics.median(call):>18.1f} / {max(call):>6.1f}")
        rows.append(f"| `{name}` | {statistics.median(imp):.0f} / {max(imp):.0f} | {statistics.median(call):.0f} / {max(call):.0f} |")
    notes = ("start_retraining's first call handles an SQS batch of 1,000 Object Created events (moto SageMaker); "
             "promote_model's first call starts a promotion (Stubber CodePipeline; client creation timed).")
    print(notes)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "handlers.md").write_text("\n".join([
        f"## Lambda cold start (`benchmarks/handlers.py --runs {args.runs}`, fresh interpreter per run)", "",
        "| handler | import ms (median / max) | first call ms (median / max) |", "|---|---|---|", *rows, "", notes, ""]))


if __name__ == "__main__":
    main()
