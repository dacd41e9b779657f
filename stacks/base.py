"""What every stack of the estate shares: an explicit env, AZs from config, termination protection."""

from __future__ import annotations

from aws_cdk import DefaultStackSynthesizer, Environment, IBoundStackSynthesizer, Stack
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_estate.governance.budgets import AccountBudget
from mlops_estate.config.ci import BOOTSTRAP_QUALIFIER_CONTEXT
from mlops_estate.config.estate import EstateConfig
from mlops_estate.governance.config_rules import ConfigRecorder, SageMakerConfigRules
from mlops_estate.config.governance import GovernedRole
from mlops_estate.network.private_network import PrivateNetwork

# Accounts that run SageMaker workloads: they get the AWS Config SageMaker rules.
ML_ROLES: tuple[GovernedRole, ...] = ("ml_dev", "staging", "prod")
GOVERNED_ROLES: tuple[GovernedRole, ...] = ("shared_services", "data_lake", "ml_dev", "staging", "prod")


class _QualifiedSynthesizer(DefaultStackSynthesizer):
    """A DefaultStackSynthesizer for exactly one stack. Stacks use a bound copy of a reusable synthesizer, but jsii
    hands that copy back to Python as this (unbound) object, so Python callers of ``stack.synthesizer`` (the
    StackSet template's asset) would fail; binding this instance itself keeps them working."""

    def reusable_bind(self, stack: Stack) -> IBoundStackSynthesizer:
        self.bind(stack)
        return self


class EstateStack(Stack):
    """A stack pinned to one account and the configured region.

    The availability zones are put into context under the key the CDK's AZ lookup reads, so a VPC
    with explicit zones synthesizes without AWS credentials or network calls. The stack deploys through the
    bootstrap of ``config.bootstrap_qualifier`` (its roles, asset bucket and version parameter).
    """

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, account: str, description: str) -> None:
        qualifier = config.bootstrap_qualifier
        # CDK's own context key would move the stacks to another bootstrap while the CI roles, promotion and the
        # guardrails' exemption follow the config: one source only.
        given = scope.node.try_get_context(BOOTSTRAP_QUALIFIER_CONTEXT)
        if given is not None and given != qualifier:
            raise ValueError(
                f"{scope.node.path or '<app>'}/{id}: the CDK context {BOOTSTRAP_QUALIFIER_CONTEXT} is {given!r}, but the "
                f"estate's bootstrap_qualifier is {qualifier!r}; set bootstrap_qualifier in the estate config (it also "
                "drives the CI deploy roles, promotion and the guardrails) and drop the context key")
        super().__init__(
            scope,
            id,
            env=Environment(account=account, region=config.region),
            description=f"{config.name} estate: {description}",
            termination_protection=True,
            synthesizer=None if qualifier == DefaultStackSynthesizer.DEFAULT_QUALIFIER else _QualifiedSynthesizer(qualifier=qualifier),
        )
        self.node.set_context(f"availability-zones:account={account}:region={config.region}", list(config.availability_zones))
        # For constructs that name a bootstrap resource themselves, under the key CDK reads the qualifier from.
        self.node.set_context(BOOTSTRAP_QUALIFIER_CONTEXT, qualifier)
        self.config = config


def add_account_governance(stack: EstateStack, role: GovernedRole, key: kms.Key) -> None:
    """This account's share of estate governance: the AWS Config SageMaker rules (ML accounts), the Config recorder
    when ``audit.config_recorder`` asks for one, and its monthly budget (when ``budgets.monthly_limits_usd`` names
    the role), alerting through ``key``."""
    config = stack.config
    # The network's default security group is closed by an AWS Config rule (DefaultSecurityGroupClosed): it needs a
    # recorder too, created first when the estate makes one.
    network = getattr(stack, "network", None)
    closed = network.default_security_group if isinstance(network, PrivateNetwork) else None
    recorder: ConfigRecorder | None = None
    if config.audit.config_rules and role in ML_ROLES:
        recorder = SageMakerConfigRules(stack, "SageMakerConfigRules", recorder_key=key if config.audit.config_recorder else None,
                                        model_rules=config.guardrails.models_in_vpc).recorder
    elif config.audit.config_recorder and closed is not None:
        recorder = ConfigRecorder(stack, "ConfigRecording", key=key)
    if recorder is not None and closed is not None:
        closed.rule.node.add_dependency(recorder.recorder, recorder.delivery_channel)
    limit = config.budgets.monthly_limits_usd.get(role)
    if limit is not None:
        AccountBudget(stack, "Budget", budget_name=f"{config.name}-{role.replace('_', '-')}-monthly", limit_usd=limit, key=key,
                      thresholds_percent=config.budgets.alert_thresholds_percent, forecast_alert=config.budgets.forecast_alert,
                      notify_emails=config.budgets.notify_emails)
