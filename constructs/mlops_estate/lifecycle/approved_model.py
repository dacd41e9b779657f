"""The approved model package of one serving-stack parameter, kept in SSM Parameter Store of a serving account.

Why: a serving stack serves several models, each with a ``<Model>[<Variant>]ModelPackageArn`` parameter. A
CodePipeline CloudFormation action cannot say ``UsePreviousValue``: parameters it does not override fall back
to their defaults, so promoting one model would reset every other model to its placeholder. Instead each
parameter of the serving stack is of type ``AWS::SSM::Parameter::Value<String>`` whose default is the name of
an SSM parameter that holds that model's currently approved ARN; CloudFormation reads every one of them afresh
on each deployment. Promotion first deploys the one small stack that owns the promoted model's SSM parameter
(its only parameter is the ARN, so nothing else can be reset), then the serving stack without overrides.
"""

from __future__ import annotations

from aws_cdk import CfnParameter
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_estate.core.patterns import MODEL_PACKAGE_ARN
from mlops_estate.core.validation import Problems

PARAMETER_NAME = "ModelPackageArn"


def approved_arn_parameter_name(estate: str, serving_parameter: str) -> str:
    """The SSM parameter behind a serving-stack parameter, the same name in staging and prod:
    ``/mlops/serving/ChurnModelPackageArn``."""
    return f"/{estate}/serving/{serving_parameter}"


class ApprovedModelPackage(Construct):
    """A deploy-time parameter ``ModelPackageArn`` (validated as a model package ARN, defaulting to ``placeholder``)
    written to the SSM String parameter ``ssm_name`` (an ARN is not secret).

    Args:
        scope: the construct's parent (the small stack that owns this model's SSM parameter).
        id: the construct's id.
        ssm_name: the SSM parameter's name, hierarchical (starts with ``/``, at most 1011 characters).
        placeholder: the ARN deployed before any version is approved (lets the first deployment succeed).
        description: what the parameter holds (the SSM description is cut to 1024 characters).

    Attributes:
        parameter: the ``ModelPackageArn`` CloudFormation parameter (its logical id is fixed: promotion sets it by name).
        ssm_name: the SSM parameter's name.
        string_parameter: the SSM parameter.
    """

    def __init__(self, scope: Construct, id: str, *, ssm_name: str, placeholder: str, description: str) -> None:
        super().__init__(scope, id)
        problems = Problems()
        if not ssm_name.startswith("/") or len(ssm_name) > 1011:
            problems.add("ssm_name", f"{ssm_name!r} is not a hierarchical SSM name (starting with '/', at most 1011 characters)")
        if not MODEL_PACKAGE_ARN.match(placeholder):
            problems.add("placeholder", f"{placeholder!r} is not a model package ARN like "
                                        "arn:aws:sagemaker:eu-west-1:123456789012:model-package/group/1")
        problems.raise_if_any(self.node.path)
        self.parameter = CfnParameter(
            self,
            PARAMETER_NAME,
            type="String",
            default=placeholder,
            allowed_pattern=MODEL_PACKAGE_ARN.pattern,
            description=description,
        )
        self.parameter.override_logical_id(PARAMETER_NAME)
        self.ssm_name = ssm_name
        self.string_parameter = ssm.StringParameter(
            self, "Arn", parameter_name=ssm_name, string_value=self.parameter.value_as_string, description=description[:1024]
        )
