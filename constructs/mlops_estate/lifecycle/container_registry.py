"""ECR repositories for the estate's own training and serving images, pullable by the estate's accounts."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# ECR repository names: lowercase, digits, and separators . _ - / between runs, 2-256 characters.
REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
PUSH_ACTIONS = ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload")


class EstateRepositories(Construct):
    """One ECR repository per image kind (``<estate>/training``, ``<estate>/serving`` by default): KMS-encrypted
    with the given CMK, immutable tags, scan on push, untagged images expire, RETAIN.

    ``pull_accounts`` may pull every image (SageMaker in those accounts pulls with its execution roles, whose own
    policies must allow it too); ``push_accounts`` may also push (the build account's pipelines and CI).
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
        problems = []
        for kind in kinds:
            name = f"{estate_name}/{kind}"
            if not (2 <= len(name) <= 256 and REPOSITORY_NAME.match(name)):
                problems.append(f"kinds: {kind!r} makes the repository name {name!r}, which ECR does not allow (lowercase letters, digits, . _ - /)")
        if len(set(kinds)) != len(kinds) or not kinds:
            problems.append(f"kinds: {list(kinds)!r} must name at least one kind, each once")
        if not 1 <= untagged_days <= 3650:
            problems.append(f"untagged_days: {untagged_days} must be between 1 and 3650")
        for field, accounts in (("pull_accounts", pull_accounts), ("push_accounts", push_accounts)):
            bad = [a for a in accounts if not re.fullmatch(r"\d{12}", a)]
            if bad:
                problems.append(f"{field}: {bad!r} are not 12-digit account ids")
        if problems:
            raise ValueError(f"{self.node.path}: invalid EstateRepositories props:\n  - " + "\n  - ".join(problems))

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
        try:
            return self.repositories[kind]
        except KeyError:
            raise ValueError(f"{self.node.path}: no {kind!r} repository (made: {', '.join(self.repositories)})") from None

    def image_uri(self, kind: str, tag: str) -> str:
        return self.repository(kind).repository_uri_for_tag(tag)
