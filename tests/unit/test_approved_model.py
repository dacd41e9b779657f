"""ApprovedModelPackage: the approved ARN as the stack's only parameter, written to SSM for the serving stack."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_estate.lifecycle.approved_model import ApprovedModelPackage, approved_arn_parameter_name
from mlops_estate.core.patterns import MODEL_PACKAGE_ARN
from tests.helpers import make_stack, resources_of_type, template_of

PLACEHOLDER = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-churn/1"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    stack = make_stack()
    ApprovedModelPackage(stack, "Approved", ssm_name="/mlops/serving/ChurnModelPackageArn", placeholder=PLACEHOLDER,
                         description="approved churn")
    return template_of(stack).to_json()  # type: ignore[no-any-return]


def test_the_arn_parameter_is_validated_and_written_to_ssm(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["ModelPackageArn"]
    assert parameter["Type"] == "String" and parameter["Default"] == PLACEHOLDER
    assert parameter["AllowedPattern"] == MODEL_PACKAGE_ARN.pattern
    [ssm] = resources_of_type(template, "AWS::SSM::Parameter").values()
    assert ssm["Properties"]["Name"] == "/mlops/serving/ChurnModelPackageArn"
    assert ssm["Properties"]["Type"] == "String"
    assert ssm["Properties"]["Value"] == {"Ref": "ModelPackageArn"}


def test_ssm_name_follows_the_serving_parameter() -> None:
    assert approved_arn_parameter_name("mlops", "ChurnShadowModelPackageArn") == "/mlops/serving/ChurnShadowModelPackageArn"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ssm_name": "mlops/x"}, "ssm_name: 'mlops/x' is not a hierarchical SSM name"),
        ({"placeholder": "arn:aws:s3:::bucket"}, "placeholder: 'arn:aws:s3:::bucket' is not a model package ARN"),
    ],
    ids=["ssm-name", "placeholder"],
)
def test_bad_props_are_rejected(kwargs: dict[str, str], message: str) -> None:
    props = {"ssm_name": "/mlops/serving/X", "placeholder": PLACEHOLDER, "description": "d", **kwargs}
    with pytest.raises(ValueError, match=r"^Test/Approved: 1 problem\(s\):\n  - " + message):
        ApprovedModelPackage(make_stack(), "Approved", **props)
