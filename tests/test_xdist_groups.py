"""tests/xdist_groups.py on a small suite run as ./scripts/test.sh runs the real one (two workers, --dist loadgroup):
a session fixture the groups name runs once for all its tests, in whichever modules, and a module fixture once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

CONFTEST = """
from tests.xdist_groups import (  # noqa: F401
    pytest_collection_modifyitems, pytest_configure, pytest_unconfigure, pytest_xdist_make_scheduler,
)
import os, pytest

def _record(name):
    with open(os.environ["RUNS_LOG"], "a") as log:
        log.write(name + " " + os.environ.get("PYTEST_XDIST_WORKER", "-") + "\\n")

@pytest.fixture(scope="session")
def default_estate():
    _record("default_estate")

@pytest.fixture(scope="session")
def wheel():
    _record("wheel")
"""
def _module(name: str, fixture: str, tests: int, module_fixture: bool = False) -> str:
    body = ["import os, time, pytest"]
    if module_fixture:
        body += ["@pytest.fixture(scope='module')", "def per_module():",
                 "    open(os.environ['RUNS_LOG'], 'a').write('per_module ' + os.environ.get('PYTEST_XDIST_WORKER', '-') + '\\n')"]
    for i in range(tests):
        body += [f"def test_{name}_{i}({fixture}):", "    time.sleep(0.05)"]
    return "\n".join(body) + "\n"


def test_each_shared_fixture_runs_once_on_two_workers(tmp_path: Path) -> None:
    suite = tmp_path / "suite"  # its own rootdir; `tests` is this repository's package (PYTHONPATH)
    suite.mkdir()
    (suite / "conftest.py").write_text(CONFTEST)
    # Estate tests in three modules, wheel tests in two, a module with a module fixture, and filler to spread.
    for i in range(3):
        (suite / f"test_estate_{i}.py").write_text(_module(f"estate{i}", "default_estate", 6))
    for i in range(2):
        (suite / f"test_wheel_{i}.py").write_text(_module(f"wheel{i}", "wheel", 6))
    (suite / "test_module.py").write_text(_module("module", "per_module", 8, module_fixture=True))
    for i in range(4):
        (suite / f"test_plain_{i}.py").write_text(_module(f"plain{i}", "tmp_path", 6))
    log = tmp_path / "runs.log"
    env = {**os.environ, "RUNS_LOG": str(log), "PYTHONPATH": str(ROOT)}
    env.pop("PYTEST_XDIST_WORKER", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup",
                           "--rootdir", str(suite), str(suite)],
                          cwd=suite, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "62 passed" in done.stdout, done.stdout[-2000:]
    runs = log.read_text().split("\n")[:-1]
    assert sorted(line.split()[0] for line in runs) == ["default_estate", "per_module", "wheel"], runs
    workers = {line.split()[1] for line in runs}
    assert workers <= {"gw0", "gw1"}, runs  # they did run on xdist workers
