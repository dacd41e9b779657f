"""Model Monitor for one endpoint: data quality, model quality, bias and explainability schedules with alarms.

`ModelMonitor` takes the endpoint (a `ModelEndpoint`, or any endpoint as a `MonitoredEndpoint`) and its
`MonitoringProps`, and builds per enabled monitor type a job definition (VPC-only, CMK-encrypted volumes and
outputs, inter-container encryption, network isolation where the analysis allows it) and a monitoring schedule;
one least-privilege role for all of them; and CloudWatch alarms on the metrics the monitors publish and on failed
or violating executions, all to an encrypted SNS topic. ``drift_alarm`` aggregates every drift signal: it is what
retraining listens to (`mlops_estate.lifecycle.retraining_triggers.DriftAlarmTrigger.of`).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from collections.abc import Sequence
from typing import Any, TypeVar

from aws_cdk import Aws, CfnResource, DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3_deployment
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from mlops_estate.core.hashed_name import HASH_CHARS, hashed_name
from mlops_estate.core.nag import acknowledge, acknowledge_wildcards
from mlops_estate.core.patterns import ACCOUNT_ID, SAGEMAKER_NAME
from mlops_estate.core.validation import Problems
from mlops_estate.events.alarm_topic import alarm_topic
from mlops_estate.events.dead_letter_queue import DeadLetterQueue
from mlops_estate.monitoring.images import MonitorImages
from mlops_estate.monitoring.drift_alarm import composite_drift_alarm
from mlops_estate.monitoring.monitored_endpoint import MonitoredEndpoint, capture_problem
from mlops_estate.monitoring.naming import (
    LONGEST_SUFFIX,
    SUFFIX,
    drift_alarm_name,
    executions_alarm_name,
    feature_drift_alarm_name,
    pascal_case,
    quality_alarm_name,
    schedule_arn,
    schedule_name,
)
from mlops_estate.monitoring.props import MonitoringProps, MonitorType
from mlops_estate.monitoring.quality import (
    LOWER_IS_BETTER,
    MODEL_QUALITY_METRICS,
    PROBLEM_TYPES,
    ProblemType,
    QualityTarget,
    metric_problem,
    monitor_metric,
    threshold_problem,
)
from mlops_estate.monitoring.s3_uri import S3Uri
from mlops_estate.security.sagemaker_workload import LOG_GROUPS_REASON, NO_RESOURCE_LEVEL_REASON, workload_statements
from mlops_estate.security.storage import CmkBucket, SecureBucket
from mlops_estate.serving.endpoint import ModelEndpoint

# Namespaces the built-in monitors publish to for real-time endpoints (dimensions Endpoint, MonitoringSchedule).
DATA_METRICS = "aws/sagemaker/Endpoints/data-metrics"
MODEL_METRICS = "aws/sagemaker/Endpoints/model-metrics"
MONITOR_NAMESPACES = "aws/sagemaker/Endpoints/*"
# Where SageMaker writes the logs of monitoring executions (processing jobs).
PROCESSING_JOB_LOGS = "/aws/sagemaker/ProcessingJobs"

MONITORING_TYPE: dict[MonitorType, str] = {
    "data_quality": "DataQuality", "model_quality": "ModelQuality", "bias": "ModelBias", "explainability": "ModelExplainability",
}
CONSTRUCT_ID: dict[MonitorType, str] = {
    "data_quality": "DataQuality", "model_quality": "ModelQuality", "bias": "ModelBias", "explainability": "ModelExplainability",
}
IAM_PATH = re.compile(r"^/(?:[\x21-\x7e]+/)?$")
# CDK's own context key of the bootstrap qualifier (the assets bucket is named after it).
BOOTSTRAP_QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier"

JobDefinition = TypeVar("JobDefinition", bound=CfnResource)

# CloudFormation may ask CDK's BucketDeployment handler (one per stack) for several monitors' analysis configs at
# once; Lambda retries an asynchronous invocation it throttled, so a small reservation only queues them.
DEPLOYMENT_HANDLER_CONCURRENCY = 2
# Construct id (at the stack's top) of the dead-letter queue of that handler.
DEPLOYMENT_DEAD_LETTERS = "AnalysisConfigDeploymentDeadLetters"
INPUT_PATH = "/opt/ml/processing/input/endpoint"
OUTPUT_PATH = "/opt/ml/processing/output"
# Environment of every monitoring container: publish the metrics the alarms watch.
PUBLISH_METRICS = {"publish_cloudwatch_metrics": "Enabled"}
# Why the monitor's own statements may end in wildcards (the cdk-nag acknowledgement of each).
PREFIX_REASON = (
    "Monitoring executions write new report objects under this monitor's own prefix and read captured requests and "
    "ground truth under the endpoint's prefixes; the object keys are created per run, so they cannot be named in "
    "advance. Clarify names its temporary shadow endpoints sm-clarify-<random>."
)
DESCRIBE_MODEL_REASON = (
    "DescribeModel (read-only) for the explainability shadow endpoint: the endpoint's model name is generated by "
    "CloudFormation at deploy time and SageMaker ARNs lowercase it, which a policy cannot express."
)


class ModelMonitor(Construct):
    """Model Monitor schedules, their role and alarms for one endpoint (see the module docstring).

    Names start with ``name_prefix``: schedules ``<prefix>-dq|mq|bias|expl``, job definitions the schedule name
    plus a hash of their properties (a replacement never collides), alarms ``<prefix>-drift``,
    ``<prefix>-drift-<feature>``, ``<prefix>-quality-<metric>``, ``<prefix>-failed`` and ``<prefix>-violations``
    (`mlops_estate.monitoring.naming`).

    Args:
        scope: the parent construct.
        id: the construct id.
        endpoint: the endpoint to monitor: a `ModelEndpoint` that captures data, or a `MonitoredEndpoint`.
        props: which monitors run, when, against which baselines, and what they alarm on.
        name_prefix: the start of every name (up to 63 characters with the longest suffix and hash); default the
            endpoint's name. A token (a deploy-time name) is accepted.
        problem_type: the model's problem type; required for model quality monitoring (its metrics depend on it).
        quality_target: the metric and threshold the model quality alarm watches unless ``props.model_quality``
            names its own (e.g. the model's quality gate).
        key: the CMK of the jobs' volumes and outputs, the reports bucket and the alarm topic; default the
            `ModelEndpoint`'s monitoring key, else the data-capture bucket's key.
        reports: a CMK bucket for the monitoring reports (under ``<name prefix>/``); default a new `SecureBucket`.
        topic: the SNS topic the alarms notify; default a new encrypted topic.
        images: the monitor container images; default the AWS-owned images of the stack's region.
        role_path: the IAM path of the monitor's role (e.g. one a guardrail SCP exempts); default ``/``.
        baselines_account: the account that owns the baseline buckets; the role reads baselines only there
            (``s3:ResourceAccount``). Default this account.
        ground_truth_account: the account that owns the ground-truth bucket; default this account.

    Attributes:
        role / policy: the role every monitoring job runs as, and its managed policy.
        reports: the CMK bucket of the monitoring reports (constraint violations, statistics).
        topic: the SNS topic every alarm notifies.
        schedule_names / job_definition_names: by monitor type (job definition names are tokens resolved at synthesis).
        schedules / job_definitions: the CloudFormation resources, by monitor type.
        drift_alarm: the composite alarm of any drift, quality drop or constraint violation (``drift_alarm_name``).
        drift_alarms / failure_alarm / violations_alarm: the alarms behind it, and the failed-executions alarm.
        alarms: every alarm, the composite first.
        account: the account of the monitor's stack (where its alarms and schedules live).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint: ModelEndpoint | MonitoredEndpoint,
        props: MonitoringProps,
        name_prefix: str | None = None,
        problem_type: ProblemType | None = None,
        quality_target: QualityTarget | None = None,
        key: kms.IKey | None = None,
        reports: CmkBucket | None = None,
        topic: sns.ITopic | None = None,
        images: MonitorImages | None = None,
        role_path: str | None = None,
        baselines_account: str | None = None,
        ground_truth_account: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        watched = self._validate(endpoint, props, name_prefix, problem_type, quality_target, images, role_path,
                                 {"baselines_account": baselines_account, "ground_truth_account": ground_truth_account})
        self.props = props
        self.endpoint = watched
        self.problem_type = problem_type
        self.quality_target = quality_target
        self.name_prefix = name_prefix or watched.endpoint_name
        self.account = stack.account
        self.key: kms.IKey = key or (endpoint.keys.monitoring if isinstance(endpoint, ModelEndpoint) else watched.data_capture.key)
        # Only the deploy-time analysis config's log group needs a logs key (see _ship_at_deploy).
        self._logs_key: kms.IKey = endpoint.keys.logs if isinstance(endpoint, ModelEndpoint) else self.key
        self._baselines_account = baselines_account or Aws.ACCOUNT_ID
        self._ground_truth_account = ground_truth_account or Aws.ACCOUNT_ID
        resolved_images = images or MonitorImages.for_region(stack.region)
        assert resolved_images is not None  # checked in _validate
        self.images = resolved_images

        self.reports: CmkBucket = reports or SecureBucket(self, "Reports", key=self.key)
        # Clarify analysis configs: rendered from the props and shipped as file assets unless the props name their own.
        self.analysis_config_uris: dict[MonitorType, str] = {}
        self._analysis_config_arns: list[str] = []
        self._deployments: dict[MonitorType, s3_deployment.BucketDeployment] = {}
        rendered: list[tuple[MonitorType, dict[str, Any] | None]] = [
            ("bias", self.bias_analysis_config),
            ("explainability", self.explainability_analysis_config),
        ]
        for monitor, document in rendered:
            section = getattr(props, monitor)
            if section is None or document is None:
                continue
            if section.analysis_config_uri:
                self.analysis_config_uris[monitor] = section.analysis_config_uri
                self._analysis_config_arns.append(_object_arn(section.analysis_config_uri))
            elif any(Token.is_unresolved(v) for v in _strings(document)):
                # Names known only at deploy time (the endpoint's model): written to S3 by CloudFormation.
                key_name = f"{self.name_prefix}/analysis-config/{SUFFIX[monitor]}.json"
                self._deployments[monitor] = self._ship_at_deploy(monitor, key_name, document)
                self.analysis_config_uris[monitor] = self.reports.s3_uri(key_name)
                self._analysis_config_arns.append(self.reports.bucket.arn_for_objects(key_name))
            else:
                asset = self._ship(monitor, document)
                self.analysis_config_uris[monitor] = asset.s3_object_url
                self._analysis_config_arns.append(f"arn:{Aws.PARTITION}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}")
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),  # type: ignore[arg-type]
            description=f"Model Monitor jobs of {self.name_prefix} (endpoint {watched.endpoint_name})",
            path=role_path,
        )
        workload = workload_statements(stack, vpc_id=watched.placement.vpc.vpc_id, log_groups=(PROCESSING_JOB_LOGS,),
                                       metric_namespaces=(MONITOR_NAMESPACES,), pulls_images=False)
        statements = self._statements(workload.all)
        self.policy = iam.ManagedPolicy(
            self, "Policy", roles=[self.role], statements=statements, description=f"Model Monitor jobs of {self.name_prefix}",
        )
        self._acknowledge_policy([s for s in statements if s not in workload.all], workload.scoped)

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
        for monitor in props.enabled:
            name = schedule_name(self.name_prefix, monitor)
            self.schedule_names[monitor] = name
            definition: Any = builders[monitor]()
            # Every property of a job definition is "replacement" and CloudFormation creates the replacement
            # before deleting the old one, so a fixed name would collide on any change: the name carries a
            # hash of everything else, and the schedule (updated in place) follows it.
            self.job_definition_names[monitor] = definition.job_definition_name = hashed_name(name, (definition, "jobDefinitionName"))
            definition.node.add_dependency(self.policy)
            if watched.endpoint is not None:
                definition.node.add_dependency(watched.endpoint)
            if monitor in self._deployments:
                definition.node.add_dependency(self._deployments[monitor])
            self.job_definitions[monitor] = definition
            self.schedules[monitor] = self._schedule(monitor, name, definition)

        self.topic = topic or alarm_topic(self, "Alarms", key=self.key, display_name=f"Model Monitor alarms of {self.name_prefix}")
        self.drift_alarms: list[cloudwatch.Alarm] = self._drift_alarms()
        self.failure_alarm, self.violations_alarm = self._execution_alarms()
        self.drift_alarm_name = drift_alarm_name(self.name_prefix)
        self.drift_alarm = composite_drift_alarm(self, name_prefix=self.name_prefix, endpoint_name=watched.endpoint_name,
                                                 signals=[*self.drift_alarms, self.violations_alarm], topic=self.topic,
                                                 violations="a monitor found constraint violations")
        self.alarms: list[cloudwatch.IAlarm] = [self.drift_alarm, *self.drift_alarms, self.violations_alarm, self.failure_alarm]

    # ----------------------------------------------------------------------------------------- validation
    def _validate(
        self, endpoint: ModelEndpoint | MonitoredEndpoint, props: MonitoringProps, name_prefix: str | None,
        problem_type: ProblemType | None, quality_target: QualityTarget | None, images: MonitorImages | None,
        role_path: str | None, accounts: dict[str, str | None],
    ) -> MonitoredEndpoint:
        """Every problem of the arguments at once (one `ConfigError`); the endpoint as the monitor sees it."""
        problems = Problems()
        watched: MonitoredEndpoint | None = endpoint if isinstance(endpoint, MonitoredEndpoint) else None
        if isinstance(endpoint, ModelEndpoint):
            if problem := capture_problem(endpoint):
                problems.add("endpoint", problem)
            else:
                watched = MonitoredEndpoint.of(endpoint)
        props.check_all("props", problems)
        # Model Monitor compares against the baselining job's files (the portable DriftMonitor needs none of them).
        for monitor in props.enabled:
            section = getattr(props, monitor)
            for field in ("constraints_uri", "statistics_uri") if monitor == "data_quality" else ("constraints_uri",):
                if not getattr(section, field):
                    problems.add(f"props.{monitor}.{field}", f"is empty; Model Monitor needs the S3 URI of the baseline's "
                                                             f"{field.removesuffix('_uri')}.json (from a baselining job)")
        if watched is not None:
            if not Token.is_unresolved(watched.endpoint_name) and not _sagemaker_name(watched.endpoint_name):
                problems.add("endpoint.endpoint_name", f"{watched.endpoint_name!r} is not a SageMaker endpoint name "
                                                       "(letters, digits, hyphens, up to 63)")
            if props.explainability is not None and not watched.model_name:
                problems.add("endpoint.model_name", "explainability monitoring runs the endpoint's model on a shadow "
                                                    "endpoint; give the SageMaker model name (or remove the explainability monitor)")
            prefix = name_prefix or watched.endpoint_name
            # A deploy-time prefix (a SageMaker project's) is bounded by its parameter's length instead.
            if not Token.is_unresolved(prefix):
                longest = f"{prefix}{LONGEST_SUFFIX}-{'0' * HASH_CHARS}"
                if not _sagemaker_name(longest):
                    what = repr(prefix) if name_prefix else f"{prefix!r} (the endpoint name, by default)"
                    problems.add("name_prefix", f"{what} gives job definition names like {longest!r}, which SageMaker "
                                                "rejects (letters, digits, hyphens, up to 63); give a shorter name_prefix")
        self._check_quality(props, problem_type, quality_target, problems)
        region = Stack.of(self).region
        if images is None and MonitorImages.for_region(region) is None:
            where = "an environment-agnostic stack" if Token.is_unresolved(region) else f"region {region!r}"
            problems.add("images", f"None, and no built-in monitor image is known for {where}; pass "
                                   "images=MonitorImages(analyzer=..., clarify=...)")
        if role_path is not None and not Token.is_unresolved(role_path) and not IAM_PATH.match(role_path):
            problems.add("role_path", f"{role_path!r} is not an IAM path like /model-monitor/ (starts and ends with '/')")
        for name, account in accounts.items():
            if account is not None and not Token.is_unresolved(account) and not ACCOUNT_ID.match(account):
                problems.add(name, f"{account!r} is not an AWS account id (12 digits)")
        problems.raise_if_any(self.node.path)
        assert watched is not None
        return watched

    @staticmethod
    def _check_quality(props: MonitoringProps, problem_type: ProblemType | None, target: QualityTarget | None,
                       problems: Problems) -> None:
        """The problem type decides which quality metrics exist; the target's metric and threshold must fit it."""
        if problem_type is not None and problem_type not in PROBLEM_TYPES:
            problems.add("problem_type", f"{problem_type!r} is not a problem type; use one of {', '.join(PROBLEM_TYPES)}")
            problem_type = None
        elif props.model_quality is not None and problem_type is None:
            problems.add("problem_type", f"None, but model quality monitoring needs the model's problem type; use one of "
                                         f"{', '.join(PROBLEM_TYPES)}")
        if target is not None:
            if problem_type is not None and (problem := metric_problem(problem_type, target.metric)):
                problems.add("quality_target.metric", problem)
            metric = monitor_metric(problem_type or "", target.metric)
            if problem := threshold_problem(metric, target.threshold):
                problems.add("quality_target.threshold", problem)
        section = props.model_quality
        if section is None or problem_type is None:
            return
        # The target is checked above; the section's own metric and threshold here.
        props.check_for(problem_type, None, "props", problems)
        if not section.metric and target is None:
            problems.add("props.model_quality.metric", "is empty and the monitor has no quality_target; name the metric "
                                                       f"to alarm on: one of {', '.join(sorted(MODEL_QUALITY_METRICS[problem_type]))}")
        if section.threshold is None and target is None:
            problems.add("props.model_quality.threshold", "is None and the monitor has no quality_target; give the "
                                                          "threshold to alarm on")
        elif section.threshold is not None and not section.metric and target is not None:
            if problem := threshold_problem(monitor_metric(problem_type, target.metric), section.threshold):
                problems.add("props.model_quality.threshold", problem)

    # ------------------------------------------------------------------------------------------ the role
    def _statements(self, workload: Sequence[iam.PolicyStatement]) -> list[iam.PolicyStatement]:
        """The monitor's own statements, with those of every SageMaker workload (``workload``) after the keys'."""
        props, endpoint = self.props, self.endpoint
        baselines: list[str] = []
        for monitor in props.enabled:
            section = getattr(props, monitor)
            baselines.append(section.constraints_uri)
            for extra in ("statistics_uri", "shap_baseline_uri"):
                if getattr(section, extra, ""):
                    baselines.append(getattr(section, extra))
        # Buckets named by URI: read them only in the account that owns them.
        baselines_owner = {"StringEquals": {"s3:ResourceAccount": self._baselines_account}}
        truth_owner = {"s3:ResourceAccount": self._ground_truth_account}
        capture = endpoint.data_capture
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
                resources=[capture.bucket.arn_for_objects(endpoint.data_capture_keys)],
            ),
            iam.PolicyStatement(
                sid="ListDataCapture",
                actions=["s3:ListBucket"],
                resources=[capture.bucket_arn],
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
                resources=[self.key.key_arn],
            ),
            iam.PolicyStatement(
                sid="MonitoringKeyGrantsForVolumes",
                actions=["kms:CreateGrant"],
                resources=[self.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
            iam.PolicyStatement(sid="DecryptDataCapture", actions=["kms:Decrypt", "kms:DescribeKey"], resources=[capture.key.key_arn]),
            *workload,
        ]
        if props.ground_truth_uri and (props.model_quality or props.bias):
            truth = S3Uri.parse(props.ground_truth_uri)
            assert truth is not None  # checked in _validate
            prefix = truth.key.strip("/")
            keys = f"{prefix}/*" if prefix else "*"
            statements.append(
                iam.PolicyStatement(sid="ReadGroundTruth", actions=["s3:GetObject"], resources=[truth.object_arn(Aws.PARTITION, keys)],
                                    conditions={"StringEquals": truth_owner})
            )
            statements.append(
                iam.PolicyStatement(
                    sid="ListGroundTruth",
                    actions=["s3:ListBucket"],
                    resources=[truth.bucket_arn(Aws.PARTITION)],
                    conditions={"StringLike": {"s3:prefix": [keys]}, "StringEquals": truth_owner},
                )
            )
        if props.explainability is not None and endpoint.model_name:
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

    def _acknowledge_policy(self, own: list[iam.PolicyStatement], logs_statements: tuple[iam.PolicyStatement, ...]) -> None:
        """Each wildcard of the policy, acknowledged with the reason it is needed."""
        acknowledge(self.policy, NO_RESOURCE_LEVEL_REASON, "AwsSolutions-IAM5[Resource::*]")
        for statement in logs_statements:
            acknowledge_wildcards(self.policy, statement, LOG_GROUPS_REASON)
        for statement in own:
            acknowledge_wildcards(self.policy, statement, DESCRIBE_MODEL_REASON if statement.sid == "DescribeTheModel" else PREFIX_REASON)

    # ---------------------------------------------------------------------------------- job definitions
    def _common(self, cls: Any, monitor: MonitorType, *, isolate: bool) -> dict[str, Any]:
        placement, props = self.endpoint.placement, self.props
        return {
            "job_resources": cls.MonitoringResourcesProperty(
                cluster_config=cls.ClusterConfigProperty(
                    instance_count=1,
                    instance_type=props.instance_type,
                    volume_size_in_gb=props.volume_size_gb,
                    volume_kms_key_id=self.key.key_arn,
                )
            ),
            "network_config": cls.NetworkConfigProperty(
                enable_inter_container_traffic_encryption=True,
                enable_network_isolation=isolate,
                vpc_config=cls.VpcConfigProperty(security_group_ids=placement.security_group_ids, subnets=list(placement.subnet_ids)),
            ),
            "stopping_condition": cls.StoppingConditionProperty(max_runtime_in_seconds=props.max_runtime_minutes * 60),
            "role_arn": self.role.role_arn,
            "endpoint_name": self.endpoint.endpoint_name,
            # Provisional: replaced by the name with the hash of the rendered properties (see __init__).
            "job_definition_name": schedule_name(self.name_prefix, monitor),
        }

    def _output(self, cls: Any, monitor: MonitorType) -> Any:
        return cls.MonitoringOutputConfigProperty(
            kms_key_id=self.key.key_arn,
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
            extra.update(start_time_offset=self.props.ground_truth_start_offset, end_time_offset=self.props.ground_truth_end_offset)
        return cls.EndpointInputProperty(
            endpoint_name=self.endpoint.endpoint_name, local_path=INPUT_PATH, s3_data_distribution_type="FullyReplicated", s3_input_mode="File", **extra
        )

    def _ground_truth(self, cls: Any) -> Any:
        return cls.MonitoringGroundTruthS3InputProperty(s3_uri=self.props.ground_truth_uri)

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
        section = self.props.data_quality
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
        section = self.props.model_quality
        assert section is not None and self.problem_type is not None  # checked in _validate
        return self._job_definition(
            "model_quality", cls, "model_quality",
            app=cls.ModelQualityAppSpecificationProperty(image_uri=self.images.analyzer, problem_type=self.problem_type, environment=PUBLISH_METRICS),
            baseline=cls.ModelQualityBaselineConfigProperty(constraints_resource=cls.ConstraintsResourceProperty(s3_uri=section.constraints_uri)),
            job_input=cls.ModelQualityJobInputProperty(
                endpoint_input=self._endpoint_input(cls, section, labelled=True), ground_truth_s3_input=self._ground_truth(cls)
            ),
        )

    def _bias(self) -> sagemaker.CfnModelBiasJobDefinition:
        cls = sagemaker.CfnModelBiasJobDefinition
        section = self.props.bias
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
        section = self.props.explainability
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
        section = getattr(self.props, monitor)
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

    @property
    def schedule_arns(self) -> dict[MonitorType, str]:
        """The ARNs of the monitoring schedules (what violation events name), by monitor type. SageMaker lowercases
        names in ARNs, so the names must be literal."""
        unresolved = [n for n in self.schedule_names.values() if Token.is_unresolved(n)]
        if unresolved:
            raise ValueError(f"{self.node.path}: the schedule names are only known at deployment (name_prefix "
                             f"{self.name_prefix!r}); SageMaker lowercases names in ARNs, so give a literal name_prefix")
        stack = Stack.of(self)
        partition = stack.partition
        if not Token.is_unresolved(stack.region):
            partition = RegionInfo.get(stack.region).partition or partition  # literal where the region is known
        return {monitor: schedule_arn(name, partition=partition, region=stack.region, account=stack.account)
                for monitor, name in self.schedule_names.items()}

    # -------------------------------------------------------------------------------------------- alarms
    def _period(self, monitor: MonitorType) -> Duration:
        return Duration.hours(self.props.schedule_of(monitor).interval_hours)

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
        props = self.props
        if props.data_quality is not None:
            for feature in props.data_quality.drift_features:
                alarm = self.metric_feature_drift(feature).create_alarm(
                    self,
                    f"FeatureDrift{pascal_case(feature)}",
                    alarm_name=feature_drift_alarm_name(self.name_prefix, feature),
                    alarm_description=(
                        f"Feature {feature!r} of {self.endpoint.endpoint_name} drifted from its training baseline "
                        f"(distance > {props.data_quality.drift_threshold})."
                    ),
                    threshold=props.data_quality.drift_threshold,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=1,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
                alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
                alarms.append(alarm)
        if props.model_quality is not None:
            metric, threshold = self.model_quality_target
            lower_is_better = metric in LOWER_IS_BETTER
            alarm = self.metric_model_quality(metric).create_alarm(
                self,
                "ModelQualityAlarm",
                alarm_name=quality_alarm_name(self.name_prefix, metric),
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

    def _rule_alarm(self, id: str, rule: events.Rule, outcome: str, description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="TriggeredRules",
            dimensions_map={"RuleName": rule.rule_name},
            statistic="Sum",
            period=Duration.hours(1),
        ).create_alarm(
            self,
            id,
            alarm_name=executions_alarm_name(self.name_prefix, outcome),
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
        """The Clarify analysis config of bias monitoring, rendered from the props (headers, label, facets)."""
        section = self.props.bias
        if section is None:
            return None
        return {
            "version": "1.0",
            "headers": [*self.props.features, self.props.label],
            "label": self.props.label,
            "label_values_or_threshold": [_number_or_text(v) for v in section.label_values],
            "facet": [
                {"name_or_index": f.name, **({"value_or_threshold": [_number_or_text(v) for v in f.values]} if f.values else {})}
                for f in section.facets
            ],
        }

    @property
    def explainability_analysis_config(self) -> dict[str, Any] | None:
        """The Clarify analysis config of feature attribution monitoring, rendered from the props (SHAP baseline, model)."""
        section = self.props.explainability
        if section is None:
            return None
        return {
            "version": "1.0",
            "headers": list(self.props.features),
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
        return logs.LogGroup(self, "AnalysisConfigDeploymentLogs", encryption_key=self._logs_key,
                             retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN)

    def _acknowledge_deployment_handler(self, deployment: s3_deployment.BucketDeployment) -> None:
        """CDK's BucketDeployment handler (a stack singleton) writes the analysis config at deploy time."""
        stack = Stack.of(self)
        handler = next((c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")), None)
        if not isinstance(handler, Construct):
            return
        self._harden_deployment_handler(handler)
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

    def _harden_deployment_handler(self, handler: Construct) -> None:
        """Hold CDK's BucketDeployment handler to the estate's Lambda baseline (as `EstateFunction`), once per stack:
        CloudFormation invokes a custom-resource handler asynchronously, so a request that still fails after Lambda's
        retries goes to a CMK-encrypted dead-letter queue instead of vanishing; reserved concurrency; its log group
        with retention comes from `_deployment_logs`, its Python runtime from aws-cdk-lib."""
        function = handler.node.default_child
        assert isinstance(handler, lambda_.Function) and isinstance(function, lambda_.CfnFunction), handler.node.path
        if function.dead_letter_config is not None:
            return
        # At the stack's top, like the handler, under a name of ours: the handler's id carries a hash of its VPC
        # settings, and a retained queue should not move with it.
        stack = Stack.of(self)
        existing = stack.node.try_find_child(DEPLOYMENT_DEAD_LETTERS)
        dead_letters = existing if isinstance(existing, DeadLetterQueue) else DeadLetterQueue(
            stack, DEPLOYMENT_DEAD_LETTERS, key=self.key,
            of="CDK's BucketDeployment handler (deploy-time analysis configs)")
        key = dead_letters.queue.encryption_master_key
        assert key is not None
        function.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(target_arn=dead_letters.queue_arn)
        function.reserved_concurrent_executions = DEPLOYMENT_HANDLER_CONCURRENCY
        # Lambda sends to the queue with the function's role (checked when the function is created: the function
        # already waits for this default policy).
        handler.add_to_role_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[dead_letters.queue_arn]))
        handler.add_to_role_policy(iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn]))

    def _ship(self, monitor: MonitorType, document: dict[str, Any]) -> s3_assets.Asset:
        """Write an analysis config next to the synthesis and ship it as a file asset (uploaded by cdk deploy)."""
        with tempfile.TemporaryDirectory(prefix="mlops-monitor-") as folder:
            path = Path(folder) / f"{SUFFIX[monitor]}-analysis-config.json"
            path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            # The asset is staged (copied into the cloud assembly) right here, so the temporary file can go.
            return s3_assets.Asset(self, f"{CONSTRUCT_ID[monitor]}AnalysisConfig", path=str(path))

    @property
    def model_quality_target(self) -> tuple[str, float]:
        """The model quality metric the alarm watches and its threshold (the quality target unless the props override)."""
        section, target = self.props.model_quality, self.quality_target
        assert section is not None and self.problem_type is not None  # checked in _validate
        metric = section.metric or monitor_metric(self.problem_type, target.metric if target else "")
        threshold = section.threshold if section.threshold is not None else target.threshold if target else None
        assert metric and threshold is not None  # checked in _validate
        return metric, threshold

    def grant_read_reports(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let a role read the monitoring reports (constraint violations, statistics) of this monitor."""
        return self.reports.grant_read(grantee, f"{self.name_prefix}/*")


def _sagemaker_name(name: str) -> bool:
    return len(name) <= 63 and SAGEMAKER_NAME.match(name) is not None


def _object_arn(uri: str) -> str:
    parsed = S3Uri.parse(uri)
    assert parsed is not None, uri  # checked in _validate
    return parsed.object_arn(Aws.PARTITION)


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _number_or_text(value: str) -> int | float | str:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value
