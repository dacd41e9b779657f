"""Typed settings of the CI/CD access: which GitHub repository may deploy the estate, through which environments.

They hang on `mlops_estate.config.estate.EstateConfig` as ``ci`` (optional: without it no CI role is built). Each
account's stage then gets a ``CiAccess`` stack with GitHub's OIDC identity provider and one deploy role that
only workflow jobs of ``github_repository`` bound to the account's GitHub environment can assume.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from mlops_estate.core.patterns import ENVIRONMENT_NAME, GITHUB_REPOSITORY, QUALIFIER
from mlops_estate.core.validation import Problems, join
from mlops_estate.config.parsing import is_missing

# The account role each stage deploys into; "management" is the Organization stage's management account.
CiAccount = Literal["management", "shared_services", "data_lake", "ml_dev", "staging", "prod"]

# The CloudFormation execution role `cdk bootstrap` creates: `cdk-<qualifier>-cfn-exec-role-<account>-<region>`.
EXEC_ROLE = re.compile(r"^cdk-(?P<qualifier>[a-z0-9]{1,10})-cfn-exec-role")
# Where CDK reads the bootstrap qualifier from context; estate stacks set it for constructs that name bootstrap resources.
BOOTSTRAP_QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier"
MOVED_QUALIFIER = ("set the estate-wide 'bootstrap_qualifier' instead; one qualifier now drives every account's bootstrap "
                   "(the stacks' synthesizer, the CI deploy roles, the promotion pipeline and the guardrails' deployment role)")


# What a serving stage's deploy needs besides its longest endpoint rollout: the stage's other stacks, asset
# publishing, CloudFormation's own waits and a rollback.
STAGE_MARGIN_MINUTES = 30
# `timeout-minutes` of the Staging and Prod jobs of .github/workflows/deploy.yml: the most a GitHub-hosted job may run.
SERVING_JOB_TIMEOUT_MINUTES = 360


def _default_environments() -> Mapping[CiAccount, str]:
    return {
        "management": "management",
        "shared_services": "shared-services",
        "data_lake": "data-lake",
        "ml_dev": "ml-dev",
        "staging": "staging",
        "prod": "production",
    }


@dataclass(frozen=True)
class CiConfig:
    """GitHub Actions deployments through OIDC: no long-lived keys anywhere."""

    # "owner/repo" of the repository whose workflows deploy the estate.
    github_repository: str
    # The GitHub environment each account's deploy job is bound to; the role trusts exactly that environment.
    # Keep them equal to the `environment:` of the jobs in .github/workflows/deploy.yml.
    environments: Mapping[CiAccount, str] = field(default_factory=_default_environments)
    # Longest session of the deploy role (IAM allows 1 to 12); a stage deploy must finish within it.
    max_session_hours: int = 1
    # False when the accounts already have GitHub's OIDC provider (an account holds one per URL): it is referenced.
    create_oidc_provider: bool = True
    MOVED_KEYS: ClassVar[dict[str, str]] = {"bootstrap_qualifier": MOVED_QUALIFIER}

    def check_rollouts(self, models: Sequence[Any], path: str, problems: Problems) -> None:
        """The CI deploys a serving stage in one session of the deploy role (``max_session_hours``, the
        AWS_SESSION_SECONDS the workflow asks for) and one job: the longest endpoint rollout, plus
        `STAGE_MARGIN_MINUTES` for the rest of the stage, must fit both."""
        rollouts = [(f"models[{i}].serving.{env}.rollout.max_execution_minutes", serving.rollout.max_execution_minutes)
                    for i, model in enumerate(models) if not is_missing(model) for env, serving in sorted(model.serving.items())]
        if not rollouts or not 1 <= self.max_session_hours <= 12:  # an invalid session is reported by check()
            return
        where, minutes = max(rollouts, key=lambda r: r[1])
        needed = minutes + STAGE_MARGIN_MINUTES
        if needed > SERVING_JOB_TIMEOUT_MINUTES:
            problems.add(where, f"{minutes} minutes plus {STAGE_MARGIN_MINUTES} for the rest of the stage exceed the "
                                f"{SERVING_JOB_TIMEOUT_MINUTES}-minute limit of a GitHub-hosted deploy job; shorten the rollout")
        elif needed > self.max_session_hours * 60:
            hours = math.ceil(needed / 60)
            problems.add(join(path, "max_session_hours"),
                         f"a {self.max_session_hours} h CI session is shorter than {where} ({minutes}) plus {STAGE_MARGIN_MINUTES} "
                         f"minutes for the rest of the stage; raise it to {hours} and the repository variable "
                         f"AWS_SESSION_SECONDS to {hours * 3600}")

    def check(self, path: str, problems: Problems) -> None:
        match = GITHUB_REPOSITORY.match(self.github_repository)
        if not match or match.group("repo") in (".", ".."):
            problems.add(join(path, "github_repository"),
                         f"{self.github_repository!r} is not a GitHub repository like 'my-org/ml-estate' (owner: letters, digits "
                         "and single hyphens; name: letters, digits, '.', '_' and '-'; no wildcards)")
        envs = join(path, "environments")
        missing = sorted(set(_default_environments()) - set(self.environments))
        if missing:
            problems.add(envs, f"needs an environment for every account role; missing {', '.join(missing)}")
        seen: dict[str, str] = {}
        for account, name in self.environments.items():
            if not ENVIRONMENT_NAME.match(name):
                problems.add(join(envs, account), f"{name!r} is not a GitHub environment name we accept (1-255 letters, digits, '.', '_' or '-')")
            elif name.lower() in seen:  # GitHub environment names are case-insensitive
                problems.add(join(envs, account), f"{name!r} is already the environment of {seen[name.lower()]}; each account needs its own")
            else:
                seen[name.lower()] = account
        if not 1 <= self.max_session_hours <= 12:
            problems.add(join(path, "max_session_hours"), f"{self.max_session_hours} is out of range; IAM allows 1 to 12 hours")
