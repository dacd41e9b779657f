"""`<Stage>/CiAccess`: per account, GitHub's OIDC provider and the role the deploy workflow assumes there.

A stack of its own (not a part of each account's base stack) so that turning CI on or off changes no
existing stack, and so it can be deployed by hand first (`npx cdk deploy 'Prod/CiAccess'`): the workflow can
only assume a role that already exists. `.github/workflows/deploy.yml` deploys the stages in `DEPLOY_ORDER`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import CfnOutput, Duration, Stage
from constructs import Construct

from mlops_estate.config.ci import CiAccount, CiConfig
from mlops_estate.governance.ci_deploy_role import CiDeployRole, github_oidc_provider
from mlops_estate.config.estate import EstateConfig
from mlops_estate.stacks.base import EstateStack

# The order the deploy workflow deploys the stages in (README "Deploy, one account at a time"): the registry
# and buses first, the ML dev account before the data lake that forwards to its bus, the organisation's SCPs
# once the estate's own resources exist, then staging, and prod last, behind a manual approval.
DEPLOY_ORDER: tuple[tuple[str, CiAccount], ...] = (
    ("SharedServices", "shared_services"),
    ("MlDev", "ml_dev"),
    ("DataLake", "data_lake"),
    ("Organization", "management"),
    ("Staging", "staging"),
    ("Prod", "prod"),
)


def _snake(stage_name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", stage_name).lower()


def role_variable(stage_name: str) -> str:
    """The GitHub Actions variable holding the stage's deploy role ARN, e.g. ``DEPLOY_ROLE_ARN_SHARED_SERVICES``."""
    return f"DEPLOY_ROLE_ARN_{_snake(stage_name).upper()}"


def ci_role_name(config: EstateConfig, stage_name: str) -> str:
    """``<estate>-github-deploy-<stage>``: a human copies its ARN into GitHub, and stages may share an account."""
    return f"{config.name}-github-deploy-{_snake(stage_name).replace('_', '-')}"


def account_of(config: EstateConfig, account: CiAccount) -> str:
    return config.organization.management_account if account == "management" else config.accounts.of(account)


class CiAccessStack(EstateStack):
    """The stage account's GitHub OIDC provider (created, or referenced when ``create_provider`` is False)
    and its `CiDeployRole`, whose ARN is an output named after the GitHub variable that must hold it."""

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, ci: CiConfig, stage_name: str,
                 account: CiAccount, create_provider: bool) -> None:
        super().__init__(scope, id, config=config, account=account_of(config, account),
                         description=f"GitHub Actions OIDC deploy role of the {stage_name} stage")
        provider = github_oidc_provider(self, "GitHubOidcProvider", create=create_provider)
        self.deploy_role = CiDeployRole(
            self, "DeployRole",
            github_repository=ci.github_repository,
            environment=ci.environments[account],
            provider=provider,
            bootstrap_qualifier=config.bootstrap_qualifier,
            role_name=ci_role_name(config, stage_name),
            max_session=Duration.hours(ci.max_session_hours),
        )
        CfnOutput(self, "DeployRoleArn", value=self.deploy_role.role_arn,
                  description=f"Set as the GitHub Actions variable {role_variable(stage_name)}")


def add_ci_access(stages: Mapping[str, Stage], config: EstateConfig) -> dict[str, CiAccessStack]:
    """A ``CiAccess`` stack in every stage when ``config.ci`` is set (none otherwise).

    An account holds one OIDC provider per URL, so when stages share an account (sandbox mode) the first of
    them in `DEPLOY_ORDER` creates it and the others reference it."""
    ci = config.ci
    if ci is None:
        return {}
    with_provider: set[str] = set()
    stacks: dict[str, CiAccessStack] = {}
    for stage_name, account in DEPLOY_ORDER:
        account_id = account_of(config, account)
        create = ci.create_oidc_provider and account_id not in with_provider
        with_provider.add(account_id)
        stacks[stage_name] = CiAccessStack(stages[stage_name], "CiAccess", config=config, ci=ci, stage_name=stage_name,
                                           account=account, create_provider=create)
    return stacks
