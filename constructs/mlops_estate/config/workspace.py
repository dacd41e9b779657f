"""Typed settings of the ML workspace (Studio, personas, MLflow), hung on `EstateConfig.workspace`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from mlops_estate.core.validation import Problems, join

# SageMaker limits (AWS::SageMaker::Domain IdleSettings and DefaultEbsStorageSettings).
IDLE_MINUTES = (60, 525600)
EBS_GB = (5, 16384)
MLFLOW_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
MAINTENANCE_WINDOW = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]\d|2[0-3]):([0-5]\d)$")
MANAGED_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]{1,512}$")

TrackingServerSize = Literal["Small", "Medium", "Large"]


def _within(path: str, value: int, bounds: tuple[int, int], unit: str, problems: Problems) -> bool:
    low, high = bounds
    if not low <= value <= high:
        problems.add(path, f"{value} is out of range; SageMaker allows {low} to {high} {unit}")
        return False
    return True


@dataclass(frozen=True)
class StudioConfig:
    """Studio apps shut down after ``idle_timeout_minutes`` without activity; users may pick up to the max."""

    idle_timeout_minutes: int = 120
    max_idle_timeout_minutes: int = 480
    default_ebs_gb: int = 20
    max_ebs_gb: int = 100

    def check(self, path: str, problems: Problems) -> None:
        idle = join(path, "idle_timeout_minutes")
        max_idle = join(path, "max_idle_timeout_minutes")
        ok = _within(idle, self.idle_timeout_minutes, IDLE_MINUTES, "minutes", problems)
        ok &= _within(max_idle, self.max_idle_timeout_minutes, IDLE_MINUTES, "minutes", problems)
        if ok and self.max_idle_timeout_minutes < self.idle_timeout_minutes:
            problems.add(max_idle, f"{self.max_idle_timeout_minutes} is below idle_timeout_minutes {self.idle_timeout_minutes}")
        ebs, max_ebs = join(path, "default_ebs_gb"), join(path, "max_ebs_gb")
        ok = _within(ebs, self.default_ebs_gb, EBS_GB, "GiB", problems)
        ok &= _within(max_ebs, self.max_ebs_gb, EBS_GB, "GiB", problems)
        if ok and self.max_ebs_gb < self.default_ebs_gb:
            problems.add(max_ebs, f"{self.max_ebs_gb} is below default_ebs_gb {self.default_ebs_gb}")


@dataclass(frozen=True)
class MlflowConfig:
    """The managed MLflow tracking server of the build account."""

    size: TrackingServerSize = "Small"
    version: str = "3.0"
    automatic_model_registration: bool = True
    # Weekly, in UTC: Mon|Tue|Wed|Thu|Fri|Sat|Sun:HH:MM.
    maintenance_window: str = "Sun:03:00"

    def check(self, path: str, problems: Problems) -> None:
        if not MLFLOW_VERSION.match(self.version):
            problems.add(join(path, "version"), f"{self.version!r} is not an MLflow version like 3.0 or 2.16.2")
        if not MAINTENANCE_WINDOW.match(self.maintenance_window):
            problems.add(
                join(path, "maintenance_window"),
                f"{self.maintenance_window!r} is not a weekly UTC window start like Sun:03:00 (Mon..Sun:HH:MM)",
            )


@dataclass(frozen=True)
class WorkspaceConfig:
    """The ML workspace of the build account: Studio, the persona roles and MLflow."""

    studio: StudioConfig = field(default_factory=StudioConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    # A managed policy every persona role is bounded by (e.g. the organisation's developer boundary).
    permissions_boundary_arn: str | None = None

    def check(self, path: str, problems: Problems) -> None:
        arn = self.permissions_boundary_arn
        if arn is not None and not MANAGED_POLICY_ARN.match(arn):
            problems.add(
                join(path, "permissions_boundary_arn"),
                f"{arn!r} is not a managed policy ARN like arn:aws:iam::123456789012:policy/ml-boundary",
            )
