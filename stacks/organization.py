"""The management account: organisation-wide guardrails for the ML accounts, and the organisation trail."""

from __future__ import annotations

from constructs import Construct

from mlops_estate.governance.audit import OrganizationTrail
from mlops_estate.config.estate import EstateConfig
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.governance.guardrails import SageMakerGuardrails
from mlops_estate.stacks.account_baseline import account_baseline_rollout
from mlops_estate.stacks.base import EstateStack
from mlops_estate.config.governance import guardrail_options


class OrganizationStack(EstateStack):
    def __init__(self, scope: Construct, id: str, *, config: EstateConfig) -> None:
        super().__init__(scope, id, config=config, account=config.organization.management_account,
                         description="organisation guardrails and audit (management account)")
        self.keys = EstateKeys(self, "Keys", estate_name=config.name, classes=[DataClass.LOGS])
        self.guardrails = SageMakerGuardrails(self, "SageMakerGuardrails", options=guardrail_options(config),
                                              target_ids=config.organization.ml_ou_ids)
        if config.audit.organization_trail:
            self.trail = OrganizationTrail(self, "AuditTrail", estate_name=config.name, key=self.keys.logs,
                                           log_retention_days=config.audit.log_retention_days)
        if config.organization.baseline_rollout.enabled:
            self.baseline_rollout = account_baseline_rollout(self, config)
