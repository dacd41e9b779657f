"""Transform steps: a batch transform job that scores every record under an S3 prefix with a model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Unpack

from mlops_estate.pipeline.expressions import Property, Value
from mlops_estate.pipeline.steps.base import JobEnvironment, JobStep, JobStepOptions
from mlops_estate.pipeline.steps.fields import STRING, check_choice, check_instance_type, check_kind, check_range, check_s3_uri
from mlops_estate.pipeline.steps.permissions import JobSecurity, PipelineRoleScope, SageMakerJob, get


class TransformStep(JobStep):
    """A batch transform job: scores every record under ``input_s3_uri`` with a model, volumes and output encrypted
    with the environment's key (the job runs in its model's VPC and isolation).

    Args:
        name: see `Step`.
        job: the `JobEnvironment` (its key encrypts the volumes and the output).
        model_name: the model to score with (e.g. a `CreateModelStep`'s ``model_name``).
        instance_type: ``ml.<family>.<size>`` without local NVMe storage; a literal or a String parameter.
        input_s3_uri: the S3 prefix of the records.
        output_path: where the scored records go (S3).
        instance_count: 1 to 100 instances.
        content_type: the MIME type of the records.
        split_type: how a file splits into records: ``None``, ``Line``, ``RecordIO`` or ``TFRecord``.
        accept: the MIME type of the output.
        assemble_with: how output records join: ``None`` or ``Line``.
        batch_strategy: ``MultiRecord`` or ``SingleRecord`` per request.
        max_payload_mb: the largest request, 0 to 100 MB.
        **options: ``retry_policies``, ``cache``, ``depends_on``, ``display_name``, ``description`` (see `JobStep`).
    """

    type_name = "Transform"
    sagemaker_job: ClassVar[SageMakerJob] = SageMakerJob(
        "transform-job", "sagemaker:CreateTransformJob", ("sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob"))

    def __init__(
        self,
        name: str,
        *,
        job: JobEnvironment,
        model_name: Value,
        instance_type: Value,
        input_s3_uri: Value,
        output_path: Value,
        instance_count: Value = 1,
        content_type: str = "text/csv",
        split_type: Literal["None", "Line", "RecordIO", "TFRecord"] = "Line",
        accept: str = "text/csv",
        assemble_with: Literal["None", "Line"] = "Line",
        batch_strategy: Literal["MultiRecord", "SingleRecord"] = "MultiRecord",
        max_payload_mb: int = 6,
        **options: Unpack[JobStepOptions],
    ) -> None:
        super().__init__(name, job=job, **options)
        p = self._problems
        check_kind(p, "model_name", model_name, STRING)
        check_instance_type(p, "instance_type", instance_type, volume_key=True)
        check_range(p, "instance_count", instance_count, 1, 100)
        check_s3_uri(p, "input_s3_uri", input_s3_uri)
        check_s3_uri(p, "output_path", output_path)
        check_choice(p, "split_type", split_type, ("None", "Line", "RecordIO", "TFRecord"))
        check_choice(p, "assemble_with", assemble_with, ("None", "Line"))
        check_choice(p, "batch_strategy", batch_strategy, ("MultiRecord", "SingleRecord"))
        check_range(p, "max_payload_mb", max_payload_mb, 0, 100)
        for path, mime in (("content_type", content_type), ("accept", accept)):
            if not mime:
                p.add(path, f"{mime!r} is empty; expected a MIME type like text/csv")
        self.job = job
        self.model_name = model_name
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.input_s3_uri = input_s3_uri
        self.output_path = output_path
        self.content_type = content_type
        self.split_type = split_type
        self.accept = accept
        self.assemble_with = assemble_with
        self.batch_strategy = batch_strategy
        self.max_payload_mb = max_payload_mb
        self._done()

    def create_conditions(self, scope: PipelineRoleScope) -> Mapping[str, Any] | None:
        return None  # the request has no VPC or isolation of its own: the model it names has them

    @classmethod
    def job_security(cls, arguments: Mapping[str, Any]) -> JobSecurity | None:
        return JobSecurity(volume_kms_key=get(arguments, "TransformResources", "VolumeKmsKeyId"),
                           output_kms_key=get(arguments, "TransformOutput", "KmsKeyId"), network=None)

    def arguments(self) -> dict[str, Any]:
        return {
            "ModelName": self.model_name,
            "BatchStrategy": self.batch_strategy,
            "MaxPayloadInMB": self.max_payload_mb,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": self.input_s3_uri}},
                "ContentType": self.content_type,
                "SplitType": self.split_type,
            },
            "TransformOutput": {
                "S3OutputPath": self.output_path,
                "Accept": self.accept,
                "AssembleWith": self.assemble_with,
                "KmsKeyId": self.job.kms_key_id,
            },
            "TransformResources": {
                "InstanceCount": self.instance_count,
                "InstanceType": self.instance_type,
                "VolumeKmsKeyId": self.job.kms_key_id,
            },
        }

    @property
    def output_uri(self) -> Property:
        return self.prop("TransformOutput.S3OutputPath")


__all__ = ["TransformStep"]
