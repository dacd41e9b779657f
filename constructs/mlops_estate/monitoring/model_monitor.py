"""Model Monitor for one endpoint: data quality, model quality, bias and explainability schedules with alarms.

`ModelMonitor` takes a `MonitoredEndpoint` (a small interface any endpoint construct adapts to) and the
model's `MonitoringConfig`, and builds per enabled monitor type a job definition (VPC-only, CMK-encrypted
volumes and outputs, inter-container encryption, network isolation where the analysis allows it) and a
monitoring schedule; one least-privilege role for all of them; and CloudWatch alarms on the metrics the
monitors publish and on failed or violating executions, all to an encrypted SNS topic. ``drift_alarm``
aggregates every drift signal: it is what retraining listens to.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_cdk import Aws, CfnResource, DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3_deployment
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from mlops_estate.events.alarm_topic import alarm_topic
from mlops_estate.config.ci import BOOTSTRAP_QUALIFIER_CONTEXT
from mlops_estate.config.estate import AccountsConfig, ModelConfig, ServingEnv
from mlops_estate.security.encryption import KeyRing
from mlops_estate.config.governance import GovernedRole
from mlops_estate.core.hashed_name import HASH_CHARS, hashed_name
from mlops_estate.serving.endpoint import ModelEndpoint
from mlops_estate.config.monitoring import (
    LOWER_IS_BETTER,
    S3_URI,
    MonitoringConfig,
    MonitorType,
    model_quality_alarm,
    monitor_role_path,
)
from mlops_estate.core.nag import acknowledge, nag_text
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.security.storage import CmkBucket, SecureBucket

# Namespaces the built-in monitors publish to for real-time endpoints (dimensions Endpoint, MonitoringSchedule).
DATA_METRICS = "aws/sagemaker/Endpoints/data-metrics"
MODEL_METRICS = "aws/sagemaker/Endpoints/model-metrics"
MONITOR_NAMESPACES = "aws/sagemaker/Endpoints/*"

# AWS-owned image registries per region (from the SageMaker Python SDK's image_uri_config).
ANALYZER_ACCOUNTS = {
    "af-south-1": "875698925577", "ap-east-1": "001633400207", "ap-northeast-1": "574779866223",
    "ap-northeast-2": "709848358524", "ap-northeast-3": "990339680094", "ap-south-1": "126357580389",
    "ap-southeast-1": "245545462676", "ap-southeast-2": "563025443158", "ap-southeast-3": "669540362728",
    "ca-central-1": "536280801234", "eu-central-1": "048819808253", "eu-central-2": "590183933784",
    "eu-north-1": "895015795356", "eu-south-1": "933208885752", "eu-south-2": "437450045455",
    "eu-west-1": "468650794304", "eu-west-2": "749857270468", "eu-west-3": "680080141114",
    "il-central-1": "843974653677", "me-central-1": "588750061953", "me-south-1": "607024016150",
    "sa-east-1": "539772159869", "us-east-1": "156813124566", "us-east-2": "777275614652",
    "us-west-1": "890145073186", "us-west-2": "159807026194",
}
CLARIFY_ACCOUNTS = {
    "af-south-1": "811711786498", "ap-east-1": "098760798382", "ap-northeast-1": "377024640650",
    "ap-northeast-2": "263625296855", "ap-northeast-3": "912233562940", "ap-south-1": "452307495513",
    "ap-southeast-1": "834264404009", "ap-southeast-2": "007051062584", "ap-southeast-3": "705930551576",
    "ca-central-1": "675030665977", "eu-central-1": "017069133835", "eu-central-2": "730335477804",
    "eu-north-1": "763603941244", "eu-south-1": "638885417683", "eu-west-1": "131013547314",
    "eu-west-2": "440796970383", "eu-west-3": "341593696636", "me-south-1": "835444307964",
    "sa-east-1": "520018980103", "us-east-1": "205585389593", "us-east-2": "211330385671",
    "us-west-1": "740489534195", "us-west-2": "306415355426",
}

ENV_ABBREVIATION: dict[str, str] = {"staging": "stg", "prod": "prd"}
SUFFIX: dict[MonitorType, str] = {"data_quality": "dq", "model_quality": "mq", "bias": "bias", "explainability": "expl"}
MONITORING_TYPE: dict[MonitorType, str] = {
    "data_quality": "DataQuality", "model_quality": "ModelQuality", "bias": "ModelBias", "explainability": "ModelExplainability",
}
CONSTRUCT_ID: dict[MonitorType, str] = {
    "data_quality": "DataQuality", "model_quality": "ModelQuality", "bias": "ModelBias", "explainability": "ModelExplainability",
}
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


JobDefinition = TypeVar("JobDefinition", bound=CfnResource)


def _sagemaker_name(name: str) -> bool:
    return len(name) <= 63 and SAGEMAKER_NAME.match(name) is not None
INPUT_PATH = "/opt/ml/processing/input/endpoint"
OUTPUT_PATH = "/opt/ml/processing/output"
# Environment of every monitoring container: publish the metrics the alarms watch.
PUBLISH_METRICS = {"publish_cloudwatch_metrics": "Enabled"}


@dataclass(frozen=True)
class MonitoredEndpoint:
    """What `ModelMonitor` needs to know about an endpoint; `ModelEndpoint` (or any endpoint) adapts to it.

    ``endpoint`` is the construct the monitors depend on (created first); ``data_capture_*`` is where the
    endpoint captures requests and responses, which every monitor reads; ``model_name`` is the SageMaker
    model behind the endpoint (explainability monitoring runs it on a temporary shadow endpoint).
    """

    endpoint_name: str
    environment: ServingEnv | None
    data_capture_enabled: bool
    data_capture_bucket: s3.IBucket
    data_capture_prefix: str
    placement: NetworkPlacement
    keys: KeyRing
    endpoint: IConstruct | None = None
    model_name: str | None = None

    @classmethod
    def of(cls, endpoint: ModelEndpoint, environment: ServingEnv | None) -> MonitoredEndpoint:
        """Adapt a `ModelEndpoint`; monitors read what it captures, so it must capture data. ``environment`` is
        None for an endpoint outside the serving accounts (then give the monitor a ``name_prefix``)."""
        capture = endpoint.data_capture_bucket
        if capture is None or endpoint.data_capture_prefix is None:
            raise ValueError(
                f"{endpoint.node.path}: endpoint {endpoint.endpoint_name!r} captures no data (mode {endpoint.mode!r}); "
                "Model Monitor reads captured requests, so enable serving.<env>.data_capture or remove models[].monitoring"
            )
        primary = next(iter(endpoint.models.values()), None)
        return cls(
            endpoint_name=endpoint.endpoint_name,
            environment=environment,
            data_capture_enabled=endpoint.has_data_capture,
            data_capture_bucket=capture.bucket,
            data_capture_prefix=endpoint.data_capture_prefix,
            placement=endpoint.placement,
            keys=endpoint.keys,
            endpoint=endpoint.endpoint,
            model_name=primary.attr_model_name if primary is not None else None,
        )

    @property
    def data_capture_uri(self) -> str:
        return f"s3://{self.data_capture_bucket.bucket_name}/{self.data_capture_prefix.strip('/')}"

    @property
    def data_capture_keys(self) -> str:
        """The object key pattern of everything the endpoint captures (the whole bucket without a prefix)."""
        prefix = self.data_capture_prefix.strip("/")
        return f"{prefix}/*" if prefix else "*"



@dataclass(frozen=True)
class MonitorImages:
    """Container images of the monitors; by default the AWS-owned images of the stack's region."""

    analyzer: str
    clarify: str

    @staticmethod
    def for_region(region: str) -> MonitorImages | None:
        if region not in ANALYZER_ACCOUNTS or region not in CLARIFY_ACCOUNTS:
            return None
        return MonitorImages(
            analyzer=f"{ANALYZER_ACCOUNTS[region]}.dkr.ecr.{region}.amazonaws.com/sagemaker-model-monitor-analyzer",
            clarify=f"{CLARIFY_ACCOUNTS[region]}.dkr.ecr.{region}.amazonaws.com/sagemaker-clarify-processing:1.0",
        )


