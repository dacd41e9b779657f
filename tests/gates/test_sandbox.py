"""Sandbox mode: every role in one account. The whole estate still synthesizes and passes every nag pack."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def sandbox(sandbox_estate):
    return sandbox_estate  # the session's sandbox estate (conftest), shared with the data-flow tests


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
