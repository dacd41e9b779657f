"""The workspace settings (estate.workspace): defaults, every kind of bad value reported with its path."""

from __future__ import annotations

import pytest

from mlops_estate.config.estate import EstateConfig
from mlops_estate.core.validation import ConfigError
from mlops_estate.config.workspace import WorkspaceConfig
from mlops_estate.workspace.mlflow import MlflowConfig
from mlops_estate.workspace.studio import StudioConfig
from tests.helpers import default_estate_dict


def _problems(workspace: dict) -> list[str]:
    data = default_estate_dict()
    data["workspace"] = workspace
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(data, "test")
    return failure.value.problems


def test_default_estate_configures_the_workspace():
    config = EstateConfig.from_dict(default_estate_dict(), "test")
    assert config.workspace.mlflow == MlflowConfig(size="Small", version="3.0", automatic_model_registration=True,
                                                   maintenance_window="Sun:03:00")
    assert config.workspace.studio.idle_timeout_minutes == 120


def test_workspace_is_optional():
    data = default_estate_dict()
    del data["workspace"]
    assert EstateConfig.from_dict(data, "test").workspace == WorkspaceConfig()


def test_idle_timeouts_outside_sagemaker_limits():
    assert _problems({"studio": {"idle_timeout_minutes": 30, "max_idle_timeout_minutes": 600000}}) == [
        "workspace.studio.idle_timeout_minutes: 30 is out of range; SageMaker allows 60 to 525600 minutes",
        "workspace.studio.max_idle_timeout_minutes: 600000 is out of range; SageMaker allows 60 to 525600 minutes",
    ]


def test_maximum_below_default():
    assert _problems({"studio": {"idle_timeout_minutes": 240, "max_idle_timeout_minutes": 120, "default_ebs_gb": 50, "max_ebs_gb": 40}}) == [
        "workspace.studio.max_idle_timeout_minutes: 120 is below idle_timeout_minutes 240",
        "workspace.studio.max_ebs_gb: 40 is below default_ebs_gb 50",
    ]


def test_ebs_size_outside_limits():
    assert _problems({"studio": {"default_ebs_gb": 1}}) == [
        "workspace.studio.default_ebs_gb: 1 is out of range; SageMaker allows 5 to 16384 GiB",
    ]


def test_bad_mlflow_settings():
    assert _problems({"mlflow": {"size": "Huge", "version": "three", "maintenance_window": "Sun:25:00",
                                 "automatic_model_registration": "yes"}}) == [
        "workspace.mlflow.size: 'Huge' is not allowed; expected one of 'Small', 'Medium', 'Large'",
        "workspace.mlflow.automatic_model_registration: expected true or false, got 'yes'",
    ]
    assert _problems({"mlflow": {"version": "three", "maintenance_window": "Sun:25:00"}}) == [
        "workspace.mlflow.version: 'three' is not an MLflow version like 3.0 or 2.16.2",
        "workspace.mlflow.maintenance_window: 'Sun:25:00' is not a weekly UTC window start like Sun:03:00 (Mon..Sun:HH:MM)",
    ]


def test_bad_permissions_boundary():
    assert _problems({"permissions_boundary_arn": "ml-boundary"}) == [
        "workspace.permissions_boundary_arn: 'ml-boundary' is not a managed policy ARN like arn:aws:iam::123456789012:policy/ml-boundary",
    ]
    data = default_estate_dict()
    data["workspace"]["permissions_boundary_arn"] = "arn:aws:iam::444444444444:policy/boundaries/ml"
    assert EstateConfig.from_dict(data, "test").workspace.permissions_boundary_arn.endswith("/boundaries/ml")


def test_misspelt_key_gets_a_hint():
    assert _problems({"mlflow": {"sise": "Small"}}) == ["workspace.mlflow.sise: unknown key; did you mean 'size'?"]


def test_invalid_user_name_and_unknown_persona():
    data = default_estate_dict()
    data["users"] = [{"name": "ana_scientist", "persona": "data_scientist"}, {"name": "bo", "persona": "wizard"}]
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(data, "test")
    assert failure.value.problems == [
        "users[0].name: 'ana_scientist' is not a valid Studio user profile name (letters, digits, single hyphens, up to 63)",
        "users[1].persona: 'wizard' is not allowed; expected one of 'data_scientist', 'ml_engineer', 'mlops_admin', 'auditor'",
    ]


def test_studio_config_check_is_usable_on_its_own():
    from mlops_estate.core.validation import Problems

    problems = Problems()
    StudioConfig(idle_timeout_minutes=59).check("studio", problems)
    assert problems.items == ["studio.idle_timeout_minutes: 59 is out of range; SageMaker allows 60 to 525600 minutes"]
