"""Snapshot of every stack of the default estate. A diff is read and explained, never updated blindly:
`pytest tests/gates/test_snapshots.py --snapshot-update` rewrites them after review."""

from __future__ import annotations

import pytest

from mlops_estate.stacks.estate import STAGE_NAMES
from tests.gates.normalize import normalize

EXPECTED_STACKS = [
    "DataLake/CiAccess",
    "DataLake/DataLake",
    "MlDev/CiAccess",
    "MlDev/Projects",
    "MlDev/Workspace",
    "Organization/CiAccess",
    "Organization/Guardrails",
    "Organization/Guardrails/AccountBaseline",
    "Prod/ApprovedChurn",
    "Prod/ApprovedChurnShadow",
    "Prod/ApprovedFraudBatch",
    "Prod/ApprovedSpendForecast",
    "Prod/CiAccess",
    "Prod/Serving",
    "SharedServices/CiAccess",
    "SharedServices/Registry",
    "Staging/ApprovedChurn",
    "Staging/ApprovedChurnChallenger",
    "Staging/ApprovedFraudBatch",
    "Staging/ApprovedSpendForecast",
    "Staging/CiAccess",
    "Staging/Serving",
]


def test_every_stage_has_stacks(default_estate):
    assert sorted(default_estate.templates) == EXPECTED_STACKS
    assert {name.split("/")[0] for name in default_estate.templates} == set(STAGE_NAMES)


@pytest.mark.parametrize("stack", EXPECTED_STACKS)
def test_stack_snapshot(default_estate, snapshot, stack):
    assert normalize(default_estate.templates[stack]) == snapshot
