"""A serving account (staging or prod): private network, the data-capture store and the endpoints."""

from __future__ import annotations

from aws_cdk import CfnParameter
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_estate.config import EstateConfig, ModelConfig, ServingEnv
from mlops_estate.encryption import DataClass, EstateKeys
from mlops_estate.endpoint import MODEL_PACKAGE_ARN, ModelEndpoint, ModelEndpointProps, ModelSource, pascal
from mlops_estate.network import PrivateNetwork
from mlops_estate.stacks.base import EstateStack
from mlops_estate.storage import SecureBucket


def placeholder_model_package_arn(config: EstateConfig, model: ModelConfig) -> str:
    """Version 1 of the model's package group in the shared registry: lets `cdk synth` work before any
    model is approved. Promotion passes the approved ARN as the stack parameter at deploy time."""
    return f"arn:aws:sagemaker:{config.region}:{config.accounts.shared_services}:model-package/{config.name}-{model.name}/1"


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
        served = [(m, m.serving[environment]) for m in config.models if environment in m.serving]
        self.async_inference = (
            SecureBucket(self, "AsyncInference", key=self.keys.data) if any(s.mode == "async" for _, s in served) else None
        )
        self.alarm_topic = sns.Topic(self, "EndpointAlarms", master_key=self.keys.monitoring, enforce_ssl=True,
                                     display_name=f"{config.name} {environment} endpoint alarms")
        self.model_package_parameters: dict[str, CfnParameter] = {}
        self.endpoints: dict[str, ModelEndpoint] = {}
        for model, serving in served:
            names = [v.name for v in serving.variants] + ([serving.shadow.name] if serving.shadow else [])
            self.endpoints[model.name] = ModelEndpoint(
                self,
                f"{pascal(model.name)}Endpoint",
                props=ModelEndpointProps(
                    endpoint_name=f"{config.name}-{environment}-{model.name}",
                    model=self._package(config, model),
                    variant_models={name: self._package(config, model, name) for name in names},
                    placement=self.network.placement,
                    keys=self.keys,
                    serving=serving,
                    data_capture_bucket=self.data_capture,
                    async_bucket=self.async_inference,
                    alarm_topic=self.alarm_topic,
                ),
            )

    def _package(self, config: EstateConfig, model: ModelConfig, variant: str | None = None) -> ModelSource:
        """A deploy-time parameter ``<Model>[<Variant>]ModelPackageArn`` with the approved package's ARN."""
        name = f"{pascal(model.name)}{pascal(variant) if variant else ''}ModelPackageArn"
        parameter = CfnParameter(
            self,
            name,
            type="String",
            default=placeholder_model_package_arn(config, model),
            allowed_pattern=MODEL_PACKAGE_ARN.pattern,
            description=f"Approved model package ARN for {model.name}{f' variant {variant}' if variant else ''} "
                        f"(from the shared registry; promotion sets it at deploy time)",
        )
        self.model_package_parameters[name] = parameter
        return ModelSource.from_model_package(parameter.value_as_string, artifact_account=config.accounts.shared_services)
