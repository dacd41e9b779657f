"""Customer-managed KMS keys, one per class of data, with rotation on and RETAIN."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from aws_cdk import Aws, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_estate.core.patterns import KMS_ALIAS_NAME, KMS_KEY_ARN
from mlops_estate.core.validation import Problems


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
    """One customer-managed KMS key per class of data, so that each key policy stays small and a leaked grant
    exposes one kind of data only. Every key rotates yearly, is retained when the stack is deleted, and gets
    the alias ``alias/<estate_name>/<class>`` (``alias/acme/data``).

    The key policies keep the account's IAM in control (the root statement CDK writes), so roles get use
    of a key through ``grant_*`` on their own policies; services that act without a role are admitted in the
    key policy, scoped to this account: CloudWatch Logs of this region to the ``logs`` key, CloudWatch alarms
    and EventBridge (publishing to encrypted SNS topics) to the ``monitoring`` key. Other accounts get use only
    through `allow_account`, by id.

    Args:
        scope: the parent construct.
        id: the construct id (the keys are stateful: keep it stable).
        estate_name: the alias prefix, e.g. ``acme`` for ``alias/acme/data``, also named in each key's
            description: ``/``-separated runs of letters, digits, ``_`` and ``-``, at most 239 characters, not
            ``aws`` (AWS's own aliases).
        classes: the data classes to make a key for (default: every `DataClass`); the ``data``, ``models``,
            ``monitoring``, ``studio`` and ``logs`` properties raise for a class not made here.
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
        classes = tuple(classes)
        problems = Problems()
        # The longest alias, alias/<estate_name>/monitoring, decides.
        if not Token.is_unresolved(estate_name) and not KMS_ALIAS_NAME.match(f"{estate_name}/monitoring"):
            problems.add("estate_name", f"{estate_name!r} is not a KMS alias prefix; expected '/'-separated runs of letters, "
                                        "digits, '_' and '-' (at most 239 characters), not 'aws' (AWS's own aliases)")
        for i, data_class in enumerate(classes):
            if not isinstance(data_class, DataClass):
                problems.add(f"classes[{i}]", f"{data_class!r} is not a DataClass; expected one of {', '.join(c.name for c in DataClass)}")
        if len(set(classes)) != len(classes):
            problems.add("classes", f"{[getattr(c, 'value', c) for c in classes]!r} names a class twice; expected each at most once")
        problems.raise_if_any(self.node.path)
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
        This account is never listed (its IAM already governs it).

        Args:
            data_class: the key to share.
            account_ids: 12-digit account ids (tokens accepted).
            write: also allow encrypting (``kms:Encrypt``, ``kms:ReEncrypt*``, ``kms:GenerateDataKey*``).
        """
        problems = Problems()
        problems.account_ids("account_ids", account_ids)
        problems.raise_if_any(f"{self.node.path}: allow_account")
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
    """The estate's existing data, models, monitoring and logs keys by ARN, as a `KeyRing` for serving
    workloads made outside the stack that owns the keys (e.g. ARNs read from SSM in a Service Catalog
    template). It creates no key and changes no key policy.

    Args:
        scope: the parent construct.
        id: the construct id.
        key_arns: the key ARN of exactly the ``DATA``, ``MODELS``, ``MONITORING`` and ``LOGS`` classes
            (``arn:<partition>:kms:<region>:<account>:key/<key id>``, not an alias ARN; tokens accepted).
    """

    def __init__(self, scope: Construct, id: str, *, key_arns: Mapping[DataClass, str]) -> None:
        super().__init__(scope, id)
        served = (DataClass.DATA, DataClass.MODELS, DataClass.MONITORING, DataClass.LOGS)
        problems = Problems()
        if missing := [c.value for c in served if c not in key_arns]:
            problems.add("key_arns", f"{sorted(c.value for c in key_arns)!r} lacks the {', '.join(missing)} key(s); "
                                     f"expected exactly {', '.join(c.value for c in served)}")
        if extra := sorted(c.value for c in key_arns if c not in served):
            problems.add("key_arns", f"{extra!r} are key(s) nothing here uses; expected exactly {', '.join(c.value for c in served)}")
        for data_class, arn in key_arns.items():
            problems.match(f"key_arns[{data_class.value}]", arn, KMS_KEY_ARN, "a KMS key ARN",
                           "arn:<partition>:kms:<region>:<account>:key/<key id>")
        problems.raise_if_any(self.node.path)
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
