"""The data lake account: raw and curated data, with data-arrival events."""

from __future__ import annotations

from constructs import Construct

from mlops_estate.config import EstateConfig
from mlops_estate.encryption import DataClass, EstateKeys
from mlops_estate.stacks.base import EstateStack
from mlops_estate.storage import SecureBucket


class DataLakeStack(EstateStack):
    def __init__(self, scope: Construct, id: str, *, config: EstateConfig) -> None:
        super().__init__(scope, id, config=config, account=config.accounts.data_lake,
                         description="raw and curated data (data lake account)")
        self.keys = EstateKeys(self, "Keys", estate_name=config.name, classes=[DataClass.DATA, DataClass.LOGS])
        self.raw = SecureBucket(self, "Raw", key=self.keys.data, event_bridge=True)
        self.curated = SecureBucket(self, "Curated", key=self.keys.data, event_bridge=True)
        # The build account trains on curated data.
        self.keys.allow_account(DataClass.DATA, [config.accounts.ml_dev])
        self.curated.allow_account_read([config.accounts.ml_dev])
