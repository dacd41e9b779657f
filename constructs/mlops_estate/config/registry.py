"""Where the estate's registry lives, derived from the estate config: the build account's pipelines, the Projects
templates and the serving accounts find its groups, artifacts bucket and key by these names."""

from __future__ import annotations

from mlops_estate.config.estate import EstateConfig
from mlops_estate.lifecycle.registry import RegistryLocation


def registry_location(config: EstateConfig) -> RegistryLocation:
    """The registry of an estate (in the shared services account): group names, artifacts bucket and key alias."""
    account = config.accounts.shared_services
    return RegistryLocation(
        estate_name=config.name,
        account=account,
        region=config.region,
        artifacts_bucket_name=f"{config.name}-artifacts-{account}-{config.region}",
        models_key_alias=f"alias/{config.name}/models",
    )
