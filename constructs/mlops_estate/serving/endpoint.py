"""A SageMaker endpoint with safe rollout: Model, EndpointConfig and Endpoint, autoscaling, alarms
that roll a blue/green deployment back, data capture, shadow and A/B variants, serverless and
asynchronous inference, metrics and a dashboard."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from aws_cdk import Aws, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_estate.core.nag import acknowledge, wildcard_findings
from mlops_estate.core.patterns import ECR_IMAGE, S3_URI, SAGEMAKER_NAME
from mlops_estate.core.principal_policy import add_to_principal_policy
from mlops_estate.core.validation import Problems
from mlops_estate.events.alarm_topic import alarm_topic
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.security.encryption import KeyRing
from mlops_estate.security.sagemaker_workload import NO_RESOURCE_LEVEL_REASON, workload_statements
from mlops_estate.security.storage import CmkBucket
from mlops_estate.serving.model_source import ModelSource
from mlops_estate.serving.serving_config import PRIMARY_VARIANT, ServingConfig, VariantConfig, validate_serving

# Metric namespaces SageMaker publishes endpoint metrics to.
INVOCATION_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
# SageMaker watches at most 10 auto-rollback alarms per endpoint (AutoRollbackConfig.Alarms).
MAX_ROLLBACK_ALARMS = 10


def pascal(name: str) -> str:
    """``spend-forecast`` -> ``SpendForecast``: construct ids and parameter names from config names."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", name) if part)


@dataclass(frozen=True)
class ModelEndpointProps:
    """Everything a `ModelEndpoint` needs.

    Attributes:
        endpoint_name: the endpoint's name (letters, digits, single hyphens, up to 63); also names its log group
            (``/aws/sagemaker/Endpoints/<name>``), dashboard and capture prefix.
        model: what the primary variant serves (`ModelSource.from_model_package` or `ModelSource.from_image`).
        placement: the VPC subnets and security group the endpoint runs in (not used by serverless endpoints).
        keys: the keys it encrypts with: ``models`` the instances' volumes, ``logs`` its log group,
            ``monitoring`` its alarm and async notification topics (an `EstateKeys` or any `KeyRing`).
        serving: how it serves: mode, instances, variants, rollout, alarms, scaling, data capture.
        variant_models: the model of an A/B or shadow variant, by variant name; variants without one serve ``model``.
        data_capture_bucket: where captures go (under ``<data_capture_prefix>/<endpoint>/``); required while data
            capture is on.
        data_capture_prefix: the bucket prefix of the captures.
        async_bucket: inputs, outputs and failures of mode ``async`` (under ``async/<endpoint>/``); required then.
        alarm_topic: where the rollback alarms notify; default: a topic of its own, encrypted with ``keys.monitoring``.
        rollback_alarms: further alarms that roll a deployment back (with the endpoint's own, at most 10 in all).
        multi_model: serve many models from one container (``model`` from an image with an S3 prefix).
        log_retention: how long the endpoint's logs are kept.
        autoscale: False keeps the configured instance counts (no Application Auto Scaling).
    """

    endpoint_name: str
    model: ModelSource
    placement: NetworkPlacement
    keys: KeyRing
    serving: ServingConfig = field(default_factory=ServingConfig)
    variant_models: Mapping[str, ModelSource] = field(default_factory=dict)
    data_capture_bucket: CmkBucket | None = None
    data_capture_prefix: str = "data-capture"
    async_bucket: CmkBucket | None = None
    alarm_topic: sns.ITopic | None = None
    rollback_alarms: Sequence[cloudwatch.IAlarm] = ()
    multi_model: bool = False
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR
    autoscale: bool = True


@dataclass(frozen=True)
class _Variant:
    name: str
    config: VariantConfig
    model: ModelSource
    shadow: bool


