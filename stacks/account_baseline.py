"""The per-account baseline as one account-agnostic template, rolled out to whole OUs by a StackSet.

The same constructs the estate's own accounts use (stacks/ml_dev.py, serving.py, base.py): the estate's CMKs
(`EstateKeys`, RETAIN, aliases ``alias/<estate>/<class>``), the `PrivateNetwork`, the AWS Config SageMaker rules,
a monthly budget and the cost allocation tags. Nothing names an account or a region: keys, policies and ARNs use
pseudo-parameters, and the two availability zones are the first two of ``Fn::GetAZs`` in each account and region.
The VPC block is ``cidr`` in every account, or, with ``ipam_pool_id``, a distinct block per account from that IPAM pool.
The template holds no assets. The VPC's default security group is closed as in every estate network, by an AWS
Config rule with automatic SSM remediation (`DefaultSecurityGroupClosed`), made here rather than by the network so
that it waits for this template's own recorder.
"""

from __future__ import annotations

from aws_cdk import CfnCondition, CfnResource, Fn, Tags
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from mlops_estate.governance.budgets import AccountBudget
from mlops_estate.config.estate import EstateConfig
from mlops_estate.governance.config_rules import ConfigRecorder, SageMakerConfigRules
from mlops_estate.network.default_security_group import DefaultSecurityGroupClosed
from mlops_estate.security.encryption import EstateKeys
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.governance.stack_set import ServiceManagedStackSet, StackSetTemplate

# Above the stage's tags (priority 100), so `environment` names the baseline accounts, not the management account.
ENVIRONMENT_TAG_PRIORITY = 200


class AccountBaselineTemplate(StackSetTemplate):
    """The baseline of one member account (see the module docstring); build it inside the management account's stack."""

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig) -> None:
        rollout = config.organization.baseline_rollout
        super().__init__(scope, id, description=f"{config.name} estate: account baseline (network, keys, Config rules, "
                                                f"budget), rolled out by the StackSet {rollout.name_for(config)}")
        self.keys = EstateKeys(self, "Keys", estate_name=config.name)
        addresses = (
            ec2.IpAddresses.aws_ipam_allocation(ipv4_ipam_pool_id=rollout.ipam_pool_id, ipv4_netmask_length=rollout.ipam_netmask_length,
                                                default_subnet_ipv4_netmask_length=24)
            if rollout.ipam_pool_id else ec2.IpAddresses.cidr(rollout.cidr)
        )
        self.network = PrivateNetwork(self, "Network", ip_addresses=addresses, availability_zones=self.availability_zones[:2],
                                      logs_key=self.keys.logs, restrict_default_security_group=False)
        self.default_security_group = DefaultSecurityGroupClosed(self, "DefaultSecurityGroupClosed", vpc=self.network.vpc)
        record = rollout.records_configuration(config)
        self.config_rules: SageMakerConfigRules | None = None
        if config.audit.config_rules:
            self.config_rules = SageMakerConfigRules(self, "SageMakerConfigRules", recorder_key=self.keys.logs if record else None,
                                                     model_rules=config.guardrails.models_in_vpc)
            self.recorder = self.config_rules.recorder
        else:
            self.recorder = ConfigRecorder(self, "ConfigRecording", key=self.keys.logs) if record else None
        if self.recorder is not None:
            self.default_security_group.rule.node.add_dependency(self.recorder.recorder, self.recorder.delivery_channel)
        self.budget = None
        if rollout.monthly_limit_usd is not None:
            self.budget = AccountBudget(self, "Budget", budget_name=f"{config.name}-account-monthly", limit_usd=rollout.monthly_limit_usd,
                                        key=self.keys.logs, thresholds_percent=config.budgets.alert_thresholds_percent,
                                        forecast_alert=config.budgets.forecast_alert, notify_emails=config.budgets.notify_emails)
            # Budgets are global to an account: with several regions, only the first one holds it.
            regions = rollout.target_regions(config)
            if len(regions) > 1:
                home = CfnCondition(self, "BudgetRegion", expression=Fn.condition_equals(self.region, regions[0]))
                for child in self.budget.node.find_all():
                    if isinstance(child, CfnResource):
                        child.cfn_options.condition = home
        Tags.of(self).add("environment", rollout.environment_tag, priority=ENVIRONMENT_TAG_PRIORITY)


def account_baseline_rollout(scope: Construct, config: EstateConfig) -> ServiceManagedStackSet:
    """The baseline template and its StackSet, in ``scope`` (the management account's stack)."""
    rollout = config.organization.baseline_rollout
    template = AccountBaselineTemplate(scope, "AccountBaseline", config=config)
    stack_set = ServiceManagedStackSet(
        scope, "AccountBaselineRollout", template=template, stack_set_name=rollout.name_for(config),
        ou_ids=rollout.target_ou_ids(config), regions=rollout.target_regions(config),
        exclude_accounts=rollout.excluded_accounts(config), operation=rollout.operation,
    )
    # StackSets propagate their tags to the stacks they create: the same `environment` as the template's resources.
    Tags.of(stack_set).add("environment", rollout.environment_tag, priority=ENVIRONMENT_TAG_PRIORITY)
    return stack_set
