"""`python app.py` as the CDK CLI runs it (context through ``CDK_CONTEXT_JSON``, output to ``CDK_OUTDIR``): what a
user sees on the terminal at `cdk synth`, with the default estate and with a broken estate file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops_estate.core.validation import ConfigError
from mlops_estate.stacks.estate import config_errors_exit
from tests.helpers import ROOT

NOISE = re.compile(r"warn|deprecat|traceback", re.IGNORECASE)


def run_app(outdir: Path, context: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CDK_CONTEXT_JSON"}
    env.update({"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CDK_OUTDIR": str(outdir)})
    if context is not None:
        env["CDK_CONTEXT_JSON"] = json.dumps(context)
    return subprocess.run([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)


def test_synthesizing_the_default_estate_prints_nothing(tmp_path):
    """No warning at all: a deprecation warning (or any other) at every synth is read by users as their problem."""
    result = run_app(tmp_path / "out")
    assert result.returncode == 0, result.stderr[-4000:]
    assert [line for line in (result.stderr + result.stdout).splitlines() if NOISE.search(line)] == []
    assert result.stderr == ""
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_a_bad_estate_file_prints_only_its_problems(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "mlops", "region": "eu-west-1", "availability_zones": ["eu-west-1a"], "colour": 1}))
    result = run_app(tmp_path / "out", {"estate_file": str(bad)})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{bad}: ") and lines[0].endswith("problem(s):"), result.stderr
    assert lines[1:] and all(line.startswith("  - ") for line in lines[1:]), result.stderr
    assert any("colour" in line for line in lines[1:]) and any(line.startswith("  - accounts:") for line in lines[1:])
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_config_errors_exit_turns_only_config_errors_into_a_problem_list(capsys):
    with pytest.raises(SystemExit) as exited, config_errors_exit():
        raise ConfigError("estate_file", ["'x.json' does not exist"])
    assert exited.value.code == 1
    assert capsys.readouterr().err == "estate_file: 1 problem(s):\n  - 'x.json' does not exist\n"
    # Anything else is a bug: it keeps its exception (and so its traceback).
    with pytest.raises(KeyError), config_errors_exit():
        raise KeyError("bug")
