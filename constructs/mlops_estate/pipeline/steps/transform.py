"""Transform steps: a batch transform job that scores every record under an S3 prefix with a model.
"""

from __future__ import annotations

from typing import Any, Literal, Unpack

from mlops_estate.pipeline.expressions import Property, Value
from mlops_estate.pipeline.steps.base import STRING, JobEnvironment, JobStep, JobStepOptions


class TransformStep(JobStep):
    """A batch transform job: scores every record under ``input_s3_uri`` with a model."""

    type_name = "Transform"

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
        c = self._checks
        c.value("model_name", model_name, STRING)
        c.value("instance_type", instance_type, STRING)
        c.positive("instance_count", instance_count, 1, 100)
        c.s3("input_s3_uri", input_s3_uri)
        c.s3("output_path", output_path)
        if not 0 <= max_payload_mb <= 100:
            c.add(f"max_payload_mb {max_payload_mb} must lie in [0, 100]")
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
