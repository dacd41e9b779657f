"""The model-deploy SageMaker project template: one registered version of a model on a validation endpoint.

A project launched from it deploys the version named by ``ModelPackageArn`` (only versions of the model's own
group in the shared registry are admitted) to a real-time endpoint in the ML dev account, with the estate's
`ModelEndpoint` (VPC-only, network isolation, the models key on the volume, rollback alarms) capturing every
request, and data-quality monitoring with its drift, violation and failure alarms when the model's monitoring config
has it: the portable `DriftMonitor` (``processing`` engine, with the estate's shared drift functions, named by SSM
handles, and the ``drift.py`` the model's build reads from ``code/<model>/`` of the artifacts bucket: a project
template carries no file asset) or a `ModelMonitor` schedule (``model_monitor`` engine). It is for validating a candidate before approving it: staging and prod
change only through the estate's promotion pipeline, which approving the version in the registry starts (the
template's outputs name the group and the pipeline). The other monitor types need ground truth or Clarify
configs written for the serving accounts, so they stay there.

Nothing is stored in the project itself: captures and reports go to the estate's ML dev data bucket under
``data-capture/<estate>-project-<project id>/`` and ``<estate>-project-<project id>/``, encrypted with the estate's data and monitoring keys, and the endpoint's log
group (logs key) is retained. Every name starts with ``<estate>-project-<project id>``: the endpoint, its
dashboard and log group, the monitor's schedule, job definition and alarms, and the model and endpoint config,
which also carry the package version and a hash of their properties (they are replaced on any change, and
CloudFormation creates a replacement before deleting the old one). The project id, unlike its name, is never
reused, so a retained log group or a deleted project's captures never meet a later project's.
"""

from __future__ import annotations

import dataclasses

from aws_cdk import CfnOutput, CfnParameter, Fn
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_estate.config.estate import EstateConfig, ModelConfig
from mlops_estate.security.encryption import DataClass, ImportedKeys
from mlops_estate.serving.endpoint import ModelEndpoint, ModelEndpointProps
from mlops_estate.serving.model_source import ModelSource
from mlops_estate.core.hashed_name import HASH_CHARS, hashed_name
from mlops_estate.events.alarm_topic import alarm_topic
from mlops_estate.monitoring.naming import monitor_role_path
from mlops_estate.monitoring.images import MonitorImages
from mlops_estate.pipeline.builtin_images import sklearn_processing_image
from mlops_estate.monitoring.drift_monitor import DriftBaselines, DriftFunctions, DriftMonitor
from mlops_estate.monitoring.model_monitor import ModelMonitor
from mlops_estate.lifecycle.registry import ARTIFACTS_PREFIX
from mlops_estate.projects.product import PROJECT_ID_MAX_LENGTH, ProjectProduct, project_prefix, subnet_handles
from mlops_estate.config.registry import registry_location
from mlops_estate.config.retraining import promotion_pipeline_name
from mlops_estate.serving.serving_config import PRIMARY_VARIANT, DataCaptureConfig, RolloutConfig, ServingConfig
from mlops_estate.security.storage import ImportedBucket

# The SSM parameters (under /<estate>/projects/) a deploy template reads at launch, by key (and one per subnet).
# The endpoint's and the monitor's network interfaces are confined to the estate's VPC by id ("vpc-id").
DEPLOY_HANDLES = ("vpc-id", "security-group-id", "data-bucket", "data-key-arn", "models-key-arn", "monitoring-key-arn",
                  "logs-key-arn", "boundary-arn")
# What a deploy template of a model on the portable drift engine reads besides.
# (The drift job reads drift.py where the model's build reads it: code/<model>/drift.py in the artifacts bucket.)
DRIFT_HANDLES = ("drift-resolver-arn", "drift-publisher-arn", "artifacts-bucket")
MODEL_PACKAGE_ARN_PARAMETER = "ModelPackageArn"
# Digits of a registry version the template admits: bounds the names that carry it.
VERSION_DIGITS = 6
# SageMaker names: 63 characters at most. The longest suffix after <estate>-project-<project> is the model's
# and endpoint config's "-<version>-<hash>" (job definitions take "-dq-<hash>"); <project> is the project id.
SAGEMAKER_NAME_LENGTH = 63
LONGEST_SUFFIX = 1 + VERSION_DIGITS + 1 + HASH_CHARS


def deploy_project_id_length(estate_name: str) -> int:
    """The longest project id whose deploy-template names fit SageMaker's limit: SageMaker's 20 for estate names up
    to 18 characters, 18 for the longest (SageMaker's ids, ``p-`` and 12 characters, fit either way)."""
    return min(PROJECT_ID_MAX_LENGTH, SAGEMAKER_NAME_LENGTH - len(project_prefix(estate_name)) - LONGEST_SUFFIX)


