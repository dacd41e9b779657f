"""The cross-account model registry: a `ModelPackageGroup` and a `ModelCard` per model, in one registry account.

The flow across accounts:

- The build account's pipelines write model artifacts straight into the shared artifacts bucket (under
  ``models/``, with the shared ``models`` key) and register a version in the model's group, by ARN.
- A version waits in ``PendingManualApproval`` until someone in the registry's account approves it.
- The consumer accounts (staging and prod in the estate) may describe and list the versions, read the artifacts
  under ``models/`` and decrypt them with the ``models`` key, to deploy an approved version.

Names come from a `RegistryLocation`, so the other accounts find the group and bucket without cross-stack
references, which CloudFormation cannot make across accounts (the estate derives it from its config:
`mlops_estate.config.registry.registry_location`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_estate.core.patterns import ACCOUNT_ID
from mlops_estate.core.validation import Problems, join
from mlops_estate.lifecycle.model_card import ModelCard, ModelCardContent
from mlops_estate.lifecycle.model_package_group import ModelPackageGroup, ModelPackageGroupReference
from mlops_estate.security.storage import SecureBucket

ARTIFACTS_PREFIX = "models"


@dataclass(frozen=True)
class RegistryLocation:
    """Where a registry lives, by name: what another account needs to register or deploy models cross-account.

    Attributes:
        estate_name: the prefix of every group name (``<estate_name>-<model>``).
        account: the registry's account.
        region: the registry's region.
        artifacts_bucket_name: the bucket holding the registered artifacts (under ``models/<model>``).
        models_key_alias: the alias of the key the artifacts are encrypted with (``alias/...``).
    """

    estate_name: str
    account: str
    region: str
    artifacts_bucket_name: str
    models_key_alias: str

    def group_name(self, model: str) -> str:
        return f"{self.estate_name}-{model}"

    def group_arn(self, model: str) -> str:
        return f"arn:{Aws.PARTITION}:sagemaker:{self.region}:{self.account}:model-package-group/{self.group_name(model)}"

    def group(self, model: str) -> ModelPackageGroupReference:
        """The model's group by name and ARN, for a pipeline's ``RegisterModelStep`` in another account."""
        return ModelPackageGroupReference(self.group_name(model), self.group_arn(model))

    def packages_arn(self, model: str) -> str:
        return f"arn:{Aws.PARTITION}:sagemaker:{self.region}:{self.account}:model-package/{self.group_name(model)}/*"

    def artifacts_uri(self, model: str) -> str:
        return f"s3://{self.artifacts_bucket_name}/{ARTIFACTS_PREFIX}/{model}"

    @property
    def models_key_alias_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:kms:{self.region}:{self.account}:{self.models_key_alias}"

    @property
    def artifacts_bucket_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:s3:::{self.artifacts_bucket_name}"


@dataclass(frozen=True)
class RegisteredModel:
    """A model the registry holds a group (and a model card) for.

    Attributes:
        name: the model's name; its group is ``<estate_name>-<name>``.
        description: the group's description (at most 1024 characters).
        card: what the model card says; no card when ``None``.
    """

    name: str
    description: str
    card: ModelCardContent | None = None


class ModelRegistry(Construct):
    """One retained `ModelPackageGroup` and one retained `ModelCard` per model, and the artifacts bucket's sharing.

    Each group's policy lets ``consumer_accounts`` describe and list versions, and ``build_account`` create them;
    the artifacts bucket lets consumers read and the build account write under ``models/``. The key's policy is
    the stack's business (`EstateKeys.allow_account`); pass the same accounts there. ``share_artifacts=False``
    leaves the bucket policy alone: for a further registry of more models whose artifacts bucket another registry
    already shares.

    Args:
        scope: the construct's parent (a stack in ``location.account``).
        id: the construct's id.
        location: where the registry lives and how its groups are named.
        models: the models to hold a group for (unique names).
        artifacts: the artifacts bucket (named ``location.artifacts_bucket_name``).
        card_key: the key the model cards are encrypted with.
        build_account: the account whose pipelines register versions and write artifacts.
        consumer_accounts: the accounts that deploy approved versions (may be empty, or this account).
        share_artifacts: whether to share ``artifacts`` with the build and consumer accounts.

    Attributes:
        groups: the `ModelPackageGroup` of each model, by model name.
        cards: the `ModelCard` of each model that has one, by model name.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        location: RegistryLocation,
        models: Sequence[RegisteredModel],
        artifacts: SecureBucket,
        card_key: kms.IKey,
        build_account: str,
        consumer_accounts: Sequence[str],
        share_artifacts: bool = True,
    ) -> None:
        super().__init__(scope, id)
        own = Stack.of(self).account
        problems = Problems()
        if not Token.is_unresolved(build_account) and not ACCOUNT_ID.match(build_account):
            problems.add("build_account", f"{build_account!r} is not an AWS account id (exactly 12 digits)")
        for i, account in enumerate(consumer_accounts):
            if not Token.is_unresolved(account) and not ACCOUNT_ID.match(account):
                problems.add(join("consumer_accounts", i), f"{account!r} is not an AWS account id (exactly 12 digits)")
        if not Token.is_unresolved(own) and own != location.account:
            problems.add("location.account", f"{location.account!r} is not this stack's account {own!r}; "
                                             "the registry must live where the build account registers to")
        names = [m.name for m in models]
        for i, name in enumerate(names):
            if name in names[:i]:
                problems.add(join("models", i), f"{name!r} is listed twice; model names must be unique")
        problems.raise_if_any(self.node.path)

        self.location = location
        self.consumer_accounts = sorted({a for a in consumer_accounts if a != own})
        self.build_account = build_account if build_account != own else None
        self.groups: dict[str, ModelPackageGroup] = {}
        self.cards: dict[str, ModelCard] = {}
        for model in models:
            group_name = location.group_name(model.name)
            self.groups[model.name] = ModelPackageGroup(
                self,
                f"Group-{model.name}",
                model_package_group_name=group_name,
                description=model.description[:1024],
                consumer_accounts=self.consumer_accounts,
                build_accounts=[self.build_account] if self.build_account else [],
            )
            if model.card is not None:
                # A sibling of the group, not its child: the estate's cards keep the logical ids they had.
                self.cards[model.name] = ModelCard(self, f"Card-{model.name}", model_card_name=group_name, content=model.card,
                                                   key=card_key)

        if not share_artifacts:
            return
        prefix = f"{ARTIFACTS_PREFIX}/*"
        artifacts.allow_account_read(self.consumer_accounts, prefix)
        if self.build_account:
            artifacts.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="BuildAccountWritesModels",
                    principals=[iam.AccountPrincipal(self.build_account)],
                    actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                    resources=[artifacts.bucket.arn_for_objects(prefix)],
                )
            )
            artifacts.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="BuildAccountListsModels",
                    principals=[iam.AccountPrincipal(self.build_account)],
                    actions=["s3:ListBucket", "s3:GetBucketLocation"],
                    resources=[artifacts.bucket.bucket_arn],
                )
            )

    def group_name(self, model: str) -> str:
        return self.location.group_name(model)

    def grant_read(self, grantee: iam.IGrantable, model: str) -> iam.Grant:
        """Let a principal of this account describe and list a model's versions."""
        return self.groups[model].grant_read(grantee)


__all__ = ["ARTIFACTS_PREFIX", "ModelRegistry", "RegisteredModel", "RegistryLocation"]
