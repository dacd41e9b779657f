"""A serving account (staging or prod): private network, the data-capture store and the endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnParameter
from constructs import Construct

from mlops_estate.events.alarm_topic import alarm_topic
from mlops_estate.config.estate import EstateConfig, ModelConfig, ServingEnv
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.config.registry import registry_location
from mlops_estate.lifecycle.approved_model import approved_arn_parameter_name
from mlops_estate.lifecycle.registry import ARTIFACTS_PREFIX
from mlops_estate.serving.endpoint import ModelEndpoint, ModelEndpointProps, pascal
from mlops_estate.serving.model_source import ModelSource
from mlops_estate.events.event_bus import EstateEventBus, estate_bus_name
from mlops_estate.events.event_forwarding import EventForwarder
from mlops_estate.config.monitoring import monitor_name_prefix
from mlops_estate.monitoring.naming import monitor_role_path
from mlops_estate.monitoring.drift_monitor import DriftBaselines, DriftMonitor
from mlops_estate.monitoring.model_monitor import ModelMonitor
from mlops_estate.monitoring.quality import QualityTarget
from mlops_estate.lifecycle.retraining import DriftAlarmTrigger, MonitoringViolationTrigger, to_event_pattern
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.stacks.base import EstateStack
from mlops_estate.security.storage import SecureBucket


def placeholder_model_package_arn(config: EstateConfig, model: ModelConfig) -> str:
    """Version 1 of the model's package group in the shared registry: lets `cdk synth` work before any
    model is approved. Promotion writes the approved ARN to SSM (ApprovedModelStack) before deploying."""
    return f"arn:aws:sagemaker:{config.region}:{config.accounts.shared_services}:model-package/{config.name}-{model.name}/1"


class ServesModels(EstateStack):
    """What a stack serving a group of models holds: per model its endpoint, its model-package parameters and
    its monitor, and the forwarding of those monitors' drift events to the build account."""

    def _serve(self, config: EstateConfig, environment: ServingEnv, base: ServingStack, models: Sequence[ModelConfig]) -> None:
        self.serving_env = environment
        self.model_package_parameters: dict[str, CfnParameter] = {}
        self.model_package_placeholders: dict[str, str] = {}
        self.endpoints: dict[str, ModelEndpoint] = {}
        served = [(m, m.serving[environment]) for m in models if environment in m.serving]
        for model, serving in served:
            names = [v.name for v in serving.variants] + ([serving.shadow.name] if serving.shadow else [])
            self.endpoints[model.name] = ModelEndpoint(
                self,
                f"{pascal(model.name)}Endpoint",
                props=ModelEndpointProps(
                    endpoint_name=f"{config.name}-{environment}-{model.name}",
                    model=self._package(config, model),
                    variant_models={name: self._package(config, model, name) for name in names},
                    placement=base.network.placement,
                    keys=base.keys,
                    serving=serving,
                    data_capture_bucket=base.data_capture,
                    async_bucket=base.async_inference,
                    alarm_topic=base.alarm_topic,
                ),
            )

        self.monitors: dict[str, DriftMonitor | ModelMonitor] = {}
        registry = registry_location(config)
        for model, _ in served:
            monitoring = model.monitoring
            if monitoring is None:
                continue
            assert base.monitoring_reports is not None  # created when any served model is monitored
            common: dict[str, Any] = dict(
                endpoint=self.endpoints[model.name],
                props=monitoring,
                name_prefix=monitor_name_prefix(config.name, model.name, environment),
                problem_type=model.problem_type,
                quality_target=QualityTarget(metric=model.quality_gate.metric, threshold=model.quality_gate.threshold),
                reports=base.monitoring_reports,
                ground_truth_account=(config.accounts.of(monitoring.ground_truth_account)
                                      if monitoring.ground_truth_account else None),
            )
            if monitoring.engine == "processing":
                # Each run reads the baseline the served version registered (its build pipeline profiled it).
                self.monitors[model.name] = DriftMonitor(
                    self, f"{pascal(model.name)}Drift", **common,
                    baselines=DriftBaselines(registry.artifacts_bucket_name, f"{ARTIFACTS_PREFIX}/{model.name}",
                                             account=registry.account),
                )
                continue
            self.monitors[model.name] = ModelMonitor(
                self,
                f"{pascal(model.name)}Monitor",
                **common,
                # The guardrail SCP lets only roles under this path create Clarify's keyless shadow endpoint configs.
                role_path=monitor_role_path(config.name),
                baselines_account=config.accounts.of(monitoring.baselines_account) if monitoring.baselines_account else None,
            )

        # The real drift alarms and violating executions of these monitors go to the build account, which retrains.
        retraining = {m.name: m.retraining for m, _ in served}
        drift = [monitor for name, monitor in sorted(self.monitors.items()) if retraining[name].on_drift]
        violations = [monitor for name, monitor in sorted(self.monitors.items()) if retraining[name].on_violations]
        # Model Monitor reports violations as processing-job events; the portable engine as its violations alarm.
        scheduled = [m for m in violations if isinstance(m, ModelMonitor)]
        portable = [m for m in violations if isinstance(m, DriftMonitor)]
        patterns = {
            **({"DriftAlarms": to_event_pattern(DriftAlarmTrigger.of(*drift).pattern())} if drift else {}),
            **({"MonitoringViolations": to_event_pattern(MonitoringViolationTrigger.of(*scheduled).pattern())} if scheduled else {}),
            **({"ViolationAlarms": to_event_pattern(DriftAlarmTrigger.violations_of(*portable).pattern())} if portable else {}),
        }
        self.retraining_events = None
        if patterns:
            ml_dev_bus = EstateEventBus.from_name(self, "MlDevBus", account=config.accounts.ml_dev,
                                                  event_bus_name=estate_bus_name(config.name, "ml_dev"))
            self.retraining_events = EventForwarder(self, "RetrainingEvents", target_bus=ml_dev_bus, patterns=patterns,
                                                    dead_letter_key=base.keys.monitoring)

    def _package(self, config: EstateConfig, model: ModelConfig, variant: str | None = None) -> ModelSource:
        """A deploy-time parameter ``<Model>[<Variant>]ModelPackageArn`` with the approved package's ARN, read from
        SSM at every deployment (see approved_model.py: promoting one model cannot reset the others)."""
        name = f"{pascal(model.name)}{pascal(variant) if variant else ''}ModelPackageArn"
        parameter = CfnParameter(
            self,
            name,
            type="AWS::SSM::Parameter::Value<String>",
            default=approved_arn_parameter_name(config.name, name),
            description=f"SSM parameter holding the approved model package ARN for {model.name}"
                        f"{f' variant {variant}' if variant else ''} (written by promotion or ApprovedModelStack)",
        )
        self.model_package_parameters[name] = parameter
        self.model_package_placeholders[name] = placeholder_model_package_arn(config, model)
        return ModelSource.from_model_package(parameter.value_as_string, artifact_account=config.accounts.shared_services)


