"""Typed settings of the estate's governance: SCP guardrails, audit (CloudTrail, AWS Config) and budgets.

They hang on `mlops_estate.config.EstateConfig` as ``guardrails``, ``audit`` and ``budgets``; every field
has a safe default, so an estate file without them gets the full set of guardrails.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mlops_estate.config_parsing import Problems, join

# Account roles that run SageMaker workloads or hold data; each may get its own allow-list and budget.
GovernedRole = Literal["shared_services", "data_lake", "ml_dev", "staging", "prod"]

# `ml.m5.large`, `ml.m5.*`, `ml.g5.?xlarge`: an instance type or a StringLike pattern of them.
INSTANCE_PATTERN = re.compile(r"^ml\.[a-z0-9*?]+(\.[a-z0-9*?-]+)?$|^ml\.\*$")
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
SCP_MAX_CHARS = 5120


def _default_instance_types() -> Mapping[GovernedRole, tuple[str, ...]]:
    # Build accounts experiment on general purpose and small GPU instances; large GPU families
    # (p4d, p5, trn1) are left out everywhere until a team asks for them.
    return {
        "ml_dev": ("ml.t3.*", "ml.m5.*", "ml.m6i.*", "ml.c5.*", "ml.c6i.*", "ml.r5.*", "ml.g4dn.xlarge", "ml.g5.xlarge", "ml.g5.2xlarge"),
        "staging": ("ml.t3.*", "ml.m5.*", "ml.m6i.*", "ml.c5.*", "ml.c6i.*", "ml.g4dn.xlarge"),
        "prod": ("ml.m5.*", "ml.m6i.*", "ml.c5.*", "ml.c6i.*", "ml.r5.*", "ml.g4dn.*", "ml.g5.*", "ml.inf2.*"),
    }


@dataclass(frozen=True)
class GuardrailsConfig:
    """Which SageMaker guardrails the SCPs enforce (and the synth-time check mirrors)."""

    require_kms: bool = True
    require_vpc: bool = True
    require_network_isolation: bool = True
    require_inter_container_encryption: bool = True
    studio_vpc_only: bool = True
    notebook_lockdown: bool = True
    # Models (CreateModel) in a VPC with network isolation. Off by default: serverless endpoints
    # support neither, and an SCP cannot tell which endpoint type a model will be deployed to.
    models_in_vpc: bool = False
    protect_audit: bool = True
    # Instance-type allow-list per account role (StringLike patterns); a role not listed is not restricted.
    instance_types: Mapping[GovernedRole, tuple[str, ...]] = field(default_factory=_default_instance_types)
    # Roles (by name, in any ML account) exempt from the SageMaker rules: break-glass or migration roles.
    exempt_role_names: tuple[str, ...] = ()
    max_policy_chars: int = SCP_MAX_CHARS
    # An OU takes at most 5 SCPs, and FullAWSAccess (or your own allow policy) is one of them.
    max_policies: int = 4

    def check(self, path: str, problems: Problems) -> None:
        types_path = join(path, "instance_types")
        for role, patterns in self.instance_types.items():
            if not patterns:
                problems.add(join(types_path, role), "is empty; list at least one instance type, or remove the role to leave it unrestricted")
            for i, pattern in enumerate(patterns):
                if not INSTANCE_PATTERN.match(pattern):
                    problems.add(join(join(types_path, role), i), f"{pattern!r} is not an instance type or pattern like ml.m5.large or ml.m5.*")
        for i, name in enumerate(self.exempt_role_names):
            if not ROLE_NAME.match(name):
                problems.add(join(join(path, "exempt_role_names"), i), f"{name!r} is not an IAM role name (1-64 of letters, digits and +=,.@_-)")
        if not 1024 <= self.max_policy_chars <= SCP_MAX_CHARS:
            problems.add(join(path, "max_policy_chars"), f"{self.max_policy_chars} is outside 1024..{SCP_MAX_CHARS} (the SCP size quota)")
        if not 1 <= self.max_policies <= 4:
            problems.add(join(path, "max_policies"), f"{self.max_policies} is outside 1..4 (an OU takes 5 SCPs, one being FullAWSAccess)")

    def check_models(self, models: Sequence[Any], path: str, problems: Problems) -> None:
        """Serving instance types of every model (`ModelConfig`) must be on the allow-list of the account serving it."""
        for i, model in enumerate(models):
            for env, serving in model.serving.items():
                allowed = self.instance_types.get(env)
                if serving.mode == "serverless" or not allowed:  # no list: unrestricted; empty: reported above
                    continue
                if not serving.instance_type.startswith("ml."):
                    continue  # malformed: ServingConfig.check already says so
                if not any(string_like(serving.instance_type, p) for p in allowed):
                    problems.add(
                        join(join(join(join("models", i), "serving"), env), "instance_type"),
                        f"{serving.instance_type!r} is not on the {env} allow-list {join(path, 'instance_types')}.{env} "
                        f"({', '.join(allowed)}); the guardrail SCP would deny it",
                    )


def string_like(value: str, pattern: str) -> bool:
    """IAM StringLike: ``*`` any run of characters, ``?`` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


@dataclass(frozen=True)
class AuditConfig:
    """The organisation CloudTrail and the AWS Config rules of the ML accounts."""

    organization_trail: bool = True
    log_retention_days: int = 365
    config_rules: bool = True
    # Most organisations already record configuration (Control Tower, Security Hub): off by default.
    config_recorder: bool = False

    def check(self, path: str, problems: Problems) -> None:
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            problems.add(join(path, "log_retention_days"), f"{self.log_retention_days} is not a CloudWatch Logs retention; use one of {', '.join(map(str, LOG_RETENTION_DAYS))}")


@dataclass(frozen=True)
class BudgetsConfig:
    """A monthly cost budget per account role, alerting an encrypted SNS topic at each threshold."""

    monthly_limits_usd: Mapping[GovernedRole, float] = field(default_factory=dict)
    alert_thresholds_percent: tuple[float, ...] = (80.0, 100.0)
    forecast_alert: bool = True
    notify_emails: tuple[str, ...] = ()

    def check(self, path: str, problems: Problems) -> None:
        for role, limit in self.monthly_limits_usd.items():
            if limit <= 0:
                problems.add(join(join(path, "monthly_limits_usd"), role), f"{limit} must be a positive amount in USD")
        thresholds = join(path, "alert_thresholds_percent")
        if not self.alert_thresholds_percent:
            problems.add(thresholds, "needs at least one threshold")
        for i, pct in enumerate(self.alert_thresholds_percent):
            if not 0 < pct <= 1000:
                problems.add(join(thresholds, i), f"{pct} is outside (0, 1000] percent of the budget")
        if len(set(self.alert_thresholds_percent)) != len(self.alert_thresholds_percent):
            problems.add(thresholds, "lists a threshold twice")
        for i, email in enumerate(self.notify_emails):
            if not EMAIL.match(email):
                problems.add(join(join(path, "notify_emails"), i), f"{email!r} is not an email address")
