"""Per-model Model Monitor settings of the estate file (``models[].monitoring``).

The settings are `mlops_estate.monitoring.props.MonitoringProps` (the props of `ModelMonitor`, validated there);
the estate adds which estate account owns the baseline and ground-truth buckets, by role, and names each serving
account's monitors of a model ``<estate>-<model>-<stg|prd>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops_estate.config.governance import GovernedRole
from mlops_estate.monitoring.props import MonitoringProps

# How a serving environment appears in the names of its monitors.
ENV_ABBREVIATION: dict[str, str] = {"staging": "stg", "prod": "prd"}


@dataclass(frozen=True)
class MonitoringConfig(MonitoringProps):
    """Model Monitor for one model's endpoints (staging and prod): `MonitoringProps` plus the bucket owners.

    Attributes:
        baselines_account: the estate account (by role, e.g. ``ml_dev``) owning the baseline buckets; default the
            serving account itself. The monitor role reads them only in that account (``s3:ResourceAccount``).
        ground_truth_account: the estate account owning the ground-truth bucket; default the serving account.
    """

    baselines_account: GovernedRole | None = None
    ground_truth_account: GovernedRole | None = None


def monitor_name_prefix(estate_name: str, model: str, environment: str) -> str:
    """``<estate>-<model>-<stg|prd>``: what a serving account's monitors of a model are named after."""
    return f"{estate_name}-{model}-{ENV_ABBREVIATION[environment]}"
