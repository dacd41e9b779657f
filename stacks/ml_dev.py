"""The ML dev (build) account: private network, the data and artifact stores of model building, the feature
store, the event bus that data-arrival events arrive on, and the ML workspace (Studio with persona user
profiles, managed MLflow)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_estate.features.catalog import CatalogDatabase, catalog_name
from mlops_estate.config.estate import EstateConfig, ModelConfig
from mlops_estate.security.encryption import EstateKeys
from mlops_estate.events.event_bus import EstateEventBus, estate_bus_name
from mlops_estate.events.event_forwarding import OBJECT_CREATED
from mlops_estate.features.feature_store import FeatureGroup
from mlops_estate.workspace.mlflow import MlflowTrackingServer
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.workspace.personas import PersonaResources, Personas
from mlops_estate.reference.pipelines import ModelBuildPipelines
from mlops_estate.config.registry import registry_location
from mlops_estate.config.retraining import retraining_triggers
from mlops_estate.lifecycle.retraining import ALARM_STATE_CHANGE, PROCESSING_JOB_STATE_CHANGE, RetrainingTrigger
from mlops_estate.stacks.base import EstateStack
from mlops_estate.security.storage import SecureBucket
from mlops_estate.workspace.studio import StudioDomain


class _BuildsModels(EstateStack):
    """What a stack building a group of models holds: per model its build pipelines and retraining trigger."""

    def _build(self, config: EstateConfig, base: MlDevStack, models: Sequence[ModelConfig]) -> None:
        registry = registry_location(config)
        self.pipelines = {
            model.name: ModelBuildPipelines(self, f"Pipelines-{model.name}", estate_name=config.name, region=config.region,
                                            model=model, placement=base.network.placement, key=base.keys.models,
                                            artifacts=base.artifacts, data=base.data, registry=registry)
            for model in models
        }

        # Retraining: rules on this account's estate bus restart each model's build pipeline.
        self.retraining: dict[str, RetrainingTrigger] = {}
        for model in models:
            triggers = retraining_triggers(config, model)
            if triggers:
                self.retraining[model.name] = RetrainingTrigger(
                    self, f"Retrain-{model.name}", pipeline=self.pipelines[model.name].training,
                    event_bus=base.event_bus.bus, triggers=triggers, queue_key=base.keys.monitoring, logs_key=base.keys.logs,
                    placement=base.network.placement, cooldown=Duration.minutes(model.retraining.cooldown_minutes),
                    batching_window=Duration.seconds(model.retraining.batching_window_seconds),
                    input_parameter=model.retraining.input_parameter,
                )


class MlDevStack(_BuildsModels):
    def __init__(self, scope: Construct, id: str, *, config: EstateConfig,
                 models: Sequence[ModelConfig] | None = None) -> None:
        super().__init__(scope, id, config=config, account=config.accounts.ml_dev,
                         description="model building workspace (ML dev account)")
        self.keys = EstateKeys(self, "Keys", estate_name=config.name)
        self.network = PrivateNetwork(self, "Network", cidr=config.network.ml_dev_cidr,
                                      availability_zones=config.availability_zones, logs_key=self.keys.logs)
        self.artifacts = SecureBucket(self, "Artifacts", key=self.keys.models)
        self.data = SecureBucket(self, "Data", key=self.keys.data)
        self.event_bus = EstateEventBus(self, "EventBus", event_bus_name=estate_bus_name(config.name, "ml_dev"),
                                        description=f"{config.name} estate: events for model building",
                                        key=self.keys.monitoring)
        self.event_bus.allow_put_events_from([config.accounts.data_lake], "DataLakeObjectCreated",
                                             sources=["aws.s3"], detail_types=[OBJECT_CREATED])
        # Staging and prod forward their drift alarms and violating Model Monitor executions (retraining).
        self.event_bus.allow_put_events_from([config.accounts.staging, config.accounts.prod], "ServingDriftEvents",
                                             sources=["aws.cloudwatch", "aws.sagemaker"],
                                             detail_types=[ALARM_STATE_CHANGE, PROCESSING_JOB_STATE_CHANGE])
        self.feature_catalog = CatalogDatabase(self, "FeatureCatalog", database_name=catalog_name(config.name, "feature_store"),
                                               description=f"{config.name} estate: Feature Store offline store tables")
        self.feature_groups = {
            group.name: FeatureGroup(self, f"FeatureGroup-{group.name}", definition=group,
                                     online_key=self.keys.data if group.online_store else None,
                                     offline_bucket=self.data if group.offline_store else None,
                                     catalog=self.feature_catalog if group.offline_store else None)
            for group in config.feature_groups
        }

        workspace = config.workspace
        boundary = (iam.ManagedPolicy.from_managed_policy_arn(self, "PersonaBoundary", workspace.permissions_boundary_arn)
                    if workspace.permissions_boundary_arn else None)
        self.personas = Personas(self, "Personas", permissions_boundary=boundary, resources=PersonaResources(
            estate_name=config.name, data_bucket=self.data, artifacts_bucket=self.artifacts,
            placement=self.network.placement, job_keys=(self.keys.data, self.keys.models),
            registry_account=config.accounts.shared_services, feature_groups=tuple(self.feature_groups),
            model_approver_role_arn=registry_location(config).approver_role_arn,
        ))
        self.studio = StudioDomain(self, "Studio", domain_name=f"{config.name}-studio", placement=self.network.placement,
                                   key=self.keys.studio, execution_role=self.personas.role("data_scientist"),
                                   space_execution_role=self.personas.shared_space_role,
                                   settings=workspace.studio)
        self.personas.use_domain(self.studio)
        self.personas.add_user_profiles(self.studio, config.users)
        self.mlflow = MlflowTrackingServer(self, "Mlflow", tracking_server_name=f"{config.name}-mlflow",
                                           artifact_bucket=self.artifacts, registry_prefix=config.name,
                                           settings=workspace.mlflow, network=self.network,
                                           export_name=f"{config.name}-mlflow-tracking-server-arn")
        for persona, role in self.personas.roles.items():
            self.mlflow.grant_access(role, read_only=persona == "auditor")
        self._build(config, self, config.models if models is None else models)


class MlDevPipelinesStack(_BuildsModels):
    """One further group of models' build pipelines and retraining triggers, on the base stack's network, keys,
    buckets and event bus (same-account references; see model_groups.py)."""

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, base: MlDevStack,
                 models: Sequence[ModelConfig]) -> None:
        super().__init__(scope, id, config=config, account=config.accounts.ml_dev,
                         description=f"model build pipelines, models {', '.join(m.name for m in models)} (ML dev account)")
        self._build(config, base, models)
