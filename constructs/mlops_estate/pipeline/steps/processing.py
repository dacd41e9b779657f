"""Processing steps: a script or a container entrypoint on a processing job."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Unpack

from mlops_estate.pipeline.expressions import JsonGet, Kind, Property, PropertyFile, Value
from mlops_estate.pipeline.steps.base import JobEnvironment, JobStep, JobStepOptions
from mlops_estate.pipeline.steps.fields import (
    S3_URI,
    STRING,
    check_choice,
    check_instance_type,
    check_kind,
    check_range,
    check_s3_uri,
    check_unique,
    is_token,
)
from mlops_estate.pipeline.steps.permissions import JobSecurity, SageMakerJob, get

CODE_DIR = "/opt/ml/processing/input/code"
# Where a processing container reads inputs and writes outputs (CreateProcessingJob's LocalPath).
LOCAL_ROOT = "/opt/ml/processing/"


@dataclass(frozen=True)
class ProcessingInput:
    """An S3 prefix (or file), or the objects a manifest lists, downloaded into the container before the job starts.

    Attributes:
        name: the input's name, unique in the step.
        source: its S3 URI (a literal or an expression, e.g. an upstream step's output).
        destination: the container folder, under /opt/ml/processing/.
        data_type: ``S3Prefix`` (every object under ``source``) or ``ManifestFile`` (``source`` is a manifest:
            ``[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]``; only the objects it lists, e.g. one
            time window of a growing prefix).
    """

    name: str
    source: Value
    destination: str
    data_type: Literal["S3Prefix", "ManifestFile"] = "S3Prefix"

    def to_json(self) -> dict[str, Any]:
        return {
            "InputName": self.name,
            "S3Input": {
                "S3Uri": self.source,
                "LocalPath": self.destination,
                "S3DataType": self.data_type,
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
                "S3CompressionType": "None",
            },
        }


@dataclass(frozen=True)
class ProcessingOutput:
    """A container folder uploaded to S3 when the job ends.

    Attributes:
        name: the output's name, unique in the step (property files and ``output_uri`` refer to it).
        source: the container folder, under /opt/ml/processing/.
        destination: its S3 URI (a literal or an expression, e.g. a Join with the execution id).
    """

    name: str
    source: str
    destination: Value

    def to_json(self) -> dict[str, Any]:
        return {
            "OutputName": self.name,
            "S3Output": {"S3Uri": self.destination, "LocalPath": self.source, "S3UploadMode": "EndOfJob"},
        }


class ProcessingStep(JobStep):
    """A processing job in the pipeline's VPC, isolated and encrypted with the environment's key: a script
    (``code``, run with python3) or a container ``entrypoint``.

    Args:
        name: see `Step`.
        job: the `JobEnvironment` the job runs with.
        image_uri: the container image (an ECR image URI; a literal, so the job role can be scoped to it).
        instance_type: ``ml.<family>.<size>`` without local NVMe storage (the volume takes the environment's key);
            a literal or a String parameter.
        instance_count: 1 to 100 instances.
        volume_size_gb: 1 to 16384 GB per instance.
        code: the S3 URI of a Python script to run (give this or ``entrypoint``).
        entrypoint: the container entrypoint (give this or ``code``).
        arguments: arguments passed to the script or entrypoint.
        inputs: S3 data downloaded before the job starts.
        outputs: container folders uploaded to S3 when it ends.
        property_files: JSON files in the outputs that later steps read (`json_get`).
        environment: environment variables of the container.
        max_runtime_seconds: the job is stopped after this long, 1 to 777600.
        output_kms_key_id: the key of the outputs (default: the environment's key).
        **options: ``retry_policies``, ``cache``, ``depends_on``, ``display_name``, ``description`` (see `JobStep`).
    """

    type_name = "Processing"
    sagemaker_job: ClassVar[SageMakerJob] = SageMakerJob(
        "processing-job", "sagemaker:CreateProcessingJob", ("sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob"))

    def __init__(
        self,
        name: str,
        *,
        job: JobEnvironment,
        image_uri: Value,
        instance_type: Value,
        instance_count: Value = 1,
        volume_size_gb: Value = 30,
        code: str | None = None,
        entrypoint: Sequence[Value] = (),
        arguments: Sequence[Value] = (),
        inputs: Sequence[ProcessingInput] = (),
        outputs: Sequence[ProcessingOutput] = (),
        property_files: Sequence[PropertyFile] = (),
        environment: Mapping[str, Value] | None = None,
        max_runtime_seconds: Value = 3600,
        output_kms_key_id: str | None = None,
        **options: Unpack[JobStepOptions],
    ) -> None:
        super().__init__(name, job=job, **options)
        p = self._problems
        check_kind(p, "image_uri", image_uri, STRING)
        check_instance_type(p, "instance_type", instance_type, volume_key=True)
        check_range(p, "instance_count", instance_count, 1, 100)
        check_range(p, "volume_size_gb", volume_size_gb, 1, 16384)
        check_range(p, "max_runtime_seconds", max_runtime_seconds, 1, 777600)
        self.inputs = list(inputs)
        self.entrypoint = list(entrypoint)
        if code is not None and entrypoint:
            p.add("code", "give code (the script to run with python3) or an entrypoint, not both")
        elif code is not None:
            if not (S3_URI.match(code) or is_token(code)) or not code.endswith(".py"):
                p.add("code", f"{code!r} is not the S3 URI of a Python script; expected s3://bucket/path/script.py")
            else:
                self.inputs.append(ProcessingInput("code", code, CODE_DIR))
                self.entrypoint = ["python3", f"{CODE_DIR}/{code.rsplit('/', 1)[-1]}"]
        elif not self.entrypoint:
            p.add("code", "give code (a script's S3 URI) or an entrypoint; the container needs something to run")
        for i, item in enumerate(self.entrypoint):
            check_kind(p, f"entrypoint[{i}]", item, STRING)
        for i, item in enumerate(arguments):
            check_kind(p, f"arguments[{i}]", item, STRING)
        for an_input in self.inputs:
            check_s3_uri(p, f"inputs[{an_input.name}].source", an_input.source)
            check_choice(p, f"inputs[{an_input.name}].data_type", an_input.data_type, ("S3Prefix", "ManifestFile"))
            if not an_input.destination.startswith(LOCAL_ROOT):
                p.add(f"inputs[{an_input.name}].destination", f"{an_input.destination!r} is outside the container's "
                      f"processing folder; expected a path under {LOCAL_ROOT}")
        for an_output in outputs:
            check_s3_uri(p, f"outputs[{an_output.name}].destination", an_output.destination)
            if not an_output.source.startswith(LOCAL_ROOT):
                p.add(f"outputs[{an_output.name}].source", f"{an_output.source!r} is outside the container's "
                      f"processing folder; expected a path under {LOCAL_ROOT}")
        for env_key, env_value in (environment or {}).items():
            check_kind(p, f"environment[{env_key}]", env_value, STRING)
        check_unique(p, "inputs", [i.name for i in self.inputs])
        check_unique(p, "outputs", [o.name for o in outputs])
        check_unique(p, "property_files", [f.name for f in property_files])
        output_names = {o.name for o in outputs}
        for pf in property_files:
            if pf.output_name not in output_names:
                p.add(f"property_files[{pf.name}].output_name",
                      f"{pf.output_name!r} is not an output of this step; expected one of {', '.join(sorted(output_names)) or 'none'}")
        self.image_uri = image_uri
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.volume_size_gb = volume_size_gb
        self.container_arguments = list(arguments)
        self.outputs = list(outputs)
        self._property_files = list(property_files)
        self.environment = dict(environment or {})
        self.max_runtime_seconds = max_runtime_seconds
        self.output_kms_key_id = output_kms_key_id or job.kms_key_id
        self._done()

    def property_files(self) -> list[PropertyFile]:
        return list(self._property_files)

    def images(self) -> list[Value]:
        return [self.image_uri]

    @classmethod
    def job_security(cls, arguments: Mapping[str, Any]) -> JobSecurity | None:
        return JobSecurity(volume_kms_key=get(arguments, "ProcessingResources", "ClusterConfig", "VolumeKmsKeyId"),
                           output_kms_key=get(arguments, "ProcessingOutputConfig", "KmsKeyId"),
                           network=get(arguments, "NetworkConfig") or {})

    def extra(self) -> dict[str, Any]:
        out = super().extra()
        if self._property_files:
            out["PropertyFiles"] = [p.declaration() for p in self._property_files]
        return out

    def arguments(self) -> dict[str, Any]:
        app: dict[str, Any] = {"ImageUri": self.image_uri, "ContainerEntrypoint": self.entrypoint}
        if self.container_arguments:
            app["ContainerArguments"] = self.container_arguments
        args: dict[str, Any] = {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": self.instance_type,
                    "InstanceCount": self.instance_count,
                    "VolumeSizeInGB": self.volume_size_gb,
                    "VolumeKmsKeyId": self.job.kms_key_id,
                }
            },
            "AppSpecification": app,
            "RoleArn": self.job.role_arn,
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_runtime_seconds},
            "NetworkConfig": {
                "EnableNetworkIsolation": self.job.network_isolation,
                "EnableInterContainerTrafficEncryption": self.job.inter_container_encryption,
                "VpcConfig": self.job.vpc_config(),
            },
        }
        if self.inputs:
            args["ProcessingInputs"] = [i.to_json() for i in self.inputs]
        if self.outputs:
            args["ProcessingOutputConfig"] = {"Outputs": [o.to_json() for o in self.outputs], "KmsKeyId": self.output_kms_key_id}
        if self.environment:
            args["Environment"] = self.environment
        return args

    def output_uri(self, output_name: str) -> Property:
        """The S3 URI an output was uploaded to."""
        if output_name not in {o.name for o in self.outputs}:
            raise ValueError(f"step {self.name!r} has no output {output_name!r} (outputs: {', '.join(o.name for o in self.outputs)})")
        return self.prop(f"ProcessingOutputConfig.Outputs['{output_name}'].S3Output.S3Uri")

    def json_get(self, property_file: PropertyFile | str, json_path: str, kind: Kind = "Float") -> JsonGet:
        """A value from one of this step's property files, e.g. ``json_get("Evaluation", "metrics.auc.value")``."""
        name = property_file if isinstance(property_file, str) else property_file.name
        for pf in self._property_files:
            if pf.name == name:
                return JsonGet(self.name, pf, json_path, kind)
        raise ValueError(f"step {self.name!r} declares no property file {name!r}")


__all__ = ["ProcessingInput", "ProcessingOutput", "ProcessingStep"]
