"""The organisation's audit trail: one CloudTrail for every account, to a retained CMK-encrypted bucket.

An organisation trail, created in the management account, records every member account (and accounts
that join later) without any per-account setup, and member accounts can neither stop nor delete it:
the guarantee a per-account trail cannot give, since an account admin can turn their own trail off.
Log file validation is on, so tampering with delivered files is detectable; a copy of the events goes
to a CMK-encrypted CloudWatch Logs group with retention for queries and metric filters.
"""

from __future__ import annotations

from aws_cdk import Annotations, Aws, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_estate.core.patterns import LOG_RETENTION_DAYS, TRAIL_NAME
from mlops_estate.core.validation import Problems
from mlops_estate.security.storage import SecureBucket


class OrganizationTrail(Construct):
    """A multi-region CloudTrail with global service events and log file validation, for the whole organisation
    (created in the management account) or for this account only, delivered to a `SecureBucket` and to a
    retained CloudWatch Logs group, both encrypted with ``key``.

    ``trail_name`` is physical, ``<estate_name>-organization-trail``, because the guardrail SCP protects the
    trail by name.

    Args:
        scope: the parent construct.
        id: the construct id (stateful: keep it stable).
        estate_name: the trail name's prefix; the name must be a CloudTrail name (3-128 letters and digits,
            single ``.``, ``_`` or ``-`` between them).
        key: the customer-managed key of the log files, the bucket and the log group; its policy gets
            statements admitting CloudTrail for this trail (so an imported key will not do).
        log_retention_days: days the CloudWatch Logs copy is kept, one of the periods CloudWatch Logs offers
            (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
            3653); default 365. The bucket keeps the log files themselves without expiry.
        organization_trail: record every account of the organisation (default; deploy in the management
            account); ``False`` records this account only.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        estate_name: str,
        key: kms.Key,
        log_retention_days: int = 365,
        organization_trail: bool = True,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems()
        if log_retention_days not in LOG_RETENTION_DAYS:
            problems.add("log_retention_days", f"{log_retention_days!r} is not a CloudWatch Logs retention; expected one of "
                                               f"{', '.join(map(str, LOG_RETENTION_DAYS))}")
        if not Token.is_unresolved(estate_name) and not TRAIL_NAME.match(f"{estate_name}-organization-trail"):
            problems.add("estate_name", f"{estate_name!r} makes the trail name {estate_name + '-organization-trail'!r}, which is not "
                                        "a CloudTrail name; expected letters and digits with single '.', '_' or '-' between them, "
                                        "3-128 characters in all")
        problems.raise_if_any(self.node.path)
        self.trail_name = f"{estate_name}-organization-trail"
        trail_arn = f"arn:{Aws.PARTITION}:cloudtrail:{Aws.REGION}:{Aws.ACCOUNT_ID}:trail/{self.trail_name}"
        self.key = key
        self.bucket = SecureBucket(self, "Bucket", key=key)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        cfn_log_group = self.log_group.node.default_child
        assert isinstance(cfn_log_group, logs.CfnLogGroup)
        cfn_log_group.retention_in_days = log_retention_days  # RetentionDays has no constructor from a number
        self._admit_cloudtrail(key, trail_arn)
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=self.trail_name,
            bucket=self.bucket.bucket,
            encryption_key=key,
            enable_file_validation=True,
            include_global_service_events=True,
            is_multi_region_trail=True,
            is_organization_trail=organization_trail,
        )
        self._deliver_to_cloudwatch_logs()
        if organization_trail:
            # Member accounts deliver under AWSLogs/<organization id>/; the id is not in the estate config,
            # so the grant covers AWSLogs/* and is pinned to this trail by aws:SourceArn instead.
            self.bucket.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="OrganizationTrailWrite",
                    principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                    actions=["s3:PutObject"],
                    resources=[self.bucket.bucket.arn_for_objects("AWSLogs/*")],
                    conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}},
                )
            )
            Annotations.of(self.trail).acknowledge_warning(
                "@aws-cdk/aws-cloudtrail:missingOrgIdForOrganizationTrail",
                "The OrganizationTrailWrite statement grants AWSLogs/* to this trail only (aws:SourceArn).",
            )

    def _deliver_to_cloudwatch_logs(self) -> None:
        # CDK's send_to_cloud_watch_logs makes the trail depend on its role although the role's ARN already
        # orders them (a cfn-lint warning); wiring the role here keeps only the dependency that matters:
        # the role's policy must exist before CloudTrail validates delivery.
        self.logs_role = iam.Role(self, "LogsRole", assumed_by=iam.ServicePrincipal("cloudtrail.amazonaws.com"))
        policy = iam.Policy(self, "LogsRolePolicy", roles=[self.logs_role], statements=[
            iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                resources=[self.log_group.log_group_arn]),
        ])
        trail_cfn = self.trail.node.default_child
        assert isinstance(trail_cfn, cloudtrail.CfnTrail)
        trail_cfn.cloud_watch_logs_log_group_arn = self.log_group.log_group_arn
        trail_cfn.cloud_watch_logs_role_arn = self.logs_role.role_arn
        trail_cfn.node.add_dependency(policy)

    @property
    def trail_arn(self) -> str:
        return self.trail.trail_arn

    @staticmethod
    def _admit_cloudtrail(key: kms.Key, trail_arn: str) -> None:
        # CloudTrail encrypts log files (SSE-KMS) with the key; the encryption context names the trail.
        this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}
        context = {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{Aws.PARTITION}:cloudtrail:*:{Stack.of(key).account}:trail/*"}
        for sid, action, conditions in (
            ("CloudTrailEncryptsLogs", "kms:GenerateDataKey*", {"StringLike": context, **this_trail}),
            ("CloudTrailDescribesKey", "kms:DescribeKey", this_trail),
        ):
            key.add_to_resource_policy(iam.PolicyStatement(
                sid=sid, principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")], actions=[action],
                resources=["*"], conditions=conditions,
            ))
