"""A SageMaker model card: what a model is for, who answers for it and how risky it is, encrypted with a CMK."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aws_cdk import RemovalPolicy, Token
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_estate.core.patterns import SAGEMAKER_NAME
from mlops_estate.core.validation import Problems, join

RiskRating = Literal["High", "Medium", "Low", "Unknown"]
ModelCardStatus = Literal["Draft", "PendingReview", "Approved", "Archived"]
RISK_RATINGS = ("High", "Medium", "Low", "Unknown")
STATUSES = ("Draft", "PendingReview", "Approved", "Archived")
# Lengths the model card content schema allows (ModelOverview: 1024, IntendedUses: 2048).
OVERVIEW_MAX, INTENDED_USES_MAX = 1024, 2048


@dataclass(frozen=True)
class ModelCardContent:
    """What a model card says. Every text is yours: nothing is filled in from defaults.

    Attributes:
        description: what the model does (the overview's description and the purpose of the model).
        owner: who answers for the model.
        problem_type: the kind of problem it solves, e.g. ``BinaryClassification``.
        algorithm: how it is trained, e.g. ``XGBoost 1.7-1 (SageMaker built-in)``.
        intended_uses: how it is meant to be used (and how not).
        risk_rating: ``High``, ``Medium``, ``Low`` or ``Unknown``.
        factors_affecting_efficiency: what its quality depends on, e.g. the gate a version must pass to be registered.
    """

    description: str | None = None
    owner: str | None = None
    problem_type: str | None = None
    algorithm: str | None = None
    intended_uses: str | None = None
    risk_rating: RiskRating = "Unknown"
    factors_affecting_efficiency: str | None = None

    def check(self, path: str, problems: Problems) -> None:
        """Add every problem of this content, under ``path``, to ``problems``."""
        limits = {"description": OVERVIEW_MAX, "owner": OVERVIEW_MAX, "problem_type": OVERVIEW_MAX, "algorithm": OVERVIEW_MAX,
                  "intended_uses": INTENDED_USES_MAX, "factors_affecting_efficiency": INTENDED_USES_MAX}
        for name, limit in limits.items():
            value = getattr(self, name)
            if value is not None and not Token.is_unresolved(value) and len(value) > limit:
                problems.add(join(path, name), f"is {len(value)} characters; a model card allows {limit}")
        if self.risk_rating not in RISK_RATINGS:
            problems.add(join(path, "risk_rating"), f"{self.risk_rating!r} is not a risk rating; use one of {', '.join(RISK_RATINGS)}")

    def render(self) -> sagemaker.CfnModelCard.ContentProperty:
        return sagemaker.CfnModelCard.ContentProperty(
            model_overview=sagemaker.CfnModelCard.ModelOverviewProperty(
                model_description=self.description or None,
                model_owner=self.owner or None,
                problem_type=self.problem_type or None,
                algorithm_type=self.algorithm or None,
            ),
            intended_uses=sagemaker.CfnModelCard.IntendedUsesProperty(
                purpose_of_model=self.description or None,
                intended_uses=self.intended_uses or None,
                risk_rating=self.risk_rating,
                factors_affecting_model_efficiency=self.factors_affecting_efficiency or None,
            ),
        )


class ModelCard(Construct):
    """A model card (``AWS::SageMaker::ModelCard``) encrypted with ``key``, retained by default: it documents a
    model for its reviewers and auditors, so it outlives a stack.

    Args:
        scope: the construct's parent.
        id: the construct's id.
        model_card_name: the card's name (letters, digits, single hyphens, up to 63), e.g. its model package group's.
        content: what the card says.
        key: the KMS key the card is encrypted with.
        status: the card's status: ``Draft`` (default), ``PendingReview``, ``Approved`` or ``Archived``.
        removal_policy: what happens to the card when it leaves the stack (RETAIN by default).

    Attributes:
        model_card_name: the card's name.
        model_card_arn: the card's ARN.
        resource: the ``CfnModelCard``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_card_name: str,
        content: ModelCardContent,
        key: kms.IKey,
        status: ModelCardStatus = "Draft",
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems()
        if not Token.is_unresolved(model_card_name) and not SAGEMAKER_NAME.match(model_card_name):
            problems.add("model_card_name", f"{model_card_name!r} is not a model card name (letters, digits, single hyphens, up to 63)")
        content.check("content", problems)
        if status not in STATUSES:
            problems.add("status", f"{status!r} is not a model card status; use one of {', '.join(STATUSES)}")
        problems.raise_if_any(self.node.path)
        # "Default": the card's logical id is its parent's path, as if it had been created in the parent itself.
        self.resource = sagemaker.CfnModelCard(
            self,
            "Default",
            model_card_name=model_card_name,
            model_card_status=status,
            security_config=sagemaker.CfnModelCard.SecurityConfigProperty(kms_key_id=key.key_arn),
            content=content.render(),
        )
        self.resource.apply_removal_policy(removal_policy)
        self.model_card_name = model_card_name
        self.model_card_arn = self.resource.attr_model_card_arn
