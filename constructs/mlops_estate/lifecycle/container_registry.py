"""ECR repositories for the estate's own training and serving images, pullable by the estate's accounts."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_estate.core.patterns import ECR_REPOSITORY_NAME
from mlops_estate.core.validation import Problems

PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
PUSH_ACTIONS = ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload")


class EstateRepositories(Construct):
    """One ECR repository per image kind (``<estate_name>/training``, ``<estate_name>/serving`` by default) for the
    estate's own training and serving images: KMS-encrypted with the given CMK, immutable tags (a tag always
    means the same image), scan on push, untagged images expire after ``untagged_days``, RETAIN.

    ``pull_accounts`` may pull every image (SageMaker in those accounts pulls with its execution roles, whose own
    policies must allow it too); ``push_accounts`` may also push (the build account's pipelines and CI).

    Args:
        scope: the parent construct.
        id: the construct id (stateful: keep it stable).
        estate_name: the repository names' prefix; ``<estate_name>/<kind>`` must be an ECR repository name
            (lower-case letters and digits, joined by single ``.``, ``_``, ``-`` or ``/``; 2-256 characters).
        key: the customer-managed key that encrypts the images.
        pull_accounts: 12-digit ids of other accounts that may pull (tokens accepted); this account is never
            listed (its IAM already governs it). Default none.
        push_accounts: 12-digit ids of other accounts that may push, and so also pull. Default none.
        kinds: the image kinds, one repository each, at least one, each once; default ``("training", "serving")``.
        untagged_days: days an untagged image is kept before it expires, 1-3650; default 14.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        estate_name: str,
        key: kms.IKey,
        pull_accounts: Sequence[str] = (),
        push_accounts: Sequence[str] = (),
        kinds: Sequence[str] = ("training", "serving"),
        untagged_days: int = 14,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems()
        for i, kind in enumerate(kinds):
            name = f"{estate_name}/{kind}"
            if not Token.is_unresolved(name) and not ECR_REPOSITORY_NAME.match(name):
                problems.add(f"kinds[{i}]", f"{kind!r} makes the repository name {name!r}, which ECR refuses; expected lower-case "
                                            "letters and digits joined by single '.', '_', '-' or '/' (2-256 characters)")
        if not kinds or len(set(kinds)) != len(kinds):
            problems.add("kinds", f"{list(kinds)!r} is not allowed; expected at least one kind, each once")
        if not 1 <= untagged_days <= 3650:
            problems.add("untagged_days", f"{untagged_days!r} is not allowed; expected 1 to 3650 days")
        problems.account_ids("pull_accounts", pull_accounts)
        problems.account_ids("push_accounts", push_accounts)
        problems.raise_if_any(self.node.path)

        own = Stack.of(self).account
        pullers = sorted({a for a in [*pull_accounts, *push_accounts] if a != own})
        pushers = sorted({a for a in push_accounts if a != own})
        self.repositories: dict[str, ecr.Repository] = {}
        for kind in kinds:
            repository = ecr.Repository(
                self,
                kind.capitalize(),
                repository_name=f"{estate_name}/{kind}",
                encryption=ecr.RepositoryEncryption.KMS,
                encryption_key=key,
                image_scan_on_push=True,
                image_tag_mutability=ecr.TagMutability.IMMUTABLE,
                removal_policy=RemovalPolicy.RETAIN,
                lifecycle_rules=[ecr.LifecycleRule(description="Expire untagged images", tag_status=ecr.TagStatus.UNTAGGED,
                                                   max_image_age=Duration.days(untagged_days))],
            )
            if pullers:
                repository.add_to_resource_policy(iam.PolicyStatement(
                    sid="EstateAccountsPull", principals=[iam.AccountPrincipal(a) for a in pullers], actions=list(PULL_ACTIONS),
                ))
            if pushers:
                repository.add_to_resource_policy(iam.PolicyStatement(
                    sid="EstateAccountsPush", principals=[iam.AccountPrincipal(a) for a in pushers], actions=list(PUSH_ACTIONS),
                ))
            self.repositories[kind] = repository

    def repository(self, kind: str) -> ecr.Repository:
        """The repository of one image kind (raises naming the kinds made when there is none)."""
        try:
            return self.repositories[kind]
        except KeyError:
            raise ValueError(f"{self.node.path}: no {kind!r} repository (made: {', '.join(self.repositories)})") from None

    def image_uri(self, kind: str, tag: str) -> str:
        """``<account>.dkr.ecr.<region>.amazonaws.com/<estate_name>/<kind>:<tag>``."""
        return self.repository(kind).repository_uri_for_tag(tag)
