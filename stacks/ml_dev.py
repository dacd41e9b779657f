"""The ML dev (build) account: private network and the data and artifact stores of model building."""

from __future__ import annotations

from constructs import Construct

from mlops_estate.config import EstateConfig
from mlops_estate.encryption import EstateKeys
from mlops_estate.network import PrivateNetwork
from mlops_estate.pipeline.reference import ModelBuildPipelines
from mlops_estate.registry import registry_location
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
        registry = registry_location(config)
        self.pipelines = {
            model.name: ModelBuildPipelines(self, f"Pipelines-{model.name}", estate_name=config.name, region=config.region,
                                            model=model, placement=self.network.placement, key=self.keys.models,
                                            artifacts=self.artifacts, data=self.data, registry=registry)
            for model in config.models
        }
