"""The cross-account model registry: a `ModelPackageGroup` and a `ModelCard` per model, in one registry account.

The flow across accounts:

- The build account's pipelines write model artifacts straight into the shared artifacts bucket (under
  ``models/``, with the shared ``models`` key) and register a version in the model's group, by ARN.
- A version waits in ``PendingManualApproval`` until a person approves it. There is one way to do so: the
  `ModelApprover` role of the registry's account, which only the ML dev account's ``mlops_admin`` persona may
  assume, from a Studio session that carries the person's user profile name as its source identity. No build
  role can approve: the group policy lets the build account create versions only as ``PendingManualApproval``.
- The consumer accounts (staging and prod in the estate, and nobody else) may describe and list the versions, read
  the artifacts under ``models/`` and decrypt them with the ``models`` key, to deploy an approved version.

Names come from a `RegistryLocation`, so the other accounts find the group and bucket without cross-stack
references, which CloudFormation cannot make across accounts (the estate derives it from its config:
`mlops_estate.config.registry.registry_location`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_estate.core.nag import acknowledge_wildcards
from mlops_estate.core.patterns import ACCOUNT_ID
from mlops_estate.core.validation import Problems, join
from mlops_estate.lifecycle.model_card import ModelCard, ModelCardContent
from mlops_estate.lifecycle.model_package_group import ModelPackageGroup, ModelPackageGroupReference
from mlops_estate.security.storage import CmkBucket, SecureBucket

ARTIFACTS_PREFIX = "models"
# Evaluation reports (the model metrics of a version) are written under models/<model>/evaluation/.
EVALUATION_DIR = "evaluation"
# What an approver may set: the decision, nothing else (not back to pending, no metadata-only updates).
DECISIONS = ("Approved", "Rejected")
APPROVER_ROLE_SUFFIX = "model-approver"
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
# The partition may be a token (Aws.PARTITION renders without colons).
ROLE_ARN = re.compile(r"^arn:[^:]+:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
GROUP_PREFIX = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,62}$")


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

    @property
    def approver_role_name(self) -> str:
        """The `ModelApprover` role's name: the ML dev account's mlops_admin persona assumes it by ARN."""
        return f"{self.estate_name}-{APPROVER_ROLE_SUFFIX}"

    @property
    def approver_role_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:iam::{self.account}:role/{self.approver_role_name}"


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


class ModelApprover(Construct):
    """The one way to approve a model: a role in the registry's account that may set a version of the groups named
    ``<group_prefix>-*`` to ``Approved`` or ``Rejected``, and read what the decision rests on.

    It may describe and list the groups and their versions, describe their model cards, read the evaluation reports
    under ``models/*/evaluation/`` of ``artifacts`` and decrypt them and the cards with ``key`` (through S3 and
    SageMaker only), and call ``UpdateModelPackage`` only with ``ModelApprovalStatus`` ``Approved`` or ``Rejected``.

    Only the roles in ``approvers`` may assume it (exact ARNs; by ``aws:PrincipalArn``, so the trust needs no
    role to exist yet, and each approver's own identity policy must grant ``sts:AssumeRole`` and
    ``sts:SetSourceIdentity`` on this role), and only from a session that already carries a source identity.
    A source identity persists through role chaining and cannot be changed, so the approval is recorded in
    CloudTrail under the person's name. A Studio domain with ``ExecutionRoleIdentityConfig=USER_PROFILE_NAME``
    sets it (to the user profile name) on every execution-role session of a person; jobs and pipelines running
    as the same role have none, and cannot set one of their choosing here (the request's ``sts:SourceIdentity``
    alone, without ``aws:SourceIdentity`` from the calling session, does not satisfy the trust).

    Args:
        scope: the construct scope (a stack in the registry's account).
        id: the construct id.
        role_name: the role's physical name: the approvers' policies name it by ARN, from another account.
        group_prefix: the model package groups (and model cards) this role decides on are named ``<group_prefix>-*``.
        approvers: ARNs of the roles that may assume this one (e.g. the ML dev account's mlops_admin persona).
        artifacts: the registry's artifacts bucket, holding the evaluation reports.
        key: the key of the artifacts and the model cards.

    Attributes:
        role: the approver role; ``role_arn`` its ARN.
        policy: its managed policy.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        role_name: str,
        group_prefix: str,
        approvers: Sequence[str],
        artifacts: CmkBucket,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems()
        if not ROLE_NAME.match(role_name):
            problems.add("role_name", f"{role_name!r} is not an IAM role name (1-64 of letters, digits and +=,.@_-)")
        if not GROUP_PREFIX.match(group_prefix):
            problems.add("group_prefix", f"{group_prefix!r} is not the start of a model package group name (lower-case letters, "
                                         "digits and hyphens)")
        if not approvers:
            problems.add("approvers", "name at least one role ARN, or nobody can approve a model")
        accounts: list[str] = []
        for i, arn in enumerate(approvers):
            m = ROLE_ARN.match(arn)
            if m is None:
                problems.add(join("approvers", i), f"{arn!r} is not a role ARN like arn:aws:iam::123456789012:role/name")
            elif m.group(1) not in accounts:
                accounts.append(m.group(1))
        problems.raise_if_any(self.node.path)

        stack = Stack.of(self)
        # The approvers' accounts, narrowed to the exact roles by aws:PrincipalArn: naming the roles as principals
        # would need them to exist when this deploys (the registry deploys before the ML dev account).
        trusted = iam.PrincipalWithConditions(iam.CompositePrincipal(*(iam.AccountPrincipal(a) for a in accounts)), {
            "ArnEquals": {"aws:PrincipalArn": list(approvers)},
            # aws:SourceIdentity is the calling session's own (Studio's user profile name), present only when it was
            # set before this call: a session without one (a job, a pipeline) may not start here by naming a person.
            "Null": {"aws:SourceIdentity": "false"},
        })
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description=f"Approves or rejects versions of the {group_prefix}-* model package groups; assumed by named approvers only",
            assumed_by=trusted,
        )
        assert self.role.assume_role_policy is not None
        # Chaining from a session with a source identity needs sts:SetSourceIdentity in this trust too (the value carries over).
        self.role.assume_role_policy.add_statements(iam.PolicyStatement(actions=["sts:SetSourceIdentity"], principals=[trusted]))
        self.role_arn = self.role.role_arn

        groups = stack.format_arn(service="sagemaker", resource="model-package-group", resource_name=f"{group_prefix}-*")
        versions = stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group_prefix}-*/*")
        cards = stack.format_arn(service="sagemaker", resource="model-card", resource_name=f"{group_prefix}-*")
        reports = artifacts.bucket.arn_for_objects(f"{ARTIFACTS_PREFIX}/*/{EVALUATION_DIR}/*")
        named = f"Scoped to the model package groups and model cards named '{group_prefix}-*' (the estate's registry)."
        statements: list[tuple[iam.PolicyStatement, str | None]] = [
            (
                iam.PolicyStatement(
                    sid="DecideOnVersions",
                    actions=["sagemaker:UpdateModelPackage"],
                    resources=[versions],
                    conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": list(DECISIONS)}},
                ),
                named,
            ),
            (
                iam.PolicyStatement(
                    sid="ReadVersionsAndCards",
                    actions=["sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage", "sagemaker:DescribeModelCard"],
                    resources=[groups, versions, cards],
                ),
                named,
            ),
            (
                iam.PolicyStatement(
                    sid="ListGroupsAndVersions",
                    actions=["sagemaker:ListModelPackageGroups", "sagemaker:ListModelPackages"],
                    resources=["*"],
                ),
                "SageMaker List actions on the registry support no resource-level permissions; they return metadata only.",
            ),
            (
                iam.PolicyStatement(sid="ReadEvaluationReports", actions=["s3:GetObject"], resources=[reports]),
                f"Evaluation reports are written per model and pipeline execution under {ARTIFACTS_PREFIX}/<model>/{EVALUATION_DIR}/; "
                "read-only, never the model artifacts.",
            ),
            (
                iam.PolicyStatement(
                    sid="DecryptReportsAndCards",
                    actions=["kms:Decrypt", "kms:DescribeKey"],
                    resources=[key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": [f"s3.{stack.region}.amazonaws.com",
                                                                   f"sagemaker.{stack.region}.amazonaws.com"]}},
                ),
                None,
            ),
        ]
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Approve or reject versions of the {group_prefix}-* model package groups, and read what the decision rests on",
            statements=[s for s, _ in statements],
            roles=[self.role],
        )
        for statement, reason in statements:
            if reason:
                acknowledge_wildcards(self.policy, statement, reason)


__all__ = ["ARTIFACTS_PREFIX", "ModelApprover", "ModelRegistry", "RegisteredModel", "RegistryLocation"]