class ModelEndpoint(Construct):
    """A SageMaker endpoint for one model, secure and observable by default.

    Every problem of the props is reported at once, as one `ConfigError` naming each prop path, before anything
    is built.

    - Model: VPC-only (the ``placement``) with network isolation, run by an execution role that may only
      read its model artifacts and images, write its own logs and captures, and manage its ENIs.
      Serverless endpoints are the exception AWS imposes: they support neither VPC nor network isolation.
    - EndpointConfig: production variants (A/B weights), an optional shadow variant, the models CMK on
      the storage volume, data capture to the CMK bucket, serverless or asynchronous inference.
    - Endpoint: blue/green deployment (canary, linear or all at once) that rolls back automatically on
      the alarms this construct creates (5XX errors, p99 model latency, model errors) and any given;
      instance counts survive deploys (``RetainAllVariantProperties``), weights and capture settings
      come from the new config.
    - Application Auto Scaling per variant; async endpoints scale on their backlog down to zero.

    Args:
        scope: the construct's parent.
        id: the construct's id.
        props: what the endpoint serves, where and how (`ModelEndpointProps`).
    """

    def __init__(self, scope: Construct, id: str, *, props: ModelEndpointProps) -> None:
        super().__init__(scope, id)
        self._validate(props)
        serving = props.serving
        self.props = props
        self.serving = serving
        self.mode = serving.mode
        self.endpoint_name = props.endpoint_name
        self.placement = props.placement
        self.keys = props.keys
        self.has_data_capture = serving.captures_data
        self.data_capture_bucket = props.data_capture_bucket if self.has_data_capture else None
        self.data_capture_prefix = f"{props.data_capture_prefix.strip('/')}/{props.endpoint_name}" if self.has_data_capture else None
        self.in_vpc = serving.mode != "serverless"

        self.variants = self._variants(props)
        self._sources: dict[str, ModelSource] = {}
        self._granted: list[ModelSource] = []
        self._wildcards: dict[str, str] = {}  # cdk-nag finding id -> reason
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/sagemaker/Endpoints/{props.endpoint_name}",
            encryption_key=props.keys.logs,
            retention=props.log_retention,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = self._execution_role(props)
        self.models: dict[str, sagemaker.CfnModel] = {}
        for variant in self.variants:
            self._model_for(variant)

        self.success_topic: sns.Topic | None = None
        self.error_topic: sns.Topic | None = None
        self.async_prefix: str | None = None
        self.async_bucket: CmkBucket | None = None
        self.endpoint_config = self._endpoint_config(props)

        self.alarm_topic = props.alarm_topic or alarm_topic(
            self, "AlarmTopic", key=props.keys.monitoring, display_name=f"{props.endpoint_name} endpoint alarms")
        self.alarms: list[cloudwatch.Alarm] = []
        for variant in self.variants:
            if not variant.shadow:
                self._alarms_for(variant)

        rollback = [*self.alarms, *props.rollback_alarms]
        if rollback:
            # Deployment guardrails: SageMaker watches the auto-rollback alarms with the endpoint's execution role
            # (SageMaker developer guide, "Auto-Rollback Configuration and Monitoring"); exactly those alarms.
            self._allow(iam.PolicyStatement(sid="RollbackAlarms", actions=["cloudwatch:DescribeAlarms"],
                                            resources=[a.alarm_arn for a in rollback]),
                        "cloudwatch:DescribeAlarms of the endpoint's auto-rollback alarms")
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=props.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=self._deployment_config(list(props.rollback_alarms)),
            retain_all_variant_properties=True,
            # Keep autoscaled instance counts; take weights and capture settings from the new config.
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DesiredWeight"),
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DataCaptureConfig"),
            ],
        )
        self._acknowledge_wildcards()
        policy = self.role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            # CreateModel validates the execution role's access to the image and artifacts, and SageMaker pulls
            # the model with these permissions: every model and the endpoint wait for the role's policy.
            self.endpoint.node.add_dependency(policy)
            for model in self.models.values():  # variants serving the same source share one model
                model.node.add_dependency(policy)
        self.endpoint.node.add_dependency(self.log_group)

        self.scalable_targets: dict[str, appscaling.ScalableTarget] = {}
        if serving.mode == "serverless" and serving.serverless.scales_provisioned_concurrency:
            self._autoscale_provisioned_concurrency()
        elif serving.mode != "serverless" and props.autoscale:
            for variant in self.variants:
                if not variant.shadow:
                    self._autoscale(variant)
        self.dashboard = self._dashboard()

    # ----- validation -----

    def _validate(self, props: ModelEndpointProps) -> None:
        problems = Problems()
        serving = props.serving
        validate_serving(serving, "serving", problems)
        name = props.endpoint_name
        if not Token.is_unresolved(name) and not SAGEMAKER_NAME.match(name):
            problems.add("endpoint_name", f"{name!r} is not a valid endpoint name (letters, digits, single hyphens, up to 63)")
        props.model.check("model", problems, multi_model=props.multi_model)
        known = {v.name for v in serving.variants} | ({serving.shadow.name} if serving.shadow else set())
        for variant, source in props.variant_models.items():
            if variant not in known:
                problems.add(f"variant_models.{variant}", f"names no A/B or shadow variant; known: {', '.join(sorted(known)) or 'none'}")
            source.check(f"variant_models.{variant}", problems, multi_model=props.multi_model)
        if props.multi_model and serving.mode == "serverless":
            problems.add("multi_model", "serverless endpoints cannot host multi-model containers")
        if serving.captures_data and props.data_capture_bucket is None:
            problems.add("data_capture_bucket", "is required while data capture is on (serving.data_capture.enabled false turns it off)")
        if serving.captures_data and not props.data_capture_prefix.strip("/"):
            problems.add("data_capture_prefix", f"{props.data_capture_prefix!r} is empty; captures go under a prefix like 'data-capture'")
        if serving.mode == "async" and props.async_bucket is None:
            problems.add("async_bucket", "is required for mode 'async' (inputs, outputs and failures live there)")
        if not props.placement.subnet_ids and serving.mode != "serverless":
            problems.add("placement.subnet_ids", "is empty; the endpoint runs in the VPC's private subnets")
        own = (1 + len(serving.variants)) * (2 if serving.mode == "async" else 3)
        if own + len(props.rollback_alarms) > MAX_ROLLBACK_ALARMS:
            problems.add("rollback_alarms", f"{len(props.rollback_alarms)} given, with the endpoint's own {own} (per production variant: "
                                            f"errors, latency{'' if serving.mode == 'async' else ', model errors'}) make "
                                            f"{own + len(props.rollback_alarms)}; SageMaker watches at most {MAX_ROLLBACK_ALARMS}")
        problems.raise_if_any(self.node.path)

    # ----- model -----

    def _variants(self, props: ModelEndpointProps) -> list[_Variant]:
        s = props.serving
        primary = VariantConfig(name=PRIMARY_VARIANT, weight=s.weight, instance_type=s.instance_type,
                                min_instances=s.min_instances, max_instances=s.max_instances)
        out = [_Variant(PRIMARY_VARIANT, primary, props.model, shadow=False)]
        for v in s.variants:
            out.append(_Variant(v.name, _inherit(v, primary), props.variant_models.get(v.name, props.model), shadow=False))
        if s.shadow is not None:
            v = s.shadow
            out.append(_Variant(v.name, _inherit(v, primary), props.variant_models.get(v.name, props.model), shadow=True))
        return out

    def _model_for(self, variant: _Variant) -> None:
        source = variant.model
        reuse = next((name for name in self.models if self._sources[name] == source), None)
        if reuse is not None:
            self.models[variant.name] = self.models[reuse]
            self._sources[variant.name] = source
            return
        container = sagemaker.CfnModel.ContainerDefinitionProperty(
            model_package_name=source.model_package_arn,
            image=source.image_uri,
            model_data_url=source.model_data_location,
            environment=dict(source.environment) or None,
            mode="MultiModel" if self.props.multi_model else None,
        )
        cfn_id = "Model" if variant.name == PRIMARY_VARIANT else f"Model{pascal(variant.name)}"
        model = sagemaker.CfnModel(
            self,
            cfn_id,
            execution_role_arn=self.role.role_arn,
            primary_container=container,
            enable_network_isolation=None if not self.in_vpc else True,
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                security_group_ids=self.placement.security_group_ids, subnets=list(self.placement.subnet_ids)
            ) if self.in_vpc else None,
        )
        self.models[variant.name] = model
        self._sources[variant.name] = source
        self._grant_artifacts(source)

    def _allow(self, statement: iam.PolicyStatement, reason: str) -> None:
        """Add a statement to the execution role; acknowledge each wildcard in it (AwsSolutions-IAM5)."""
        add_to_principal_policy(self.role, statement)
        for finding in wildcard_findings(self, statement):
            self._wildcards[finding] = reason

    def _acknowledge_wildcards(self) -> None:
        policy = self.role.node.try_find_child("DefaultPolicy")
        assert isinstance(policy, Construct)
        for finding, reason in sorted(self._wildcards.items()):
            acknowledge(policy, reason, finding)

    def _execution_role(self, props: ModelEndpointProps) -> iam.Role:
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker endpoint {props.endpoint_name}: read its model, write its logs and captures",
        )
        self.role = role
        # What every SageMaker workload needs: its log group, SageMaker's metric namespaces, the ECR login and, in
        # the VPC, network interfaces confined to the VPC (ec2:Vpc).
        workload = workload_statements(
            Stack.of(self),
            vpc_id=props.placement.vpc.vpc_id if self.in_vpc else None,
            log_groups=(f"/aws/sagemaker/Endpoints/{props.endpoint_name}",),
            metric_namespaces=("/aws/sagemaker/*", INVOCATION_NAMESPACE),
        )
        for statement in workload.scoped:
            self._allow(statement, "SageMaker names log streams after variants and instances at run time; only this endpoint's log group.")
        for statement in workload.unscoped:
            self._allow(statement, NO_RESOURCE_LEVEL_REASON)
        return role

    def _grant_artifacts(self, source: ModelSource) -> None:
        if source in self._granted:
            return
        self._granted.append(source)
        n = len(self._granted)
        artifact_account = source.owner_account or Aws.ACCOUNT_ID
        partition, region = Aws.PARTITION, Aws.REGION
        image = ECR_IMAGE.match(source.image_uri) if source.image_uri and not Token.is_unresolved(source.image_uri) else None
        if image is not None:
            repositories = [f"arn:{partition}:ecr:{image['region']}:{image['account']}:repository/{image['repository']}"]
        else:
            repositories = [f"arn:{partition}:ecr:{region}:{artifact_account}:repository/*"]
        self._allow(
            iam.PolicyStatement(
                sid=f"PullImages{n}",
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=repositories,
            ),
            "The image is known only at deploy time (from the model package or a deploy-time value), so no single "
            "repository can be named; pulls are limited to the ECR repositories of the account that owns the "
            "model's artifacts (its registry or artifact account, or this account). Images in AWS's own registry "
            "accounts (built-in algorithm and framework images) are outside this statement.",
        )
        bucket, url = source.model_data_bucket, source.model_data_url
        data = S3_URI.match(url) if url and not Token.is_unresolved(url) else None
        if bucket is not None and source.model_data_object_key is not None:
            key = source.model_data_object_key
            objects = bucket.arn_for_objects(key + ("*" if key.endswith("/") or not key else ""))
            self._allow(iam.PolicyStatement(sid=f"ReadModelData{n}", actions=["s3:GetObject"], resources=[objects]),
                        "A multi-model endpoint loads any model under its model data prefix, on demand.")
            self._allow(iam.PolicyStatement(sid=f"ListModelData{n}", actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
                        "Listing the model data bucket has no wildcard.")
        elif data is not None:
            key = data["key"]
            objects = f"arn:{partition}:s3:::{data['bucket']}/{key}" + ("*" if key.endswith("/") or not key else "")
            self._allow(iam.PolicyStatement(sid=f"ReadModelData{n}", actions=["s3:GetObject"], resources=[objects]),
                        "A multi-model endpoint loads any model under its model data prefix, on demand.")
            self._allow(iam.PolicyStatement(sid=f"ListModelData{n}", actions=["s3:ListBucket"],
                                            resources=[f"arn:{partition}:s3:::{data['bucket']}"]),
                        "Listing the model data bucket has no wildcard.")
        elif source.model_package_arn is not None or url is not None:
            # The package (or a deploy-time URL) names its artifacts only at deploy time: objects of the artifact account.
            self._allow(
                iam.PolicyStatement(
                    sid=f"ReadModelArtifacts{n}",
                    actions=["s3:GetObject"],
                    resources=[f"arn:{partition}:s3:::*/*"],
                    conditions={"StringEquals": {"s3:ResourceAccount": artifact_account}},
                ),
                "A model package names its artifact location only at deploy time; reads are limited to buckets "
                "of the artifact account by the s3:ResourceAccount condition.",
            )
        through_s3 = {"StringLike": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}
        data_key = source.data_kms_key
        if data_key is not None:
            self._allow(iam.PolicyStatement(sid=f"DecryptModelData{n}", actions=["kms:Decrypt", "kms:DescribeKey"],
                                            resources=[data_key.key_arn], conditions=through_s3),
                        "Decrypting with the model data's key has no wildcard.")
        elif source.model_package_arn is not None or url is not None:
            # The model data's key is unknown at synth: keys of the account owning the data (never an image registry's).
            self._allow(
                iam.PolicyStatement(
                    sid=f"DecryptModelArtifacts{n}",
                    actions=["kms:Decrypt", "kms:DescribeKey"],
                    resources=[f"arn:{partition}:kms:{region}:{artifact_account}:key/*"],
                    conditions=through_s3,
                ),
                "The artifacts' key is the artifact account's; decrypt is limited to that account's keys, used "
                "through S3 only (kms:ViaService).",
            )

    # ----- endpoint config -----

    def _endpoint_config(self, props: ModelEndpointProps) -> sagemaker.CfnEndpointConfig:
        serving = props.serving
        production = [self._production_variant(v) for v in self.variants if not v.shadow]
        shadow = [self._production_variant(v) for v in self.variants if v.shadow]
        data_capture = None
        if self.has_data_capture:
            capture = serving.data_capture
            bucket = props.data_capture_bucket
            assert bucket is not None and self.data_capture_prefix is not None  # validated
            self._write_objects(bucket, self.data_capture_prefix, "DataCapture")
            options = ([sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input")] if capture.capture_input else []) + (
                [sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output")] if capture.capture_output else []
            )
            data_capture = sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=True,
                initial_sampling_percentage=capture.sampling_percentage,
                destination_s3_uri=bucket.s3_uri(props.data_capture_prefix.strip("/")),
                kms_key_id=bucket.key.key_arn,
                capture_options=options,
                capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                    csv_content_types=list(capture.csv_content_types) or None,
                    json_content_types=list(capture.json_content_types) or None,
                ),
            )
        async_config = self._async_config(props) if serving.mode == "async" else None
        config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            kms_key_id=props.keys.models.key_arn if serving.volume_kms_key else None,
            production_variants=production,
            shadow_production_variants=shadow or None,
            data_capture_config=data_capture,
            async_inference_config=async_config,
        )
        if not serving.volume_kms_key:
            # Validation admits the opt-out only for instance types with local NVMe storage (or deploy-time types).
            acknowledge(
                config,
                "serving.volume_kms_key is turned off explicitly: the endpoint's instance types have local NVMe instance "
                "storage, which SageMaker encrypts with the instance's hardware module and on which it rejects a KmsKeyId.",
                "NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured",
                "HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured",
            )
        return config

    def _write_objects(self, bucket: CmkBucket, prefix: str, sid: str) -> None:
        self._allow(
            iam.PolicyStatement(sid=sid, actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=[bucket.bucket.arn_for_objects(f"{prefix}/*")]),
            "SageMaker names the objects it writes at run time; writes are limited to this endpoint's own prefix.",
        )
        self._allow(
            iam.PolicyStatement(sid=f"{sid}Key", actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[bucket.key.key_arn]),
            "Encrypting with the bucket's key has no wildcard.",
        )

    def _production_variant(self, variant: _Variant) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        serving = self.serving
        config = variant.config
        weight = serving.weight * config.weight if variant.shadow else config.weight
        if serving.mode == "serverless":
            s = serving.serverless
            return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=variant.name,
                model_name=self.models[variant.name].attr_model_name,
                initial_variant_weight=weight,
                serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                    memory_size_in_mb=s.memory_mb,
                    max_concurrency=s.max_concurrency,
                    provisioned_concurrency=s.provisioned_concurrency or None,
                ),
            )
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=variant.name,
            model_name=self.models[variant.name].attr_model_name,
            initial_variant_weight=weight,
            instance_type=config.instance_type,
            initial_instance_count=max(config.min_instances or 1, 1),
        )

    def _async_config(self, props: ModelEndpointProps) -> sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty:
        bucket = props.async_bucket
        assert bucket is not None
        self.async_prefix = f"async/{props.endpoint_name}"
        self._allow(
            iam.PolicyStatement(sid="AsyncInput", actions=["s3:GetObject"], resources=[bucket.bucket.arn_for_objects(f"{self.async_prefix}/input/*")]),
            "Async requests name their input object at run time; reads are limited to this endpoint's input prefix.",
        )
        self._allow(
            iam.PolicyStatement(sid="AsyncInputKey", actions=["kms:Decrypt"], resources=[bucket.key.key_arn]),
            "Decrypting with the bucket's key has no wildcard.",
        )
        self._write_objects(bucket, f"{self.async_prefix}/output", "AsyncOutput")
        self._write_objects(bucket, f"{self.async_prefix}/failure", "AsyncFailure")
        self.async_bucket = bucket
        self.success_topic = sns.Topic(self, "SuccessTopic", master_key=props.keys.monitoring, enforce_ssl=True,
                                       display_name=f"{props.endpoint_name} async inference succeeded")
        self.error_topic = sns.Topic(self, "ErrorTopic", master_key=props.keys.monitoring, enforce_ssl=True,
                                     display_name=f"{props.endpoint_name} async inference failed")
        self._allow(
            iam.PolicyStatement(sid="AsyncNotifications", actions=["sns:Publish"],
                                resources=[self.success_topic.topic_arn, self.error_topic.topic_arn]),
            "Publishing to this endpoint's two notification topics has no wildcard.",
        )
        self._allow(
            iam.PolicyStatement(sid="AsyncNotificationsKey", actions=["kms:GenerateDataKey", "kms:Decrypt"],
                                resources=[props.keys.monitoring.key_arn]),
            "Encrypting notifications with the monitoring key has no wildcard.",
        )
        return sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
            client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                max_concurrent_invocations_per_instance=props.serving.async_inference.max_concurrent_invocations_per_instance,
            ),
            output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                s3_output_path=bucket.s3_uri(f"{self.async_prefix}/output/"),
                s3_failure_path=bucket.s3_uri(f"{self.async_prefix}/failure/"),
                kms_key_id=bucket.key.key_arn,
                notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                    success_topic=self.success_topic.topic_arn,
                    error_topic=self.error_topic.topic_arn,
                ),
            ),
        )

    # ----- rollout and alarms -----

    def _deployment_config(self, extra: list[cloudwatch.IAlarm]) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        rollout = self.serving.rollout
        percent = sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT", value=rollout.size_percent)
        routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
            type=rollout.strategy.upper(),
            canary_size=percent if rollout.strategy == "canary" else None,
            linear_step_size=percent if rollout.strategy == "linear" else None,
            wait_interval_in_seconds=rollout.wait_minutes * 60 if rollout.strategy != "all_at_once" else None,
        )
        alarms = [*self.alarms, *extra]
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=routing,
                termination_wait_in_seconds=rollout.termination_wait_minutes * 60,
                maximum_execution_timeout_in_seconds=rollout.max_execution_minutes * 60,
            ),
            auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=a.alarm_name) for a in alarms]
            ),
        )

    def _alarms_for(self, variant: _Variant) -> None:
        limits = self.serving.alarms
        minutes = limits.evaluation_minutes
        one_minute = Duration.minutes(1)
        name = pascal(variant.name)
        if self.mode == "async":
            errors = self.metric("InvocationFailures", statistic="Sum", period=one_minute, per_variant=False)
        else:
            errors = self.metric_5xx_errors(variant.name, period=one_minute)
        specs: list[tuple[str, cloudwatch.IMetric, float, str]] = [
            (f"{name}Errors", errors, limits.errors_5xx, f"{limits.errors_5xx}+ failed invocations a minute"),
            (f"{name}LatencyP99", self.metric_model_latency(variant.name, statistic="p99", period=one_minute),
             limits.latency_p99_ms * 1000, f"p99 model latency above {limits.latency_p99_ms} ms"),
        ]
        if self.mode != "async":
            specs.append((f"{name}ModelErrors", self.metric_model_errors(variant.name, period=one_minute),
                          limits.model_errors, f"{limits.model_errors}+ model errors a minute"))
        for alarm_id, metric, threshold, what in specs:
            alarm = cloudwatch.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=minutes,
                datapoints_to_alarm=minutes,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"{self.endpoint_name} variant {variant.name}: {what} for {minutes} minute(s); rolls a deployment back",
            )
            alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
            self.alarms.append(alarm)

    # ----- scaling -----

    def _autoscale(self, variant: _Variant) -> None:
        config = variant.config
        scaling = self.serving.scaling
        low = self.serving.min_instances if variant.name == PRIMARY_VARIANT else (config.min_instances or 1)
        high = config.max_instances or max(low, 1)
        target = appscaling.ScalableTarget(
            self,
            f"{pascal(variant.name)}Scaling",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint.attr_endpoint_name}/variant/{variant.name}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=low,
            max_capacity=high,
            role=self._scaling_role(),
        )
        self.scalable_targets[variant.name] = target
        in_cool = Duration.seconds(scaling.scale_in_cooldown_seconds)
        out_cool = Duration.seconds(scaling.scale_out_cooldown_seconds)
        if self.mode == "async":
            target.scale_to_track_metric(
                "Backlog",
                target_value=self.serving.async_inference.backlog_per_instance,
                custom_metric=self.metric_backlog_per_instance(),
                scale_in_cooldown=in_cool,
                scale_out_cooldown=out_cool,
            )
            if low == 0:
                # Target tracking cannot leave zero instances: a queued request starts the first one.
                target.scale_on_metric(
                    "FromZero",
                    metric=self.metric_has_backlog_without_capacity(),
                    scaling_steps=[
                        appscaling.ScalingInterval(upper=0, change=0),
                        appscaling.ScalingInterval(lower=1, change=1),
                    ],
                    adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
                    cooldown=out_cool,
                    evaluation_periods=1,
                )
        elif scaling.metric == "invocations":
            target.scale_to_track_metric(
                "Invocations",
                target_value=scaling.target,
                predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
                scale_in_cooldown=in_cool,
                scale_out_cooldown=out_cool,
            )
        else:
            metric = {
                "cpu": lambda: self.metric_cpu_utilization(variant.name),
                "gpu": lambda: self.metric_gpu_utilization(variant.name),
            }.get(scaling.metric, lambda: self._custom_metric(variant.name))()
            target.scale_to_track_metric(
                pascal(scaling.metric),
                target_value=scaling.target,
                custom_metric=metric,
                scale_in_cooldown=in_cool,
                scale_out_cooldown=out_cool,
            )
        if variant.name == PRIMARY_VARIANT:
            for action in scaling.scheduled:
                target.scale_on_schedule(
                    pascal(action.name),
                    schedule=appscaling.Schedule.expression(action.schedule),
                    min_capacity=action.min_instances,
                    max_capacity=action.max_instances,
                )

    def _autoscale_provisioned_concurrency(self) -> None:
        settings = self.serving.serverless
        target = appscaling.ScalableTarget(
            self,
            "PrimaryProvisionedConcurrency",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint.attr_endpoint_name}/variant/{PRIMARY_VARIANT}",
            scalable_dimension="sagemaker:variant:DesiredProvisionedConcurrency",
            min_capacity=settings.provisioned_concurrency,
            max_capacity=settings.max_provisioned_concurrency,
            role=self._scaling_role(),
        )
        target.scale_to_track_metric(
            "Utilization",
            target_value=settings.provisioned_utilization,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_PROVISIONED_CONCURRENCY_UTILIZATION,
            scale_in_cooldown=Duration.seconds(self.serving.scaling.scale_in_cooldown_seconds),
            scale_out_cooldown=Duration.seconds(self.serving.scaling.scale_out_cooldown_seconds),
        )
        self.scalable_targets[PRIMARY_VARIANT] = target

    def _scaling_role(self) -> iam.IRole:
        """Application Auto Scaling's service-linked role for SageMaker (created by the service on first use)."""
        existing = self.node.try_find_child("ScalingServiceRole")
        if existing is not None:
            return existing  # type: ignore[return-value]
        return iam.Role.from_role_arn(
            self,
            "ScalingServiceRole",
            f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
            "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
            mutable=False,
        )

    def _custom_metric(self, variant: str) -> cloudwatch.Metric:
        custom = self.serving.scaling.custom_metric
        assert custom is not None
        return cloudwatch.Metric(
            namespace=custom.namespace,
            metric_name=custom.metric_name,
            statistic=custom.statistic,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": variant},
        )

    # ----- composition -----

    @property
    def endpoint_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:endpoint/{self.endpoint.attr_endpoint_name}"

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let a client invoke the endpoint; for async endpoints also upload inputs and read results."""
        actions = ["sagemaker:InvokeEndpointAsync"] if self.mode == "async" else ["sagemaker:InvokeEndpoint"]
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[self.endpoint_arn])
        bucket, prefix = self.async_bucket, self.async_prefix
        if bucket is not None and prefix is not None:
            objects = bucket.bucket.arn_for_objects
            iam.Grant.add_to_principal(grantee=grantee, actions=["s3:PutObject"], resource_arns=[objects(f"{prefix}/input/*")])
            iam.Grant.add_to_principal(grantee=grantee, actions=["s3:GetObject"],
                                       resource_arns=[objects(f"{prefix}/output/*"), objects(f"{prefix}/failure/*")])
            iam.Grant.add_to_principal(grantee=grantee, actions=["kms:GenerateDataKey", "kms:Decrypt"], resource_arns=[bucket.key.key_arn])
        return grant

    # ----- metrics -----

    @property
    def variant_names(self) -> list[str]:
        return [v.name for v in self.variants]

    @property
    def data_capture_s3_uri(self) -> str | None:
        """Where captures land: SageMaker writes under ``<uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/``."""
        if self.data_capture_bucket is None:
            return None
        return self.data_capture_bucket.s3_uri(self.props.data_capture_prefix.strip("/"))

    def metric(
        self,
        metric_name: str,
        variant: str = PRIMARY_VARIANT,
        *,
        statistic: str = "Average",
        period: Duration | None = None,
        namespace: str = INVOCATION_NAMESPACE,
        per_variant: bool = True,
    ) -> cloudwatch.Metric:
        dims = {"EndpointName": self.endpoint_name}
        if per_variant:
            dims["VariantName"] = variant
        return cloudwatch.Metric(namespace=namespace, metric_name=metric_name, statistic=statistic,
                                 dimensions_map=dims, period=period or Duration.minutes(5))

    def metric_invocations(self, variant: str = PRIMARY_VARIANT, *, period: Duration | None = None) -> cloudwatch.Metric:
        return self.metric("Invocations", variant, statistic="Sum", period=period)

    def metric_invocations_per_instance(self, variant: str = PRIMARY_VARIANT, *, period: Duration | None = None) -> cloudwatch.Metric:
        return self.metric("InvocationsPerInstance", variant, statistic="Sum", period=period)

    def metric_model_latency(self, variant: str = PRIMARY_VARIANT, *, statistic: str = "p99", period: Duration | None = None) -> cloudwatch.Metric:
        """Model latency in microseconds."""
        return self.metric("ModelLatency", variant, statistic=statistic, period=period)

    def metric_overhead_latency(self, variant: str = PRIMARY_VARIANT, *, statistic: str = "p99", period: Duration | None = None) -> cloudwatch.Metric:
        return self.metric("OverheadLatency", variant, statistic=statistic, period=period)

    def metric_5xx_errors(self, variant: str = PRIMARY_VARIANT, *, period: Duration | None = None) -> cloudwatch.Metric:
        return self.metric("Invocation5XXErrors", variant, statistic="Sum", period=period)

    def metric_4xx_errors(self, variant: str = PRIMARY_VARIANT, *, period: Duration | None = None) -> cloudwatch.Metric:
        return self.metric("Invocation4XXErrors", variant, statistic="Sum", period=period)

    def metric_model_errors(self, variant: str = PRIMARY_VARIANT, *, period: Duration | None = None) -> cloudwatch.Metric:
        return self.metric("InvocationModelErrors", variant, statistic="Sum", period=period)

    def metric_cpu_utilization(self, variant: str = PRIMARY_VARIANT, *, period: Duration | None = None) -> cloudwatch.Metric:
        """CPU utilisation normalised to 0-100 % across all cores."""
        return self.metric("CPUUtilizationNormalized", variant, period=period, namespace=INSTANCE_NAMESPACE)

    def metric_memory_utilization(self, variant: str = PRIMARY_VARIANT, *, period: Duration | None = None) -> cloudwatch.Metric:
        return self.metric("MemoryUtilization", variant, period=period, namespace=INSTANCE_NAMESPACE)

    def metric_gpu_utilization(self, variant: str = PRIMARY_VARIANT, *, period: Duration | None = None) -> cloudwatch.Metric:
        """GPU utilisation normalised to 0-100 % across all GPUs."""
        return self.metric("GPUUtilizationNormalized", variant, period=period, namespace=INSTANCE_NAMESPACE)

    def metric_instance_count(self, variant: str = PRIMARY_VARIANT, *, period: Duration | None = None) -> cloudwatch.MathExpression:
        """Instances in service, derived as invocations / invocations per instance (no data without traffic)."""
        suffix = re.sub(r"\W", "_", variant.lower())  # ids must be unique per graph
        return cloudwatch.MathExpression(
            expression=f"invocations_{suffix} / per_instance_{suffix}",
            using_metrics={
                f"invocations_{suffix}": self.metric_invocations(variant, period=period),
                f"per_instance_{suffix}": self.metric_invocations_per_instance(variant, period=period),
            },
            label=f"{variant} instances",
            period=period or Duration.minutes(5),
        )

    def metric_backlog_per_instance(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Async only: queued requests per instance (what the endpoint scales on)."""
        return self.metric("ApproximateBacklogSizePerInstance", statistic="Average", period=period or Duration.minutes(1), per_variant=False)

    def metric_backlog(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        return self.metric("ApproximateBacklogSize", statistic="Average", period=period or Duration.minutes(1), per_variant=False)

    def metric_has_backlog_without_capacity(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        return self.metric("HasBacklogWithoutCapacity", statistic="Average", period=period or Duration.minutes(1), per_variant=False)

    def _dashboard(self) -> cloudwatch.Dashboard:
        serving_variants = [v.name for v in self.variants]
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{self.endpoint_name}-endpoint")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Invocations", left=[self.metric_invocations(v) for v in serving_variants], width=8),
            cloudwatch.GraphWidget(
                title="Errors",
                left=[m for v in serving_variants for m in (self.metric_5xx_errors(v), self.metric_4xx_errors(v), self.metric_model_errors(v))],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Model latency (microseconds)",
                left=[self.metric_model_latency(v, statistic=s) for v in serving_variants for s in ("p50", "p99")],
                width=8,
            ),
        )
        if self.mode == "serverless":
            dashboard.add_widgets(
                cloudwatch.GraphWidget(title="Cold starts: model setup time (microseconds)",
                                       left=[self.metric("ModelSetupTime", v, statistic="p99") for v in serving_variants], width=12),
                cloudwatch.AlarmStatusWidget(title="Rollback alarms", alarms=self.alarms, width=12),
            )
            return dashboard
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Instances", left=[self.metric_instance_count(v) for v in serving_variants], width=8),
            cloudwatch.GraphWidget(
                title="Utilisation (%)",
                left=[m for v in serving_variants for m in (self.metric_cpu_utilization(v), self.metric_memory_utilization(v))],
                width=8,
            ),
            cloudwatch.AlarmStatusWidget(title="Rollback alarms", alarms=self.alarms, width=8),
        )
        if self.mode == "async":
            dashboard.add_widgets(
                cloudwatch.GraphWidget(title="Backlog", left=[self.metric_backlog(), self.metric_backlog_per_instance()],
                                       right=[self.metric_has_backlog_without_capacity()], width=24),
            )
        return dashboard


def _inherit(variant: VariantConfig, primary: VariantConfig) -> VariantConfig:
    """A variant with what it leaves unset filled in: the primary's instance type, one instance, no scaling above it."""
    min_instances = variant.min_instances if variant.min_instances is not None else 1
    return replace(
        variant,
        instance_type=variant.instance_type or primary.instance_type,
        min_instances=min_instances,
        max_instances=variant.max_instances if variant.max_instances is not None else max(min_instances, 1),
    )
