"""A serving account (staging or prod): private network and the data-capture store of its endpoints."""

from __future__ import annotations

from constructs import Construct

from mlops_estate.config import EstateConfig, ServingEnv
from mlops_estate.encryption import DataClass, EstateKeys
from mlops_estate.event_forwarding import EventForwarder
from mlops_estate.retraining import forwarded_retraining_patterns
from mlops_estate.retraining_config import estate_bus_arn
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
        # Drift alarms and monitoring violations of this environment go to the build account, which retrains.
        patterns = forwarded_retraining_patterns(config, environment)
        if patterns:
            EventForwarder(self, "RetrainingEvents", target_bus_arn=estate_bus_arn(config, "ml_dev"),
                           patterns=patterns, queue_key=self.keys.monitoring)
