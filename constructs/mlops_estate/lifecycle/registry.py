"""The cross-account model registry: a model package group and a model card per model, in shared services.

The flow across accounts:

- The build account's pipelines write model artifacts straight into the shared artifacts bucket (under
  ``models/``, with the shared ``models`` key) and register a version in the model's group, by ARN.
- A version waits in ``PendingManualApproval`` until someone in shared services approves it.
- Staging and prod (and nobody else) may describe and list the versions, read the artifacts under
  ``models/`` and decrypt them with the ``models`` key, to deploy an approved version.

Names are derived from config (`registry_names`) so the other accounts find the group and bucket
without cross-stack references, which CloudFormation cannot make across accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_estate.config.estate import EstateConfig, ModelConfig
from mlops_estate.security.storage import SecureBucket

ARTIFACTS_PREFIX = "models"
CONSUMER_GROUP_ACTIONS = ("sagemaker:DescribeModelPackageGroup",)
CONSUMER_PACKAGE_ACTIONS = ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages")
BUILDER_GROUP_ACTIONS = ("sagemaker:DescribeModelPackageGroup",)
BUILDER_PACKAGE_ACTIONS = ("sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages")


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
            statements.append({"Sid": "BuildAccountRegistersVersions", "Effect": "Allow", "Principal": principal([self.build_account]),
                               "Action": list(BUILDER_PACKAGE_ACTIONS), "Resource": packages_arn})
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


__all__ = ["ModelRegistry", "RegistryLocation", "registry_location"]
