"""The estate: one Stage per account role, so `cdk deploy 'Prod/*'` deploys exactly one account."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import App, AspectPriority, Stack, Stage, Tags
from constructs import Construct

from mlops_estate.config.estate import EstateConfig, ModelConfig, ServingEnv, load_estate
from mlops_estate.core.validation import ConfigError
from mlops_estate.core.walked_aspects import WalkedAspectsStage
from mlops_estate.governance.cost_tags import TagPlainCfnResources
from mlops_estate.serving.endpoint import pascal
from mlops_estate.governance.guardrail_check import GuardrailCheck

from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.stacks.model_groups import group_stack_id, model_groups
from mlops_estate.lifecycle.promotion import DeployTarget, PromotionTarget
from mlops_estate.stacks.approved_model import ApprovedModelStack
from mlops_estate.stacks.base import GOVERNED_ROLES, EstateStack, add_account_governance
from mlops_estate.stacks.ci_access import CiAccessStack, add_ci_access
from mlops_estate.stacks.data_lake import DataLakeStack
from mlops_estate.stacks.ml_dev import MlDevPipelinesStack, MlDevStack
from mlops_estate.stacks.organization import OrganizationStack
from mlops_estate.stacks.projects import ProjectTemplatesStack
from mlops_estate.stacks.serving import ServingModelsStack, ServingStack, ServesModels
from mlops_estate.stacks.shared_services import SharedServicesModelsStack, SharedServicesStack
from mlops_estate.config.governance import guardrail_options

STAGE_NAMES = ("Organization", "SharedServices", "DataLake", "MlDev", "Staging", "Prod")


@dataclass(frozen=True)
class Estate:
    organization: OrganizationStack
    shared_services: SharedServicesStack
    data_lake: DataLakeStack
    ml_dev: MlDevStack
    staging: ServingStack
    prod: ServingStack
    # Per serving environment, the stack owning the SSM parameter behind each model-package parameter.
    approved_models: Mapping[ServingEnv, Mapping[str, ApprovedModelStack]]
    # The ML dev account's SageMaker project templates (None when config.projects selects no model).
    projects: ProjectTemplatesStack | None = None
    # Per account role ("shared_services", "ml_dev", "staging", "prod"), the stacks of the model groups after the
    # first, in group order (empty until the config has more models than model_groups.MODELS_PER_STACK).
    model_stacks: Mapping[str, Sequence[EstateStack]] = field(default_factory=dict)
    # Per stage name, its `CiAccess` stack (GitHub OIDC deploy role); empty unless config.ci is set.
    ci_access: Mapping[str, CiAccessStack] = field(default_factory=dict)

    def stacks(self) -> list[Stack]:
        """Every stack of the estate, the model-group and approved-model stacks included."""
        main: list[Stack] = [self.organization, self.shared_services, self.data_lake, self.ml_dev, self.staging, self.prod]
        groups = [s for role in self.model_stacks.values() for s in role]
        main += [self.projects] if self.projects is not None else []
        approved = [s for env in self.approved_models.values() for s in env.values()]
        return main + groups + approved + list(self.ci_access.values())


def _stage(scope: Construct, name: str, config: EstateConfig, environment: str) -> WalkedAspectsStage:
    """One account's Stage: cost tags on everything, managed policies only, the guardrail check. The estate's own
    aspects are Python; they run in one walk of the stage's tree when it synthesizes (walked_aspects.py), not as
    ``Aspects.of(stage)``, which would cost two jsii messages per construct and aspect."""
    stage = WalkedAspectsStage(scope, name)
    cost_tags = {"project": config.tags.project, "team": config.tags.team, "cost-center": config.tags.cost_center,
                 "environment": environment}
    for key, value in cost_tags.items():
        Tags.of(stage).add(key, value)
    stage.add_walked_aspect(TagPlainCfnResources(cost_tags), priority=AspectPriority.MUTATING)
    stage.add_walked_aspect(ManagedPoliciesOnly(), priority=AspectPriority.MUTATING)
    stage.add_walked_aspect(GuardrailCheck(guardrail_options(config)), priority=AspectPriority.READONLY)
    return stage


def build_estate(scope: Construct, config: EstateConfig) -> Estate:
    """Compose every account's stacks from one validated config.

    Per-model resources are split over stacks by model group (model_groups.py): each account's base stack holds
    the first group, every further group one more stack in the same Stage (``Staging/Models1``, ``MlDev/Pipelines1``,
    ``SharedServices/Models1``, ...), so no stack reaches a CloudFormation limit however many models there are.
    """
    groups = model_groups(config.models)
    first: tuple[ModelConfig, ...] = groups[0] if groups else ()
    organization = OrganizationStack(_stage(scope, "Organization", config, "management"), "Guardrails", config=config)
    shared_stage = _stage(scope, "SharedServices", config, "shared")
    data_lake = DataLakeStack(_stage(scope, "DataLake", config, "data"), "DataLake", config=config)
    ml_dev_stage = _stage(scope, "MlDev", config, "dev")
    ml_dev = MlDevStack(ml_dev_stage, "Workspace", config=config, models=first)
    projects = (ProjectTemplatesStack(ml_dev_stage, "Projects", config=config, workspace=ml_dev)
                if config.projects.template_models([m.name for m in config.models]) else None)
    extra: dict[str, list[EstateStack]] = {
        "ml_dev": [MlDevPipelinesStack(ml_dev_stage, group_stack_id("Pipelines", k), config=config, base=ml_dev, models=group)
                   for k, group in enumerate(groups[1:], start=1)],
    }
    serving: dict[ServingEnv, ServingStack] = {}
    serving_of: dict[ServingEnv, dict[str, ServesModels]] = {}  # env -> model -> the stack serving it
    approved: dict[ServingEnv, dict[str, ApprovedModelStack]] = {}
    stage_names: dict[ServingEnv, str] = {"staging": "Staging", "prod": "Prod"}
    for env, stage_name in stage_names.items():
        stage = _stage(scope, stage_name, config, env)
        serving[env] = ServingStack(stage, "Serving", config=config, environment=env, models=first)
        group_stacks = [ServingModelsStack(stage, group_stack_id("Models", k), config=config, base=serving[env], models=group)
                        for k, group in enumerate(groups[1:], start=1) if any(env in m.serving for m in group)]
        extra[env] = list(group_stacks)
        hosts: list[ServesModels] = [serving[env], *group_stacks]
        serving_of[env] = {name: host for host in hosts for name in host.endpoints}
        approved[env] = {}
        for host in hosts:
            for parameter, placeholder in host.model_package_placeholders.items():
                approved[env][parameter] = ApprovedModelStack(
                    stage, f"Approved{parameter.removesuffix('ModelPackageArn')}", config=config, environment=env,
                    serving_parameter=parameter, placeholder=placeholder)
                host.add_stack_dependency(approved[env][parameter], "the serving stack reads the approved ARN from SSM")
    # Promotion deploys, per environment, the promoted model's ApprovedModelStack, then the stack serving the model.
    envs: tuple[ServingEnv, ...] = ("staging", "prod")
    targets: dict[str, dict[ServingEnv, PromotionTarget]] = {
        model.name: {
            env: PromotionTarget(approved=DeployTarget.of_stack(approved[env][parameter]),
                                 serving=DeployTarget.of_stack(serving_of[env][model.name]))
            for env in envs
            if (parameter := f"{pascal(model.name)}ModelPackageArn") in approved[env]
        }
        for model in config.models
    }
    shared_services = SharedServicesStack(shared_stage, "Registry", config=config, promotion_targets=targets, models=first)
    extra["shared_services"] = [
        SharedServicesModelsStack(shared_stage, group_stack_id("Models", k), config=config, base=shared_services,
                                  promotion_targets=targets, models=group)
        for k, group in enumerate(groups[1:], start=1)
    ]
    stages = {of.node.id: of for stack in (organization, shared_services, data_lake, ml_dev, *serving.values())
              if (of := Stage.of(stack)) is not None}
    estate = Estate(
        organization=organization,
        shared_services=shared_services,
        data_lake=data_lake,
        ml_dev=ml_dev,
        staging=serving["staging"],
        prod=serving["prod"],
        approved_models=approved,
        projects=projects,
        model_stacks=extra,
        ci_access=add_ci_access(stages, config),
    )
    for role in GOVERNED_ROLES:
        stack = getattr(estate, role)
        add_account_governance(stack, role, stack.keys.logs)
    return estate


def estate_app(cdk_json: Path, *, outdir: str | None = None, context: dict[str, Any] | None = None,
               builtin_validation: bool = True) -> tuple[App, EstateConfig]:
    """An App carrying cdk.json's context (feature flags and the default estate) and its parsed config.

    The CDK CLI passes cdk.json's context through the environment, a bare ``python app.py`` or a test does
    not; giving it to ``App`` here makes all three alike (values from the CLI, such as ``-c``, still win).
    ``builtin_validation=False`` turns off CDK's built-in CloudFormation validation (half the synth time), for a
    caller that validates every template with cfn-lint instead (the test suite's default estate).
    """
    merged = dict(json.loads(cdk_json.read_text(encoding="utf-8"))["context"])
    merged.update(context or {})
    merged.setdefault("@aws-cdk/core:validationReportJson", True)
    app = App(context=merged, outdir=outdir, builtin_cloud_formation_validation=builtin_validation)
    return app, load_estate(app.node.try_get_context, cdk_json, context_keys=app.node.get_all_context())


@contextmanager
def config_errors_exit() -> Iterator[None]:
    """Around reading the estate config and building the estate: a `ConfigError` (a mistake in the user's config,
    whether found by the parser or by a construct) prints only its problem list on stderr and exits with status 1.
    A traceback would point at our code, not at the file; any other exception is a bug and keeps its traceback."""
    try:
        yield
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(1) from None
