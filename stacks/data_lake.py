"""The data lake account: raw and curated data, its Glue database, and data-arrival events for the build account."""

from __future__ import annotations

from constructs import Construct

from mlops_estate.features.catalog import CatalogDatabase, catalog_name
from mlops_estate.config.estate import EstateConfig
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.events.event_bus import EstateEventBus, estate_bus_name
from mlops_estate.events.event_forwarding import ObjectCreatedForwarder
from mlops_estate.stacks.base import EstateStack
from mlops_estate.security.storage import SecureBucket


class DataLakeStack(EstateStack):
    def __init__(self, scope: Construct, id: str, *, config: EstateConfig) -> None:
        super().__init__(scope, id, config=config, account=config.accounts.data_lake,
                         description="raw and curated data (data lake account)")
        self.keys = EstateKeys(self, "Keys", estate_name=config.name,
                               classes=[DataClass.DATA, DataClass.MONITORING, DataClass.LOGS])
        self.raw = SecureBucket(self, "Raw", key=self.keys.data, event_bridge=True)
        self.curated = SecureBucket(self, "Curated", key=self.keys.data, event_bridge=True)
        # The build account trains on curated data.
        self.keys.allow_account(DataClass.DATA, [config.accounts.ml_dev])
        self.curated.allow_account_read([config.accounts.ml_dev])
        self.catalog = CatalogDatabase(self, "Catalog", database_name=catalog_name(config.name, "data_lake"),
                                       description=f"{config.name} estate: raw and curated data lake tables")
        # New objects under the configured prefix are announced on the ML dev account's bus (made in MlDevStack).
        buckets = {"raw": self.raw, "curated": self.curated}
        ml_dev_bus = EstateEventBus.from_name(self, "MlDevBus", account=config.accounts.ml_dev,
                                              event_bus_name=estate_bus_name(config.name, "ml_dev"))
        self.data_arrivals = ObjectCreatedForwarder(
            self, "DataArrivals", buckets=[buckets[b] for b in config.data_lake.arrival_buckets],
            prefix=config.data_lake.arrival_prefix, target_bus=ml_dev_bus, dead_letter_key=self.keys.monitoring)