def partition_of(region: str) -> str:
    """The AWS partition a region belongs to (the registry's region is configured, so its ARNs are known)."""
    for prefix, partition in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"), ("us-isob-", "aws-iso-b")):
        if region.startswith(prefix):
            return partition
    return "aws"


def model_package_arn_pattern(config: EstateConfig, model: ModelConfig) -> str:
    """Versions of ``model``'s group in the shared registry, and nothing else (names are config-validated:
    letters, digits and hyphens only, so they need no escaping). Versions count from 1."""
    registry = registry_location(config)
    return (rf"^arn:{partition_of(registry.region)}:sagemaker:{registry.region}:{registry.account}:model-package/"
            rf"{registry.group_name(model.name)}/[1-9][0-9]{{0,{VERSION_DIGITS - 1}}}$")


def validation_serving(model: ModelConfig) -> ServingConfig:
    """One real-time instance capturing every request, with the model's staging alarms: the staging instance type
    where staging is real-time, the estate default otherwise (serverless endpoints cannot capture data)."""
    staging = model.serving.get("staging")
    defaults = ServingConfig()
    realtime = staging is not None and staging.mode == "realtime"
    return ServingConfig(
        mode="realtime",
        instance_type=staging.instance_type if staging is not None and realtime else defaults.instance_type,
        # The instance type's volume-key choice comes with it (local NVMe storage takes no key).
        volume_kms_key=staging.volume_kms_key if staging is not None and realtime else defaults.volume_kms_key,
        min_instances=1,
        max_instances=1,
        alarms=staging.alarms if staging is not None else defaults.alarms,
        rollout=RolloutConfig(strategy="all_at_once", termination_wait_minutes=0, max_execution_minutes=30),
        data_capture=DataCaptureConfig(enabled=True, sampling_percentage=100),
    )