def _object_arn(uri: str) -> str:
    match = S3_URI.match(uri)
    assert match is not None, uri  # validated by MonitoringConfig
    return f"arn:{Aws.PARTITION}:s3:::{match['bucket']}/{match['key']}"


def _bucket_arn(uri: str) -> str:
    match = S3_URI.match(uri)
    assert match is not None, uri
    return f"arn:{Aws.PARTITION}:s3:::{match['bucket']}"


class ModelMonitor(Construct):
    """All four Model Monitor types for one endpoint, as the model's ``monitoring`` config enables them.

    Attributes: ``role``, ``topic`` (encrypted SNS), ``reports`` (CMK bucket of monitoring reports),
    ``job_definition_names`` (by monitor type; ``<schedule name>-<hash>``, a token resolved at synthesis) /
    ``schedule_names`` (by monitor type), ``drift_alarm`` (composite: any drift,
    quality drop or constraint violation), ``failure_alarm``, ``alarms`` (every alarm, composite first).

    Names start with ``name_prefix`` (default ``<estate>-<model>-<stg|prd>``); ``reports`` and ``topic`` may be
    existing ones (by default the monitor makes its own bucket and encrypted topic).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint: MonitoredEndpoint,
        model: ModelConfig,
        estate_name: str,
        reports: CmkBucket | None = None,
        images: MonitorImages | None = None,
        accounts: AccountsConfig | None = None,
        name_prefix: str | None = None,
        topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        region = Stack.of(self).region
        config = self._validate(endpoint, model, estate_name, region, images, accounts, name_prefix)
        self._accounts = accounts
        self.config = config
        self.endpoint = endpoint
        self.model_name = model.name
        self._model_problem_type: str = model.problem_type
        self._gate_metric, self._gate_threshold = model.quality_gate.metric, model.quality_gate.threshold
        self.name_prefix = name_prefix or _name_prefix(estate_name, model.name, endpoint.environment)
        resolved_images = images or MonitorImages.for_region(region)
        assert resolved_images is not None  # checked in _validate
        self.images = resolved_images
        keys = endpoint.keys

        self.reports: CmkBucket = reports or SecureBucket(self, "Reports", key=keys.monitoring)
        # Clarify analysis configs: rendered from config and shipped as file assets unless config names its own.
        self.analysis_config_uris: dict[MonitorType, str] = {}
        self._analysis_config_arns: list[str] = []
        self._deployments: dict[MonitorType, s3_deployment.BucketDeployment] = {}
        rendered: list[tuple[MonitorType, dict[str, Any] | None]] = [
            ("bias", self.bias_analysis_config),
            ("explainability", self.explainability_analysis_config),
        ]
        for monitor, document in rendered:
            section = getattr(config, monitor)
            if section is None or document is None:
                continue
            if section.analysis_config_uri:
                self.analysis_config_uris[monitor] = section.analysis_config_uri
                self._analysis_config_arns.append(_object_arn(section.analysis_config_uri))
            elif any(Token.is_unresolved(v) for v in _strings(document)):
                # Names known only at deploy time (the endpoint's model): written to S3 by CloudFormation.
                key = f"{self.name_prefix}/analysis-config/{SUFFIX[monitor]}.json"
                self._deployments[monitor] = self._ship_at_deploy(monitor, key, document)
                self.analysis_config_uris[monitor] = self.reports.s3_uri(key)
                self._analysis_config_arns.append(self.reports.bucket.arn_for_objects(key))
            else:
                asset = self._ship(monitor, document)
                self.analysis_config_uris[monitor] = asset.s3_object_url
                self._analysis_config_arns.append(f"arn:{Aws.PARTITION}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}")
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),  # type: ignore[arg-type]
            description=f"Model Monitor jobs of {self.name_prefix} (endpoint {endpoint.endpoint_name})",
            # The guardrail SCP lets only roles under this path create Clarify's keyless shadow endpoint configs.
            path=monitor_role_path(estate_name),
        )
        statements = self._statements()
        self.policy = iam.ManagedPolicy(
            self, "Policy", roles=[self.role], statements=statements, description=f"Model Monitor jobs of {self.name_prefix}"
        )
        self._acknowledge_policy(statements)

        self.job_definition_names: dict[MonitorType, str] = {}
        self.schedule_names: dict[MonitorType, str] = {}
        self.job_definitions: dict[MonitorType, Any] = {}
        self.schedules: dict[MonitorType, sagemaker.CfnMonitoringSchedule] = {}
        builders = {
            "data_quality": self._data_quality,
            "model_quality": self._model_quality,
            "bias": self._bias,
            "explainability": self._explainability,
        }
        for monitor in config.enabled:
            name = f"{self.name_prefix}-{SUFFIX[monitor]}"
            self.schedule_names[monitor] = name
            definition: Any = builders[monitor]()
            # Every property of a job definition is "replacement" and CloudFormation creates the replacement
            # before deleting the old one, so a fixed name would collide on any change: the name carries a
            # hash of everything else, and the schedule (updated in place) follows it.
            self.job_definition_names[monitor] = definition.job_definition_name = hashed_name(name, (definition, "jobDefinitionName"))
            definition.node.add_dependency(self.policy)
            if endpoint.endpoint is not None:
                definition.node.add_dependency(endpoint.endpoint)
            if monitor in self._deployments:
                definition.node.add_dependency(self._deployments[monitor])
            self.job_definitions[monitor] = definition
            self.schedules[monitor] = self._schedule(monitor, name, definition)

        self.topic = topic or alarm_topic(self, "Alarms", key=keys.monitoring, display_name=f"Model Monitor alarms of {self.name_prefix}")
        self.drift_alarms: list[cloudwatch.Alarm] = self._drift_alarms()
        self.failure_alarm, self.violations_alarm = self._execution_alarms()
        self.drift_alarm = cloudwatch.CompositeAlarm(
            self,
            "DriftAlarm",
            composite_alarm_name=f"{self.name_prefix}-drift",
            alarm_description=(
                f"Model drift on {endpoint.endpoint_name}: a feature drifted, model quality dropped below its threshold, "
                "or a monitor found constraint violations. Retraining listens to this alarm."
            ),
            alarm_rule=cloudwatch.AlarmRule.any_of(
                *(cloudwatch.AlarmRule.from_alarm(a, cloudwatch.AlarmState.ALARM) for a in [*self.drift_alarms, self.violations_alarm])
            ),
        )
        self.drift_alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms: list[cloudwatch.IAlarm] = [self.drift_alarm, *self.drift_alarms, self.violations_alarm, self.failure_alarm]

    # ----------------------------------------------------------------------------------------- validation
    def _validate(
        self, endpoint: MonitoredEndpoint, model: ModelConfig, estate_name: str, region: str, images: MonitorImages | None,
        accounts: AccountsConfig | None, name_prefix: str | None,
    ) -> MonitoringConfig:
        problems: list[str] = []
        config = model.monitoring
        if config is None:
            problems.append(f"model {model.name!r}: has no 'monitoring' config; add one that enables at least one monitor")
        elif accounts is None:
            for field in ("baselines_account", "ground_truth_account"):
                if getattr(config, field) is not None:
                    problems.append(f"accounts: None, but monitoring.{field} is {getattr(config, field)!r}; pass the estate's "
                                    "accounts (EstateConfig.accounts) so the bucket owner's account id is known")
        elif not endpoint.data_capture_enabled:
            problems.append(
                f"endpoint.data_capture_enabled: False, but {', '.join(config.enabled)} monitoring reads captured requests; "
                "enable data capture on the endpoint or remove the monitors"
            )
        if config is not None and config.explainability is not None and not endpoint.model_name:
            problems.append(
                "endpoint.model_name: explainability monitoring runs the endpoint's model on a shadow endpoint; "
                "give the SageMaker model name (or remove the explainability monitor)"
            )
        if not Token.is_unresolved(endpoint.endpoint_name) and not _sagemaker_name(endpoint.endpoint_name):
            problems.append(f"endpoint.endpoint_name: {endpoint.endpoint_name!r} is not a SageMaker endpoint name (letters, digits, hyphens, up to 63)")
        if name_prefix is None and endpoint.environment not in ENV_ABBREVIATION:
            problems.append(f"endpoint.environment: {endpoint.environment!r} is not one of {sorted(ENV_ABBREVIATION)} "
                            "(or give the monitor a name_prefix)")
        elif name_prefix is None or not Token.is_unresolved(name_prefix):
            # A deploy-time prefix (a SageMaker project's) is bounded by its parameter's length instead.
            name = f"{name_prefix or _name_prefix(estate_name, model.name, endpoint.environment)}-expl-{'0' * HASH_CHARS}"
            if not _sagemaker_name(name):
                field = "name_prefix" if name_prefix else "estate_name"
                problems.append(f"{field}: {name_prefix or estate_name!r} gives job definition names like {name!r}, which "
                                "SageMaker rejects (letters, digits, hyphens, up to 63)")
        if images is None and MonitorImages.for_region(region) is None:
            where = "an environment-agnostic stack" if Token.is_unresolved(region) else f"region {region!r}"
            problems.append(f"images: no built-in monitor image is known for {where}; pass images=MonitorImages(analyzer=..., clarify=...)")
        if problems:
            raise ValueError(f"{self.node.path}: {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))
        assert config is not None
        return config

    # ------------------------------------------------------------------------------------------ the role
    def _statements(self) -> list[iam.PolicyStatement]:
        config, endpoint, keys = self.config, self.endpoint, self.endpoint.keys
        baselines: list[str] = []
        for monitor in config.enabled:
            section = getattr(config, monitor)
            baselines.append(section.constraints_uri)
            for extra in ("statistics_uri", "shap_baseline_uri"):
                if getattr(section, extra, ""):
                    baselines.append(getattr(section, extra))
        # The baseline and ground-truth buckets are named in config; read them only in the account that owns them.
        baselines_owner = {"StringEquals": {"s3:ResourceAccount": self._account_of(config.baselines_account)}}
        truth_owner = {"s3:ResourceAccount": self._account_of(config.ground_truth_account)}
        statements = [
            iam.PolicyStatement(
                sid="ReadBaselines", actions=["s3:GetObject"], resources=sorted({_object_arn(u) for u in baselines}),
                conditions=baselines_owner,
            ),
            *(
                [iam.PolicyStatement(sid="ReadAnalysisConfigs", actions=["s3:GetObject"], resources=self._analysis_config_arns)]
                if self._analysis_config_arns
                else []
            ),
            iam.PolicyStatement(
                sid="ReadDataCapture",
                actions=["s3:GetObject"],
                resources=[endpoint.data_capture_bucket.arn_for_objects(endpoint.data_capture_keys)],
            ),
            iam.PolicyStatement(
                sid="ListDataCapture",
                actions=["s3:ListBucket"],
                resources=[endpoint.data_capture_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [endpoint.data_capture_keys]}},
            ),
            iam.PolicyStatement(
                sid="WriteReports",
                actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                resources=[self.reports.bucket.arn_for_objects(f"{self.name_prefix}/*")],
            ),
            iam.PolicyStatement(
                sid="ListReports",
                actions=["s3:ListBucket"],
                resources=[self.reports.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{self.name_prefix}/*"]}},
            ),
            iam.PolicyStatement(
                sid="MonitoringKey",
                actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[keys.monitoring.key_arn],
            ),
            iam.PolicyStatement(
                sid="MonitoringKeyGrantsForVolumes",
                actions=["kms:CreateGrant"],
                resources=[keys.monitoring.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
            iam.PolicyStatement(sid="DecryptDataCapture", actions=["kms:Decrypt", "kms:DescribeKey"], resources=[keys.data.key_arn]),
            iam.PolicyStatement(
                sid="PublishMonitorMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": MONITOR_NAMESPACES}},
            ),
            iam.PolicyStatement(
                sid="ProcessingJobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/ProcessingJobs:*"],
            ),
            iam.PolicyStatement(
                sid="DescribeNetwork",
                actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeDhcpOptions"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="NetworkInterfacesInTheVpc",
                actions=["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"],
                resources=["*"],
                conditions={"ArnEquals": {"ec2:Vpc": f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:vpc/{endpoint.placement.vpc.vpc_id}"}},
            ),
        ]
        if config.ground_truth_uri and (config.model_quality or config.bias):
            match = S3_URI.match(config.ground_truth_uri)
            assert match is not None
            prefix = match["key"].strip("/")
            statements.append(
                iam.PolicyStatement(sid="ReadGroundTruth", actions=["s3:GetObject"], resources=[f"{_bucket_arn(config.ground_truth_uri)}/{prefix}/*"],
                                    conditions={"StringEquals": truth_owner})
            )
            statements.append(
                iam.PolicyStatement(
                    sid="ListGroundTruth",
                    actions=["s3:ListBucket"],
                    resources=[_bucket_arn(config.ground_truth_uri)],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}/*"]}, "StringEquals": truth_owner},
                )
            )
        if config.explainability is not None and endpoint.model_name:
            # Clarify computes SHAP values on a temporary shadow endpoint (sm-clarify-*) of the endpoint's model.
            arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
            statements.append(
                iam.PolicyStatement(
                    sid="ClarifyShadowEndpoint",
                    actions=[
                        "sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint",
                        "sagemaker:DescribeEndpointConfig", "sagemaker:InvokeEndpoint", "sagemaker:DeleteEndpoint",
                        "sagemaker:DeleteEndpointConfig",
                    ],
                    resources=[f"{arn}:endpoint/sm-clarify-*", f"{arn}:endpoint-config/sm-clarify-*"],
                )
            )
            # SageMaker lowercases names in ARNs; a name CloudFormation generates at deploy time cannot be
            # lowercased in a policy, so DescribeModel (read-only) then covers the account's models.
            model = "*" if Token.is_unresolved(endpoint.model_name) else endpoint.model_name.lower()
            statements.append(
                iam.PolicyStatement(sid="DescribeTheModel", actions=["sagemaker:DescribeModel"], resources=[f"{arn}:model/{model}"])
            )
        return statements

    def _account_of(self, role: GovernedRole | None) -> str:
        """The id of the estate account playing ``role`` (validated with the props), or this account."""
        return Aws.ACCOUNT_ID if role is None or self._accounts is None else self._accounts.of(role)

    def _acknowledge_policy(self, statements: list[iam.PolicyStatement]) -> None:
        if any(s.sid == "DescribeTheModel" and s.resources[0].endswith(":model/*") for s in statements):
            acknowledge(
                self.policy,
                "DescribeModel (read-only) for the explainability shadow endpoint: the endpoint's model name is generated by "
                "CloudFormation at deploy time and SageMaker ARNs lowercase it, which a policy cannot express.",
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:model/*]",
            )
        acknowledge(
            self.policy,
            "cloudwatch:PutMetricData has no resource-level permissions; the statement is limited to the Model Monitor "
            "namespaces by the cloudwatch:namespace condition. EC2 Describe* calls have no resource-level permissions "
            "and the network interface calls are limited to this VPC by the ec2:Vpc condition.",
            "AwsSolutions-IAM5[Resource::*]",
        )
        acknowledge(
            self.policy,
            "Monitoring executions write new report and log objects under this monitor's own prefix and read captured "
            "requests and ground truth under the endpoint's prefixes; the object keys are created per run, so they "
            "cannot be named in advance. Clarify names its temporary shadow endpoints sm-clarify-<random>.",
            *self._wildcard_resource_ids(statements),
        )

    def _wildcard_resource_ids(self, statements: list[iam.PolicyStatement]) -> list[str]:
        """cdk-nag's finding id for each statement resource that ends in a wildcard (prefixes, sm-clarify-*)."""
        ids = []
        for statement in statements:
            for resource in statement.resources:
                if resource == "*" or not resource.endswith("*"):
                    continue
                ids.append(f"AwsSolutions-IAM5[Resource::{nag_text(self, resource)}]")
        return sorted(set(ids))

    # ---------------------------------------------------------------------------------- job definitions
    def _common(self, cls: Any, monitor: MonitorType, *, isolate: bool) -> dict[str, Any]:
        placement, keys = self.endpoint.placement, self.endpoint.keys
        return {
            "job_resources": cls.MonitoringResourcesProperty(
                cluster_config=cls.ClusterConfigProperty(
                    instance_count=1,
                    instance_type=self.config.instance_type,
                    volume_size_in_gb=self.config.volume_size_gb,
                    volume_kms_key_id=keys.monitoring.key_arn,
                )
            ),
            "network_config": cls.NetworkConfigProperty(
                enable_inter_container_traffic_encryption=True,
                enable_network_isolation=isolate,
                vpc_config=cls.VpcConfigProperty(security_group_ids=placement.security_group_ids, subnets=list(placement.subnet_ids)),
            ),
            "stopping_condition": cls.StoppingConditionProperty(max_runtime_in_seconds=self.config.max_runtime_minutes * 60),
            "role_arn": self.role.role_arn,
            "endpoint_name": self.endpoint.endpoint_name,
            # Provisional: replaced by the name with the hash of the rendered properties (see __init__).
            "job_definition_name": f"{self.name_prefix}-{SUFFIX[monitor]}",
        }

    def _output(self, cls: Any, monitor: MonitorType) -> Any:
        return cls.MonitoringOutputConfigProperty(
            kms_key_id=self.endpoint.keys.monitoring.key_arn,
            monitoring_outputs=[
                cls.MonitoringOutputProperty(
                    s3_output=cls.S3OutputProperty(
                        local_path=OUTPUT_PATH, s3_uri=self.report_uri(monitor), s3_upload_mode="EndOfJob"
                    )
                )
            ],
        )

    def _endpoint_input(self, cls: Any, section: Any = None, *, labelled: bool = False) -> Any:
        """Where a job reads the captured data; ``section``'s prediction attributes and, when ``labelled``
        (model quality and bias merge ground truth), the analysis window."""
        extra: dict[str, Any] = {}
        for attribute, key in (
            ("inference_attribute", "inference_attribute"),
            ("probability_attribute", "probability_attribute"),
            ("probability_threshold", "probability_threshold_attribute"),
        ):
            value = getattr(section, attribute, None)
            if value not in (None, ""):
                extra[key] = value
        if labelled:
            extra.update(start_time_offset=self.config.ground_truth_start_offset, end_time_offset=self.config.ground_truth_end_offset)
        return cls.EndpointInputProperty(
            endpoint_name=self.endpoint.endpoint_name, local_path=INPUT_PATH, s3_data_distribution_type="FullyReplicated", s3_input_mode="File", **extra
        )

    def _ground_truth(self, cls: Any) -> Any:
        return cls.MonitoringGroundTruthS3InputProperty(s3_uri=self.config.ground_truth_uri)

    def report_uri(self, monitor: MonitorType) -> str:
        """Where the executions of one monitor type write their reports (constraint violations, statistics)."""
        return self.reports.s3_uri(f"{self.name_prefix}/{SUFFIX[monitor]}")

    def _job_definition(
        self, monitor: MonitorType, cls: type[JobDefinition], prefix: str, *, app: Any, baseline: Any, job_input: Any, isolate: bool = True
    ) -> JobDefinition:
        """One job definition: the type's own app specification, baseline and input, plus what all four share."""
        return cls(
            self,
            f"{CONSTRUCT_ID[monitor]}JobDefinition",
            **{
                f"{prefix}_app_specification": app,
                f"{prefix}_baseline_config": baseline,
                f"{prefix}_job_input": job_input,
                f"{prefix}_job_output_config": self._output(cls, monitor),
            },
            **self._common(cls, monitor, isolate=isolate),
        )

    def _data_quality(self) -> sagemaker.CfnDataQualityJobDefinition:
        cls = sagemaker.CfnDataQualityJobDefinition
        section = self.config.data_quality
        assert section is not None
        return self._job_definition(
            "data_quality", cls, "data_quality",
            app=cls.DataQualityAppSpecificationProperty(image_uri=self.images.analyzer, environment=PUBLISH_METRICS),
            baseline=cls.DataQualityBaselineConfigProperty(
                constraints_resource=cls.ConstraintsResourceProperty(s3_uri=section.constraints_uri),
                statistics_resource=cls.StatisticsResourceProperty(s3_uri=section.statistics_uri),
            ),
            job_input=cls.DataQualityJobInputProperty(endpoint_input=self._endpoint_input(cls)),
        )

    def _model_quality(self) -> sagemaker.CfnModelQualityJobDefinition:
        cls = sagemaker.CfnModelQualityJobDefinition
        section = self.config.model_quality
        assert section is not None
        return self._job_definition(
            "model_quality", cls, "model_quality",
            app=cls.ModelQualityAppSpecificationProperty(image_uri=self.images.analyzer, problem_type=self._model_problem_type, environment=PUBLISH_METRICS),
            baseline=cls.ModelQualityBaselineConfigProperty(constraints_resource=cls.ConstraintsResourceProperty(s3_uri=section.constraints_uri)),
            job_input=cls.ModelQualityJobInputProperty(
                endpoint_input=self._endpoint_input(cls, section, labelled=True), ground_truth_s3_input=self._ground_truth(cls)
            ),
        )

    def _bias(self) -> sagemaker.CfnModelBiasJobDefinition:
        cls = sagemaker.CfnModelBiasJobDefinition
        section = self.config.bias
        assert section is not None
        return self._job_definition(
            "bias", cls, "model_bias",
            app=cls.ModelBiasAppSpecificationProperty(image_uri=self.images.clarify, config_uri=self.analysis_config_uris["bias"], environment=PUBLISH_METRICS),
            baseline=cls.ModelBiasBaselineConfigProperty(constraints_resource=cls.ConstraintsResourceProperty(s3_uri=section.constraints_uri)),
            job_input=cls.ModelBiasJobInputProperty(
                endpoint_input=self._endpoint_input(cls, section, labelled=True), ground_truth_s3_input=self._ground_truth(cls)
            ),
        )

    def _explainability(self) -> sagemaker.CfnModelExplainabilityJobDefinition:
        cls = sagemaker.CfnModelExplainabilityJobDefinition
        section = self.config.explainability
        assert section is not None
        return self._job_definition(
            "explainability", cls, "model_explainability",
            app=cls.ModelExplainabilityAppSpecificationProperty(
                image_uri=self.images.clarify, config_uri=self.analysis_config_uris["explainability"], environment=PUBLISH_METRICS
            ),
            baseline=cls.ModelExplainabilityBaselineConfigProperty(constraints_resource=cls.ConstraintsResourceProperty(s3_uri=section.constraints_uri)),
            job_input=cls.ModelExplainabilityJobInputProperty(endpoint_input=self._endpoint_input(cls, section)),
            # Clarify creates and calls a shadow endpoint through the VPC's SageMaker API and runtime endpoints,
            # so this job cannot be network-isolated; it stays VPC-only with encrypted inter-container traffic.
            isolate=False,
        )

    def _schedule(self, monitor: MonitorType, name: str, definition: Any) -> sagemaker.CfnMonitoringSchedule:
        section = getattr(self.config, monitor)
        schedule = sagemaker.CfnMonitoringSchedule(
            self,
            f"{CONSTRUCT_ID[monitor]}Schedule",
            monitoring_schedule_name=name,
            endpoint_name=self.endpoint.endpoint_name,
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                monitoring_job_definition_name=self.job_definition_names[monitor],
                monitoring_type=MONITORING_TYPE[monitor],
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(schedule_expression=section.schedule),
            ),
        )
        schedule.node.add_dependency(definition)
        if self.endpoint.endpoint is not None:
            schedule.node.add_dependency(self.endpoint.endpoint)
        return schedule

    # -------------------------------------------------------------------------------------------- alarms
    def _period(self, monitor: MonitorType) -> Duration:
        return Duration.hours(self.config.schedule_of(monitor).interval_hours)

    def metric_feature_drift(self, feature: str) -> cloudwatch.Metric:
        """The drift distance of one feature from its baseline distribution (data quality monitor)."""
        return cloudwatch.Metric(
            namespace=DATA_METRICS,
            metric_name=f"feature_baseline_drift_{feature}",
            dimensions_map={"Endpoint": self.endpoint.endpoint_name, "MonitoringSchedule": self.schedule_names["data_quality"]},
            statistic="Maximum",
            period=self._period("data_quality"),
        )

    def metric_model_quality(self, metric: str) -> cloudwatch.Metric:
        """One model quality metric (auc, f1, rmse, ...) as the model quality monitor publishes it."""
        return cloudwatch.Metric(
            namespace=MODEL_METRICS,
            metric_name=metric,
            dimensions_map={"Endpoint": self.endpoint.endpoint_name, "MonitoringSchedule": self.schedule_names["model_quality"]},
            statistic="Average",
            period=self._period("model_quality"),
        )

    def _drift_alarms(self) -> list[cloudwatch.Alarm]:
        alarms: list[cloudwatch.Alarm] = []
        config = self.config
        if config.data_quality is not None:
            for feature in config.data_quality.drift_features:
                alarm = self.metric_feature_drift(feature).create_alarm(
                    self,
                    f"FeatureDrift{_pascal(feature)}",
                    alarm_name=f"{self.name_prefix}-drift-{feature}",
                    alarm_description=(
                        f"Feature {feature!r} of {self.endpoint.endpoint_name} drifted from its training baseline "
                        f"(distance > {config.data_quality.drift_threshold})."
                    ),
                    threshold=config.data_quality.drift_threshold,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=1,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
                alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
                alarms.append(alarm)
        if config.model_quality is not None:
            metric, threshold = self.model_quality_target
            lower_is_better = metric in LOWER_IS_BETTER
            alarm = self.metric_model_quality(metric).create_alarm(
                self,
                "ModelQualityAlarm",
                alarm_name=f"{self.name_prefix}-quality-{metric}",
                alarm_description=(
                    f"Model quality of {self.endpoint.endpoint_name}: {metric} is "
                    f"{'above' if lower_is_better else 'below'} {threshold} against ground truth."
                ),
                threshold=threshold,
                comparison_operator=(
                    cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD if lower_is_better else cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
                ),
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
            alarms.append(alarm)
        return alarms

    def _execution_rule(self, id: str, description: str, detail: dict[str, Any], headline: str) -> events.Rule:
        rule = events.Rule(
            self,
            id,
            description=description,
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Processing Job State Change"],
                detail={"RoleArn": [self.role.role_arn], **detail},
            ),
        )
        rule.add_target(
            targets.SnsTopic(
                self.topic,
                message=events.RuleTargetInput.from_text(
                    f"{headline} ({self.endpoint.endpoint_name}): job {events.EventField.from_path('$.detail.ProcessingJobName')} "
                    f"status {events.EventField.from_path('$.detail.ProcessingJobStatus')}: "
                    f"{events.EventField.from_path('$.detail.ExitMessage')} {events.EventField.from_path('$.detail.FailureReason')}"
                ),
            )
        )
        return rule

    def _execution_alarms(self) -> tuple[cloudwatch.Alarm, cloudwatch.Alarm]:
        failed = self._execution_rule(
            "FailedExecutions",
            f"Model Monitor executions of {self.name_prefix} that failed or were stopped",
            {"ProcessingJobStatus": ["Failed", "Stopped"]},
            "Model Monitor execution failed",
        )
        violations = self._execution_rule(
            "ViolationExecutions",
            f"Model Monitor executions of {self.name_prefix} that found constraint violations",
            {"ProcessingJobStatus": ["Completed"], "ExitMessage": [{"prefix": "CompletedWithViolations"}]},
            "Model Monitor found constraint violations",
        )
        self.failed_executions_rule, self.violation_executions_rule = failed, violations
        failure_alarm = self._rule_alarm(
            "FailedExecutionsAlarm", failed, "failed",
            f"A Model Monitor execution of {self.endpoint.endpoint_name} failed or was stopped: the endpoint is not being "
            "monitored. Read the job's FailureReason (in the SNS message) and its logs in /aws/sagemaker/ProcessingJobs.",
        )
        violations_alarm = self._rule_alarm(
            "ViolationsAlarm", violations, "violations",
            f"A Model Monitor execution of {self.endpoint.endpoint_name} completed with constraint violations (data quality, "
            "model quality, bias or feature attribution drift). constraint_violations.json in the reports bucket lists them.",
        )
        return failure_alarm, violations_alarm

    def _rule_alarm(self, id: str, rule: events.Rule, suffix: str, description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="TriggeredRules",
            dimensions_map={"RuleName": rule.rule_name},
            statistic="Sum",
            period=Duration.hours(1),
        ).create_alarm(
            self,
            id,
            alarm_name=f"{self.name_prefix}-{suffix}",
            alarm_description=description,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        return alarm

    def metric_failed_executions(self) -> cloudwatch.Metric:
        """Failed or stopped monitoring executions per hour (the EventBridge rule's trigger count)."""
        return cloudwatch.Metric(
            namespace="AWS/Events", metric_name="TriggeredRules", dimensions_map={"RuleName": self.failed_executions_rule.rule_name},
            statistic="Sum", period=Duration.hours(1),
        )

    # -------------------------------------------------------------------------------- analysis configs
    @property
    def bias_analysis_config(self) -> dict[str, Any] | None:
        """The Clarify analysis config of bias monitoring, rendered from config (headers, label, facets)."""
        section = self.config.bias
        if section is None:
            return None
        return {
            "version": "1.0",
            "headers": [*self.config.features, self.config.label],
            "label": self.config.label,
            "label_values_or_threshold": [_number_or_text(v) for v in section.label_values],
            "facet": [
                {"name_or_index": f.name, **({"value_or_threshold": [_number_or_text(v) for v in f.values]} if f.values else {})}
                for f in section.facets
            ],
        }

    @property
    def explainability_analysis_config(self) -> dict[str, Any] | None:
        """The Clarify analysis config of feature attribution monitoring, rendered from config (SHAP baseline, model)."""
        section = self.config.explainability
        if section is None:
            return None
        return {
            "version": "1.0",
            "headers": list(self.config.features),
            "methods": {
                "shap": {"baseline": section.shap_baseline_uri, "num_samples": section.num_samples, "agg_method": section.agg_method}
            },
            "predictor": {
                "model_name": self.endpoint.model_name,
                "instance_type": section.shadow_instance_type,
                "initial_instance_count": 1,
                "content_type": "text/csv",
                "accept_type": "text/csv",
            },
        }

    def _ship_at_deploy(self, monitor: MonitorType, key: str, document: dict[str, Any]) -> s3_deployment.BucketDeployment:
        """Write an analysis config holding deploy-time values into the reports bucket during deployment."""
        placement = self.endpoint.placement
        deployment = s3_deployment.BucketDeployment(
            self,
            f"{CONSTRUCT_ID[monitor]}AnalysisConfigDeployment",
            sources=[s3_deployment.Source.json_data(key, document)],
            destination_bucket=self.reports.bucket,
            prune=False,
            retain_on_delete=True,
            memory_limit=256,
            vpc=placement.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[placement.security_group],
            log_group=self._deployment_logs(),
        )
        self._acknowledge_deployment_handler(deployment)
        return deployment

    def _deployment_logs(self) -> logs.LogGroup:
        existing = self.node.try_find_child("AnalysisConfigDeploymentLogs")
        if isinstance(existing, logs.LogGroup):
            return existing
        return logs.LogGroup(self, "AnalysisConfigDeploymentLogs", encryption_key=self.endpoint.keys.logs,
                             retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN)

    def _acknowledge_deployment_handler(self, deployment: s3_deployment.BucketDeployment) -> None:
        """CDK's BucketDeployment handler (a stack singleton) writes the analysis config at deploy time."""
        stack = Stack.of(self)
        handler = next((c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")), None)
        if not isinstance(handler, Construct):
            return
        reports = stack.get_logical_id(self.reports.bucket.node.default_child)  # type: ignore[arg-type]
        qualifier = self.node.try_get_context(BOOTSTRAP_QUALIFIER_CONTEXT) or DefaultStackSynthesizer.DEFAULT_QUALIFIER
        grants = [f"AwsSolutions-IAM5[Action::{a}]" for a in (
            "s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*", "kms:GenerateDataKey*", "kms:ReEncrypt*")]
        grants += [f"AwsSolutions-IAM5[Resource::<{reports}.Arn>/*]",
                   f"AwsSolutions-IAM5[Resource::arn:aws:s3:::cdk-{qualifier}-assets-{stack.account}-{stack.region}/*]"]
        acknowledge(handler, "CDK's BucketDeployment grants: read its own asset from the CDK assets bucket and write "
                    "objects of the monitoring reports bucket (CMK); generated by CDK, scoped to those two buckets.", *grants)
        acknowledge(handler, "CDK's BucketDeployment handler uses the AWS-managed basic and VPC execution policies for "
                    "its own logs and network interfaces.",
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]")
        acknowledge(handler, "The runtime of CDK's BucketDeployment handler is chosen by aws-cdk-lib and moves with it.",
                    "AwsSolutions-L1")
        acknowledge(handler, "A CloudFormation custom-resource handler: CloudFormation invokes it synchronously once per "
                    "deploy and reports failures itself, so a DLQ and reserved concurrency add nothing.",
                    "NIST.800.53.R5-LambdaConcurrency", "NIST.800.53.R5-LambdaDLQ",
                    "HIPAA.Security-LambdaConcurrency", "HIPAA.Security-LambdaDLQ")

    def _ship(self, monitor: MonitorType, document: dict[str, Any]) -> s3_assets.Asset:
        """Write an analysis config next to the synthesis and ship it as a file asset (uploaded by cdk deploy)."""
        if any(Token.is_unresolved(v) for v in _strings(document)):
            raise ValueError(f"{self.node.path}: the {monitor} analysis config must not contain unresolved tokens; pass concrete names")
        with tempfile.TemporaryDirectory(prefix="mlops-monitor-") as folder:
            path = Path(folder) / f"{SUFFIX[monitor]}-analysis-config.json"
            path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            # The asset is staged (copied into the cloud assembly) right here, so the temporary file can go.
            return s3_assets.Asset(self, f"{CONSTRUCT_ID[monitor]}AnalysisConfig", path=str(path))

    @property
    def model_quality_target(self) -> tuple[str, float]:
        """The model quality metric the alarm watches and its threshold (the quality gate unless overridden)."""
        assert self.config.model_quality is not None
        return model_quality_alarm(self._model_problem_type, self.config.model_quality, self._gate_metric, self._gate_threshold)

    def grant_read_reports(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let a role read the monitoring reports (constraint violations, statistics) of this monitor."""
        return self.reports.grant_read(grantee, f"{self.name_prefix}/*")


def _name_prefix(estate_name: str, model: str, environment: ServingEnv | None) -> str:
    """``<estate>-<model>-<stg|prd>``: what a serving account's monitors of a model are named after."""
    assert environment is not None  # checked in _validate
    return f"{estate_name}-{model}-{ENV_ABBREVIATION[environment]}"


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def _number_or_text(value: str) -> int | float | str:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value
