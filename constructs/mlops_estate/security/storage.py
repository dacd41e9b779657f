"""S3 buckets for everything that holds data: CMK-encrypted, versioned, TLS-only, logged, retained."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, FeatureFlags, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_estate.core.nag import acknowledge
from mlops_estate.core.patterns import BUCKET_NAME
from mlops_estate.core.validation import Problems

ACCESS_LOGS_ID = "AccessLogsBucket"
# With this flag CDK grants log delivery through the log bucket's policy; without it, through a bucket ACL, which
# needs ACLs enabled on the log bucket. An app without the flag gets the same policy from SecureBucket itself.
POLICY_LOG_DELIVERY_FLAG = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"

REPLICATION_REASON = (
    "Cross-region replication is a disaster-recovery choice of the adopting organisation (it needs a second "
    "region and key); the estate protects this data with versioning, RETAIN and a retained CMK instead."
)


def access_logs_bucket(scope: Construct) -> s3.Bucket:
    """The stack's one server-access-log bucket, created on first use.

    S3 server access logging can only deliver to a bucket with SSE-S3 (not SSE-KMS), so this bucket is
    the one place without a CMK; it holds request logs, never data.
    """
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(ACCESS_LOGS_ID)
    if existing is not None:
        return existing  # type: ignore[return-value]
    bucket = s3.Bucket(
        stack,
        ACCESS_LOGS_ID,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=RemovalPolicy.RETAIN,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="ArchiveAccessLogs",
                transitions=[s3.Transition(storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transition_after=Duration.days(90))],
            )
        ],
    )
    acknowledge(bucket, "This is the server access log bucket; logging its own access would loop.", "AwsSolutions-S1")
    acknowledge(
        bucket,
        "S3 server access log delivery only supports SSE-S3 target buckets; this bucket holds request logs, no data.",
        "NIST.800.53.R5-S3DefaultEncryptionKMS",
        "HIPAA.Security-S3DefaultEncryptionKMS",
    )
    acknowledge(
        bucket,
        "The access log bucket is itself the logging destination; it is versioned and retained.",
        "NIST.800.53.R5-S3BucketLoggingEnabled",
        "HIPAA.Security-S3BucketLoggingEnabled",
    )
    acknowledge(bucket, REPLICATION_REASON, "NIST.800.53.R5-S3BucketReplicationEnabled", "HIPAA.Security-S3BucketReplicationEnabled")
    return bucket


class CmkBucket:
    """What users of a CMK-encrypted bucket need: the bucket, its key and the usual helpers. A `SecureBucket`
    is one; `ImportedBucket` is one made elsewhere (found by name, e.g. in a Service Catalog template)."""

    bucket: s3.IBucket
    key: kms.IKey

    @property
    def bucket_arn(self) -> str:
        return self.bucket.bucket_arn

    @property
    def bucket_name(self) -> str:
        return self.bucket.bucket_name

    def s3_uri(self, prefix: str = "") -> str:
        return f"s3://{self.bucket.bucket_name}/{prefix.lstrip('/')}"

    def grant_read(self, grantee: iam.IGrantable, prefix: str = "*") -> iam.Grant:
        return self.bucket.grant_read(grantee, prefix)

    def grant_read_write(self, grantee: iam.IGrantable, prefix: str = "*") -> iam.Grant:
        return self.bucket.grant_read_write(grantee, prefix)


class ImportedBucket(CmkBucket):
    """An existing CMK bucket of the estate and its key, e.g. read from SSM at launch; it creates nothing.

    Args:
        bucket: the bucket (``s3.Bucket.from_bucket_name`` or similar).
        key: the customer-managed key its objects are encrypted with; readers need ``kms:Decrypt`` on it.
    """

    def __init__(self, bucket: s3.IBucket, key: kms.IKey) -> None:
        self.bucket = bucket
        self.key = key


class SecureBucket(Construct, CmkBucket):
    """A bucket for data: SSE-KMS with a customer-managed key (S3 bucket keys on, to cut KMS requests),
    versioned, TLS 1.2+ only, all public access blocked, object ownership enforced (ACLs disabled), RETAIN.
    Server access logs go to the stack's one access-log bucket under the prefix ``<construct path with
    '-'>/``, delivered through that bucket's policy (with or without CDK's
    ``serverAccessLogsUseBucketPolicy`` flag). Replaced and deleted object versions expire after
    ``noncurrent_version_days``; incomplete multipart uploads are aborted after 7 days.

    Args:
        scope: the parent construct.
        id: the construct id (stateful: keep it stable).
        key: the customer-managed key that encrypts every object.
        bucket_name: a physical name, only where another account or a person must find the bucket by name:
            3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit
            (tokens accepted). Default: CloudFormation generates one.
        event_bridge: send the bucket's events to EventBridge (Object Created events for data-arrival rules);
            default off.
        noncurrent_version_days: days a replaced or deleted object version is kept before it expires, a whole
            number >= 1; default 365.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: kms.IKey,
        bucket_name: str | None = None,
        event_bridge: bool = False,
        noncurrent_version_days: int = 365,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems()
        if noncurrent_version_days < 1:
            problems.add("noncurrent_version_days", f"{noncurrent_version_days!r} is not allowed; expected a whole number of days >= 1")
        if bucket_name is not None:
            problems.match("bucket_name", bucket_name, BUCKET_NAME, "an S3 bucket name", "3-63 lower-case letters, digits, "
                           "dots and hyphens, starting and ending with a letter or digit")
        problems.raise_if_any(self.node.path)
        self.key = key
        logs = access_logs_bucket(self)
        logs_prefix = f"{self.node.path.replace('/', '-')}/"
        # Handing CDK an imported reference keeps it from granting delivery by ACL; the policy is added below.
        by_policy = FeatureFlags.of(self).is_enabled(POLICY_LOG_DELIVERY_FLAG)
        logs_target = logs if by_policy else s3.Bucket.from_bucket_name(self, "AccessLogsTarget", logs.bucket_name)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=logs_target,
            server_access_logs_prefix=logs_prefix,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireOldVersions",
                    noncurrent_version_expiration=Duration.days(noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        if event_bridge:
            # Set on the bucket itself: CDK's event_bridge_enabled would add a custom-resource Lambda for it.
            cfn = self.bucket.node.default_child
            assert isinstance(cfn, s3.CfnBucket)
            cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
            )
        if not by_policy:
            logs.add_to_resource_policy(iam.PolicyStatement(  # what CDK writes with the flag on
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[logs.arn_for_objects(f"{logs_prefix}*")],
                conditions={"ArnLike": {"aws:SourceArn": self.bucket.bucket_arn},
                            "StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ))
        acknowledge(self.bucket, REPLICATION_REASON, "NIST.800.53.R5-S3BucketReplicationEnabled", "HIPAA.Security-S3BucketReplicationEnabled")

    def allow_account_read(self, account_ids: Sequence[str], prefix: str = "*") -> None:
        """Let other accounts of the estate read objects (and list the bucket) under ``prefix``, by account id.

        Their own IAM policies must still allow the reads (and use of the key, see `EstateKeys.allow_account`).
        This account is never listed (its IAM already governs it).

        Args:
            account_ids: 12-digit account ids (tokens accepted).
            prefix: the object key pattern they may read; default ``*`` (every object).
        """
        problems = Problems()
        problems.account_ids("account_ids", account_ids)
        problems.raise_if_any(f"{self.node.path}: allow_account_read")
        own = Stack.of(self).account
        others = sorted({a for a in account_ids if a != own})
        if not others:
            return
        principals = [iam.AccountPrincipal(a) for a in others]
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EstateAccountsRead",
                principals=principals,  # type: ignore[arg-type]
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.bucket.arn_for_objects(prefix)],
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EstateAccountsList",
                principals=principals,  # type: ignore[arg-type]
                actions=["s3:ListBucket", "s3:GetBucketLocation"],
                resources=[self.bucket.bucket_arn],
            )
        )
