"""The built wheel carries the library, the stacks and the Lambda code, and synthesizes the estate from
another folder with no repository around it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT, cdk_context

SCRIPT = """
import json, sys
from aws_cdk import App
import mlops_estate
from mlops_estate.config.estate import EstateConfig
from mlops_estate.stacks.estate import build_estate
context = json.load(open("context.json"))
app = App(context=context, outdir="out")
build_estate(app, EstateConfig.from_dict(context["estate"]))
app.synth()
print(mlops_estate.__path__[0] if hasattr(mlops_estate, "__path__") else mlops_estate.__file__)
"""


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "mlops_estate/py.typed" in names
    # every source file of the library, at the path its import names (a subpackage missing from pyproject fails here)
    library = ROOT / "constructs"
    for source in sorted(library.rglob("*.py")):
        assert source.relative_to(library).as_posix() in names, source
    assert "mlops_estate/stacks/estate.py" in names
    assert "mlops_estate/config/estate.schema.json" in names  # editors check estate files against it
    assert not any(n.startswith("constructs/") for n in names), "the wheel must not ship a top-level constructs package"
    assert not any("__pycache__" in n for n in names)
    for handler in sorted((ROOT / "lambda").glob("*/index.py")):
        assert f"mlops_estate/lambda_src/{handler.parent.name}/index.py" in names


def test_installed_wheel_synthesizes_the_estate_elsewhere(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "work"
    work.mkdir()
    (work / "context.json").write_text(json.dumps(cdk_context()))
    (work / "synth.py").write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(site), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    out = subprocess.run([sys.executable, "synth.py"], cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1].startswith(str(site))
    templates = list((work / "out").rglob("*.template.json"))
    assert len(templates) >= 6
