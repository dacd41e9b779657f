"""Typed settings of the estate's governance: SCP guardrails, audit (CloudTrail, AWS Config) and budgets.

They hang on `mlops_estate.config.estate.EstateConfig` as ``guardrails``, ``audit`` and ``budgets``; every field
has a safe default, so an estate file without them gets the full set of guardrails.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlops_estate.core.instance_types import has_local_storage, string_like
from mlops_estate.core.patterns import EMAIL, LOG_RETENTION_DAYS
from mlops_estate.core.validation import Problems, join
from mlops_estate.governance.guardrails import GuardrailOptions, GuardrailRules
from mlops_estate.governance.stack_set import STACK_SET_EXECUTION_ROLE
from mlops_estate.monitoring.naming import monitor_role_path

if TYPE_CHECKING:
    from mlops_estate.config.estate import EstateConfig

# Account roles that run SageMaker workloads or hold data; each may get its own allow-list and budget.
GovernedRole = Literal["shared_services", "data_lake", "ml_dev", "staging", "prod"]

# `ml.m5.large`, `ml.m5.*`, `ml.g5.?xlarge`: an instance type or a StringLike pattern of them.
INSTANCE_PATTERN = re.compile(r"^ml\.[a-z0-9*?]+(\.[a-z0-9*?-]+)?$|^ml\.\*$")
# The default cap of the accounts that run no SageMaker workload today (shared services, data lake).
SMALL_INSTANCES = ("ml.t3.*", "ml.m5.large", "ml.m5.xlarge")


def _default_instance_types() -> Mapping[GovernedRole, tuple[str, ...]]:
    # Build accounts experiment on general purpose and memory instances; GPUs only where they have no local
    # storage (ml.p3.2xlarge, Inferentia2), since require_kms denies the NVMe families (g4dn, g5, p4d, ...).
    # Shared services and the data lake run no SageMaker workload: a small cap costs nothing there until one does.
    return {
        "ml_dev": ("ml.t3.*", "ml.m5.*", "ml.m6i.*", "ml.c5.*", "ml.c6i.*", "ml.r5.*", "ml.p3.2xlarge"),
        "staging": ("ml.t3.*", "ml.m5.*", "ml.m6i.*", "ml.c5.*", "ml.c6i.*", "ml.inf2.xlarge"),
        "prod": ("ml.m5.*", "ml.m6i.*", "ml.c5.*", "ml.c6i.*", "ml.r5.*", "ml.inf2.*"),
        "shared_services": SMALL_INSTANCES,
        "data_lake": SMALL_INSTANCES,
    }


def local_storage_problem(instance_type: str, guardrails_path: str) -> str:
    return (f"{instance_type!r} has local NVMe instance storage, on which SageMaker rejects a volume KMS key, while "
            f"{join(guardrails_path, 'require_kms')} makes the guardrail SCP deny every request without one; "
            "choose an EBS-backed instance type (ml.m5, ml.c5, ml.r5, ml.p3, ml.inf2, ...) or turn require_kms off")


@dataclass(frozen=True)
class GuardrailsConfig(GuardrailRules):
    """The estate file's ``guardrails``: the rules (`GuardrailRules`) plus an instance-type allow-list per account
    role, which the estate glue turns into `GuardrailOptions.instance_types_by_account`."""

    # Instance-type allow-list per account role (StringLike patterns); a role not listed is not restricted.
    instance_types: Mapping[GovernedRole, tuple[str, ...]] = field(default_factory=_default_instance_types)

    def check(self, path: str, problems: Problems) -> None:
        types_path = join(path, "instance_types")
        for role, patterns in self.instance_types.items():
            if not patterns:
                problems.add(join(types_path, role), "is empty; list at least one instance type, or remove the role to leave it unrestricted")
            for i, pattern in enumerate(patterns):
                if not INSTANCE_PATTERN.match(pattern):
                    problems.add(join(join(types_path, role), i), f"{pattern!r} is not an instance type or pattern like ml.m5.large or ml.m5.*")
                elif self.require_kms and has_local_storage(pattern):
                    problems.add(join(join(types_path, role), i), local_storage_problem(pattern, path))
        super().check(path, problems)

    def check_models(self, models: Sequence[Any], path: str, problems: Problems) -> None:
        """Every instance type a model (`ModelConfig`) uses must be on the allow-list of the account using it,
        and, while ``require_kms`` is on, an endpoint's must take a volume KMS key (no local NVMe storage).

        Serving (primary, A/B and shadow variants) and Model Monitor (jobs and Clarify's shadow endpoint)
        run in each serving environment; training, processing and batch transform run in ``ml_dev``. The build
        types become pipeline parameter defaults, which the synth-time `GuardrailCheck` cannot see, so without
        this check every pipeline run would be denied by the SCP.
        """
        for i, model in enumerate(models):
            model_path = join("models", i)
            # (config path, instance type, governed role, whether the endpoint rule applies). Build and monitoring
            # jobs always take the estate CMK, so BuildConfig and MonitoringConfig reject local storage themselves.
            uses: list[tuple[str, str, str, bool]] = []
            build = model.build
            for name in ("training_instance_type", "processing_instance_type", "batch_instance_type"):
                if name != "batch_instance_type" or build.batch_inference:
                    uses.append((join(join(model_path, "build"), name), getattr(build, name), "ml_dev", False))
            for env, serving in model.serving.items():
                serving_path = join(join(model_path, "serving"), env)
                if serving.mode != "serverless":
                    uses.append((join(serving_path, "instance_type"), serving.instance_type, env, True))
                    for k, variant in enumerate(serving.variants):
                        if variant.instance_type:
                            uses.append((join(join(join(serving_path, "variants"), k), "instance_type"), variant.instance_type, env, True))
                    if serving.shadow is not None and serving.shadow.instance_type:
                        uses.append((join(join(serving_path, "shadow"), "instance_type"), serving.shadow.instance_type, env, True))
                monitoring = model.monitoring
                if monitoring is not None:
                    uses.append((join(join(model_path, "monitoring"), "instance_type"), monitoring.instance_type, env, False))
                    if monitoring.explainability is not None:
                        uses.append((join(join(join(model_path, "monitoring"), "explainability"), "shadow_instance_type"),
                                     monitoring.explainability.shadow_instance_type, env, False))
            reported: set[str] = set()
            for where, instance_type, role, takes_key in uses:
                if not instance_type.startswith("ml."):
                    continue  # malformed: the model's own check already says so
                allowed = self.instance_types.get(role)  # type: ignore[call-overload]
                if allowed and not all(INSTANCE_PATTERN.match(p) for p in allowed):
                    allowed = None  # a malformed list is reported by check(); matching against it says nothing
                if allowed and not any(string_like(instance_type, p) for p in allowed) and f"{where}:{role}" not in reported:
                    reported.add(f"{where}:{role}")
                    problems.add(
                        where,
                        f"{instance_type!r} is not on the {role} allow-list {join(join(path, 'instance_types'), role)} "
                        f"({', '.join(allowed)}); the guardrail SCP would deny it",
                    )
                if takes_key and self.require_kms and has_local_storage(instance_type) and where not in reported:
                    reported.add(where)
                    problems.add(where, local_storage_problem(instance_type, path))


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


def guardrail_options(config: EstateConfig) -> GuardrailOptions:
    """The guardrails' props from the estate file: the rules, each account's allow-list (accounts sharing an id, as
    in sandbox mode, get the union of their roles' lists), the roles that deploy the estate, and the path of the
    Model Monitor roles that create Clarify's shadow endpoint configs."""
    by_account: dict[str, list[str]] = {}
    for role, patterns in sorted(config.guardrails.instance_types.items()):
        merged = by_account.setdefault(config.accounts.of(role), [])
        merged.extend(p for p in patterns if p not in merged)
    return GuardrailOptions(
        estate_name=config.name,
        deployment_role_name=config.deployment_role_name,
        monitor_role_path=monitor_role_path(config.name),
        rules=config.guardrails,
        other_deployment_role_names=(STACK_SET_EXECUTION_ROLE,) if config.organization.baseline_rollout.enabled else (),
        instance_types_by_account={a: tuple(p) for a, p in sorted(by_account.items())},
        clarify_shadow_endpoints=any(
            m.monitoring is not None and m.monitoring.explainability is not None and m.serving for m in config.models
        ),
    )
