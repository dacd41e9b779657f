"""The role a GitHub Actions deploy job assumes in one account, through GitHub's OIDC identity provider.

No long-lived keys: the job exchanges its GitHub OIDC token for a one-hour session of `CiDeployRole`. The
role trusts only the account's GitHub OIDC provider, and only tokens issued for STS (``aud``) to jobs of one
repository bound to one GitHub environment (``sub``), both matched with ``StringEquals``. Its only
permission is ``sts:AssumeRole`` on the CDK bootstrap roles of its account (deploy, file and image
publishing, lookup): everything it changes, CloudFormation changes through the bootstrap execution role.

Usage::

    provider = github_oidc_provider(stack, "GitHubOidc")
    CiDeployRole(stack, "Deploy", github_repository="my-org/ml-estate", environment="production", provider=provider)
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_estate.core.patterns import ENVIRONMENT_NAME, GITHUB_REPOSITORY, QUALIFIER

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
# The audience aws-actions/configure-aws-credentials requests; the provider accepts no other client id.
STS_AUDIENCE = "sts.amazonaws.com"
# The roles `cdk bootstrap` creates in every account: `cdk-<qualifier>-<kind>-role-<account>-<region>`.
BOOTSTRAP_ROLE_KINDS = ("deploy", "file-publishing", "image-publishing", "lookup")


def github_oidc_provider(scope: Construct, id: str, *, create: bool = True) -> iam.IOidcProvider:
    """GitHub's OIDC identity provider of the scope's account: a native ``AWS::IAM::OIDCProvider`` accepting only
    the STS audience, or (``create=False``, when the account already has one) a reference to it by its ARN.

    IAM validates GitHub's certificate against its own trusted CAs, so no thumbprint is pinned here. The provider
    is retained: other roles of the account may come to trust it, and deleting a stack must not cut them off."""
    if create:
        return iam.OidcProviderNative(scope, id, url=GITHUB_OIDC_URL, client_ids=[STS_AUDIENCE], removal_policy=RemovalPolicy.RETAIN)
    arn = Stack.of(scope).format_arn(service="iam", region="", resource="oidc-provider", resource_name=GITHUB_OIDC_HOST,
                                     arn_format=ArnFormat.SLASH_RESOURCE_NAME)
    return iam.OidcProviderNative.from_oidc_provider_arn(scope, id, arn)


class CiDeployRole(Construct):
    """A deploy role for one account, assumable only by one repository's jobs in one GitHub environment."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        github_repository: str,
        environment: str,
        provider: iam.IOidcProvider,
        bootstrap_qualifier: str = "hnb659fds",
        role_name: str | None = None,
        max_session: Duration = Duration.hours(1),
    ) -> None:
        super().__init__(scope, id)
        problems: list[str] = []
        if not GITHUB_REPOSITORY.match(github_repository) or github_repository.split("/", 1)[-1] in (".", ".."):
            problems.append(f"github_repository {github_repository!r} is not 'owner/repo' (letters, digits, '.', '_', '-'; no wildcards)")
        if not ENVIRONMENT_NAME.match(environment):
            problems.append(f"environment {environment!r} is not a GitHub environment name (1-255 letters, digits, '.', '_' or '-')")
        if not QUALIFIER.match(bootstrap_qualifier):
            problems.append(f"bootstrap_qualifier {bootstrap_qualifier!r} is not a CDK bootstrap qualifier (1-10 lowercase letters and digits)")
        hours = max_session.to_hours(integral=False)
        if not 1 <= hours <= 12:
            problems.append(f"max_session {hours:g} h is out of range; IAM allows 1 to 12 hours")
        if problems:
            raise ValueError(f"{self.node.path}: " + "; ".join(problems))

        self.github_repository = github_repository
        self.environment = environment
        # Exactly this repository and environment: a pull request, a branch or another environment gets a
        # different subject and is refused.
        self.subject = f"repo:{github_repository}:environment:{environment}"
        principal = iam.OpenIdConnectPrincipal(provider, conditions={
            "StringEquals": {f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE, f"{GITHUB_OIDC_HOST}:sub": self.subject},
        })
        self.role = iam.Role(
            self, "Role",
            role_name=role_name,
            assumed_by=principal,
            max_session_duration=max_session,
            description=f"GitHub Actions deploys from {github_repository} (environment {environment}) via the CDK bootstrap roles",
        )
        stack = Stack.of(self)
        self.bootstrap_role_arns = [
            stack.format_arn(service="iam", region="", resource="role",
                             resource_name=f"cdk-{bootstrap_qualifier}-{kind}-role-{stack.account}-{stack.region}")
            for kind in BOOTSTRAP_ROLE_KINDS
        ]
        self.role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=self.bootstrap_role_arns))

    @property
    def role_arn(self) -> str:
        return self.role.role_arn
