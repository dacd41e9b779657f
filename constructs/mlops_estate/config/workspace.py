"""Typed settings of the ML workspace (Studio, personas, MLflow), hung on `EstateConfig.workspace`."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlops_estate.core.patterns import MANAGED_POLICY_ARN
from mlops_estate.core.validation import Problems, join
from mlops_estate.workspace.mlflow import MlflowConfig
from mlops_estate.workspace.studio import StudioConfig


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
