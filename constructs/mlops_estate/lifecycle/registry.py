"""The cross-account model registry: a model package group and a model card per model, in shared services.

The flow across accounts:

- The build account's pipelines write model artifacts straight into the shared artifacts bucket (under
  ``models/``, with the shared ``models`` key) and register a version in the model's group, by ARN.
- A version waits in ``PendingManualApproval`` until a person approves it. There is one way to do so: the
  `ModelApprover` role of the registry's account, which only the ML dev account's ``mlops_admin`` persona may
  assume, from a Studio session that carries the person's user profile name as its source identity. No build
  role can approve: the group policy lets the build account create versions only as ``PendingManualApproval``.
- Staging and prod (and nobody else) may describe and list the versions, read the artifacts under
  ``models/`` and decrypt them with the ``models`` key, to deploy an approved version.

Names are derived from config (`registry_names`) so the other accounts find the group and bucket
without cross-stack references, which CloudFormation cannot make across accounts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_estate.config.estate import EstateConfig, ModelConfig
from mlops_estate.core.nag import acknowledge_wildcards
from mlops_estate.security.storage import CmkBucket, SecureBucket

ARTIFACTS_PREFIX = "models"
# Evaluation reports (the model metrics of a version) are written under models/<model>/evaluation/.
EVALUATION_DIR = "evaluation"
CONSUMER_GROUP_ACTIONS = ("sagemaker:DescribeModelPackageGroup",)
CONSUMER_PACKAGE_ACTIONS = ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages")
BUILDER_GROUP_ACTIONS = ("sagemaker:DescribeModelPackageGroup",)
BUILDER_READ_ACTIONS = ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages")
# A build role registers a version for a person to approve; it never creates one already decided.
PENDING = "PendingManualApproval"
# What an approver may set: the decision, nothing else (not back to pending, no metadata-only updates).
DECISIONS = ("Approved", "Rejected")
APPROVER_ROLE_SUFFIX = "model-approver"
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
# The partition may be a token (Aws.PARTITION renders without colons).
ROLE_ARN = re.compile(r"^arn:[^:]+:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")


@dataclass(frozen=True)
class RegistryLocation:
    """Where the registry lives, by name: what the build account needs to register models cross-account."""

    estate_name: str
    account: str
    region: str
    artifacts_bucket_name: str
    models_key_alias: str

    def group_name(self, model: str) -> str:
        return f"{self.estate_name}-{model}"

    def group_arn(self, model: str) -> str:
        return f"arn:{Aws.PARTITION}:sagemaker:{self.region}:{self.account}:model-package-group/{self.group_name(model)}"

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


def registry_location(config: EstateConfig) -> RegistryLocation:
    """The registry of an estate: group names, artifact bucket and key alias, all derived from config."""
    account = config.accounts.shared_services
    return RegistryLocation(
        estate_name=config.name,
        account=account,
        region=config.region,
        artifacts_bucket_name=f"{config.name}-artifacts-{account}-{config.region}",
        models_key_alias=f"alias/{config.name}/models",
    )


class ModelRegistry(Construct):
    """One model package group (RETAIN) and one model card (RETAIN) per model.

    The group policy lets ``consumer_accounts`` describe and list versions, and ``build_account`` create
    them; the artifacts bucket lets consumers read and the build account write under ``models/``. The
    key's policy is the stack's business (`EstateKeys.allow_account`); pass the same accounts there.
    ``share_artifacts=False`` leaves the bucket policy alone: for a further registry of more models (a model
    group stack, see model_groups.py) whose artifacts bucket another registry already shares.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        location: RegistryLocation,
        models: Sequence[ModelConfig],
        artifacts: SecureBucket,
        card_key: kms.IKey,
        build_account: str,
        consumer_accounts: Sequence[str],
        default_owner: str,
        share_artifacts: bool = True,
    ) -> None:
        super().__init__(scope, id)
        own = Stack.of(self).account
        problems = []
        for label, accounts in (("build_account", [build_account]), ("consumer_accounts", list(consumer_accounts))):
            for a in accounts:
                if not (len(a) == 12 and a.isdigit()):
                    problems.append(f"{label}: {a!r} is not an AWS account id (12 digits)")
        if not Token.is_unresolved(own) and own != location.account:
            problems.append(f"location.account {location.account!r} is not this stack's account {own!r}; "
                            "the registry must live where the build account registers to")
        if not consumer_accounts:
            problems.append("consumer_accounts: name at least one account that deploys approved models")
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            problems.append(f"models: names must be unique, got {names}")
        if problems:
            raise ValueError(f"{self.node.path}: " + "; ".join(problems))

        self.location = location
        self.consumer_accounts = sorted({a for a in consumer_accounts if a != own})
        self.build_account = build_account if build_account != own else None
        self.groups: dict[str, sagemaker.CfnModelPackageGroup] = {}
        self.cards: dict[str, sagemaker.CfnModelCard] = {}
        for model in models:
            group_name = location.group_name(model.name)
            group = sagemaker.CfnModelPackageGroup(
                self,
                f"Group-{model.name}",
                model_package_group_name=group_name,
                model_package_group_description=(model.description or f"Versions of the {model.name} model")[:1024],
                model_package_group_policy=self._group_policy(model.name) or None,
            )
            group.apply_removal_policy(RemovalPolicy.RETAIN)
            self.groups[model.name] = group
            card = sagemaker.CfnModelCard(
                self,
                f"Card-{model.name}",
                model_card_name=group_name,
                model_card_status="Draft",
                security_config=sagemaker.CfnModelCard.SecurityConfigProperty(kms_key_id=card_key.key_arn),
                content=self._card_content(model, default_owner),
            )
            card.apply_removal_policy(RemovalPolicy.RETAIN)
            self.cards[model.name] = card

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

    def _group_policy(self, model: str) -> dict[str, object]:
        group_arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:model-package-group/{self.location.group_name(model)}"
        packages_arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:model-package/{self.location.group_name(model)}/*"
        statements: list[dict[str, object]] = []

        def principal(accounts: Sequence[str]) -> dict[str, list[str]]:
            return {"AWS": [f"arn:{Aws.PARTITION}:iam::{a}:root" for a in accounts]}

        if self.consumer_accounts:
            statements.append({"Sid": "ConsumersDescribeGroup", "Effect": "Allow", "Principal": principal(self.consumer_accounts),
                               "Action": list(CONSUMER_GROUP_ACTIONS), "Resource": group_arn})
            statements.append({"Sid": "ConsumersReadVersions", "Effect": "Allow", "Principal": principal(self.consumer_accounts),
                               "Action": list(CONSUMER_PACKAGE_ACTIONS), "Resource": packages_arn})
        if self.build_account:
            statements.append({"Sid": "BuildAccountDescribesGroup", "Effect": "Allow", "Principal": principal([self.build_account]),
                               "Action": list(BUILDER_GROUP_ACTIONS), "Resource": group_arn})
            statements.append({"Sid": "BuildAccountReadsVersions", "Effect": "Allow", "Principal": principal([self.build_account]),
                               "Action": list(BUILDER_READ_ACTIONS), "Resource": packages_arn})
            # Whatever role of the build account registers (a pipeline, a project, a persona), the version waits for
            # a person: created as anything but PendingManualApproval, the request is not allowed here.
            statements.append({"Sid": "BuildAccountRegistersVersions", "Effect": "Allow", "Principal": principal([self.build_account]),
                               "Action": "sagemaker:CreateModelPackage", "Resource": packages_arn,
                               "Condition": {"StringEquals": {"sagemaker:ModelApprovalStatus": PENDING}}})
        return {"Version": "2012-10-17", "Statement": statements} if statements else {}

    @staticmethod
    def _card_content(model: ModelConfig, default_owner: str) -> sagemaker.CfnModelCard.ContentProperty:
        governance = model.governance
        algorithm = "Custom container" if model.build.training_image else f"XGBoost {model.build.xgboost_version} (SageMaker built-in)"
        gate = model.quality_gate
        direction = "at most" if gate.metric in ("rmse", "mse", "mae") else "at least"
        return sagemaker.CfnModelCard.ContentProperty(
            model_overview=sagemaker.CfnModelCard.ModelOverviewProperty(
                model_description=model.description or None,
                model_owner=governance.owner or default_owner,
                problem_type=model.problem_type,
                algorithm_type=algorithm,
            ),
            intended_uses=sagemaker.CfnModelCard.IntendedUsesProperty(
                purpose_of_model=model.description or None,
                intended_uses=governance.intended_use or None,
                risk_rating=governance.risk_rating,
                factors_affecting_model_efficiency=f"Registered only when {gate.metric} is {direction} {gate.threshold} on held-out data.",
            ),
        )

    def group_name(self, model: str) -> str:
        return self.location.group_name(model)

    def grant_read(self, grantee: iam.IGrantable, model: str) -> iam.Grant:
        """Let a principal of this account describe and list a model's versions."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[*CONSUMER_GROUP_ACTIONS, *CONSUMER_PACKAGE_ACTIONS],
            resource_arns=[
                f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:model-package-group/{self.group_name(model)}",
                f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:model-package/{self.group_name(model)}/*",
            ],
        )


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
        problems: list[str] = []
        if not ROLE_NAME.match(role_name):
            problems.append(f"role_name: {role_name!r} is not an IAM role name (1-64 of letters, digits and +=,.@_-)")
        if not re.fullmatch(r"[a-z0-9](-*[a-z0-9]){0,62}", group_prefix):
            problems.append(f"group_prefix: {group_prefix!r} is not the start of a model package group name (lower-case letters, "
                            "digits and hyphens)")
        if not approvers:
            problems.append("approvers: name at least one role ARN, or nobody can approve a model")
        accounts: list[str] = []
        for i, arn in enumerate(approvers):
            m = ROLE_ARN.match(arn)
            if m is None:
                problems.append(f"approvers[{i}]: {arn!r} is not a role ARN like arn:aws:iam::123456789012:role/name")
            elif m.group(1) not in accounts:
                accounts.append(m.group(1))
        if problems:
            raise ValueError(f"{self.node.path}: " + "; ".join(problems))

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


__all__ = ["ModelApprover", "ModelRegistry", "RegistryLocation", "registry_location"]
