"""Model steps: a SageMaker model (CreateModel) and a model package version in a registry group (RegisterModel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Unpack

from mlops_estate.pipeline.expressions import Expression, Property, Value
from mlops_estate.pipeline.steps.base import STRING, ApprovalStatus, JobEnvironment, RetryPolicy, Step, StepOptions


class CreateModelStep(Step):
    """A SageMaker model (for batch transform), VPC-bound and network-isolated like the jobs."""

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
        self._checks.value("image_uri", image_uri, STRING)
        self._checks.s3("model_data", model_data)
        for env_key, env_value in (environment or {}).items():
            self._checks.value(f"environment[{env_key}]", env_value, STRING)
        for policy in retry_policies:
            policy.check(self._checks, job_step=False)
        self.job = job
        self.image_uri = image_uri
        self.model_data = model_data
        self.environment = dict(environment or {})
        self.retry_policies = list(retry_policies)
        self._done()

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


@dataclass(frozen=True)
class MetricsSource:
    """A metrics report in S3 attached to a model package."""

    s3_uri: Value
    content_type: str = "application/json"

    def to_json(self) -> dict[str, Any]:
        return {"ContentType": self.content_type, "S3Uri": self.s3_uri}


@dataclass(frozen=True)
class ModelMetrics:
    model_statistics: MetricsSource | None = None
    model_constraints: MetricsSource | None = None
    data_statistics: MetricsSource | None = None
    data_constraints: MetricsSource | None = None
    bias_report: MetricsSource | None = None
    explainability_report: MetricsSource | None = None

    def to_json(self) -> dict[str, Any]:
        def pair(stats: MetricsSource | None, cons: MetricsSource | None) -> dict[str, Any] | None:
            out = {k: v.to_json() for k, v in (("Statistics", stats), ("Constraints", cons)) if v is not None}
            return out or None

        result = {
            "ModelQuality": pair(self.model_statistics, self.model_constraints),
            "ModelDataQuality": pair(self.data_statistics, self.data_constraints),
            "Bias": {"Report": self.bias_report.to_json()} if self.bias_report else None,
            "Explainability": {"Report": self.explainability_report.to_json()} if self.explainability_report else None,
        }
        return {k: v for k, v in result.items() if v is not None}

    def sources(self) -> list[tuple[str, MetricsSource]]:
        return [(f.name, getattr(self, f.name)) for f in self.__dataclass_fields__.values() if getattr(self, f.name) is not None]


class RegisterModelStep(Step):
    """A model package version in a group (which may live in another account: pass the group's ARN).

    New versions wait for a human (``PendingManualApproval``) unless told otherwise.
    """

    type_name = "RegisterModel"

    def __init__(
        self,
        name: str,
        *,
        model_package_group: str,
        image_uri: Value,
        model_data: Value,
        content_types: Sequence[str] = ("text/csv",),
        response_types: Sequence[str] = ("text/csv",),
        realtime_instance_types: Sequence[str] = ("ml.m5.large",),
        transform_instance_types: Sequence[str] = ("ml.m5.large",),
        approval_status: ApprovalStatus | Expression = "PendingManualApproval",
        model_metrics: ModelMetrics | None = None,
        package_description: str = "",
        retry_policies: Sequence[RetryPolicy] = (),
        **options: Unpack[StepOptions],
    ) -> None:
        super().__init__(name, **options)
        c = self._checks
        if not model_package_group:
            c.add("model_package_group is required (a group name, or its ARN for a group in another account)")
        c.value("image_uri", image_uri, STRING)
        c.s3("model_data", model_data)
        c.value("approval_status", approval_status, STRING)
        if isinstance(approval_status, str) and approval_status not in ("PendingManualApproval", "Approved", "Rejected"):
            c.add(f"approval_status {approval_status!r} is not allowed; use PendingManualApproval, Approved or Rejected")
        if not content_types or not response_types:
            c.add("content_types and response_types must name at least one MIME type each")
        for label, source in (model_metrics.sources() if model_metrics else []):
            c.s3(f"model_metrics.{label}", source.s3_uri)
        for policy in retry_policies:
            policy.check(c, job_step=False)
        self.model_package_group = model_package_group
        self.image_uri = image_uri
        self.model_data = model_data
        self.content_types = list(content_types)
        self.response_types = list(response_types)
        self.realtime_instance_types = list(realtime_instance_types)
        self.transform_instance_types = list(transform_instance_types)
        self.approval_status = approval_status
        self.model_metrics = model_metrics
        self.package_description = package_description
        self.retry_policies = list(retry_policies)
        self._done()

    def extra(self) -> dict[str, Any]:
        return {"RetryPolicies": [p.to_json() for p in self.retry_policies]} if self.retry_policies else {}

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "ModelPackageGroupName": self.model_package_group,
            "InferenceSpecification": {
                "Containers": [{"Image": self.image_uri, "ModelDataUrl": self.model_data}],
                "SupportedContentTypes": self.content_types,
                "SupportedResponseMIMETypes": self.response_types,
                "SupportedRealtimeInferenceInstanceTypes": self.realtime_instance_types,
                "SupportedTransformInstanceTypes": self.transform_instance_types,
            },
            "ModelApprovalStatus": self.approval_status,
        }
        if self.model_metrics is not None:
            args["ModelMetrics"] = self.model_metrics.to_json()
        if self.package_description:
            args["ModelPackageDescription"] = self.package_description
        return args

    @property
    def model_package_arn(self) -> Property:
        return self.prop("ModelPackageArn")


__all__ = ["CreateModelStep", "MetricsSource", "ModelMetrics", "RegisterModelStep"]
