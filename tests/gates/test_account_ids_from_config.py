"""Cross-account wiring comes from config only: with other account ids, no default id remains anywhere."""

from __future__ import annotations

import json

from tests.conftest import synthesize_estate
from tests.helpers import default_estate_dict


def test_no_default_account_id_survives_a_change_of_accounts(tmp_path, default_estate):
    defaults = default_estate_dict()
    old_ids = [defaults["organization"]["management_account"], *defaults["accounts"].values()]
    changed = default_estate_dict()
    changed["organization"]["management_account"] = "900000000001"
    for i, role in enumerate(changed["accounts"]):
        changed["accounts"][role] = f"90000000001{i}"
    # Only the account ids differ from the default estate, whose templates every gate checks: none runs here (nag off,
    # and CDK's CloudFormation validation off, which alone took ~10 s of this synth).
    synthesized = synthesize_estate(tmp_path, context={"estate": changed}, nag=False, builtin_validation=False)
    # Sanity: the default estate does mention its ids (cross-account policies), so the check below can fail.
    assert any(old in json.dumps(default_estate.templates) for old in old_ids[1:])
    for name, template in synthesized.templates.items():
        text = json.dumps(template)
        for old in old_ids:
            assert old not in text, f"{name} still names account {old}"
