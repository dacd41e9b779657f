"""The shared services account: the artifact store that staging and prod read approved models from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import CfnOutput
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from mlops_estate.config.estate import EstateConfig, ModelConfig, ServingEnv
from mlops_estate.config.registry import registry_location
from mlops_estate.lifecycle.container_registry import EstateRepositories
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.events.event_bus import EstateEventBus, estate_bus_name
from mlops_estate.workspace.personas import APPROVER, persona_role_arn
from mlops_estate.lifecycle.promotion import PromotionPipeline, PromotionTarget, PromotionTrigger
from mlops_estate.config.retraining import promotion_pipeline_name
from mlops_estate.lifecycle.model_card import ModelCardContent
from mlops_estate.lifecycle.registry import ModelApprover, ModelRegistry, RegisteredModel
from mlops_estate.stacks.base import EstateStack
from mlops_estate.security.storage import SecureBucket


PROMOTE_OUTSIDE_VPC = (
    "Shared services runs no workload network; promote_model only calls the CodePipeline and SNS APIs over TLS "
    "with its least-privilege role, handles no data, and its VPC would need endpoints for just these two calls."
)


def registered_model(model: ModelConfig, default_owner: str) -> RegisteredModel:
    """What the registry holds for a model of the estate: its group's description and a model card whose facts come
    from the model's config (its governance section, build and quality gate)."""
    governance = model.governance
    algorithm = "Custom container" if model.build.training_image else f"XGBoost {model.build.xgboost_version} (SageMaker built-in)"
    gate = model.quality_gate
    direction = "at most" if gate.metric in ("rmse", "mse", "mae") else "at least"
    return RegisteredModel(
        name=model.name,
        description=model.description or f"Versions of the {model.name} model",
        card=ModelCardContent(
            description=model.description or None,
            owner=governance.owner or default_owner,
            problem_type=model.problem_type,
            algorithm=algorithm,
            intended_uses=governance.intended_use or None,
            risk_rating=governance.risk_rating,
            factors_affecting_efficiency=f"Registered only when {gate.metric} is {direction} {gate.threshold} on held-out data.",
        ),
    )


class _PromotesModels(EstateStack):
    """What a stack registering a group of models holds: per model its promotion pipeline (when it is served in
    both staging and prod), and one trigger that starts them when a package of their groups is approved."""

    def _promote(self, config: EstateConfig, base: SharedServicesStack,
                 promotion_targets: Mapping[str, Mapping[ServingEnv, PromotionTarget]], models: Sequence[ModelConfig]) -> None:
        location = registry_location(config)
        self.promotion_pipelines = {
            location.group_name(m.name): PromotionPipeline(
                self, f"Promote-{m.name}", pipeline_name=promotion_pipeline_name(config.name, m.name),
                source_bucket=base.promotion_source.bucket, source_key=config.promotion.source_key,
                artifact_bucket=base.promotion_artifacts.bucket, staging=promotion_targets[m.name]["staging"],
                prod=promotion_targets[m.name]["prod"], approval_topic=base.approvals,
                bootstrap_qualifier=config.bootstrap_qualifier,
            )
            for m in models
            if {"staging", "prod"} <= set(promotion_targets.get(m.name, {}))
        }
        if self.promotion_pipelines:
            PromotionTrigger(
                self, "PromotionTrigger", pipelines=self.promotion_pipelines, approval_topic=base.approvals,
                event_buses=[events.EventBus.from_event_bus_name(self, "DefaultBus", "default"), base.event_bus.bus],
                queue_key=base.keys.monitoring, logs_key=base.keys.logs, outside_vpc_reason=PROMOTE_OUTSIDE_VPC,
            )


