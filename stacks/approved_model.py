"""One small stack per model-package parameter of a serving stack: the approved ARN in SSM (see approved_model.py)."""

from __future__ import annotations

from constructs import Construct

from mlops_estate.lifecycle.approved_model import ApprovedModelPackage, approved_arn_parameter_name
from mlops_estate.config.estate import EstateConfig, ServingEnv
from mlops_estate.stacks.base import EstateStack


class ApprovedModelStack(EstateStack):
    """Deployed by `cdk deploy` (which keeps the previous ``ModelPackageArn`` unless given) and by promotion
    (which overrides it with the approved ARN)."""

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, environment: ServingEnv,
                 serving_parameter: str, placeholder: str) -> None:
        super().__init__(scope, id, config=config, account=config.accounts.of(environment),
                         description=f"approved model package behind {serving_parameter} ({environment} account)")
        self.serving_parameter = serving_parameter
        self.approved = ApprovedModelPackage(
            self, "Approved", ssm_name=approved_arn_parameter_name(config.name, serving_parameter), placeholder=placeholder,
            description=f"Approved model package ARN read by the {environment} serving stack's {serving_parameter}",
        )
