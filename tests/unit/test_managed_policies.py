from __future__ import annotations

from aws_cdk import Aspects
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from tests.helpers import make_stack


def test_inline_grants_become_one_managed_policy_with_the_same_document():
    stack = make_stack()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    bucket = s3.Bucket(stack, "Bucket")
    bucket.grant_read(role)
    Aspects.of(stack).add(ManagedPoliciesOnly())
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::IAM::Policy", 0)
    managed = template.find_resources("AWS::IAM::ManagedPolicy")
    assert len(managed) == 1
    (policy,) = managed.values()
    assert policy["Properties"]["Roles"] == [{"Ref": next(iter(template.find_resources("AWS::IAM::Role")))}]
    actions = policy["Properties"]["PolicyDocument"]["Statement"][0]["Action"]
    assert "s3:GetObject*" in actions


def test_without_the_aspect_the_grant_is_inline():
    stack = make_stack()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    s3.Bucket(stack, "Bucket").grant_read(role)
    Template.from_stack(stack).resource_count_is("AWS::IAM::Policy", 1)
