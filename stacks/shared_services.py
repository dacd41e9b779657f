"""The shared services account: the artifact store that staging and prod read approved models from."""

from __future__ import annotations

from constructs import Construct

from mlops_estate.config import EstateConfig
from mlops_estate.encryption import DataClass, EstateKeys
from mlops_estate.registry import ModelRegistry, registry_location
from mlops_estate.stacks.base import EstateStack
from mlops_estate.storage import SecureBucket


class SharedServicesStack(EstateStack):
    def __init__(self, scope: Construct, id: str, *, config: EstateConfig) -> None:
        super().__init__(scope, id, config=config, account=config.accounts.shared_services,
                         description="model registry, artifacts and promotion (shared services account)")
        accounts = config.accounts
        self.keys = EstateKeys(self, "Keys", estate_name=config.name, classes=[DataClass.MODELS, DataClass.LOGS])
        location = registry_location(config)
        # Named: the build account's pipelines write model artifacts here by name.
        self.artifacts = SecureBucket(self, "Artifacts", key=self.keys.models, bucket_name=location.artifacts_bucket_name)
        # The build account writes registered artifacts; staging and prod read them to deploy.
        self.keys.allow_account(DataClass.MODELS, [accounts.ml_dev], write=True)
        self.keys.allow_account(DataClass.MODELS, [accounts.staging, accounts.prod])
        self.registry = ModelRegistry(self, "ModelRegistry", location=location, models=config.models, artifacts=self.artifacts,
                                      card_key=self.keys.models, build_account=accounts.ml_dev,
                                      consumer_accounts=[accounts.staging, accounts.prod], default_owner=config.tags.team)
