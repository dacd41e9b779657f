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
from mlops_estate.lifecycle.registry import ModelApprover, ModelRegistry
from mlops_estate.security.storage import SecureBucket
from mlops_estate.stacks.shared_services import registered_model
from tests.helpers import TEST_ACCOUNT, default_config, make_stack, resources_of_type, template_of
from tests.iam_eval import Caller, allowed, as_list, can_assume, caller_of, render, roles_where, trust_statements

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
        assert sorted(statements) == ["BuildAccountDescribesGroup", "BuildAccountReadsVersions", "BuildAccountRegistersVersions",
                                      "ConsumersDescribeGroup", "ConsumersReadVersions"]
        for sid in ("ConsumersDescribeGroup", "ConsumersReadVersions"):
            assert sorted(_account_of(p) for p in statements[sid]["Principal"]["AWS"]) == CONSUMERS
        assert statements["ConsumersReadVersions"]["Action"] == ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"]
        assert statements["ConsumersDescribeGroup"]["Action"] == ["sagemaker:DescribeModelPackageGroup"]
        for sid in ("BuildAccountDescribesGroup", "BuildAccountReadsVersions", "BuildAccountRegistersVersions"):
            assert [_account_of(p) for p in statements[sid]["Principal"]["AWS"]] == [BUILD]
        assert statements["BuildAccountReadsVersions"]["Action"] == ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"]
        # The build account registers versions that wait for a person, never one already approved (or rejected).
        register = statements["BuildAccountRegistersVersions"]
        assert register["Action"] == "sagemaker:CreateModelPackage"
        assert register["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
        assert not [s for sid, s in statements.items() if sid != "BuildAccountRegistersVersions"
                    and "sagemaker:CreateModelPackage" in as_list(s["Action"])]
        # Nobody outside the registry's account may approve (UpdateModelPackage) or delete.
        actions = {a for s in statements.values() for a in as_list(s["Action"])}
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


# ------------------------------------------------------------------------------------------- the approver
REGISTRY = "222222222222"
ADMIN = f"arn:aws:iam::{BUILD}:role/mlops-mlops-admin"
VERSION = f"arn:aws:sagemaker:eu-west-1:{REGISTRY}:model-package/mlops-churn/3"


@pytest.fixture(scope="module")
def approver_template() -> dict[str, Any]:
    stack = make_stack(account=REGISTRY)
    key = kms.Key(stack, "Key")
    artifacts = SecureBucket(stack, "Artifacts", key=key, bucket_name="mlops-artifacts-222222222222-eu-west-1")
    ModelApprover(stack, "Approver", role_name="mlops-model-approver", group_prefix="mlops", approvers=[ADMIN],
                  artifacts=artifacts, key=key)
    return template_of(stack).to_json()


def _approver(template: dict[str, Any]) -> tuple[str, Caller]:
    (role_id,) = roles_where(template, RoleName="mlops-model-approver")
    return role_id, caller_of(template, role_id, REGISTRY)


def test_approver_is_assumed_only_by_the_named_role_from_a_session_with_a_source_identity(approver_template):
    role_id, approver = _approver(approver_template)
    trust = trust_statements(approver_template, role_id, REGISTRY)
    may_assume = [{"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"], "Resource": approver.arn}]
    admin = Caller(ADMIN, BUILD, may_assume)
    person = {"aws:SourceIdentity": "sam-admin", "sts:SourceIdentity": "sam-admin"}
    assert can_assume(admin, approver.arn, trust, role_account=REGISTRY, ctx=person, set_source_identity=True)
    # The same role in a job or pipeline (no source identity), or naming a person itself: refused.
    assert not can_assume(admin, approver.arn, trust, role_account=REGISTRY)
    assert not can_assume(admin, approver.arn, trust, role_account=REGISTRY, ctx={"sts:SourceIdentity": "sam-admin"},
                          set_source_identity=True)
    # Another role of the same account, or the same name in another account, with the same identity grant: refused.
    for other in (f"arn:aws:iam::{BUILD}:role/mlops-data-scientist", "arn:aws:iam::555555555555:role/mlops-mlops-admin"):
        caller = Caller(other, other.split(":")[4], may_assume)
        assert not can_assume(caller, approver.arn, trust, role_account=REGISTRY, ctx=person, set_source_identity=True), other
    # Trusting the account only delegates to it: without its own grant the named role cannot assume it either.
    assert not can_assume(Caller(ADMIN, BUILD, []), approver.arn, trust, role_account=REGISTRY, ctx=person, set_source_identity=True)


