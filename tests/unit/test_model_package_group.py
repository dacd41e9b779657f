"""ModelPackageGroup: one account or shared by account, an optional model card whose text is the caller's, bad props."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import CfnParameter, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from mlops_estate.lifecycle.model_card import ModelCardContent
from mlops_estate.lifecycle.model_package_group import ModelPackageGroup
from tests.helpers import TEST_ACCOUNT, make_stack, resources_of_type, template_of

CARD = ModelCardContent(description="Scores churn risk", owner="team-a", problem_type="BinaryClassification",
                        factors_affecting_efficiency="Registered only when aucpr is at least 0.6.")


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    stack = make_stack()
    key = kms.Key(stack, "Key")
    alone = ModelPackageGroup(stack, "Alone", model_package_group_name="team-churn", description="Churn models")
    shared = ModelPackageGroup(stack, "Shared", model_package_group_name="team-fraud", consumer_accounts=["555555555555", TEST_ACCOUNT],
                               build_accounts=["444444444444"], model_card=CARD, card_key=key, removal_policy=RemovalPolicy.DESTROY)
    reader = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    pipeline = iam.Role(stack, "Pipeline", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    alone.grant_read(reader)
    alone.grant_register(pipeline)
    return {"stack": stack, "key": key, "alone": alone, "shared": shared, "json": template_of(stack).to_json()}


def _group(built: dict[str, Any], prefix: str) -> dict[str, Any]:
    (group,) = [g for k, g in resources_of_type(built["json"], "AWS::SageMaker::ModelPackageGroup").items() if k.startswith(prefix)]
    return group


def test_one_account_group_is_retained_without_policy_or_card(built):
    group = _group(built, "Alone")
    assert group["Properties"] == {"ModelPackageGroupName": "team-churn", "ModelPackageGroupDescription": "Churn models"}
    assert group["DeletionPolicy"] == "Retain"
    assert built["alone"].model_card is None
    assert built["alone"].model_package_group_name == "team-churn"
    assert built["stack"].resolve(built["alone"].model_package_group_arn)["Fn::Join"][1][-1] == ":model-package-group/team-churn"


def test_shared_group_admits_other_accounts_by_role(built):
    statements = {s["Sid"]: s for s in _group(built, "Shared")["Properties"]["ModelPackageGroupPolicy"]["Statement"]}
    assert sorted(statements) == ["BuildAccountDescribesGroup", "BuildAccountReadsVersions", "BuildAccountRegistersVersions",
                                  "ConsumersDescribeGroup", "ConsumersReadVersions"]
    consumers = statements["ConsumersReadVersions"]["Principal"]["AWS"]
    assert len(consumers) == 1 and "555555555555" in str(consumers)  # the stack's own account is left out
    # A build account registers versions for a person to approve, never already approved ones.
    register = statements["BuildAccountRegistersVersions"]
    assert register["Action"] == "sagemaker:CreateModelPackage"
    assert register["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
    assert not any("CreateModelPackage" in str(s["Action"]) for sid, s in statements.items() if sid != "BuildAccountRegistersVersions")


def test_model_card_only_when_given_with_the_callers_text(built):
    (card,) = resources_of_type(built["json"], "AWS::SageMaker::ModelCard").values()
    assert card["Properties"]["ModelCardName"] == "team-fraud" and card["DeletionPolicy"] == "Delete"
    content = card["Properties"]["Content"]
    assert content["ModelOverview"] == {"ModelDescription": "Scores churn risk", "ModelOwner": "team-a",
                                        "ProblemType": "BinaryClassification"}
    assert content["IntendedUses"] == {"PurposeOfModel": "Scores churn risk", "RiskRating": "Unknown",
                                       "FactorsAffectingModelEfficiency": "Registered only when aucpr is at least 0.6."}
    assert card["Properties"]["SecurityConfig"] == {"KmsKeyId": built["stack"].resolve(built["key"].key_arn)}


def _statements(built: dict[str, Any], role: str) -> list[dict[str, Any]]:
    (policy,) = [p for k, p in resources_of_type(built["json"], "AWS::IAM::Policy").items() if k.startswith(role)]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def test_grants(built):
    (read,) = _statements(built, "Reader")
    assert read["Action"] == ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages"]
    resources = [r["Fn::Join"][1][-1] for r in read["Resource"]]
    assert resources == [":model-package-group/team-churn", ":model-package/team-churn/*"]
    register = next(s for s in _statements(built, "Pipeline") if s["Action"] == "sagemaker:CreateModelPackage")
    assert register["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
    assert register["Resource"]["Fn::Join"][1][-1] == ":model-package/team-churn/*"


def test_reference_by_name():
    ref = ModelPackageGroup.from_name("team-churn", account="222222222222", region="eu-west-1")
    assert ref.model_package_group_name == "team-churn"
    assert ref.model_package_group_arn.endswith(":sagemaker:eu-west-1:222222222222:model-package-group/team-churn")


def test_bad_props_name_every_path_and_value():
    stack = make_stack()
    with pytest.raises(ValueError) as failure:
        ModelPackageGroup(stack, "Bad", model_package_group_name="team_churn!", description="x" * 1025,
                          consumer_accounts=["5555"], build_accounts=["abc"],
                          model_card=ModelCardContent(owner="o" * 1025, risk_rating="Severe"))  # type: ignore[arg-type]
    text = str(failure.value)
    assert text.startswith("Test/Bad: 7 problem(s):")
    for expected in (
        "model_package_group_name: 'team_churn!' is not a model package group name",
        "description: is 1025 characters; a model package group allows 1024",
        "consumer_accounts[0]: '5555' is not an AWS account id (exactly 12 digits)",
        "build_accounts[0]: 'abc' is not an AWS account id",
        "model_card.owner: is 1025 characters; a model card allows 1024",
        "model_card.risk_rating: 'Severe' is not a risk rating; use one of High, Medium, Low, Unknown",
        "card_key: is required with model_card",
    ):
        assert expected in text, expected


def test_deploy_time_name_is_accepted():
    stack = make_stack()
    name = CfnParameter(stack, "GroupName", default="team-churn").value_as_string
    assert ModelPackageGroup(stack, "Named", model_package_group_name=name).model_package_group_name == name
