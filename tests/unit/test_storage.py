from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.security.storage import SecureBucket
from tests.helpers import make_stack


@pytest.fixture(scope="module")
def template() -> Template:
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.DATA])
    SecureBucket(stack, "Raw", key=keys.data, event_bridge=True)
    shared = SecureBucket(stack, "Shared", key=keys.data)
    shared.allow_account_read(["222222222222"], prefix="models/*")
    return Template.from_stack(stack)


def test_data_buckets_are_cmk_encrypted_versioned_private_logged_and_retained(template):
    buckets = template.find_resources("AWS::S3::Bucket", {"Properties": {"LoggingConfiguration": Match.any_value()}})
    assert len(buckets) == 2
    for bucket in buckets.values():
        props = bucket["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert "KMSMasterKeyID" in rule["ServerSideEncryptionByDefault"]
        assert rule["BucketKeyEnabled"] is True
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
        }
        assert bucket["DeletionPolicy"] == "Retain"


def test_one_access_log_bucket_per_stack(template):
    log_buckets = template.find_resources("AWS::S3::Bucket", {"Properties": {"LoggingConfiguration": Match.absent()}})
    assert len(log_buckets) == 1
    (log_bucket,) = log_buckets.values()
    assert log_bucket["DeletionPolicy"] == "Retain"


def test_tls_only_policy(template):
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_eventbridge_notifications_without_a_custom_resource(template):
    template.has_resource_properties(
        "AWS::S3::Bucket", {"NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}}
    )
    assert template.find_resources("Custom::S3BucketNotifications") == {}
    assert template.find_resources("AWS::Lambda::Function") == {}


def test_cross_account_read_names_the_account_and_prefix(template):
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "EstateAccountsRead",
                                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                                "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                                "Resource": {"Fn::Join": ["", [Match.any_value(), "/models/*"]]},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_bad_version_retention_is_rejected():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.DATA])
    with pytest.raises(ValueError, match="Test/Bad: noncurrent_version_days must be >= 1, got 0"):
        SecureBucket(stack, "Bad", key=keys.data, noncurrent_version_days=0)


def test_apps_without_policy_based_log_delivery_get_a_clear_error():
    from aws_cdk import App, Stack

    stack = Stack(App(), "NoFlags")
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.DATA])
    with pytest.raises(ValueError, match=r"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy=true"):
        SecureBucket(stack, "Data", key=keys.data)
