"""Processing steps: a script or container entrypoint on a processing job, and the Model Monitor / Clarify checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Unpack

from mlops_estate.pipeline.expressions import JsonGet, Kind, Property, PropertyFile, Value, render
from mlops_estate.pipeline.steps.base import BOOLEAN, S3_URI, STRING, JobEnvironment, JobStep, JobStepOptions, _unique


@dataclass(frozen=True)
class ProcessingInput:
    """An S3 prefix (or file) downloaded to ``destination`` in the container before the job starts."""

    name: str
    source: Value
    destination: str

    def to_json(self) -> dict[str, Any]:
        return {
            "InputName": self.name,
            "S3Input": {
                "S3Uri": self.source,
                "LocalPath": self.destination,
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
                "S3CompressionType": "None",
            },
        }


@dataclass(frozen=True)
class ProcessingOutput:
    """A container folder uploaded to ``destination`` in S3 when the job ends."""

    name: str
    source: str
    destination: Value

    def to_json(self) -> dict[str, Any]:
        return {
            "OutputName": self.name,
            "S3Output": {"S3Uri": self.destination, "LocalPath": self.source, "S3UploadMode": "EndOfJob"},
        }


CODE_DIR = "/opt/ml/processing/input/code"


class ProcessingStep(JobStep):
    """A processing job: a script (``code``, an S3 URI of a .py file) or a container entrypoint."""

    type_name = "Processing"

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
        c = self._checks
        c.value("image_uri", image_uri, STRING)
        c.value("instance_type", instance_type, STRING)
        c.positive("instance_count", instance_count, 1, 100)
        c.positive("volume_size_gb", volume_size_gb, 1, 16384)
        c.positive("max_runtime_seconds", max_runtime_seconds, 1, 777600)
        self.inputs = list(inputs)
        self.entrypoint = list(entrypoint)
        if code is not None and entrypoint:
            c.add("give code (the script to run with python3) or an entrypoint, not both")
        elif code is not None:
            if not (S3_URI.match(code) or code.startswith("${Token")) or not code.endswith(".py"):
                c.add(f"code: {code!r} must be the S3 URI of a Python script (s3://bucket/path/script.py)")
            else:
                self.inputs.append(ProcessingInput("code", code, CODE_DIR))
                self.entrypoint = ["python3", f"{CODE_DIR}/{code.rsplit('/', 1)[-1]}"]
        if not self.entrypoint:
            c.add("give code (a script's S3 URI) or an entrypoint; the container needs something to run")
        for i, item in enumerate(self.entrypoint):
            c.value(f"entrypoint[{i}]", item, STRING)
        for i, item in enumerate(arguments):
            c.value(f"arguments[{i}]", item, STRING)
        for an_input in self.inputs:
            c.s3(f"inputs[{an_input.name}].source", an_input.source)
        for an_output in outputs:
            c.s3(f"outputs[{an_output.name}].destination", an_output.destination)
        for env_key, env_value in (environment or {}).items():
            c.value(f"environment[{env_key}]", env_value, STRING)
        _unique(c, "input", [i.name for i in self.inputs])
        _unique(c, "output", [o.name for o in outputs])
        _unique(c, "property file", [p.name for p in property_files])
        output_names = {o.name for o in outputs}
        for pf in property_files:
            if pf.output_name not in output_names:
                c.add(f"property file {pf.name!r} reads output {pf.output_name!r}, which this step does not have "
                      f"(outputs: {', '.join(sorted(output_names)) or 'none'})")
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
        if not isinstance(self, _CheckStep):
            self._done()  # check steps validate their own fields first, then raise once

    def property_files(self) -> list[PropertyFile]:
        return list(self._property_files)

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

class _CheckStep(ProcessingStep):
    """A Model Monitor / Clarify processing job whose result the pipeline records as a baseline or a drift check."""

    check_type = ""

    def __init__(
        self,
        name: str,
        *,
        check_type: str,
        allowed: Sequence[str],
        model_package_group: str,
        skip_check: Value = False,
        register_new_baseline: Value = False,
        supplied_baseline_constraints: Value | None = None,
        **processing: Any,
    ) -> None:
        self.check_type = check_type
        self.model_package_group = model_package_group
        self.skip_check = skip_check
        self.register_new_baseline = register_new_baseline
        self.supplied_baseline_constraints = supplied_baseline_constraints
        super().__init__(name, **processing)
        c = self._checks
        if check_type not in allowed:
            c.add(f"check_type {check_type!r} is not allowed; use one of {', '.join(allowed)}")
        c.value("skip_check", skip_check, BOOLEAN)
        c.value("register_new_baseline", register_new_baseline, BOOLEAN)
        c.s3("supplied_baseline_constraints", supplied_baseline_constraints)

    def extra(self) -> dict[str, Any]:
        out = super().extra()
        out.update({
            "CheckType": self.check_type,
            "ModelPackageGroupName": self.model_package_group,
            "SkipCheck": render(self.skip_check),
            "RegisterNewBaseline": render(self.register_new_baseline),
        })
        if self.supplied_baseline_constraints is not None:
            out["SuppliedBaselineConstraints"] = render(self.supplied_baseline_constraints)
        return out


class QualityCheckStep(_CheckStep):
    """A data or model quality check (the Model Monitor analyzer image) against a supplied or new baseline."""

    type_name = "QualityCheck"

    def __init__(
        self,
        name: str,
        *,
        check_type: Literal["DATA_QUALITY", "MODEL_QUALITY"],
        model_package_group: str,
        supplied_baseline_statistics: Value | None = None,
        **kwargs: Any,
    ) -> None:
        self.supplied_baseline_statistics = supplied_baseline_statistics
        super().__init__(name, check_type=check_type, allowed=("DATA_QUALITY", "MODEL_QUALITY"),
                         model_package_group=model_package_group, **kwargs)
        self._checks.s3("supplied_baseline_statistics", supplied_baseline_statistics)
        self._done()

    def extra(self) -> dict[str, Any]:
        out = super().extra()
        if self.supplied_baseline_statistics is not None:
            out["SuppliedBaselineStatistics"] = render(self.supplied_baseline_statistics)
        return out

    @property
    def calculated_statistics(self) -> Property:
        return self.prop("CalculatedBaselineStatistics")

    @property
    def calculated_constraints(self) -> Property:
        return self.prop("CalculatedBaselineConstraints")


class ClarifyCheckStep(_CheckStep):
    """A bias or explainability check (the Clarify image) driven by an analysis config among the inputs."""

    type_name = "ClarifyCheck"

    def __init__(
        self,
        name: str,
        *,
        check_type: Literal["DATA_BIAS", "MODEL_BIAS", "MODEL_EXPLAINABILITY"],
        model_package_group: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, check_type=check_type, allowed=("DATA_BIAS", "MODEL_BIAS", "MODEL_EXPLAINABILITY"),
                         model_package_group=model_package_group, **kwargs)
        self._done()

    @property
    def calculated_constraints(self) -> Property:
        return self.prop("CalculatedBaselineConstraints")


__all__ = ["ClarifyCheckStep", "ProcessingInput", "ProcessingOutput", "ProcessingStep", "QualityCheckStep"]
