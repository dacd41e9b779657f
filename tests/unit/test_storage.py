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


def test_bad_props_are_all_reported_with_path_and_value():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.DATA])
    with pytest.raises(ValueError) as error:
        SecureBucket(stack, "Bad", key=keys.data, noncurrent_version_days=0, bucket_name="Bad_Name")
    assert "Test/Bad: 2 problem(s)" in str(error.value)
    assert "noncurrent_version_days: 0 is not allowed; expected a whole number of days >= 1" in str(error.value)
    assert "bucket_name: 'Bad_Name' is not an S3 bucket name" in str(error.value)


def test_apps_without_the_log_delivery_flag_get_the_same_policy_based_delivery():
    """An app of the user's own (no cdk.json flags) gets log delivery by bucket policy, never a bucket ACL: the
    buckets and policies are exactly those of an app with the flag on."""
    from aws_cdk import App, Environment, Stack

    rendered = []
    for context in ({}, {"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True}):
        stack = Stack(App(context=context), "S", env=Environment(account="123456789012", region="eu-west-1"))
        keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.DATA])
        SecureBucket(stack, "Data", key=keys.data)
        resources = Template.from_stack(stack).to_json()["Resources"]
        rendered.append({k: v for k, v in resources.items() if v["Type"].startswith("AWS::S3::")})
    without_flag, with_flag = rendered
    assert without_flag == with_flag
    assert not any("AccessControl" in r["Properties"] for r in without_flag.values())
    delivery = [s for r in without_flag.values() if r["Type"] == "AWS::S3::BucketPolicy"
                for s in r["Properties"]["PolicyDocument"]["Statement"] if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    assert len(delivery) == 1 and delivery[0]["Action"] == "s3:PutObject"


def test_other_accounts_are_named_by_account_id():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.DATA])
    bucket = SecureBucket(stack, "Data", key=keys.data)
    with pytest.raises(ValueError, match=r"^Test/Data: allow_account_read: 1 problem\(s\):\n  - account_ids\[0\]: 'prod' is not an AWS "
                                         r"account id; expected exactly 12 digits$"):
        bucket.allow_account_read(["prod"])