class ServingStack(ServesModels):
    """A serving account's base stack: keys, network, the data-capture, async and monitoring-report buckets and
    the alarm topic, shared by every model of the account; it serves the first group of ``models`` (the rest
    go to `ServingModelsStack`, see model_groups.py)."""

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, environment: ServingEnv,
                 models: Sequence[ModelConfig] | None = None) -> None:
        account = config.accounts.of(environment)
        super().__init__(scope, id, config=config, account=account,
                         description=f"model serving and monitoring ({environment} account)")
        self.keys = EstateKeys(self, "Keys", estate_name=config.name,
                               classes=[DataClass.DATA, DataClass.MODELS, DataClass.MONITORING, DataClass.LOGS])
        cidr = config.network.staging_cidr if environment == "staging" else config.network.prod_cidr
        self.network = PrivateNetwork(self, "Network", cidr=cidr, availability_zones=config.availability_zones,
                                      logs_key=self.keys.logs)
        self.data_capture = SecureBucket(self, "DataCapture", key=self.keys.data)
        # Account-wide stores exist when any model of the account (in whichever stack) needs them.
        served = [m.serving[environment] for m in config.models if environment in m.serving]
        self.async_inference = (
            SecureBucket(self, "AsyncInference", key=self.keys.data) if any(s.mode == "async" for s in served) else None
        )
        self.alarm_topic = alarm_topic(self, "EndpointAlarms", key=self.keys.monitoring,
                                       display_name=f"{config.name} {environment} endpoint alarms")
        monitored = [m for m in config.models if environment in m.serving and m.monitoring is not None]
        # One CMK bucket for every monitor's reports (constraint violations, statistics) in this account.
        self.monitoring_reports = SecureBucket(self, "MonitoringReports", key=self.keys.monitoring) if monitored else None
        self._serve(config, environment, self, config.models if models is None else models)


class ServingModelsStack(ServesModels):
    """One further group of a serving account's models, on the base stack's network, keys, buckets and topic
    (same-account references). Promotion deploys the stack that serves the promoted model."""

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, base: ServingStack,
                 models: Sequence[ModelConfig]) -> None:
        environment = base.serving_env
        super().__init__(scope, id, config=config, account=config.accounts.of(environment),
                         description=f"model serving and monitoring, models {', '.join(m.name for m in models)} "
                                     f"({environment} account)")
        self._serve(config, environment, base, models)