class SharedServicesStack(_PromotesModels):
    """The shared services account's base stack: keys, artifact store, event bus, approvals topic and the
    promotion buckets; it registers and promotes the first group of ``models`` (the rest: `SharedServicesModelsStack`)."""

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig,
                 promotion_targets: Mapping[str, Mapping[ServingEnv, PromotionTarget]],
                 models: Sequence[ModelConfig] | None = None) -> None:
        super().__init__(scope, id, config=config, account=config.accounts.shared_services,
                         description="model registry, artifacts and promotion (shared services account)")
        accounts = config.accounts
        group = config.models if models is None else models
        self.keys = EstateKeys(self, "Keys", estate_name=config.name, classes=[DataClass.MODELS, DataClass.MONITORING, DataClass.LOGS])
        location = registry_location(config)
        # Named: the build account's pipelines write model artifacts here by name.
        self.artifacts = SecureBucket(self, "Artifacts", key=self.keys.models, bucket_name=location.artifacts_bucket_name)
        # The build account writes registered artifacts; staging and prod read them to deploy.
        self.keys.allow_account(DataClass.MODELS, [accounts.ml_dev], write=True)
        self.keys.allow_account(DataClass.MODELS, [accounts.staging, accounts.prod])
        self.registry = ModelRegistry(self, "ModelRegistry", location=location,
                                      models=[registered_model(m, config.tags.team) for m in group], artifacts=self.artifacts,
                                      card_key=self.keys.models, build_account=accounts.ml_dev,
                                      consumer_accounts=[accounts.staging, accounts.prod])
        # The one way to approve a model (every group of the estate, this stack's and the model-group stacks'): the ML
        # dev account's mlops_admin persona assumes this role from a Studio session named after the person.
        self.approver = ModelApprover(self, "ModelApprover", role_name=location.approver_role_name, group_prefix=config.name,
                                      approvers=[persona_role_arn(config.name, APPROVER, accounts.ml_dev)],
                                      artifacts=self.artifacts, key=self.keys.models)
        CfnOutput(self, "ModelApproverRoleArn", value=self.approver.role.role_arn,
                  description="mlops_admin users assume this role (with their source identity) to approve or reject models")

        # The estate's own training and serving images: the build account pushes, staging and prod pull.
        self.repositories = EstateRepositories(self, "Repositories", estate_name=config.name, key=self.keys.models,
                                               push_accounts=[accounts.ml_dev], pull_accounts=[accounts.staging, accounts.prod])

        # Promotion: approved model -> staging -> manual approval -> prod, one pipeline per model served in both.
        self.event_bus = EstateEventBus(self, "EventBus", event_bus_name=estate_bus_name(config.name, "shared_services"),
                                        description=f"{config.name} estate: model package events for promotion",
                                        key=self.keys.monitoring)
        # No other account is admitted: model package state changes originate here, in the registry's account.
        self.approvals = sns.Topic(self, "Approvals", master_key=self.keys.monitoring, enforce_ssl=True,
                                   display_name=f"{config.name} model approvals")
        for email in config.promotion.approver_emails:
            self.approvals.add_subscription(subscriptions.EmailSubscription(email))
        self.promotion_source = SecureBucket(self, "PromotionSource", key=self.keys.models)
        CfnOutput(self, "PromotionSourceBucket", value=self.promotion_source.bucket_name,
                  description=f"CI uploads the zipped, asset-published cloud assembly here as {config.promotion.source_key}")
        self.promotion_artifacts = SecureBucket(self, "PromotionArtifacts", key=self.keys.models)
        self._promote(config, self, promotion_targets, group)


class SharedServicesModelsStack(_PromotesModels):
    """One further group of models: their package groups and model cards, promotion pipelines and trigger, on the
    base stack's artifact store, buckets, keys, bus and approvals topic (same-account references)."""

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, base: SharedServicesStack,
                 promotion_targets: Mapping[str, Mapping[ServingEnv, PromotionTarget]], models: Sequence[ModelConfig]) -> None:
        super().__init__(scope, id, config=config, account=config.accounts.shared_services,
                         description=f"model registry and promotion, models {', '.join(m.name for m in models)} "
                                     "(shared services account)")
        accounts = config.accounts
        self.registry = ModelRegistry(self, "ModelRegistry", location=registry_location(config),
                                      models=[registered_model(m, config.tags.team) for m in models],
                                      artifacts=base.artifacts, card_key=base.keys.models, build_account=accounts.ml_dev,
                                      consumer_accounts=[accounts.staging, accounts.prod], share_artifacts=False)
        self._promote(config, base, promotion_targets, models)
