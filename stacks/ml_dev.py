"""The ML dev (build) account: private network and the data and artifact stores of model building."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from constructs import Construct

from mlops_estate.config import EstateConfig
from mlops_estate.encryption import EstateKeys
from mlops_estate.network import PrivateNetwork
from mlops_estate.retraining import retraining_triggers, RetrainingTrigger
from mlops_estate.retraining_config import bus_name, pipeline_name
from mlops_estate.stacks.base import EstateStack
from mlops_estate.storage import SecureBucket


class MlDevStack(EstateStack):
    def __init__(self, scope: Construct, id: str, *, config: EstateConfig) -> None:
        super().__init__(scope, id, config=config, account=config.accounts.ml_dev,
                         description="model building workspace (ML dev account)")
        self.keys = EstateKeys(self, "Keys", estate_name=config.name)
        self.network = PrivateNetwork(self, "Network", cidr=config.network.ml_dev_cidr,
                                      availability_zones=config.availability_zones, logs_key=self.keys.logs)
        self.artifacts = SecureBucket(self, "Artifacts", key=self.keys.models)
        self.data = SecureBucket(self, "Data", key=self.keys.data)
        # Retraining: rules on the estate bus of this account (events forwarded from staging, prod and the data lake).
        estate_bus = events.EventBus.from_event_bus_name(self, "EstateBus", bus_name(config.name, "ml_dev"))
        for model in config.models:
            triggers = retraining_triggers(config, model)
            if triggers:
                RetrainingTrigger(
                    self, f"Retrain-{model.name}", pipeline_name=pipeline_name(config.name, model.name), event_bus=estate_bus,
                    triggers=triggers, queue_key=self.keys.monitoring, logs_key=self.keys.logs, placement=self.network.placement,
                    cooldown=Duration.minutes(model.retraining.cooldown_minutes),
                    batching_window=Duration.seconds(model.retraining.batching_window_seconds),
                    input_parameter=model.retraining.input_parameter,
                )
