"""Distributed training: how a training job spreads over ``instance_count`` instances.

Two layers, as in the SageMaker Python SDK:

- **The data**: each S3 channel is ``FullyReplicated`` (every instance downloads all of it) or
  ``ShardedByS3Key`` (each instance gets a disjoint share of the objects). This is how the built-in
  algorithms (XGBoost, ...) distribute: set ``instance_count`` > 1 and shard the training channel.
- **The launcher** of a framework (script-mode) container: a `Distribution` becomes the hyperparameters the
  SDK's estimators set (``sagemaker_*_enabled`` and friends), which the SageMaker training toolkit in the
  framework images reads to start the processes. Values are JSON-encoded like the SDK does.

What is rejected here (each problem naming the field, the value and what is allowed):
a strategy that needs several instances with one (parameter server; MPI with one process per host), SMDDP
on an instance type it does not support, torch_distributed off GPU/Trainium, any launcher other than
torch_distributed on Trainium, and sharding a channel across one instance.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from mlops_estate.pipeline.expressions import Expression, Parameter, Value

Strategy = Literal["parameter_server", "mpi", "smdistributed_dataparallel", "pytorchddp", "torch_distributed"]
STRATEGIES: tuple[str, ...] = ("parameter_server", "mpi", "smdistributed_dataparallel", "pytorchddp", "torch_distributed")
S3Distribution = Literal["FullyReplicated", "ShardedByS3Key"]

# Hyperparameter names, as the SDK's Framework / PyTorch estimators name them (sagemaker/estimator.py,
# sagemaker/pytorch/estimator.py) and the SageMaker training toolkit reads them.
PARAMETER_SERVER = "sagemaker_parameter_server_enabled"
MPI = "sagemaker_mpi_enabled"
MPI_PROCESSES_PER_HOST = "sagemaker_mpi_num_of_processes_per_host"
MPI_CUSTOM_OPTIONS = "sagemaker_mpi_custom_mpi_options"
SMDDP = "sagemaker_distributed_dataparallel_enabled"
SMDDP_CUSTOM_OPTIONS = "sagemaker_distributed_dataparallel_custom_mpi_options"
PYTORCH_DDP = "sagemaker_pytorch_ddp_enabled"
TORCH_DISTRIBUTED = "sagemaker_torch_distributed_enabled"
INSTANCE_TYPE = "sagemaker_instance_type"
RESERVED = (PARAMETER_SERVER, MPI, MPI_PROCESSES_PER_HOST, MPI_CUSTOM_OPTIONS, SMDDP, SMDDP_CUSTOM_OPTIONS, PYTORCH_DDP,
            TORCH_DISTRIBUTED, INSTANCE_TYPE)

# The instance types the SageMaker distributed data parallel library (SMDDP) runs on: the SDK's
# SM_DATAPARALLEL_SUPPORTED_INSTANCE_TYPES (sagemaker/fw_utils.py), without its local-mode entry.
SMDDP_INSTANCE_TYPES: tuple[str, ...] = ("ml.p3.16xlarge", "ml.p3dn.24xlarge", "ml.p4d.24xlarge", "ml.p4de.24xlarge")
# Instance types with a single GPU: the SDK's SINGLE_GPU_INSTANCE_TYPES plus the one-GPU g4dn / g5 sizes (EC2
# accelerated computing specifications). One such instance gives a data-parallel launcher one worker.
SINGLE_GPU_INSTANCE_TYPES: frozenset[str] = frozenset({
    "ml.p2.xlarge", "ml.p3.2xlarge",
    *(f"ml.g4dn.{size}" for size in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")),
    *(f"ml.g5.{size}" for size in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")),
})
_FAMILY = re.compile(r"^ml\.([a-z0-9]+)\.")


def literal(value: Value | None) -> Any:
    """The value a field has when the pipeline runs without overrides: a literal, or a parameter's default;
    None when only the execution knows (a step property, a Join)."""
    if isinstance(value, Parameter):
        return value.default
    if isinstance(value, Expression):
        return None
    return value


def _family(instance_type: str) -> str:
    m = _FAMILY.match(instance_type)
    return m.group(1) if m else ""


def is_gpu(instance_type: str) -> bool:
    """p* and g* families, as the SDK's _is_gpu_instance decides."""
    return _family(instance_type).startswith(("p", "g"))


def is_trainium(instance_type: str) -> bool:
    return _family(instance_type).startswith("trn")


