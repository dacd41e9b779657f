"""Typed settings of the org-wide baseline rollout: a service-managed StackSet deploys the per-account baseline
(private network, KMS keys, AWS Config rules, budget, cost tags) to every account of the target OUs.

It hangs on `mlops_estate.config.estate.OrganizationConfig` as ``baseline_rollout``; off unless ``enabled``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mlops_estate.core.validation import Problems, join
from mlops_estate.governance.stack_set import (IPAM_POOL_ID, STACK_SET_EXECUTION_ROLE, RolloutOperationConfig,
                                               check_stack_set_name, check_targets)

# The methods below take the whole `mlops_estate.config.estate.EstateConfig` (typed Any: config.py imports this module).
EstateConfig = Any

@dataclass(frozen=True)
class BaselineRolloutConfig:
    """The StackSet that rolls the account baseline out to whole OUs from the management account.

    ``ou_ids`` defaults to ``organization.ml_ou_ids`` and ``regions`` to the estate's region. The estate's own
    accounts (``accounts.*``) are always excluded: they get the same baseline from their per-account stacks.
    """

    enabled: bool = False
    ou_ids: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()
    # The VPC block of every baseline account (the same in each: see the README on overlapping CIDRs) ...
    cidr: str = "10.100.0.0/16"
    # ... or, with an IPAM pool shared to the target OUs, a distinct /ipam_netmask_length block per account.
    ipam_pool_id: str | None = None
    ipam_netmask_length: int = 20
    # A monthly cost budget per account (in the first region only, budgets are global); none when null.
    monthly_limit_usd: float | None = None
    # Record configuration in the baseline accounts (a recorder + delivery channel); default `audit.config_recorder`.
    # The Config rules need a recorder: turn it on unless another tool (Control Tower) records there already.
    config_recorder: bool | None = None
    # The value of the `environment` cost allocation tag in the baseline accounts.
    environment_tag: str = "ml-account"
    # Default: "<estate name>-account-baseline".
    stack_set_name: str = ""
    operation: RolloutOperationConfig = field(default_factory=RolloutOperationConfig)

    def check(self, path: str, problems: Problems) -> None:
        from mlops_estate.config.estate import TAG_VALUE  # config.py imports this module

        if self.stack_set_name:
            check_stack_set_name(self.stack_set_name, join(path, "stack_set_name"), problems)
        try:
            net = ipaddress.IPv4Network(self.cidr)
        except ValueError:
            problems.add(join(path, "cidr"), f"{self.cidr!r} is not an IPv4 CIDR block like 10.100.0.0/16")
        else:
            if not 16 <= net.prefixlen <= 22:
                problems.add(join(path, "cidr"), f"{self.cidr!r} has prefix /{net.prefixlen}; use /16 to /22 so every AZ gets a subnet")
        if self.ipam_pool_id is not None and not IPAM_POOL_ID.match(self.ipam_pool_id):
            problems.add(join(path, "ipam_pool_id"), f"{self.ipam_pool_id!r} is not an IPAM pool id (ipam-pool- and 17 hex digits)")
        if not 16 <= self.ipam_netmask_length <= 22:
            problems.add(join(path, "ipam_netmask_length"),
                         f"{self.ipam_netmask_length} is outside 16..22 (each account's block must hold a /24 per zone)")
        if self.monthly_limit_usd is not None and self.monthly_limit_usd <= 0:
            problems.add(join(path, "monthly_limit_usd"), f"{self.monthly_limit_usd} is not positive; give a USD amount or null for no budget")
        if not TAG_VALUE.match(self.environment_tag):
            problems.add(join(path, "environment_tag"),
                         f"{self.environment_tag!r} is not a valid tag value (1-256 letters, digits, spaces and _.:/=+-@)")
        for name, values in (("ou_ids", self.ou_ids), ("regions", self.regions), ("exclude_accounts", self.exclude_accounts)):
            seen = set()
            for i, value in enumerate(values):
                if value in seen:
                    problems.add(join(join(path, name), i), f"{value!r} is listed twice")
                seen.add(value)

    def check_estate(self, estate: EstateConfig, path: str, problems: Problems) -> None:
        """Checks against the rest of the estate: ids and regions well-formed, the CIDR clear of the estate's VPCs."""
        check_targets(self.ou_ids, self.regions, self.exclude_accounts, path, problems)
        if not self.enabled:
            return
        if self.ipam_pool_id is not None:
            if len(self.target_regions(estate)) > 1:
                problems.add(join(path, "ipam_pool_id"), "an IPAM pool allocates in one region (its locale), but the rollout "
                             f"targets {list(self.target_regions(estate))}; use one region, or one estate per region")
            return  # the pool, not cidr, decides the blocks
        try:
            net = ipaddress.IPv4Network(self.cidr)
        except ValueError:
            return  # reported by check()
        for name in ("ml_dev_cidr", "staging_cidr", "prod_cidr"):
            other = getattr(estate.network, name)
            try:
                overlaps = net.overlaps(ipaddress.IPv4Network(other))
            except ValueError:
                continue  # reported under network
            if overlaps:
                problems.add(join(path, "cidr"), f"{self.cidr!r} overlaps network.{name} {other!r}; give the baseline VPCs their own block")

    def target_ou_ids(self, estate: EstateConfig) -> tuple[str, ...]:
        return self.ou_ids or estate.organization.ml_ou_ids

    def target_regions(self, estate: EstateConfig) -> tuple[str, ...]:
        return self.regions or (estate.region,)

    def excluded_accounts(self, estate: EstateConfig) -> tuple[str, ...]:
        """The estate's own accounts (they run the per-account stacks) and ``exclude_accounts``, sorted."""
        own = {estate.accounts.of(role) for role in ("shared_services", "data_lake", "ml_dev", "staging", "prod")}
        return tuple(sorted(own | set(self.exclude_accounts)))

    def records_configuration(self, estate: EstateConfig) -> bool:
        return bool(estate.audit.config_recorder) if self.config_recorder is None else self.config_recorder

    def name_for(self, estate: EstateConfig) -> str:
        return self.stack_set_name or f"{estate.name}-account-baseline"
