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

from mlops_estate.core.patterns import ENVIRONMENT_NAME, GITHUB_REPOSITORY, QUALIFIER, ROLE_NAME
from mlops_estate.core.validation import Problems

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
    is retained: other roles of the account may come to trust it, and deleting a stack must not cut them off.

    Args:
        scope: the construct to create (or import) the provider in.
        id: the provider's construct id.
        create: make the provider (default); ``False`` when the account has one already (an account holds one
            provider per URL).
    """
    if create:
        return iam.OidcProviderNative(scope, id, url=GITHUB_OIDC_URL, client_ids=[STS_AUDIENCE], removal_policy=RemovalPolicy.RETAIN)
    arn = Stack.of(scope).format_arn(service="iam", region="", resource="oidc-provider", resource_name=GITHUB_OIDC_HOST,
                                     arn_format=ArnFormat.SLASH_RESOURCE_NAME)
    return iam.OidcProviderNative.from_oidc_provider_arn(scope, id, arn)


class CiDeployRole(Construct):
    """A deploy role for one account, assumable only by one repository's jobs in one GitHub environment, through
    GitHub's OIDC provider (no long-lived keys). Its one permission is ``sts:AssumeRole`` on the account's CDK
    bootstrap roles (deploy, file and image publishing, lookup) of the stack's region: CloudFormation makes every
    change through the bootstrap execution role.

    Args:
        scope: the parent construct.
        id: the construct id.
        github_repository: ``owner/repo`` whose jobs may assume the role (no wildcards); matched exactly, with
            the environment, in the token's ``sub`` claim.
        environment: the GitHub environment the jobs must run in (1-255 letters, digits, ``.``, ``_``, ``-``);
            a pull request, a branch or another environment gets a different subject and is refused.
        provider: the account's GitHub OIDC provider (`github_oidc_provider`).
        bootstrap_qualifier: the qualifier the account was bootstrapped with (1-10 lower-case letters and
            digits); default CDK's ``hnb659fds``.
        role_name: a physical role name (1-64 of letters, digits and ``+=,.@_-``), for a workflow that names
            the role's ARN; default: CloudFormation generates one.
        max_session: the longest session a job may request, 1 to 12 hours; default 1 hour.
    """

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
        problems = Problems()
        if problems.match("github_repository", github_repository, GITHUB_REPOSITORY, "a GitHub repository",
                          "'owner/repo' of letters, digits, '.', '_' and '-' (no wildcards)") \
                and github_repository.split("/", 1)[-1] in (".", ".."):
            problems.add("github_repository", f"{github_repository!r} is not a GitHub repository; expected a repository name other "
                                              "than '.' or '..'")
        problems.match("environment", environment, ENVIRONMENT_NAME, "a GitHub environment name",
                       "1-255 letters, digits, '.', '_' or '-'")
        problems.match("bootstrap_qualifier", bootstrap_qualifier, QUALIFIER, "a CDK bootstrap qualifier",
                       "1-10 lower-case letters and digits")
        if role_name is not None:
            problems.match("role_name", role_name, ROLE_NAME, "an IAM role name", "1-64 of letters, digits and +=,.@_-")
        hours = max_session.to_hours(integral=False)
        if not 1 <= hours <= 12:
            problems.add("max_session", f"{hours:g} h is outside what IAM allows; expected 1 to 12 hours")
        problems.raise_if_any(self.node.path)

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
