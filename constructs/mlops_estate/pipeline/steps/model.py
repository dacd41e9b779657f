"""Model steps: a SageMaker model (CreateModel) from an artifact, e.g. for a batch transform."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from mlops_estate.pipeline.expressions import Property, Value
from mlops_estate.pipeline.steps.base import JobEnvironment, RetryPolicy, Step, StepOptions
from mlops_estate.pipeline.steps.fields import STRING, check_kind, check_s3_uri
from mlops_estate.pipeline.steps.permissions import PipelineRoleScope, RoleGrant, SageMakerJob

MODEL = SageMakerJob("model", "sagemaker:CreateModel", ("sagemaker:DescribeModel",))


class CreateModelStep(Step):
    """A SageMaker model (for batch transform), VPC-bound and network-isolated like the jobs; its execution role
    is the environment's job role.

    Args:
        name: see `Step`.
        job: the `JobEnvironment` (role, VPC placement, isolation) of the model.
        image_uri: the inference image (a literal ECR image URI).
        model_data: the S3 URI of the model artifact (e.g. a `TrainingStep`'s ``model_artifacts`` or a parameter).
        environment: environment variables of the container.
        retry_policies: retries on ``Step.*`` failures (default: none).
        **options: ``depends_on``, ``display_name``, ``description`` (see `Step`).
    """

    type_name = "Model"

    def __init__(
        self,
        name: str,
        *,
        job: JobEnvironment,
        image_uri: Value,
        model_data: Value,
        environment: Mapping[str, Value] | None = None,
        retry_policies: Sequence[RetryPolicy] = (),
        **options: Unpack[StepOptions],
    ) -> None:
        super().__init__(name, **options)
        p = self._problems
        check_kind(p, "image_uri", image_uri, STRING)
        check_s3_uri(p, "model_data", model_data)
        for env_key, env_value in (environment or {}).items():
            check_kind(p, f"environment[{env_key}]", env_value, STRING)
        for i, policy in enumerate(retry_policies):
            policy.check(p, f"retry_policies[{i}]", job_step=False)
        self.job = job
        self.image_uri = image_uri
        self.model_data = model_data
        self.environment = dict(environment or {})
        self.retry_policies = list(retry_policies)
        self._done()

    def pipeline_role_grant(self, scope: PipelineRoleScope) -> RoleGrant | None:
        return scope.job_grant(MODEL, conditions={"Bool": {"sagemaker:NetworkIsolation": "true"}, **scope.in_vpc})

    def images(self) -> list[Value]:
        return [self.image_uri]

    def extra(self) -> dict[str, Any]:
        return {"RetryPolicies": [p.to_json() for p in self.retry_policies]} if self.retry_policies else {}

    def arguments(self) -> dict[str, Any]:
        container: dict[str, Any] = {"Image": self.image_uri, "ModelDataUrl": self.model_data}
        if self.environment:
            container["Environment"] = self.environment
        return {
            "ExecutionRoleArn": self.job.role_arn,
            "PrimaryContainer": container,
            "EnableNetworkIsolation": self.job.network_isolation,
            "VpcConfig": self.job.vpc_config(),
        }

    @property
    def model_name(self) -> Property:
        return self.prop("ModelName")


__all__ = ["CreateModelStep"]
