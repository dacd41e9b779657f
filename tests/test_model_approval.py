"""The default estate's one approval path, evaluated on the synthesized IAM of every account: the ML dev
``mlops_admin`` persona, in a Studio session that carries the person's source identity, assumes the registry's
``ModelApprover`` role, which may set a version to ``Approved``. Every other principal of every account (build
pipelines, the other personas, staging and prod, shared services' own roles) is refused, both ways: assuming the
approver, and approving (or registering an approved version) itself."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SynthesizedEstate
from tests.iam_eval import Caller, allowed, caller_of, can_assume, render, roles_where, trust_statements

SHARED, ML_DEV = "222222222222", "444444444444"
APPROVER_ARN = f"arn:aws:iam::{SHARED}:role/mlops-model-approver"
ADMIN_ARN = f"arn:aws:iam::{ML_DEV}:role/mlops-mlops-admin"
VERSION = f"arn:aws:sagemaker:eu-west-1:{SHARED}:model-package/mlops-churn/3"
# What a Studio session of the mlops_admin user carries (the domain sets the user profile name as source identity).
PERSON = {"aws:SourceIdentity": "sam-admin", "sts:SourceIdentity": "sam-admin"}
APPROVE = {"sagemaker:ModelApprovalStatus": "Approved"}


@pytest.fixture(scope="module")
def iam(default_estate: SynthesizedEstate) -> dict[str, Any]:
    """Every role of the estate as a caller (by ARN), the approver's trust and the churn group's policy."""
    accounts = {stack.node.path: stack.account for stack in default_estate.estate.stacks()}
    callers: dict[str, Caller] = {}
    for path, template in default_estate.templates.items():
        if path not in accounts:
            continue  # a StackSet template: deployed to other accounts of the OUs, not an estate account
        for role_id in roles_where(template):
            caller = caller_of(template, role_id, accounts[path])
            callers[caller.arn] = caller
    registry = default_estate.templates["SharedServices/Registry"]
    (approver_id,) = roles_where(registry, RoleName="mlops-model-approver")
    (group,) = [r for r in registry["Resources"].values() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"
                and r["Properties"]["ModelPackageGroupName"] == "mlops-churn"]
    workspace = default_estate.templates["MlDev/Workspace"]
    (pipeline_id,) = roles_where(workspace, Description="Execution role of the SageMaker pipeline mlops-churn-build")
    return {
        "callers": callers,
        "pipeline": caller_of(workspace, pipeline_id, ML_DEV),
        "trust": trust_statements(registry, approver_id, SHARED),
        "group_policy": render(group["Properties"]["ModelPackageGroupPolicy"]["Statement"], SHARED, {}),
    }


def test_the_mlops_admin_approves_through_the_approver_role(iam):
    callers = iam["callers"]
    admin, approver = callers[ADMIN_ARN], callers[APPROVER_ARN]
    # Layer 1: the persona's identity statement (exactly the approver role) ...
    (grant,) = [s for s in admin.statements if "sts:AssumeRole" in s["Action"]]
    assert grant == {"Sid": "ApproveModelsAsTheModelApprover", "Effect": "Allow",
                     "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"], "Resource": APPROVER_ARN}
    # ... and the approver's trust (the ML dev account, narrowed to that role and to a session with a source identity).
    for statement in iam["trust"]:
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ML_DEV}:root"}
        assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [ADMIN_ARN]}, "Null": {"aws:SourceIdentity": "false"}}
    assert sorted(s["Action"] for s in iam["trust"]) == ["sts:AssumeRole", "sts:SetSourceIdentity"]
    # Together they let the person in; the approver then decides.
    assert can_assume(admin, APPROVER_ARN, iam["trust"], role_account=SHARED, ctx=PERSON, set_source_identity=True)
    assert allowed(approver, "sagemaker:UpdateModelPackage", VERSION, resource_account=SHARED, ctx=APPROVE)
    assert allowed(approver, "sagemaker:UpdateModelPackage", VERSION, resource_account=SHARED,
                   ctx={"sagemaker:ModelApprovalStatus": "Rejected"})


def test_the_mlops_admin_role_cannot_approve_without_a_person_or_directly(iam):
    admin = iam["callers"][ADMIN_ARN]
    # A job or pipeline running as the persona role: no source identity, and it cannot make one up.
    assert not can_assume(admin, APPROVER_ARN, iam["trust"], role_account=SHARED)
    assert not can_assume(admin, APPROVER_ARN, iam["trust"], role_account=SHARED, ctx={"sts:SourceIdentity": "sam-admin"},
                          set_source_identity=True)
    # The persona's old direct path is gone (and the group policy never granted it).
    assert not allowed(admin, "sagemaker:UpdateModelPackage", VERSION, resource_account=SHARED,
                       resource_policy=iam["group_policy"], ctx={**PERSON, **APPROVE})


def test_no_other_principal_of_any_account_may_assume_the_approver(iam):
    others = [c for arn, c in iam["callers"].items() if arn != ADMIN_ARN]
    assert len(others) > 20 and {c.account for c in others} >= {SHARED, "333333333333", ML_DEV, "555555555555", "666666666666"}
    for caller in others:  # even with a person's source identity
        assert not can_assume(caller, APPROVER_ARN, iam["trust"], role_account=SHARED, ctx=PERSON, set_source_identity=True), caller.arn


def test_only_the_approver_may_approve_or_register_an_approved_version(iam):
    approvers = []
    for arn, caller in iam["callers"].items():
        for action in ("sagemaker:UpdateModelPackage", "sagemaker:CreateModelPackage"):
            if allowed(caller, action, VERSION, resource_account=SHARED, resource_policy=iam["group_policy"], ctx={**PERSON, **APPROVE}):
                approvers.append((arn, action))
    assert approvers == [(APPROVER_ARN, "sagemaker:UpdateModelPackage")]


def test_the_build_pipeline_registers_pending_versions_and_nothing_more(iam):
    pipeline = iam["pipeline"]
    policy = iam["group_policy"]
    pending = {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
    assert allowed(pipeline, "sagemaker:CreateModelPackage", VERSION, resource_account=SHARED, resource_policy=policy, ctx=pending)
    for status in ("Approved", "Rejected"):
        ctx = {"sagemaker:ModelApprovalStatus": status}
        assert not allowed(pipeline, "sagemaker:CreateModelPackage", VERSION, resource_account=SHARED, resource_policy=policy, ctx=ctx)
        assert not allowed(pipeline, "sagemaker:UpdateModelPackage", VERSION, resource_account=SHARED, resource_policy=policy, ctx=ctx)
    assert not can_assume(pipeline, APPROVER_ARN, iam["trust"], role_account=SHARED, ctx=PERSON, set_source_identity=True)