class ModelDeployProduct(ProjectProduct):
    """The model-deploy project template of one configured model (see the module docstring).

    Args:
        scope: the parent construct.
        id: the construct id.
        config: the estate (names, accounts, registry, region).
        model: the model whose registered versions the template deploys.
        subnet_count: how many private subnets the estate publishes to the template (SSM handles), 1 or more.

    Attributes:
        endpoint: the validation `ModelEndpoint`.
        monitor: its data-quality `DriftMonitor` (processing engine) or `ModelMonitor`, or None when the model's
            monitoring has no data-quality section.
        endpoint_name: the endpoint's name (``<estate>-project-<project id>``).
        model_package_arn: the template parameter naming the version to deploy.
    """

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, model: ModelConfig, subnet_count: int) -> None:
        super().__init__(scope, id, description=f"{config.name} estate: SageMaker project template, {model.name} model deploy",
                         project_id_max_length=deploy_project_id_length(config.name))
        if subnet_count < 1:
            raise ValueError(f"{self.node.path}: subnet_count is {subnet_count}; the endpoint runs in the estate's private "
                             "subnets (give 1 or more)")
        portable = model.monitoring is not None and model.monitoring.data_quality is not None and model.monitoring.engine == "processing"
        registry = registry_location(config)
        self.model_package_arn = CfnParameter(
            self, MODEL_PACKAGE_ARN_PARAMETER, type="String", allowed_pattern=model_package_arn_pattern(config, model),
            constraint_description=f"a version of the {registry.group_name(model.name)} model package group in the shared "
                                   f"registry ({registry.account}, {registry.region})",
            description=f"ARN of the registered {model.name} version to validate, e.g. "
                        f"arn:aws:sagemaker:{registry.region}:{registry.account}:model-package/{registry.group_name(model.name)}/1")
        monitored = model.monitoring is not None and model.monitoring.data_quality is not None
        handle = self._handles(config.name, (*DEPLOY_HANDLES, *(DRIFT_HANDLES if portable else ()), *subnet_handles(subnet_count)))
        self._govern(handle["boundary-arn"])
        keys = ImportedKeys(self, "EstateKeys", key_arns={
            DataClass.DATA: handle["data-key-arn"], DataClass.MODELS: handle["models-key-arn"],
            DataClass.MONITORING: handle["monitoring-key-arn"], DataClass.LOGS: handle["logs-key-arn"]})
        data = ImportedBucket(s3.Bucket.from_bucket_name(self, "EstateData", handle["data-bucket"]), keys.data)
        self.endpoint_name = f"{project_prefix(config.name)}{self.project_id.value_as_string}"
        topic = alarm_topic(self, "Alarms", key=keys.monitoring,
                            display_name=f"{model.name} validation endpoint and monitor alarms of a SageMaker project")
        package_arn = self.model_package_arn.value_as_string
        self.endpoint = ModelEndpoint(self, "Endpoint", props=ModelEndpointProps(
            endpoint_name=self.endpoint_name,
            model=ModelSource.from_model_package(package_arn, artifact_account=registry.account),
            placement=self._placement(config, handle, subnet_count),
            keys=keys,
            serving=validation_serving(model),
            data_capture_bucket=data,
            # Captures beside, not under, the monitor's report prefix (<endpoint>/*), which its role may write.
            data_capture_prefix=f"data-capture/{self.endpoint_name}",
            alarm_topic=topic,
            autoscale=False,
        ))
        # A new version replaces the model and its endpoint config: their names carry the version, and a hash of
        # both so that a changed template replaces them too.
        version = Fn.select(2, Fn.split("/", package_arn))
        sagemaker_model, endpoint_config = self.endpoint.models[PRIMARY_VARIANT], self.endpoint.endpoint_config
        name = hashed_name(f"{self.endpoint_name}-{version}", (sagemaker_model, "modelName"),
                           (endpoint_config, "endpointConfigName"))
        sagemaker_model.model_name = name
        endpoint_config.endpoint_config_name = name

        self.monitor: DriftMonitor | ModelMonitor | None = None
        if portable:
            self.monitor = self._drift_monitor(config, model, data, handle,
                                               f"s3://{handle['artifacts-bucket']}/code/{model.name}/drift.py")
        elif monitored:
            self.monitor = self._monitor(config, model, data)
        self._outputs(config, model)

    def _monitor(self, config: EstateConfig, model: ModelConfig, reports: ImportedBucket) -> ModelMonitor:
        """Data quality only: it needs nothing but the captured requests and the model's baseline."""
        assert model.monitoring is not None
        monitoring = model.monitoring
        owner = monitoring.baselines_account
        return ModelMonitor(
            self, "Monitor", endpoint=self.endpoint,
            props=dataclasses.replace(monitoring, model_quality=None, bias=None, explainability=None),
            name_prefix=self.endpoint_name, reports=reports, topic=self.endpoint.alarm_topic,
            images=MonitorImages.for_region(config.region), role_path=monitor_role_path(config.name),
            baselines_account=config.accounts.of(owner) if owner else None,
        )

    def _drift_monitor(self, config: EstateConfig, model: ModelConfig, reports: ImportedBucket, handle: dict[str, str],
                       script_uri: str) -> DriftMonitor:
        """Data quality on the portable engine: the served version's registered baseline, the estate's functions."""
        assert model.monitoring is not None
        registry = registry_location(config)
        functions = DriftFunctions.from_arns(self, "DriftFunctions", resolver_arn=handle["drift-resolver-arn"],
                                             publisher_arn=handle["drift-publisher-arn"])
        return DriftMonitor(
            self, "Drift", endpoint=self.endpoint,
            props=dataclasses.replace(model.monitoring, model_quality=None, bias=None, explainability=None),
            name_prefix=self.endpoint_name, reports=reports, topic=self.endpoint.alarm_topic,
            baselines=DriftBaselines(registry.artifacts_bucket_name, f"{ARTIFACTS_PREFIX}/{model.name}", account=registry.account),
            functions=functions, script_uri=script_uri, image_uri=sklearn_processing_image(config.region),
        )

    def _outputs(self, config: EstateConfig, model: ModelConfig) -> None:
        registry = registry_location(config)
        CfnOutput(self, "EndpointName", value=self.endpoint.endpoint.attr_endpoint_name,
                  description="The validation endpoint (ML dev account); its invocations are captured and monitored")
        CfnOutput(self, "ModelPackageGroupName", value=registry.group_name(model.name),
                  description=f"Approve the validated version in this group of the shared registry ({registry.account}) to "
                              "promote it")
        CfnOutput(self, "PromotionPipelineName", value=promotion_pipeline_name(config.name, model.name),
                  description=f"Approval starts this pipeline in the shared services account ({registry.account}): staging, "
                              "manual approval, prod")
        if isinstance(self.monitor, ModelMonitor):
            CfnOutput(self, "DataQualitySchedule", value=self.monitor.schedule_names["data_quality"],
                      description="The data-quality monitoring schedule of the validation endpoint")
        elif isinstance(self.monitor, DriftMonitor):
            CfnOutput(self, "DriftPipelineName", value=self.monitor.pipeline.pipeline_name,
                      description="The drift-check pipeline of the validation endpoint (runs on the data-quality schedule)")
