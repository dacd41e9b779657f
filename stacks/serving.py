"""A serving account (staging or prod): private network and the data-capture store of its endpoints."""

from __future__ import annotations

from constructs import Construct

from mlops_estate.config import EstateConfig, ServingEnv
from mlops_estate.encryption import DataClass, EstateKeys
from mlops_estate.network import PrivateNetwork
from mlops_estate.stacks.base import EstateStack
from mlops_estate.storage import SecureBucket


class ServingStack(EstateStack):
    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, environment: ServingEnv) -> None:
        account = config.accounts.of(environment)
        super().__init__(scope, id, config=config, account=account,
                         description=f"model serving and monitoring ({environment} account)")
        self.serving_env = environment
        self.keys = EstateKeys(self, "Keys", estate_name=config.name,
                               classes=[DataClass.DATA, DataClass.MODELS, DataClass.MONITORING, DataClass.LOGS])
        cidr = config.network.staging_cidr if environment == "staging" else config.network.prod_cidr
        self.network = PrivateNetwork(self, "Network", cidr=cidr, availability_zones=config.availability_zones,
                                      logs_key=self.keys.logs)
        self.data_capture = SecureBucket(self, "DataCapture", key=self.keys.data)
