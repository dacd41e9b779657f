"""One Stage per account role, each stack pinned to its account, so `cdk deploy 'Prod/*'` touches one account."""

from __future__ import annotations

from tests.helpers import default_config


def test_each_stage_deploys_to_exactly_its_account(default_estate):
    config = default_config()
    expected = {
        "Organization": config.organization.management_account,
        "SharedServices": config.accounts.shared_services,
        "DataLake": config.accounts.data_lake,
        "MlDev": config.accounts.ml_dev,
        "Staging": config.accounts.staging,
        "Prod": config.accounts.prod,
    }
    seen = {}
    for stack in default_estate.estate.stacks():
        stage = stack.node.scope.node.id
        assert stack.account == expected[stage], stage
        assert stack.region == config.region
        assert stack.termination_protection is True
        seen[stage] = stack.account
    assert seen == expected


def test_stack_names_are_unique_per_stage(default_estate):
    names = [stack.stack_name for stack in default_estate.estate.stacks()]
    assert len(names) == len(set(names))
    assert "Prod-Serving" in names and "Staging-Serving" in names
