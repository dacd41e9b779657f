"""The management account: organisation-wide guardrails for the ML accounts."""

from __future__ import annotations

from constructs import Construct

from mlops_estate.config import EstateConfig
from mlops_estate.encryption import DataClass, EstateKeys
from mlops_estate.stacks.base import EstateStack


class OrganizationStack(EstateStack):
    def __init__(self, scope: Construct, id: str, *, config: EstateConfig) -> None:
        super().__init__(scope, id, config=config, account=config.organization.management_account,
                         description="organisation guardrails and audit (management account)")
        self.keys = EstateKeys(self, "Keys", estate_name=config.name, classes=[DataClass.LOGS])
