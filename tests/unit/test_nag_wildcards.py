"""acknowledge_wildcards names each IAM5 finding exactly as cdk-nag reports it (checked against a real nag run)."""

from __future__ import annotations

import pytest
from aws_cdk import aws_iam as iam

from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.core.nag import acknowledge_wildcards, apply_nag_packs, flatten_reference
from mlops_estate.security.storage import SecureBucket
from tests.helpers import make_app, make_stack


def test_flatten_reference_renders_intrinsics_like_cdk_nag():
    value = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Fn::GetAtt": ["Bucket1", "Arn"]}, "/x/${aws:username}/*"]]}
    assert flatten_reference(value) == "arn:<AWS::Partition>:s3:::<Bucket1.Arn>/x/<aws:username>/*"
    assert flatten_reference({"Fn::Sub": "a-${AWS::Region}"}) == "a-<AWS::Region>"
    assert flatten_reference("*") == "*"


def _stack_with_wildcard_policy(acknowledged: bool):
    app = make_app()
    stack = make_stack(app)
    keys = EstateKeys(stack, "Keys", estate_name="t", classes=[DataClass.DATA])
    bucket = SecureBucket(stack, "Data", key=keys.data)
    statement = iam.PolicyStatement(actions=["s3:GetObject*"], resources=[bucket.bucket.arn_for_objects("in/*")])
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    policy = iam.ManagedPolicy(stack, "Policy", statements=[statement], roles=[role])
    ids = acknowledge_wildcards(policy, statement, "Test: objects under the in/ prefix have generated names.") if acknowledged else []
    apply_nag_packs(app)
    return app, ids


def test_acknowledged_wildcards_pass_the_gate():
    app, ids = _stack_with_wildcard_policy(acknowledged=True)
    assert ids == ["AwsSolutions-IAM5[Action::s3:GetObject*]", "AwsSolutions-IAM5[Resource::<DataBucketE6B0FAA8.Arn>/in/*]"]
    app.synth()


def test_unacknowledged_wildcards_fail_the_gate():
    app, _ = _stack_with_wildcard_policy(acknowledged=False)
    with pytest.raises(RuntimeError) as failure:
        app.synth()
    assert "AwsSolutions-IAM5[Resource::<DataBucketE6B0FAA8.Arn>/in/*]" in str(failure.value)
    assert "AwsSolutions-IAM5[Action::s3:GetObject*]" in str(failure.value)


def test_statement_without_wildcards_needs_no_acknowledgement():
    stack = make_stack()
    statement = iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::b/k"])
    policy = iam.ManagedPolicy(stack, "P", statements=[statement])
    assert acknowledge_wildcards(policy, statement, "No wildcard in this statement at all.") == []
