"""Register steps: a model package version in a model package group (a registry), with its metrics reports."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol, Unpack

from aws_cdk import Arn, ArnComponents, ArnFormat
from aws_cdk import aws_iam as iam

from mlops_estate.core.patterns import SAGEMAKER_NAME
from mlops_estate.pipeline.expressions import Expression, Property, Value
from mlops_estate.pipeline.steps.base import ApprovalStatus, RetryPolicy, Step, StepOptions
from mlops_estate.pipeline.steps.fields import STRING, check_choice, check_instance_type, check_kind, check_s3_uri, is_token
from mlops_estate.pipeline.steps.permissions import PipelineRoleScope, RoleGrant

GROUP_ARN = re.compile(r"^arn:[a-z-]+:sagemaker:[a-z0-9-]+:\d{12}:model-package-group/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
GROUP_FORM = "a model package group name (up to 63 letters, digits and single hyphens) or the group's ARN"
PENDING_APPROVAL = "PendingManualApproval"
APPROVAL_STATUSES = (PENDING_APPROVAL, "Approved", "Rejected")
VERSIONS_REASON = (
    "The registry numbers a group's model package versions when they are created; the role may create and describe "
    "versions of exactly the groups this definition registers in."
)


class ModelPackageGroupRef(Protocol):
    """A model package group as a construct holds it (e.g. `ModelPackageGroup`): its name and ARN."""

    @property
    def model_package_group_name(self) -> str: ...

    @property
    def model_package_group_arn(self) -> str: ...


@dataclass(frozen=True)
class MetricsSource:
    """A metrics report in S3 attached to a model package.

    Attributes:
        s3_uri: the report's S3 URI (a literal or an expression, e.g. a Join with an evaluation output).
        content_type: its MIME type.
    """

    s3_uri: Value
    content_type: str = "application/json"

    def to_json(self) -> dict[str, Any]:
        return {"ContentType": self.content_type, "S3Uri": self.s3_uri}


@dataclass(frozen=True)
class ModelMetrics:
    """The reports a model package version carries (each optional).

    Attributes:
        model_statistics: model quality statistics (e.g. the evaluation report).
        model_constraints: model quality constraints.
        data_statistics: data quality statistics.
        data_constraints: data quality constraints.
        bias_report: a Clarify bias report.
        explainability_report: a Clarify explainability report.
    """

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
        return [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None]


class RegisterModelStep(Step):
    """A model package version in a group, which may live in another account. New versions wait for a human
    (``PendingManualApproval``) unless told otherwise. The pipeline role may register in exactly this group, and
    only with this step's approval status (`TrainingPipeline` accepts only ``PendingManualApproval``).

    Args:
        name: see `Step`.
        model_package_group: the group: a construct holding it (anything with ``model_package_group_name`` and
            ``model_package_group_arn``, such as `ModelPackageGroup`), its ARN (required for a group in another
            account), or its name (a group of the pipeline's account and region).
        image_uri: the inference image.
        model_data: the S3 URI of the model artifact (e.g. a `TrainingStep`'s ``model_artifacts``).
        content_types: the MIME types the model accepts (at least one).
        response_types: the MIME types it answers with (at least one).
        realtime_instance_types: instance types it may be served on (``ml.<family>.<size>``).
        transform_instance_types: instance types it may score batches on.
        approval_status: ``PendingManualApproval``, ``Approved`` or ``Rejected`` (or a String parameter).
        model_metrics: reports attached to the version (`ModelMetrics`).
        package_description: the version's description, up to 1024 characters.
        retry_policies: retries on ``Step.*`` failures (default: none).
        **options: ``depends_on``, ``display_name``, ``description`` (see `Step`).
    """

    type_name = "RegisterModel"

    def __init__(
        self,
        name: str,
        *,
        model_package_group: str | ModelPackageGroupRef,
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
        p = self._problems
        self._check_group(model_package_group)
        check_kind(p, "image_uri", image_uri, STRING)
        check_s3_uri(p, "model_data", model_data)
        check_kind(p, "approval_status", approval_status, STRING)
        if isinstance(approval_status, str):
            check_choice(p, "approval_status", approval_status, APPROVAL_STATUSES)
        for path, types in (("content_types", content_types), ("response_types", response_types)):
            if not types or not all(types):
                p.add(path, f"{list(types)!r} needs at least one MIME type, none empty")
        for path, types in (("realtime_instance_types", realtime_instance_types), ("transform_instance_types", transform_instance_types)):
            for i, instance_type in enumerate(types):
                check_instance_type(p, f"{path}[{i}]", instance_type, volume_key=False)
        for label, source in (model_metrics.sources() if model_metrics else []):
            check_s3_uri(p, f"model_metrics.{label}.s3_uri", source.s3_uri)
        if len(package_description) > 1024:
            p.add("package_description", f"is {len(package_description)} characters; at most 1024 are allowed")
        for i, policy in enumerate(retry_policies):
            policy.check(p, f"retry_policies[{i}]", job_step=False)
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

    def _check_group(self, group: str | ModelPackageGroupRef) -> None:
        p = self._problems
        if isinstance(group, str):
            if not group:
                p.add("model_package_group", f"{group!r} is empty; expected {GROUP_FORM}")
            elif not is_token(group) and not (GROUP_ARN.match(group) if group.startswith("arn:") else SAGEMAKER_NAME.match(group)):
                p.add("model_package_group", f"{group!r} is not {GROUP_FORM}")
            return
        for attribute in ("model_package_group_name", "model_package_group_arn"):
            value = getattr(group, attribute, None)
            if not isinstance(value, str) or not value:
                p.add(f"model_package_group.{attribute}", f"{value!r} is not a name or ARN; expected a group construct "
                      "(e.g. ModelPackageGroup), its ARN or its name")

    def _group_arns(self, scope: PipelineRoleScope) -> tuple[str, str]:
        """The group's ARN and the ARN pattern of its versions (``model-package/<group>/<version>``)."""
        group = self.model_package_group
        if isinstance(group, str) and not group.startswith("arn:"):  # a name: a group of the pipeline's account and region
            return scope.sagemaker_arn("model-package-group", group), scope.sagemaker_arn("model-package", f"{group}/*")
        arn = group if isinstance(group, str) else group.model_package_group_arn
        if ":model-package-group/" in arn:  # a literal ARN, or one built from tokens around the literal resource type
            prefix, group_name = arn.split(":model-package-group/", 1)
            return arn, f"{prefix}:model-package/{group_name}/*"
        # An opaque token (a resource attribute): the versions live in the group's account and region.
        name = group if isinstance(group, str) else group.model_package_group_name
        parts = Arn.split(arn, ArnFormat.SLASH_RESOURCE_NAME)
        return arn, Arn.format(ArnComponents(
            partition=parts.partition, service="sagemaker", region=parts.region, account=parts.account,
            resource="model-package", resource_name=f"{name}/*"))

    def pipeline_role_grant(self, scope: PipelineRoleScope) -> RoleGrant | None:
        group, versions = self._group_arns(scope)
        # Versions are created only with the status this step asks for (any of them when a parameter decides).
        status = self.approval_status
        statuses: str | list[str] = status if isinstance(status, str) else list(APPROVAL_STATUSES)
        return RoleGrant(
            statements=(
                iam.PolicyStatement(actions=["sagemaker:DescribeModelPackageGroup"], resources=[group]),
                iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage", "sagemaker:AddTags"], resources=[versions]),
                iam.PolicyStatement(actions=["sagemaker:CreateModelPackage"], resources=[versions],
                                    conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": statuses}}),
            ),
            wildcard_reason=VERSIONS_REASON,
        )

    def extra(self) -> dict[str, Any]:
        return {"RetryPolicies": [p.to_json() for p in self.retry_policies]} if self.retry_policies else {}

    def arguments(self) -> dict[str, Any]:
        group = self.model_package_group
        args: dict[str, Any] = {
            # CreateModelPackage takes a group's name or ARN here; a group construct is named by its ARN, which
            # holds wherever the group lives.
            "ModelPackageGroupName": group if isinstance(group, str) else group.model_package_group_arn,
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


__all__ = ["MetricsSource", "ModelMetrics", "ModelPackageGroupRef", "PENDING_APPROVAL", "RegisterModelStep"]
