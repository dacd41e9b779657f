"""Sandbox mode: every role in one account. The whole estate still synthesizes and passes every nag pack."""

from __future__ import annotations

import pytest

from tests.conftest import synthesize_estate
from tests.helpers import default_estate_dict

SANDBOX = "123456789012"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    estate = default_estate_dict()
    estate["organization"]["management_account"] = SANDBOX
    for role in estate["accounts"]:
        estate["accounts"][role] = SANDBOX
    return synthesize_estate(tmp_path_factory.mktemp("sandbox"), context={"estate": estate})


def test_sandbox_estate_synthesizes_with_all_gates(sandbox):
    assert sandbox.estate.ml_dev.config.sandbox
    assert len(sandbox.templates) >= 6


def test_sandbox_has_no_cross_account_grants(sandbox):
    # Grants to "other" accounts collapse to nothing when they are all this account.
    for name, template in sandbox.templates.items():
        text = str(template)
        assert "EstateAccountsRead" not in text, name
        for placeholder in ("222222222222", "333333333333", "444444444444", "555555555555", "666666666666"):
            assert placeholder not in text, (name, placeholder)
