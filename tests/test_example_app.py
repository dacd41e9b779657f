"""The README's "compose it yourself" example synthesizes, with every nag pack on, from another folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