@dataclass(frozen=True)
class Distribution:
    """The launcher of a framework container.

    Attributes:
        strategy: ``parameter_server``, ``mpi``, ``smdistributed_dataparallel``, ``pytorchddp`` or ``torch_distributed``.
        processes_per_host: processes per instance (MPI only; usually the instance type's GPU count), 1 to 64.
        custom_mpi_options: passed to mpirun as is (MPI and SMDDP only).
    """

    strategy: Strategy
    processes_per_host: int | None = None
    custom_mpi_options: str = ""

    def problems(self, instance_type: Value, instance_count: Value) -> list[str]:
        """Every reason this launcher cannot run on ``instance_count`` x ``instance_type`` (literals or parameter
        defaults), each naming the field of the distribution (``strategy``, ``processes_per_host``, ...) first."""
        out: list[str] = []
        where = f"strategy {self.strategy!r}"
        if self.strategy not in STRATEGIES:
            return [f"{where} is not allowed; use one of {', '.join(STRATEGIES)}"]
        count, itype = literal(instance_count), literal(instance_type)
        if self.processes_per_host is not None:
            if self.strategy != "mpi":
                out.append(f"processes_per_host is for the 'mpi' strategy only, not {self.strategy!r}")
            elif not 1 <= self.processes_per_host <= 64:
                out.append(f"processes_per_host {self.processes_per_host} must lie in [1, 64]")
        if self.custom_mpi_options and self.strategy not in ("mpi", "smdistributed_dataparallel"):
            out.append(f"custom_mpi_options is for the 'mpi' and 'smdistributed_dataparallel' strategies, not {self.strategy!r}")
        if count == 1:
            if self.strategy == "parameter_server":
                out.append(f"{where} with instance_count 1: a parameter server needs at least 2 instances")
            if self.strategy == "mpi" and (self.processes_per_host or 1) <= 1:
                out.append(f"{where} with instance_count 1 and one process per host starts a single process; "
                           "use instance_count > 1 or processes_per_host > 1")
            if self.strategy in ("pytorchddp", "torch_distributed") and itype in SINGLE_GPU_INSTANCE_TYPES:
                out.append(f"{where} with instance_count 1 on the single-GPU instance_type {itype!r} starts one worker; "
                           "use instance_count > 1 or a multi-GPU instance type")
        if isinstance(itype, str):
            if self.strategy == "smdistributed_dataparallel" and itype not in SMDDP_INSTANCE_TYPES:
                out.append(f"{where} does not run on instance_type {itype!r}; SMDDP supports {', '.join(SMDDP_INSTANCE_TYPES)}")
            if self.strategy == "torch_distributed" and not (is_gpu(itype) or is_trainium(itype)):
                out.append(f"{where} needs a GPU (ml.p*, ml.g*) or Trainium (ml.trn*) instance_type, not {itype!r}")
            if is_trainium(itype) and self.strategy != "torch_distributed":
                out.append(f"{where} is not supported on Trainium instance_type {itype!r}; use 'torch_distributed'")
        return out

    def hyperparameters(self, instance_type: Value) -> dict[str, Value]:
        """The hyperparameters the SDK sets for this launcher (JSON-encoded literals; a parameter passes through)."""
        def encoded(value: Any) -> Value:
            return value if isinstance(value, Expression) else json.dumps(value)

        if self.strategy == "parameter_server":
            return {PARAMETER_SERVER: "true"}
        if self.strategy == "mpi":
            out: dict[str, Value] = {MPI: "true"}
            if self.processes_per_host:
                out[MPI_PROCESSES_PER_HOST] = encoded(self.processes_per_host)
            out[MPI_CUSTOM_OPTIONS] = encoded(self.custom_mpi_options)
            return out
        if self.strategy == "smdistributed_dataparallel":
            return {SMDDP: "true", INSTANCE_TYPE: encoded(instance_type), SMDDP_CUSTOM_OPTIONS: encoded(self.custom_mpi_options)}
        key = PYTORCH_DDP if self.strategy == "pytorchddp" else TORCH_DISTRIBUTED
        return {key: "true", INSTANCE_TYPE: encoded(instance_type)}


__all__ = ["Distribution", "S3Distribution", "SMDDP_INSTANCE_TYPES", "STRATEGIES", "Strategy", "is_gpu", "is_trainium", "literal"]