def test_approver_decides_on_the_estates_versions_and_nothing_else(approver_template):
    _, approver = _approver(approver_template)
    decide = {"sagemaker:ModelApprovalStatus": "Approved"}
    assert allowed(approver, "sagemaker:UpdateModelPackage", VERSION, resource_account=REGISTRY, ctx=decide)
    assert allowed(approver, "sagemaker:UpdateModelPackage", VERSION, resource_account=REGISTRY,
                   ctx={"sagemaker:ModelApprovalStatus": "Rejected"})
    # Back to pending, or an update that only changes metadata: not the approver's business.
    assert not allowed(approver, "sagemaker:UpdateModelPackage", VERSION, resource_account=REGISTRY,
                       ctx={"sagemaker:ModelApprovalStatus": "PendingManualApproval"})
    assert not allowed(approver, "sagemaker:UpdateModelPackage", VERSION, resource_account=REGISTRY)
    other_group = f"arn:aws:sagemaker:eu-west-1:{REGISTRY}:model-package/other-churn/3"
    assert not allowed(approver, "sagemaker:UpdateModelPackage", other_group, resource_account=REGISTRY, ctx=decide)
    for action in ("sagemaker:CreateModelPackage", "sagemaker:DeleteModelPackage", "sagemaker:UpdateModelPackageGroup"):
        assert not allowed(approver, action, VERSION, resource_account=REGISTRY, ctx=decide), action
    # It reads what the decision rests on: the version, the card, the evaluation report (not the model itself).
    assert allowed(approver, "sagemaker:DescribeModelPackage", VERSION, resource_account=REGISTRY)
    assert allowed(approver, "sagemaker:DescribeModelCard", f"arn:aws:sagemaker:eu-west-1:{REGISTRY}:model-card/mlops-churn",
                   resource_account=REGISTRY)
    bucket = "arn:aws:s3:::mlops-artifacts-222222222222-eu-west-1"
    assert allowed(approver, "s3:GetObject", f"{bucket}/models/churn/evaluation/abc123/evaluation.json", resource_account=REGISTRY)
    assert not allowed(approver, "s3:GetObject", f"{bucket}/models/churn/training/job/output/model.tar.gz", resource_account=REGISTRY)


def test_approver_props_are_checked_at_once():
    stack = make_stack(account=REGISTRY)
    key = kms.Key(stack, "Key")
    artifacts = SecureBucket(stack, "Artifacts", key=key)
    with pytest.raises(ValueError) as failure:
        ModelApprover(stack, "Bad", role_name="no spaces", group_prefix="Mlops_", approvers=["arn:aws:iam::4444:user/x"],
                      artifacts=artifacts, key=key)
    text = str(failure.value)
    assert text.startswith("Test/Bad: 3 problem(s):")
    assert "role_name: 'no spaces' is not an IAM role name" in text
    assert "group_prefix: 'Mlops_' is not the start of a model package group name" in text
    assert "approvers[0]: 'arn:aws:iam::4444:user/x' is not a role ARN" in text
    with pytest.raises(ValueError, match="approvers: name at least one role ARN"):
        ModelApprover(stack, "Nobody", role_name="r", group_prefix="mlops", approvers=[], artifacts=artifacts, key=key)


def test_the_build_account_may_register_only_pending_versions(template):
    (group,) = [g for g in resources_of_type(template, "AWS::SageMaker::ModelPackageGroup").values()
                if g["Properties"]["ModelPackageGroupName"] == "mlops-churn"]
    policy = render(group["Properties"]["ModelPackageGroupPolicy"]["Statement"], TEST_ACCOUNT, {})
    version = f"arn:aws:sagemaker:eu-west-1:{TEST_ACCOUNT}:model-package/mlops-churn/4"
    pipeline = Caller(f"arn:aws:iam::{BUILD}:role/pipeline", BUILD,
                      [{"Effect": "Allow", "Action": "sagemaker:*ModelPackage", "Resource": "*"}])
    register = {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
    assert allowed(pipeline, "sagemaker:CreateModelPackage", version, resource_account=TEST_ACCOUNT, resource_policy=policy, ctx=register)
    for status in ("Approved", "Rejected"):
        assert not allowed(pipeline, "sagemaker:CreateModelPackage", version, resource_account=TEST_ACCOUNT, resource_policy=policy,
                           ctx={"sagemaker:ModelApprovalStatus": status}), status
    assert not allowed(pipeline, "sagemaker:UpdateModelPackage", version, resource_account=TEST_ACCOUNT, resource_policy=policy,
                       ctx={"sagemaker:ModelApprovalStatus": "Approved"})
