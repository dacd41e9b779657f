"""The README's "compose it yourself" example synthesizes, with every nag pack on, from another folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from tests.helpers import ROOT


def test_example_app_synthesizes_outside_the_repo(tmp_path):
    outdir = tmp_path / "out"
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    subprocess.run([sys.executable, str(ROOT / "examples" / "compose_app.py"), str(outdir)], cwd=tmp_path, env=env, check=True,
                   capture_output=True, text=True)
    template = json.loads((outdir / "TeamMl.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::KMS::Key", "AWS::EC2::VPC", "AWS::S3::Bucket"} <= types
    assert "AWS::IAM::Policy" not in types


# Runs the single-account example as a user would, then says which modules of the library's config layer it loaded.
RUN_EXAMPLE = """
import json, runpy, sys
example, outdir = sys.argv[1], sys.argv[2]
sys.argv = [example, outdir]
runpy.run_path(example, run_name="__main__")
import mlops_estate
print(json.dumps({"library": list(mlops_estate.__path__),
                  "config": sorted(m for m in sys.modules if m == "mlops_estate.config" or m.startswith("mlops_estate.config."))}))
"""
# The resources each composed construct must contribute (type -> at least this many).
SINGLE_ACCOUNT_RESOURCES = {
    "AWS::EC2::VPC": 1, "AWS::KMS::Key": 5, "AWS::S3::Bucket": 2, "AWS::SageMaker::Pipeline": 2,
    "AWS::SageMaker::ModelPackageGroup": 1, "AWS::SageMaker::Model": 1, "AWS::SageMaker::EndpointConfig": 1,
    "AWS::SageMaker::Endpoint": 1, "AWS::ApplicationAutoScaling::ScalableTarget": 1,
    "AWS::ApplicationAutoScaling::ScalingPolicy": 1, "AWS::Scheduler::Schedule": 1, "AWS::CloudWatch::CompositeAlarm": 1,
    "AWS::SageMaker::FeatureGroup": 1, "AWS::SageMaker::Domain": 1,
    "AWS::SageMaker::UserProfile": 1, "AWS::Events::Rule": 1,
}


def _run_single_account_app(tmp_path: Path, pythonpath: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    work, outdir = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    (work / "run_example.py").write_text(RUN_EXAMPLE)
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run([sys.executable, "run_example.py", str(ROOT / "examples" / "single_account_app.py"), str(outdir)],
                          cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-5000:]
    return json.loads((outdir / "ChurnMl.template.json").read_text()), json.loads(done.stdout.strip().splitlines()[-1])


def _check_single_account_template(template: dict[str, Any], loaded: dict[str, Any]) -> None:
    assert loaded["config"] == [], "the example must not need the estate config layer"
    resources = template["Resources"].values()
    counts = Counter(r["Type"] for r in resources)
    assert {t: counts[t] for t, n in SINGLE_ACCOUNT_RESOURCES.items() if counts[t] < n} == {}
    assert "AWS::IAM::Policy" not in counts, "ManagedPoliciesOnly: only managed policies"
    (config,) = (r["Properties"] for r in resources if r["Type"] == "AWS::SageMaker::EndpointConfig")
    assert "KmsKeyId" in config and config["DataCaptureConfig"]["InitialSamplingPercentage"] == 20
    (endpoint,) = (r["Properties"] for r in resources if r["Type"] == "AWS::SageMaker::Endpoint")
    policy = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert policy["Type"] == "CANARY" and policy["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 20}
    assert endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    rules = [r["Properties"] for r in resources if r["Type"] == "AWS::Events::Rule"]
    assert any(r.get("EventPattern", {}).get("source") == ["aws.cloudwatch"] for r in rules), "the drift rule starts retraining"


def test_single_account_example_composes_every_construct_without_the_estate_config(tmp_path):
    template, loaded = _run_single_account_app(tmp_path)
    _check_single_account_template(template, loaded)


def test_single_account_example_runs_on_the_installed_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    template, loaded = _run_single_account_app(tmp_path, pythonpath=str(site))
    _check_single_account_template(template, loaded)
    assert loaded["library"] == [str(site / "mlops_estate")]
