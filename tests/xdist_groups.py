"""How ./scripts/test.sh spreads the suite over pytest-xdist workers: the tests sharing a costly fixture run on one
worker, so the fixture is computed once per run, not once per worker.

A group is the shared fixture's (SHARED_FIXTURE_GROUPS: the session estates, the wheel), else the test's module
(its module-scoped fixtures). The longest groups start first (LONGEST_FIRST), so no worker is left running one
alone at the end.

xdist's own ``--dist loadgroup`` cannot be used: it names a test's group by appending ``@group`` to the item's
``_nodeid``, which pytest 9.2 no longer reads (a node id is ``_id`` now), so it silently spreads a group over
workers. Instead each worker writes the groups it collected to a file the controller names (GROUPS_FILE), and the
controller's scheduler (a ``--dist loadscope`` whose scope is the group) reads it once every worker has collected.
The hooks at the end are imported by tests/conftest.py; tests/test_xdist_groups.py runs them on a small suite.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

GROUPS_FILE = "MLOPS_ESTATE_XDIST_GROUPS"  # environment variable: the controller's path, inherited by the workers
SHARED_FIXTURE_GROUPS = {"default_estate": "estates", "sandbox_estate": "estates", "model_monitor_estate": "estates",
                         "wheel": "wheel"}
LONGEST_FIRST = ["estates", "tests/test_scale.py", "wheel", "tests/test_app.py", "tests/test_docs_site.py",
                 "tests/test_doc_snippets.py"]


def group_of(item: pytest.Item) -> str:
    fixtures = getattr(item, "fixturenames", ())
    return next((group for name, group in SHARED_FIXTURE_GROUPS.items() if name in fixtures), item.nodeid.split("::")[0])


def order_and_record(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest groups first (a stable sort: collection order otherwise); on a worker, record each test's group."""
    rank = {group: i for i, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(group_of(item), len(rank)))
    path = os.environ.get(GROUPS_FILE)
    worker: Any = getattr(config, "workerinput", None)
    if path and worker is not None:
        mine = Path(f"{path}.{worker['workerid']}")
        mine.write_text(json.dumps({item.nodeid: group_of(item) for item in items}))
        mine.replace(path)  # whole files only; every worker collects the same tests, so any one will do


class SharedFixtureScheduling(LoadScopeScheduling):
    """``--dist loadscope`` with the groups above as scopes, in collection order (longest first)."""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        config.option.loadscopereorder = False
        super().__init__(config, log)
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:  # first called in schedule(), after every worker has collected
            self._groups = json.loads(Path(os.environ[GROUPS_FILE]).read_text())
        return self._groups.get(nodeid) or nodeid.split("::")[0]


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("dist", "no") == "loadgroup" and not hasattr(config, "workerinput"):  # the xdist controller
        os.environ[GROUPS_FILE] = str(Path(tempfile.mkdtemp(prefix="mlops-estate-xdist-")) / "groups.json")


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and GROUPS_FILE in os.environ:
        shutil.rmtree(Path(os.environ.pop(GROUPS_FILE)).parent, ignore_errors=True)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> SharedFixtureScheduling | None:
    return SharedFixtureScheduling(config, log) if config.getoption("dist") == "loadgroup" else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    order_and_record(config, items)
