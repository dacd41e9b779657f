"""The estate: one Stage per account role, so `cdk deploy 'Prod/*'` deploys exactly one account."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Aspects, AspectPriority, Stage, Tags
from constructs import Construct

from mlops_estate.config import EstateConfig, ServingEnv, load_estate
from mlops_estate.managed_policies import ManagedPoliciesOnly
from mlops_estate.promotion import DeployTarget
from mlops_estate.stacks.data_lake import DataLakeStack
from mlops_estate.stacks.ml_dev import MlDevStack
from mlops_estate.stacks.organization import OrganizationStack
from mlops_estate.stacks.serving import ServingStack
from mlops_estate.stacks.shared_services import SharedServicesStack

STAGE_NAMES = ("Organization", "SharedServices", "DataLake", "MlDev", "Staging", "Prod")


@dataclass(frozen=True)
class Estate:
    organization: OrganizationStack
    shared_services: SharedServicesStack
    data_lake: DataLakeStack
    ml_dev: MlDevStack
    staging: ServingStack
    prod: ServingStack


def _stage(scope: Construct, name: str, config: EstateConfig, environment: str) -> Stage:
    stage = Stage(scope, name)
    tags = Tags.of(stage)
    tags.add("project", config.tags.project)
    tags.add("team", config.tags.team)
    tags.add("cost-center", config.tags.cost_center)
    tags.add("environment", environment)
    Aspects.of(stage).add(ManagedPoliciesOnly(), priority=AspectPriority.MUTATING)
    return stage


def build_estate(scope: Construct, config: EstateConfig) -> Estate:
    """Compose every account's stacks from one validated config."""
    organization = OrganizationStack(_stage(scope, "Organization", config, "management"), "Guardrails", config=config)
    shared_stage = _stage(scope, "SharedServices", config, "shared")
    data_lake = DataLakeStack(_stage(scope, "DataLake", config, "data"), "DataLake", config=config)
    ml_dev = MlDevStack(_stage(scope, "MlDev", config, "dev"), "Workspace", config=config)
    staging = ServingStack(_stage(scope, "Staging", config, "staging"), "Serving", config=config, environment="staging")
    prod = ServingStack(_stage(scope, "Prod", config, "prod"), "Serving", config=config, environment="prod")
    # The promotion pipeline deploys the serving stacks' templates from the synthesized cloud assembly.
    targets: dict[ServingEnv, DeployTarget] = {"staging": DeployTarget.of_stack(staging), "prod": DeployTarget.of_stack(prod)}
    return Estate(
        organization=organization,
        shared_services=SharedServicesStack(shared_stage, "Registry", config=config, promotion_targets=targets),
        data_lake=data_lake,
        ml_dev=ml_dev,
        staging=staging,
        prod=prod,
    )


def estate_app(cdk_json: Path, *, outdir: str | None = None, context: dict[str, Any] | None = None) -> tuple[App, EstateConfig]:
    """An App carrying cdk.json's context (feature flags and the default estate) and its parsed config.

    The CDK CLI passes cdk.json's context through the environment, a bare ``python app.py`` or a test does
    not; giving it to ``App`` here makes all three alike (values from the CLI, such as ``-c``, still win).
    """
    merged = dict(json.loads(cdk_json.read_text(encoding="utf-8"))["context"])
    merged.update(context or {})
    merged.setdefault("@aws-cdk/core:validationReportJson", True)
    app = App(context=merged, outdir=outdir)
    return app, load_estate(app.node.try_get_context, cdk_json)
