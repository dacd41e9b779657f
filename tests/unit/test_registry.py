"""ModelRegistry: a retained group and model card per model; only the named accounts get in."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from mlops_estate.config.registry import registry_location
from mlops_estate.lifecycle.registry import ModelRegistry
from mlops_estate.security.storage import SecureBucket
from mlops_estate.stacks.shared_services import registered_model
from tests.helpers import TEST_ACCOUNT, default_config, make_stack, resources_of_type, template_of

BUILD = "444444444444"
CONSUMERS = ["555555555555", "666666666666"]


def _registry(stack: Stack, *, build: str = BUILD, consumers: list[str] | None = None) -> ModelRegistry:
    config = default_config()
    config = dataclasses.replace(config, accounts=dataclasses.replace(config.accounts, shared_services=stack.account))
    key = kms.Key(stack, "Key")
    artifacts = SecureBucket(stack, "Artifacts", key=key, bucket_name=registry_location(config).artifacts_bucket_name)
    return ModelRegistry(stack, "Registry", location=registry_location(config),
                         models=[registered_model(m, "ml-platform") for m in config.models], artifacts=artifacts,
                         card_key=key, build_account=build, consumer_accounts=CONSUMERS if consumers is None else consumers)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    stack = make_stack()
    registry = _registry(stack)
    registry.grant_read(iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")), "churn")
    return template_of(stack).to_json()


def _account_of(principal: Any) -> str:
    parts = principal["Fn::Join"][1]
    return re.search(r":iam::(\d{12}):root", "".join(p for p in parts if isinstance(p, str))).group(1)  # type: ignore[union-attr]


def test_one_retained_group_per_model_named_from_config(template):
    groups = resources_of_type(template, "AWS::SageMaker::ModelPackageGroup")
    assert sorted(g["Properties"]["ModelPackageGroupName"] for g in groups.values()) == [
        "mlops-churn", "mlops-fraud-batch", "mlops-spend-forecast"]
    assert all(g["DeletionPolicy"] == "Retain" and g["UpdateReplacePolicy"] == "Retain" for g in groups.values())


def test_group_policy_names_exactly_the_consumer_and_build_accounts(template):
    for group in resources_of_type(template, "AWS::SageMaker::ModelPackageGroup").values():
        statements = {s["Sid"]: s for s in group["Properties"]["ModelPackageGroupPolicy"]["Statement"]}
        assert sorted(statements) == ["BuildAccountDescribesGroup", "BuildAccountRegistersVersions", "ConsumersDescribeGroup",
                                      "ConsumersReadVersions"]
        for sid in ("ConsumersDescribeGroup", "ConsumersReadVersions"):
            assert sorted(_account_of(p) for p in statements[sid]["Principal"]["AWS"]) == CONSUMERS
        assert statements["ConsumersReadVersions"]["Action"] == ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"]
        assert statements["ConsumersDescribeGroup"]["Action"] == ["sagemaker:DescribeModelPackageGroup"]
        for sid in ("BuildAccountDescribesGroup", "BuildAccountRegistersVersions"):
            assert [_account_of(p) for p in statements[sid]["Principal"]["AWS"]] == [BUILD]
        assert statements["BuildAccountRegistersVersions"]["Action"] == ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"]
        # Nobody outside the registry's account may approve (UpdateModelPackage) or delete.
        actions = {a for s in statements.values() for a in s["Action"]}
        assert not any(a.startswith(("sagemaker:Update", "sagemaker:Delete")) for a in actions)


def test_artifacts_readable_by_consumers_and_writable_by_build_account_under_models_only(template):
    policy = next(iter(resources_of_type(template, "AWS::S3::BucketPolicy").values()))
    statements = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid")}
    read = statements["EstateAccountsRead"]
    assert sorted(read["Principal"]["AWS"]) == [f"arn:aws:iam::{a}:root" for a in CONSUMERS]
    assert read["Resource"]["Fn::Join"][1][1] == "/models/*"
    write = statements["BuildAccountWritesModels"]
    assert write["Principal"]["AWS"] == f"arn:aws:iam::{BUILD}:root"
    assert sorted(write["Action"]) == ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    assert write["Resource"]["Fn::Join"][1][1] == "/models/*"


def test_model_card_per_model_from_config(template):
    cards = {c["Properties"]["ModelCardName"]: c for c in resources_of_type(template, "AWS::SageMaker::ModelCard").values()}
    assert sorted(cards) == ["mlops-churn", "mlops-fraud-batch", "mlops-spend-forecast"]
    churn = cards["mlops-churn"]
    assert churn["DeletionPolicy"] == "Retain"
    content = churn["Properties"]["Content"]
    assert content["IntendedUses"]["RiskRating"] == "Medium"
    assert content["IntendedUses"]["IntendedUses"].startswith("Rank active subscribers")
    assert content["ModelOverview"]["ModelOwner"] == "customer-analytics"
    assert content["ModelOverview"]["ProblemType"] == "BinaryClassification"
    assert "KmsKeyId" in churn["Properties"]["SecurityConfig"]
    spend = cards["mlops-spend-forecast"]["Properties"]["Content"]["IntendedUses"]
    assert spend["FactorsAffectingModelEfficiency"] == "Registered only when rmse is at most 25.0 on held-out data."


def test_sandbox_mode_writes_no_cross_account_policy():
    stack = make_stack()
    _registry(stack, build=TEST_ACCOUNT, consumers=[TEST_ACCOUNT])
    template = template_of(stack).to_json()
    for group in resources_of_type(template, "AWS::SageMaker::ModelPackageGroup").values():
        assert "ModelPackageGroupPolicy" not in group["Properties"]


def test_bad_accounts_are_rejected_with_every_problem():
    stack = make_stack()
    with pytest.raises(ValueError) as failure:
        _registry(stack, build="12345", consumers=["abc"])
    text = str(failure.value)
    assert "Test/Registry" in text
    assert "build_account: '12345' is not an AWS account id" in text
    assert "consumer_accounts[0]: 'abc' is not an AWS account id" in text


def test_grant_read_covers_one_models_group_and_versions(template):
    (policy,) = [p for k, p in resources_of_type(template, "AWS::IAM::Policy").items() if k.startswith("Reader")]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages"]
    resources = ["".join(p if isinstance(p, str) else "?" for p in r["Fn::Join"][1]) for r in statement["Resource"]]
    assert [r.split(":", 5)[-1] for r in resources] == ["model-package-group/mlops-churn", "model-package/mlops-churn/*"]


def test_registry_must_live_in_its_locations_account():
    stack = make_stack()
    config = default_config()  # shared services is 222222222222, the test stack is 123456789012
    key = kms.Key(stack, "Key")
    with pytest.raises(ValueError, match=re.escape("location.account: '222222222222' is not this stack's account '123456789012'")):
        ModelRegistry(stack, "Registry", location=registry_location(config), models=[registered_model(m, "team") for m in config.models],
                      artifacts=SecureBucket(stack, "Artifacts", key=key), card_key=key, build_account="444444444444",
                      consumer_accounts=["555555555555"])
