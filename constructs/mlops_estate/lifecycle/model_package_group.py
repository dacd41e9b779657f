"""A SageMaker model package group: the versions of one model, optionally shared with other accounts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_estate.core.patterns import ACCOUNT_ID, SAGEMAKER_NAME
from mlops_estate.core.validation import Problems, join
from mlops_estate.lifecycle.model_card import ModelCard, ModelCardContent
from mlops_estate.pipeline.steps.register import PENDING_APPROVAL

CONSUMER_GROUP_ACTIONS = ("sagemaker:DescribeModelPackageGroup",)
CONSUMER_PACKAGE_ACTIONS = ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages")
BUILDER_GROUP_ACTIONS = ("sagemaker:DescribeModelPackageGroup",)
BUILDER_READ_ACTIONS = ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages")
# A build role registers a version for a person to approve; it never creates one already decided.
REGISTER_ONLY_PENDING = {"StringEquals": {"sagemaker:ModelApprovalStatus": PENDING_APPROVAL}}
DESCRIPTION_MAX = 1024


@dataclass(frozen=True)
class ModelPackageGroupReference:
    """A model package group made elsewhere (e.g. in another account's registry), by name and ARN.

    Attributes:
        model_package_group_name: the group's name.
        model_package_group_arn: the group's ARN.
    """

    model_package_group_name: str
    model_package_group_arn: str


def model_package_group_arn(name: str, *, account: str = Aws.ACCOUNT_ID, region: str = Aws.REGION) -> str:
    """The ARN of the group ``name`` in ``account`` and ``region`` (default: the stack's)."""
    return f"arn:{Aws.PARTITION}:sagemaker:{region}:{account}:model-package-group/{name}"


def model_packages_arn(name: str, *, account: str = Aws.ACCOUNT_ID, region: str = Aws.REGION) -> str:
    """The ARNs of every version of the group ``name`` (``.../model-package/<name>/*``)."""
    return f"arn:{Aws.PARTITION}:sagemaker:{region}:{account}:model-package/{name}/*"


class ModelPackageGroup(Construct):
    """A model package group (``AWS::SageMaker::ModelPackageGroup``, retained by default) and, when given, its model card.

    A training pipeline registers versions of a model in it (a pipeline's ``RegisterModelStep`` takes any object
    with ``model_package_group_name`` and ``model_package_group_arn``); someone approves a version; endpoints
    deploy approved versions. In one account, identity policies are enough (`grant_read`, `grant_register`).
    Across accounts the group's resource policy admits, by account: ``consumer_accounts`` to describe and list
    versions (to deploy them) and ``build_accounts`` to also create versions. Accounts equal to the stack's own
    are left out of the policy. The artifacts a version names (an S3 bucket and its key) are shared separately.
    Whoever registers (a build account, a role granted `grant_register`) creates versions only as
    ``PendingManualApproval``: approving is a person's decision, never the build's.

    Args:
        scope: the construct's parent.
        id: the construct's id.
        model_package_group_name: the group's name (letters, digits, single hyphens, up to 63); other accounts and
            pipelines find it by name.
        description: what the group holds (at most 1024 characters).
        consumer_accounts: accounts (12 digits) that may describe and list versions; empty for one account.
        build_accounts: accounts (12 digits) that may also register versions; empty for one account.
        model_card: a model card for the group's model, named like the group; none when not given. Its text is
            yours.
        card_key: the KMS key the model card is encrypted with; required with ``model_card``.
        removal_policy: what happens to the group and its card when they leave the stack (RETAIN by default: the
            registered versions are the model's history).

    Attributes:
        model_package_group_name: the group's name.
        model_package_group_arn: the group's ARN.
        model_packages_arn: the ARN pattern of every version of the group.
        resource: the ``CfnModelPackageGroup``.
        model_card: the `ModelCard`, when one was given.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_package_group_name: str,
        description: str | None = None,
        consumer_accounts: Sequence[str] = (),
        build_accounts: Sequence[str] = (),
        model_card: ModelCardContent | None = None,
        card_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems()
        name = model_package_group_name
        if not Token.is_unresolved(name) and not SAGEMAKER_NAME.match(name):
            problems.add("model_package_group_name", f"{name!r} is not a model package group name (letters, digits, single hyphens, up to 63)")
        if description is not None and not Token.is_unresolved(description) and len(description) > DESCRIPTION_MAX:
            problems.add("description", f"is {len(description)} characters; a model package group allows {DESCRIPTION_MAX}")
        for label, accounts in (("consumer_accounts", consumer_accounts), ("build_accounts", build_accounts)):
            for i, account in enumerate(accounts):
                if not Token.is_unresolved(account) and not ACCOUNT_ID.match(account):
                    problems.add(join(label, i), f"{account!r} is not an AWS account id (exactly 12 digits)")
        if model_card is not None:
            model_card.check("model_card", problems)
            if card_key is None:
                problems.add("card_key", "is required with model_card (the card is encrypted with a CMK)")
        elif card_key is not None:
            problems.add("card_key", "is only used with model_card; give the card's content or leave card_key out")
        problems.raise_if_any(self.node.path)

        own = Stack.of(self).account
        self.consumer_accounts = sorted({a for a in consumer_accounts if a != own})
        self.build_accounts = sorted({a for a in build_accounts if a != own})
        self.model_package_group_name = name
        self.model_package_group_arn = model_package_group_arn(name)
        self.model_packages_arn = model_packages_arn(name)
        # "Default": the group's logical id is this construct's path (the registry's ids predate this construct).
        self.resource = sagemaker.CfnModelPackageGroup(
            self,
            "Default",
            model_package_group_name=name,
            model_package_group_description=description,
            model_package_group_policy=self._policy() or None,
        )
        self.resource.apply_removal_policy(removal_policy)
        self.model_card: ModelCard | None = None
        if model_card is not None and card_key is not None:
            self.model_card = ModelCard(self, "Card", model_card_name=name, content=model_card, key=card_key,
                                        removal_policy=removal_policy)

    def _policy(self) -> dict[str, Any]:
        statements: list[dict[str, Any]] = []

        def principal(accounts: Sequence[str]) -> dict[str, list[str]]:
            return {"AWS": [f"arn:{Aws.PARTITION}:iam::{a}:root" for a in accounts]}

        group, packages = self.model_package_group_arn, self.model_packages_arn
        if self.consumer_accounts:
            statements.append({"Sid": "ConsumersDescribeGroup", "Effect": "Allow", "Principal": principal(self.consumer_accounts),
                               "Action": list(CONSUMER_GROUP_ACTIONS), "Resource": group})
            statements.append({"Sid": "ConsumersReadVersions", "Effect": "Allow", "Principal": principal(self.consumer_accounts),
                               "Action": list(CONSUMER_PACKAGE_ACTIONS), "Resource": packages})
        if self.build_accounts:
            statements.append({"Sid": "BuildAccountDescribesGroup", "Effect": "Allow", "Principal": principal(self.build_accounts),
                               "Action": list(BUILDER_GROUP_ACTIONS), "Resource": group})
            statements.append({"Sid": "BuildAccountReadsVersions", "Effect": "Allow", "Principal": principal(self.build_accounts),
                               "Action": list(BUILDER_READ_ACTIONS), "Resource": packages})
            # Whatever role of a build account registers (a pipeline, a project, a persona), the version waits for a
            # person: created as anything but PendingManualApproval, the request is not allowed here.
            statements.append({"Sid": "BuildAccountRegistersVersions", "Effect": "Allow", "Principal": principal(self.build_accounts),
                               "Action": "sagemaker:CreateModelPackage", "Resource": packages, "Condition": REGISTER_ONLY_PENDING})
        return {"Version": "2012-10-17", "Statement": statements} if statements else {}

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let a principal of this account describe the group and describe and list its versions (to deploy one)."""
        return self._grant(grantee, CONSUMER_GROUP_ACTIONS, CONSUMER_PACKAGE_ACTIONS)

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let a principal of this account (e.g. a pipeline's role) read the group and register versions in it, as
        ``PendingManualApproval`` only."""
        grant = self._grant(grantee, BUILDER_GROUP_ACTIONS, BUILDER_READ_ACTIONS)
        return grant.combine(iam.Grant.add_to_principal(grantee=grantee, actions=["sagemaker:CreateModelPackage"],
                                                        resource_arns=[self.model_packages_arn], conditions=REGISTER_ONLY_PENDING))

    def _grant(self, grantee: iam.IGrantable, group_actions: Sequence[str], package_actions: Sequence[str]) -> iam.Grant:
        return iam.Grant.add_to_principal(grantee=grantee, actions=sorted({*group_actions, *package_actions}),
                                          resource_arns=[self.model_package_group_arn, self.model_packages_arn])

    @staticmethod
    def from_name(model_package_group_name: str, *, account: str = Aws.ACCOUNT_ID, region: str = Aws.REGION) -> ModelPackageGroupReference:
        """A group made elsewhere (e.g. the shared registry of another account), by name."""
        return ModelPackageGroupReference(model_package_group_name,
                                          model_package_group_arn(model_package_group_name, account=account, region=region))
