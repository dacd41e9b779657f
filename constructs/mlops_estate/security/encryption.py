"""Customer-managed KMS keys, one per class of data, with rotation on and RETAIN."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class DataClass(str, enum.Enum):
    """What a key protects. Separate keys keep blast radius and key policies small."""

    DATA = "data"  # raw/curated data, feature store offline store, data capture
    MODELS = "models"  # model artifacts, pipeline outputs, the model registry's artifacts
    MONITORING = "monitoring"  # Model Monitor reports, alarms' SNS topics
    STUDIO = "studio"  # Studio home EFS and space EBS volumes
    LOGS = "logs"  # CloudWatch log groups, flow logs, CloudTrail


# Read-only use of another account's data: enough to read S3 objects and SageMaker artifacts.
DECRYPT_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
ENCRYPT_ACTIONS = ("kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*")


class EstateKeys(Construct):
    """One rotating, retained CMK per data class named in ``classes``.

    The key policies keep the account's IAM in control (the root statement CDK writes), so roles get use
    of a key through ``grant_*`` on their own policies; services that act without a role (CloudWatch Logs,
    SNS-backed alarms) are admitted in the key policy, scoped to this account. Other accounts get use only
    through `allow_account`, by id.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        estate_name: str,
        classes: Iterable[DataClass] = tuple(DataClass),
    ) -> None:
        super().__init__(scope, id)
        self._keys: dict[DataClass, kms.Key] = {}
        for data_class in classes:
            key = kms.Key(
                self,
                data_class.value.capitalize(),
                alias=f"alias/{estate_name}/{data_class.value}",
                description=f"{estate_name} estate: {data_class.value} encryption key",
                enable_key_rotation=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
            self._keys[data_class] = key
        if DataClass.LOGS in self._keys:
            self._admit_cloudwatch_logs(self._keys[DataClass.LOGS])
        if DataClass.MONITORING in self._keys:
            self._admit_alarm_publishers(self._keys[DataClass.MONITORING])

    def key(self, data_class: DataClass) -> kms.Key:
        try:
            return self._keys[data_class]
        except KeyError:
            made = ", ".join(c.value for c in self._keys) or "none"
            raise ValueError(
                f"{self.node.path}: no {data_class.value!r} key in this stack (keys made here: {made}); "
                f"add DataClass.{data_class.name} to EstateKeys(classes=...)"
            ) from None

    @property
    def data(self) -> kms.Key:
        return self.key(DataClass.DATA)

    @property
    def models(self) -> kms.Key:
        return self.key(DataClass.MODELS)

    @property
    def monitoring(self) -> kms.Key:
        return self.key(DataClass.MONITORING)

    @property
    def studio(self) -> kms.Key:
        return self.key(DataClass.STUDIO)

    @property
    def logs(self) -> kms.Key:
        return self.key(DataClass.LOGS)

    def allow_account(self, data_class: DataClass, account_ids: Sequence[str], *, write: bool = False) -> None:
        """Let other accounts of the estate use a key (decrypt; also encrypt when ``write``).

        Their own IAM policies must still grant the use, so this admits the account, not every principal in it.
        """
        own = Stack.of(self).account
        others = sorted({a for a in account_ids if a != own})
        if not others:
            return  # sandbox mode: every role in this account, IAM already governs
        actions = list(DECRYPT_ACTIONS) + (list(ENCRYPT_ACTIONS) if write else [])
        self.key(data_class).add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"EstateAccounts{'ReadWrite' if write else 'Read'}",
                principals=[iam.AccountPrincipal(a) for a in others],
                actions=actions,
                resources=["*"],
            )
        )

    @staticmethod
    def _admit_cloudwatch_logs(key: kms.Key) -> None:
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"}
                },
            )
        )

    @staticmethod
    def _admit_alarm_publishers(key: kms.Key) -> None:
        # CloudWatch alarms and EventBridge publish to encrypted SNS topics without a role of ours.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmPublishersOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com"), iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )


class KeyRing(Protocol):
    """The keys a serving workload encrypts with: an `EstateKeys`, or `ImportedKeys` made elsewhere."""

    @property
    def data(self) -> kms.IKey: ...

    @property
    def models(self) -> kms.IKey: ...

    @property
    def monitoring(self) -> kms.IKey: ...

    @property
    def logs(self) -> kms.IKey: ...


class ImportedKeys(Construct):
    """The estate's existing data, models, monitoring and logs keys by ARN (e.g. read from SSM in a Service
    Catalog template); creates no key and changes no key policy."""

    def __init__(self, scope: Construct, id: str, *, key_arns: Mapping[DataClass, str]) -> None:
        super().__init__(scope, id)
        served = (DataClass.DATA, DataClass.MODELS, DataClass.MONITORING, DataClass.LOGS)
        problems = []
        if missing := [c.value for c in served if c not in key_arns]:
            problems.append(f"key_arns lacks the {', '.join(missing)} key(s)")
        if extra := sorted(c.value for c in key_arns if c not in served):
            problems.append(f"key_arns has the {', '.join(extra)} key(s), which nothing here uses")
        if problems:
            raise ValueError(f"{self.node.path}: " + "; ".join(problems))
        self._keys = {c: kms.Key.from_key_arn(self, c.value.capitalize(), arn) for c, arn in key_arns.items()}

    @property
    def data(self) -> kms.IKey:
        return self._keys[DataClass.DATA]

    @property
    def models(self) -> kms.IKey:
        return self._keys[DataClass.MODELS]

    @property
    def monitoring(self) -> kms.IKey:
        return self._keys[DataClass.MONITORING]

    @property
    def logs(self) -> kms.IKey:
        return self._keys[DataClass.LOGS]
