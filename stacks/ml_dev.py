"""The ML dev (build) account: private network, the data and artifact stores of model building, the feature
store, and the event bus that data-arrival events arrive on."""

from __future__ import annotations

from constructs import Construct

from mlops_estate.catalog import CatalogDatabase, catalog_name
from mlops_estate.config import EstateConfig
from mlops_estate.encryption import EstateKeys
from mlops_estate.event_bus import EstateEventBus, estate_bus_name
from mlops_estate.event_forwarding import OBJECT_CREATED
from mlops_estate.feature_store import FeatureGroup
from mlops_estate.network import PrivateNetwork
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
        self.event_bus = EstateEventBus(self, "EventBus", event_bus_name=estate_bus_name(config.name, "ml_dev"),
                                        description=f"{config.name} estate: events for model building",
                                        key=self.keys.monitoring)
        self.event_bus.allow_put_events_from([config.accounts.data_lake], "DataLakeObjectCreated",
                                             sources=["aws.s3"], detail_types=[OBJECT_CREATED])
        self.feature_catalog = CatalogDatabase(self, "FeatureCatalog", database_name=catalog_name(config.name, "feature_store"),
                                               description=f"{config.name} estate: Feature Store offline store tables")
        self.feature_groups = {
            group.name: FeatureGroup(self, f"FeatureGroup-{group.name}", definition=group,
                                     online_key=self.keys.data if group.online_store else None,
                                     offline_bucket=self.data if group.offline_store else None,
                                     catalog=self.feature_catalog if group.offline_store else None)
            for group in config.feature_groups
        }
