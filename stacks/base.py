"""What every stack of the estate shares: an explicit env, AZs from config, termination protection."""

from __future__ import annotations

from aws_cdk import Environment, Stack
from constructs import Construct

from mlops_estate.config import EstateConfig


class EstateStack(Stack):
    """A stack pinned to one account and the configured region.

    The availability zones are put into context under the key the CDK's AZ lookup reads, so a VPC
    with explicit zones synthesizes without AWS credentials or network calls.
    """

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, account: str, description: str) -> None:
        super().__init__(
            scope,
            id,
            env=Environment(account=account, region=config.region),
            description=f"{config.name} estate: {description}",
            termination_protection=True,
        )
        self.node.set_context(f"availability-zones:account={account}:region={config.region}", list(config.availability_zones))
        self.config = config
