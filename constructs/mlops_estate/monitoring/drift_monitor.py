"""The portable drift engine: drift, data quality and model quality of an endpoint without Model Monitor.

Amazon SageMaker Model Monitor is closed to new customers, so its schedules cannot be created in a new account.
`DriftMonitor` does the same job with services every account has, behind the same alarm names as `ModelMonitor`
(`mlops_estate.monitoring.naming`), so dashboards, `RetrainingTrigger` and promotion work whichever engine runs:

- a SageMaker pipeline ``<prefix>-drift-check`` (`TrainingPipeline`: its job runs in the endpoint's VPC, network
  isolated, volumes and outputs under the monitoring key), started by EventBridge Scheduler on the data-quality
  schedule (and, with model quality, on its own schedule over the ground-truth window):

  1. **Resolve** (Lambda ``resolve_drift_window``): the window, the baseline (a fixed ``baseline_uri``, or the
     ``baseline.json`` the served model version registered as ``ModelMetrics.ModelDataQuality.Statistics``) and
     manifests of the window's data-capture and ground-truth files;
  2. **Check** (a processing job on AWS's prebuilt scikit-learn image, nothing to build or push): the shipped
     ``monitoring/scripts/drift.py check``: per-feature missing rate, type violations and unseen categories,
     PSI and Kolmogorov-Smirnov (numeric) / PSI (categorical) drift, prediction drift, and the problem type's
     quality metrics against ground truth joined on the inference id; writes ``report.json`` and
     ``constraint_violations.json`` under ``<prefix>/reports/<monitor>/<execution>/`` in the reports bucket;
  3. **Publish** (Lambda ``publish_drift_metrics``): the report's metrics to CloudWatch under ``metric_namespace``
     with the dimensions ``Endpoint``, ``Monitor`` (``<prefix>-dq`` / ``<prefix>-mq``) and ``Feature``, plus
     ``run_status`` (1 for a run with data, 0 for an empty or unreadable one);

- alarms: ``<prefix>-drift-<feature>`` per drift feature, ``<prefix>-quality-<metric>``, ``<prefix>-violations``
  (data-quality violations), their composite ``<prefix>-drift`` (retraining listens to it), and
  ``<prefix>-failed`` (``run_status`` below 1 *or missing*: an empty, failed or skipped run is an alarm, never
  silence; ``<prefix>-mq-failed`` for the model-quality runs).

Bias and feature-attribution drift need SageMaker Clarify inside Model Monitor: use `ModelMonitor` for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Aws, Duration, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_estate.core.nag import acknowledge, acknowledge_wildcards
from mlops_estate.core.patterns import ACCOUNT_ID, BUCKET_NAME, ECR_IMAGE, SAGEMAKER_NAME
from mlops_estate.core.principal_policy import add_to_principal_policy
from mlops_estate.core.validation import Problems
from mlops_estate.events.alarm_topic import alarm_topic
from mlops_estate.events.estate_function import EstateFunction
from mlops_estate.monitoring.drift_alarm import composite_drift_alarm
from mlops_estate.monitoring.monitored_endpoint import MonitoredEndpoint, capture_problem
from mlops_estate.monitoring.naming import (
    SUFFIX,
    drift_alarm_name,
    executions_alarm_name,
    feature_drift_alarm_name,
    pascal_case,
    quality_alarm_name,
    schedule_name,
)
from mlops_estate.monitoring.props import MonitoringProps
from mlops_estate.monitoring.quality import (
    LOWER_IS_BETTER,
    PORTABLE_QUALITY_METRICS,
    PROBLEM_TYPES,
    ProblemType,
    QualityTarget,
    monitor_metric,
    threshold_problem,
)
from mlops_estate.monitoring.s3_uri import S3Uri
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.pipeline.builtin_images import BUILTIN_REGISTRIES, sklearn_processing_image
from mlops_estate.pipeline.definition import PipelineDefinition
from mlops_estate.pipeline.expressions import ExecutionVariables, Join, ParameterInteger, ParameterString
from mlops_estate.pipeline.steps import JobEnvironment, ProcessingInput, ProcessingOutput, ProcessingStep
from mlops_estate.pipeline.steps.lambda_callback import LambdaStep, StepOutput
from mlops_estate.pipeline.training_pipeline import PipelineSchedule, PipelineStorage, TrainingPipeline
from mlops_estate.security.storage import CmkBucket, SecureBucket
from mlops_estate.serving.endpoint import ModelEndpoint

DRIFT_SCRIPT = Path(__file__).resolve().parent / "scripts" / "drift.py"
DEFAULT_NAMESPACE = "MLOpsEstate/Drift"
PIPELINE_SUFFIX = "-drift-check"
INPUT = "/opt/ml/processing/input"
OUTPUT = "/opt/ml/processing/output"
RESOLVE_OUTPUTS = ("baseline_uri", "capture_manifest_uri", "ground_truth_manifest_uri", "window_start", "window_end",
                   "capture_files", "ground_truth_files", "model_package_arn")
WILDCARD_REASON = (
    "Drift runs write manifests and reports under this monitor's own prefix with per-execution keys; SageMaker's "
    "endpoint configs and models behind the endpoint get generated names; registered versions are numbered."
)


@dataclass(frozen=True)
class DriftBaselines:
    """Where the model versions' registered baselines live (the drift job may read only there).

    Attributes:
        bucket_name: the bucket (e.g. the registry's artifacts bucket).
        prefix: the key prefix under which the baselines are (e.g. ``models/churn``); "" for the whole bucket.
        account: the bucket's account (and its key's); default this account. The job reads only that account's
            objects (``s3:ResourceAccount``) and decrypts only with that account's keys through S3.
        model_package_account: the account of the model package registry the endpoint's versions come from;
            default ``account``.
    """

    bucket_name: str
    prefix: str = ""
    account: str | None = None
    model_package_account: str | None = None


@dataclass(frozen=True)
class DriftFunctionRefs:
    """The resolver and publisher of drift runs by reference (e.g. the estate's shared ones, imported by ARN; their
    owner granted them what the monitors need).

    Attributes:
        resolver: the ``resolve_drift_window`` function.
        publisher: the ``publish_drift_metrics`` function.
        metric_namespace: the namespace the publisher writes (a monitor's alarms must watch the same).
    """

    resolver: lambda_.IFunction
    publisher: lambda_.IFunction
    metric_namespace: str = DEFAULT_NAMESPACE


class DriftFunctions(Construct):
    """The two Lambda steps of drift runs (`EstateFunction`: DLQ, reserved concurrency, retained logs, in the VPC),
    for one monitor or shared by many, e.g. every SageMaker project's validation endpoint (names as patterns).

    Args:
        scope: the parent construct.
        id: the construct id.
        placement: the VPC subnets and security group the functions run in (they reach SageMaker, S3 and
            CloudWatch through the VPC's endpoints).
        queue_key: the CMK of the dead-letter queues.
        logs_key: the CMK of the log groups (it must admit CloudWatch Logs).
        endpoints: the endpoint name the resolver may describe, or a pattern such as ``mlops-project-*``.
        capture: the data-capture bucket; ``capture_keys``: the key pattern the resolver may list (``prefix/*``).
        capture_keys: see ``capture``.
        reports: the bucket of manifests and reports; the resolver writes ``<reports_prefix>/runs/*``, the publisher
            reads ``<reports_prefix>/reports/*``.
        reports_prefix: a monitor's name prefix, or a pattern such as ``mlops-project-*``.
        ground_truth: the ground-truth prefix the resolver may list, if any.
        model_package_account: the registry account whose versions the resolver describes (registered baselines);
            None when the monitors use fixed baselines.
        metric_namespace: the only namespace the publisher may write.

    Attributes:
        resolver / publisher: the functions (`aws_lambda.IFunction`) a drift pipeline's Lambda steps invoke.
        resolver_function / publisher_function: the `EstateFunction` constructs (roles, dead-letter queues, logs).
        refs: both, as `DriftFunctionRefs`.
    """

    @staticmethod
    def from_arns(scope: Construct, id: str, *, resolver_arn: str, publisher_arn: str,
                  metric_namespace: str = DEFAULT_NAMESPACE) -> DriftFunctionRefs:
        """Shared functions of another stack, by ARN (e.g. read from SSM at launch), publishing to ``metric_namespace``."""
        holder = Construct(scope, id)
        return DriftFunctionRefs(lambda_.Function.from_function_arn(holder, "Resolver", resolver_arn),
                                 lambda_.Function.from_function_arn(holder, "Publisher", publisher_arn), metric_namespace)

    def __init__(self, scope: Construct, id: str, *, placement: NetworkPlacement, queue_key: kms.IKey, logs_key: kms.IKey,
                 endpoints: str, capture: CmkBucket, capture_keys: str, reports: CmkBucket, reports_prefix: str,
                 ground_truth: S3Uri | None = None, model_package_account: str | None = None,
                 metric_namespace: str = DEFAULT_NAMESPACE) -> None:
        super().__init__(scope, id)
        problems = Problems()
        for name, value in (("endpoints", endpoints), ("capture_keys", capture_keys), ("reports_prefix", reports_prefix)):
            if not Token.is_unresolved(value) and not value.strip():
                problems.add(name, f"{value!r} is empty; expected a name or key pattern (e.g. 'mlops-project-*')")
        if model_package_account is not None and not Token.is_unresolved(model_package_account) and not ACCOUNT_ID.match(model_package_account):
            problems.add("model_package_account", f"{model_package_account!r} is not an AWS account id (12 digits)")
        _check_namespace("metric_namespace", metric_namespace, problems)
        problems.raise_if_any(self.node.path)
        self.resolver_function = EstateFunction(
            self, "Resolver", handler="resolve_drift_window", placement=placement, queue_key=queue_key, logs_key=logs_key,
            description=f"Resolves the window, baseline and input manifests of drift runs ({reports_prefix})",
            timeout=Duration.minutes(5), reserved_concurrency=2,
        )
        self.publisher_function = EstateFunction(
            self, "Publisher", handler="publish_drift_metrics", placement=placement, queue_key=queue_key, logs_key=logs_key,
            description=f"Publishes drift reports as CloudWatch metrics ({reports_prefix})",
            environment={"METRIC_NAMESPACE": metric_namespace}, reserved_concurrency=2,
        )
        self.resolver: lambda_.IFunction = self.resolver_function.function
        self.publisher: lambda_.IFunction = self.publisher_function.function
        self.refs = DriftFunctionRefs(self.resolver, self.publisher, metric_namespace)
        arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        endpoint = endpoints if Token.is_unresolved(endpoints) else endpoints.lower()  # SageMaker lowercases names in ARNs
        resolving = [
            iam.PolicyStatement(sid="DescribeServedModel",
                                actions=["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
                                resources=[f"{arn}:endpoint/{endpoint}", f"{arn}:endpoint-config/*", f"{arn}:model/*"]),
            iam.PolicyStatement(sid="ListDataCapture", actions=["s3:ListBucket"], resources=[capture.bucket_arn],
                                conditions={"StringLike": {"s3:prefix": [capture_keys]}}),
            iam.PolicyStatement(sid="WriteManifests", actions=["s3:PutObject"],
                                resources=[reports.bucket.arn_for_objects(f"{reports_prefix}/runs/*")]),
            iam.PolicyStatement(sid="EncryptManifests", actions=["kms:GenerateDataKey"], resources=[reports.key.key_arn]),
        ]
        if ground_truth is not None:
            prefix = ground_truth.key.strip("/")
            resolving.append(iam.PolicyStatement(
                sid="ListGroundTruth", actions=["s3:ListBucket"], resources=[ground_truth.bucket_arn(Aws.PARTITION)],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}/*" if prefix else "*"]}}))
        if model_package_account is not None:
            resolving.append(iam.PolicyStatement(
                sid="DescribeServedVersion", actions=["sagemaker:DescribeModelPackage"],
                resources=[f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{model_package_account}:model-package/*"]))
        publishing = [
            iam.PolicyStatement(sid="ReadReports", actions=["s3:GetObject"],
                                resources=[reports.bucket.arn_for_objects(f"{reports_prefix}/reports/*")]),
            iam.PolicyStatement(sid="DecryptReports", actions=["kms:Decrypt"], resources=[reports.key.key_arn]),
            iam.PolicyStatement(sid="PublishDriftMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
                                conditions={"StringEquals": {"cloudwatch:namespace": metric_namespace}}),
        ]
        for function, statements in ((self.resolver_function, resolving), (self.publisher_function, publishing)):
            for statement in statements:
                add_to_principal_policy(function.role, statement)
            policy = _default_policy(function.role)
            for statement in statements:
                if statement.sid == "PublishDriftMetrics":
                    acknowledge(policy, "cloudwatch:PutMetricData supports no resource-level permissions; the "
                                        "cloudwatch:namespace condition limits it to the drift namespace.", "AwsSolutions-IAM5[Resource::*]")
                else:
                    acknowledge_wildcards(policy, statement, WILDCARD_REASON)


class DriftMonitor(Construct):
    """The portable drift engine for one endpoint (see the module docstring): a scheduled drift-check pipeline, its
    two Lambda steps, and the same alarms as `ModelMonitor`.

    Args:
        scope: the parent construct.
        id: the construct id.
        endpoint: the endpoint to watch: a `ModelEndpoint` that captures data, or a `MonitoredEndpoint`.
        props: what to watch (`MonitoringProps`): ``data_quality`` (required: drift features and thresholds, the
            schedule) and optionally ``model_quality`` (with ``ground_truth_uri``); ``bias`` and
            ``explainability`` need Model Monitor and are refused here.
        name_prefix: the start of every name (schedules ``<prefix>-dq|mq``, alarms ``<prefix>-drift...``, the
            pipeline ``<prefix>-drift-check``); default the endpoint's name. Literal, up to 50 characters.
        problem_type: the model's problem type; required for model quality (its metrics depend on it).
        quality_target: the metric and threshold the quality alarm watches unless ``props.model_quality`` names
            its own (e.g. the model's quality gate; ``f1`` of a multiclass model is ``weighted_f1``).
        baseline_uri: a fixed ``.../baseline.json`` (``drift.py baseline`` output) every run compares with. Give
            this or ``baselines``.
        baselines: where the versions' registered baselines live (`DriftBaselines`): each run reads the baseline
            the served version registered. Give this or ``baseline_uri``.
        ground_truth_account: the account that owns the ground-truth bucket; default this account.
        key: the CMK of the job's volumes and outputs, the reports bucket and the alarm topic; default the
            `ModelEndpoint`'s monitoring key, else the data-capture bucket's key.
        logs_key: the CMK of the Lambda functions' log groups (it must admit CloudWatch Logs); default the
            `ModelEndpoint`'s logs key, else ``key``.
        reports: the CMK bucket for manifests and reports (under ``<prefix>/``); default a new `SecureBucket`.
        topic: the SNS topic the alarms notify; default a new encrypted topic.
        image_uri: the processing image (Python 3.8+ with numpy); default AWS's scikit-learn image of the region.
        metric_namespace: the CloudWatch namespace of the published metrics.
        functions: shared functions (`DriftFunctions.refs`, or `DriftFunctions.from_arns`) whose grants cover this
            monitor (names as patterns); default the monitor's own, granted exactly its endpoint, buckets and prefixes.
        script_uri: the S3 URI of ``drift.py`` (a copy of ``mlops_estate/monitoring/scripts/drift.py``); default the
            library's own, shipped as a file asset of this stack.

    Attributes:
        name_prefix: the prefix of every name.
        pipeline: the drift-check `TrainingPipeline` (its ``schedule`` runs the data-quality checks).
        quality_schedule: the model-quality schedule, or None.
        schedule_names: the monitor (metric dimension) names by type: ``<prefix>-dq`` and ``<prefix>-mq``.
        functions: the functions the pipeline's Lambda steps invoke (`DriftFunctionRefs`).
        script_uri: where the job reads ``drift.py``.
        reports: the CMK bucket of manifests and reports.
        topic: the SNS topic every alarm notifies.
        drift_alarm / drift_alarm_name: the composite alarm retraining listens to.
        drift_alarms: the per-feature drift and quality alarms behind it.
        violations_alarm / violations_alarm_name / failure_alarm: data-quality violations (and that alarm's name);
            missing, empty or failed data-quality runs.
        failure_alarms: every run alarm (data quality, then model quality).
        alarms: every alarm, the composite first.
        account: the account of the monitor's stack.
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
        baseline_uri: str | None = None,
        baselines: DriftBaselines | None = None,
        ground_truth_account: str | None = None,
        key: kms.IKey | None = None,
        logs_key: kms.IKey | None = None,
        reports: CmkBucket | None = None,
        topic: sns.ITopic | None = None,
        image_uri: str | None = None,
        metric_namespace: str = DEFAULT_NAMESPACE,
        functions: DriftFunctionRefs | None = None,
        script_uri: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        watched = self._validate(endpoint, props, name_prefix, problem_type, quality_target, baseline_uri, baselines,
                                 ground_truth_account, image_uri, metric_namespace, functions, script_uri)
        self.props, self.endpoint, self.problem_type = props, watched, problem_type
        self.name_prefix = name_prefix or watched.endpoint_name
        self.account = stack.account
        self.metric_namespace = metric_namespace
        self.key: kms.IKey = key or (endpoint.keys.monitoring if isinstance(endpoint, ModelEndpoint) else watched.data_capture.key)
        logs = logs_key or (endpoint.keys.logs if isinstance(endpoint, ModelEndpoint) else self.key)
        self.reports: CmkBucket = reports or SecureBucket(self, "Reports", key=self.key)
        self.topic = topic or alarm_topic(self, "Alarms", key=self.key, display_name=f"Drift alarms of {self.name_prefix}")
        self.schedule_names = {m: schedule_name(self.name_prefix, m) for m in ("data_quality", "model_quality")
                               if getattr(props, m) is not None}
        self.quality_metric = self._quality_metric(quality_target)

        placement = watched.placement
        truth = S3Uri.parse(props.ground_truth_uri) if props.ground_truth_uri and props.model_quality else None
        self.functions: DriftFunctionRefs = functions or DriftFunctions(
            self, "Functions", placement=placement, queue_key=self.key, logs_key=logs, endpoints=watched.endpoint_name,
            capture=watched.data_capture, capture_keys=watched.data_capture_keys, reports=self.reports,
            reports_prefix=self.name_prefix, ground_truth=truth,
            model_package_account=(baselines.model_package_account or baselines.account) if baselines else None,
            metric_namespace=metric_namespace,
        ).refs
        if script_uri is None:
            asset = s3_assets.Asset(self, "DriftScript", path=str(DRIFT_SCRIPT))
            script_uri, script_arn = asset.s3_object_url, f"arn:{Aws.PARTITION}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}"
        else:
            parsed_script = S3Uri.parse(script_uri)
            assert parsed_script is not None  # checked in _validate
            script_arn = parsed_script.object_arn(Aws.PARTITION)
        self.script_uri = script_uri

        pipeline_name = f"{self.name_prefix}{PIPELINE_SUFFIX}"
        image = image_uri or sklearn_processing_image(stack.region)
        data_quality = props.data_quality
        assert data_quality is not None  # checked in _validate
        dq_hours = props.schedule_of("data_quality").interval_hours
        self.pipeline = TrainingPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            definition=lambda jobs: self._definition(jobs, pipeline_name, image, baseline_uri or "", truth, dq_hours, script_uri),
            placement=placement,
            storage=PipelineStorage(key=self.key, buckets=(self.reports.bucket,), read_only=(watched.data_capture.bucket,),
                                    objects=f"{self.name_prefix}/*"),
            schedule=PipelineSchedule(data_quality.schedule, {"Monitor": self.schedule_names["data_quality"]}),
            description=f"Portable drift check of the endpoint {watched.endpoint_name} (data quality"
                        f"{' and model quality' if props.model_quality else ''})",
        )
        self.quality_schedule = None
        if props.model_quality is not None:
            start, end = _hours(props.ground_truth_start_offset), _hours(props.ground_truth_end_offset)
            assert start is not None and end is not None  # checked in _validate
            self.quality_schedule = self.pipeline.add_schedule(
                PipelineSchedule(props.model_quality.schedule, {
                    "Monitor": self.schedule_names["model_quality"], "WindowHours": str(start - end),
                    "EndOffsetHours": str(end), "UseGroundTruth": "true",
                }),
                "QualitySchedule", description=f"Model quality of {watched.endpoint_name} over the ground-truth window",
            )
        self._grant_job(script_arn, baseline_uri, baselines, truth, ground_truth_account)

        self.drift_alarms = self._drift_alarms()
        self.violations_alarm_name = executions_alarm_name(self.name_prefix, "violations")
        self.violations_alarm = self._alarm(
            "ViolationsAlarm", self.metric("violations", "data_quality"), self.violations_alarm_name,
            f"A drift run of {watched.endpoint_name} found data-quality violations (missing values, type violations or "
            "unseen categories beyond tolerance); constraint_violations.json in the reports bucket lists them.",
            threshold=1, comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
        self.failure_alarms = [self._run_alarm(m) for m in self.schedule_names]
        self.failure_alarm = self.failure_alarms[0]
        self.drift_alarm_name = drift_alarm_name(self.name_prefix)
        self.drift_alarm = composite_drift_alarm(self, name_prefix=self.name_prefix, endpoint_name=watched.endpoint_name,
                                                 signals=[*self.drift_alarms, self.violations_alarm], topic=self.topic,
                                                 violations="a run found data-quality violations")
        self.alarms: list[cloudwatch.IAlarm] = [self.drift_alarm, *self.drift_alarms, self.violations_alarm, *self.failure_alarms]

    # ----------------------------------------------------------------------------------------- validation
    def _validate(
        self, endpoint: ModelEndpoint | MonitoredEndpoint, props: MonitoringProps, name_prefix: str | None,
        problem_type: ProblemType | None, target: QualityTarget | None, baseline_uri: str | None,
        baselines: DriftBaselines | None, ground_truth_account: str | None, image_uri: str | None, namespace: str,
        functions: DriftFunctionRefs | None, script_uri: str | None,
    ) -> MonitoredEndpoint:
        """Every problem of the arguments at once (one `ConfigError`); the endpoint as the monitor sees it."""
        problems = Problems()
        watched: MonitoredEndpoint | None = endpoint if isinstance(endpoint, MonitoredEndpoint) else None
        if isinstance(endpoint, ModelEndpoint):
            if problem := capture_problem(endpoint):
                problems.add("endpoint", problem.replace("Model Monitor reads", "the drift engine reads"))
            else:
                watched = MonitoredEndpoint.of(endpoint)
        props.check_all("props", problems)
        if props.data_quality is None:
            problems.add("props.data_quality", "is None; the portable engine always checks data quality (drift features, "
                                               "thresholds, schedule): give it")
        for monitor in ("bias", "explainability"):
            if getattr(props, monitor) is not None:
                problems.add(f"props.{monitor}", "needs SageMaker Clarify inside Model Monitor, which the portable engine does "
                                                 "not use; monitor it with ModelMonitor (engine model_monitor) or remove it")
        prefix = name_prefix or (watched.endpoint_name if watched else "")
        # A deploy-time prefix (a SageMaker project's) is bounded by its parameter instead; DriftAlarmTrigger needs a literal.
        if prefix and not Token.is_unresolved(prefix) and (len(prefix) > 50 or not SAGEMAKER_NAME.match(prefix)):
            problems.add("name_prefix", f"{prefix!r} is not a name prefix of up to 50 letters, digits and hyphens "
                                        f"(the pipeline is named {prefix + PIPELINE_SUFFIX!r})")
        if (baseline_uri is None) == (baselines is None):
            problems.add("baseline_uri", "give exactly one of baseline_uri (a fixed baseline.json) and baselines (where the "
                                         "model versions' registered baselines live)")
        elif baseline_uri is not None:
            if S3Uri.parse(baseline_uri) is None or not baseline_uri.endswith("/baseline.json"):
                problems.add("baseline_uri", f"{baseline_uri!r} is not the S3 URI of a baseline.json (drift.py baseline "
                                             "output), like s3://bucket/churn/baseline.json")
        if baselines is not None:
            if not Token.is_unresolved(baselines.bucket_name) and not BUCKET_NAME.match(baselines.bucket_name):
                problems.add("baselines.bucket_name", f"{baselines.bucket_name!r} is not an S3 bucket name")
            for field in ("account", "model_package_account"):
                value = getattr(baselines, field)
                if value is not None and not Token.is_unresolved(value) and not ACCOUNT_ID.match(value):
                    problems.add(f"baselines.{field}", f"{value!r} is not an AWS account id (12 digits)")
        if ground_truth_account is not None and not Token.is_unresolved(ground_truth_account) and not ACCOUNT_ID.match(ground_truth_account):
            problems.add("ground_truth_account", f"{ground_truth_account!r} is not an AWS account id (12 digits)")
        region = Stack.of(self).region
        if image_uri is None and region not in BUILTIN_REGISTRIES:
            where = "an environment-agnostic stack" if Token.is_unresolved(region) else f"region {region!r}"
            problems.add("image_uri", f"None, and no scikit-learn processing image is known for {where}; pass image_uri "
                                      "(e.g. sklearn_processing_image(<region>))")
        if image_uri is not None and not ECR_IMAGE.match(image_uri):
            problems.add("image_uri", f"{image_uri!r} is not an ECR image URI; expected <account>.dkr.ecr.<region>.amazonaws.com/"
                                      "<repository>:<tag>")
        _check_namespace("metric_namespace", namespace, problems)
        if functions is not None and functions.metric_namespace != namespace:
            problems.add("functions", f"publish to {functions.metric_namespace!r}, not to metric_namespace {namespace!r}, "
                                      "which the alarms watch; give the same namespace to both")
        if script_uri is not None and (S3Uri.parse(script_uri) is None or not script_uri.endswith(".py")):
            problems.add("script_uri", f"{script_uri!r} is not the S3 URI of a copy of drift.py, like "
                                       "s3://bucket/code/churn/drift.py (a bucket token allowed)")
        offsets = [_hours(o) for o in (props.ground_truth_start_offset, props.ground_truth_end_offset)]
        if props.model_quality is not None and None not in offsets and offsets[0] <= offsets[1]:  # type: ignore[operator]
            problems.add("props.ground_truth_start_offset", f"{props.ground_truth_start_offset!r} does not start before "
                                                            f"ground_truth_end_offset {props.ground_truth_end_offset!r}")
        self._check_quality(props, problem_type, target, problems)
        problems.raise_if_any(self.node.path)
        assert watched is not None
        return watched

    @staticmethod
    def _check_quality(props: MonitoringProps, problem_type: ProblemType | None, target: QualityTarget | None,
                       problems: Problems) -> None:
        if problem_type is not None and problem_type not in PROBLEM_TYPES:
            problems.add("problem_type", f"{problem_type!r} is not a problem type; use one of {', '.join(PROBLEM_TYPES)}")
            return
        section = props.model_quality
        if section is None:
            return
        if problem_type is None:
            problems.add("problem_type", f"None, but model quality needs the model's problem type; use one of {', '.join(PROBLEM_TYPES)}")
            return
        allowed = PORTABLE_QUALITY_METRICS[problem_type]
        metric = section.metric or (monitor_metric(problem_type, target.metric) if target else "")
        threshold = section.threshold if section.threshold is not None else (target.threshold if target else None)
        where = "props.model_quality.metric" if section.metric else "quality_target.metric"
        if not metric:
            problems.add("props.model_quality.metric", f"is empty and there is no quality_target; name one of {', '.join(sorted(allowed))}")
        elif metric not in allowed:
            problems.add(where, f"{metric!r} is not a {problem_type} metric the portable engine computes; use one of "
                                f"{', '.join(sorted(allowed))}")
        if threshold is None:
            problems.add("props.model_quality.threshold", "is None and there is no quality_target; give the threshold to alarm on")
        elif metric and (problem := threshold_problem(metric, threshold)):
            problems.add("props.model_quality.threshold" if section.threshold is not None else "quality_target.threshold", problem)

    def _quality_metric(self, target: QualityTarget | None) -> tuple[str, float] | None:
        section = self.props.model_quality
        if section is None or self.problem_type is None:
            return None
        metric = section.metric or monitor_metric(self.problem_type, target.metric if target else "")
        threshold = section.threshold if section.threshold is not None else target.threshold if target else None
        assert threshold is not None  # checked in _validate
        return metric, threshold

    # ------------------------------------------------------------------------------------------ pipeline
    def _definition(self, jobs: JobEnvironment, name: str, image: str, baseline_uri: str, truth: S3Uri | None,
                    dq_hours: int, script_uri: str) -> PipelineDefinition:
        props, watched = self.props, self.endpoint
        monitor = ParameterString("Monitor", self.schedule_names["data_quality"], "The monitor this run publishes as (dq or mq)")
        window = ParameterInteger("WindowHours", dq_hours, "How many hours of traffic the run checks")
        offset = ParameterInteger("EndOffsetHours", 0, "How many hours before the current hour the window ends")
        use_truth = ParameterString("UseGroundTruth", "false", "true: join ground truth and compute model quality")
        execution = ExecutionVariables.PIPELINE_EXECUTION_ID
        resolve = LambdaStep(
            "Resolve",
            function=self.functions.resolver,
            inputs={
                "endpoint_name": watched.endpoint_name,
                "capture_uri": watched.data_capture.s3_uri(watched.data_capture_prefix),
                "work_uri": self.reports.s3_uri(f"{self.name_prefix}/runs"),
                "execution_id": execution,
                "window_hours": window,
                "end_offset_hours": offset,
                "ground_truth_uri": props.ground_truth_uri if truth is not None else "",
                "use_ground_truth": use_truth,
                "baseline_uri": baseline_uri,
            },
            outputs=[StepOutput(o) for o in RESOLVE_OUTPUTS],
            description="Window, baseline and manifests of the data capture and ground truth",
        )
        data_quality = props.data_quality
        assert data_quality is not None
        environment: dict[str, Any] = {
            "WINDOW_START": resolve.output("window_start"), "WINDOW_END": resolve.output("window_end"),
            "KS_THRESHOLD": str(data_quality.drift_threshold), "PSI_THRESHOLD": str(data_quality.psi_threshold),
            "ENDPOINT_NAME": watched.endpoint_name, "MONITOR_NAME": monitor,
        }
        if self.problem_type:
            environment["PROBLEM_TYPE"] = self.problem_type
        arguments: list[Any] = ["check", "--baseline", f"{INPUT}/baseline", "--capture", f"{INPUT}/capture",
                                "--ground-truth", f"{INPUT}/ground_truth", "--output", OUTPUT]
        cutoff = props.model_quality.probability_threshold if props.model_quality else None
        if cutoff is not None:
            arguments += ["--probability-threshold", str(cutoff)]
        check = ProcessingStep(
            "Check",
            job=jobs,
            image_uri=image,
            instance_type=props.instance_type,
            volume_size_gb=props.volume_size_gb,
            code=script_uri,
            arguments=arguments,
            inputs=[
                ProcessingInput("baseline", resolve.output("baseline_uri"), f"{INPUT}/baseline"),
                ProcessingInput("capture", resolve.output("capture_manifest_uri"), f"{INPUT}/capture", data_type="ManifestFile"),
                ProcessingInput("ground_truth", resolve.output("ground_truth_manifest_uri"), f"{INPUT}/ground_truth",
                                data_type="ManifestFile"),
            ],
            outputs=[ProcessingOutput("report", OUTPUT, Join([self.reports.s3_uri(f"{self.name_prefix}/reports"), monitor, execution], on="/"))],
            environment=environment,
            output_kms_key_id=self.reports.key.key_arn,
            max_runtime_seconds=props.max_runtime_minutes * 60,
            description="drift.py check: data quality, drift and model quality against the baseline",
        )
        publish = LambdaStep(
            "Publish",
            function=self.functions.publisher,
            inputs={"report_uri": Join([check.output_uri("report"), "report.json"], on="/"),
                    "endpoint_name": watched.endpoint_name, "monitor_name": monitor},
            outputs=[StepOutput("status"), StepOutput("drift_detected", "Boolean")],
            description="The report's metrics and run_status to CloudWatch",
        )
        return PipelineDefinition(name, parameters=[monitor, window, offset, use_truth], steps=[resolve, check, publish])

    # --------------------------------------------------------------------------------------------- grants
    def _grant_job(self, script_arn: str, baseline_uri: str | None, baselines: DriftBaselines | None, truth: S3Uri | None,
                   ground_truth_account: str | None) -> None:
        """What the drift job reads beyond its storage: the script, the baselines, the ground truth."""
        role = self.pipeline.job_role
        region = Stack.of(self).region
        statements = [
            iam.PolicyStatement(sid="ReadDriftScript", actions=["s3:GetObject"], resources=[script_arn]),
            # Reports are written with the reports bucket's key; captures were written with the capture bucket's.
            iam.PolicyStatement(sid="ReportsKey", actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                                resources=[self.reports.key.key_arn]),
            iam.PolicyStatement(sid="DecryptDataCapture", actions=["kms:Decrypt"], resources=[self.endpoint.data_capture.key.key_arn]),
        ]
        if baselines is not None:
            account = baselines.account or Aws.ACCOUNT_ID
            prefix = baselines.prefix.strip("/")
            statements += [
                iam.PolicyStatement(sid="ReadRegisteredBaselines", actions=["s3:GetObject"],
                                    resources=[f"arn:{Aws.PARTITION}:s3:::{baselines.bucket_name}/{prefix + '/' if prefix else ''}*"],
                                    conditions={"StringEquals": {"s3:ResourceAccount": account}}),
                iam.PolicyStatement(sid="DecryptRegisteredBaselines", actions=["kms:Decrypt", "kms:DescribeKey"],
                                    resources=[f"arn:{Aws.PARTITION}:kms:{region}:{account}:key/*"],
                                    conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}),
            ]
        elif baseline_uri is not None:
            parsed = S3Uri.parse(baseline_uri)
            assert parsed is not None  # checked in _validate
            resource = parsed.object_arn(Aws.PARTITION)
            statements.append(iam.PolicyStatement(sid="ReadBaseline", actions=["s3:GetObject"], resources=[resource]))
        if truth is not None:
            owner = ground_truth_account or Aws.ACCOUNT_ID
            prefix = truth.key.strip("/")
            statements += [
                iam.PolicyStatement(sid="ReadGroundTruth", actions=["s3:GetObject"],
                                    resources=[truth.object_arn(Aws.PARTITION, f"{prefix}/*" if prefix else "*")],
                                    conditions={"StringEquals": {"s3:ResourceAccount": owner}}),
                iam.PolicyStatement(sid="DecryptGroundTruth", actions=["kms:Decrypt", "kms:DescribeKey"],
                                    resources=[f"arn:{Aws.PARTITION}:kms:{region}:{owner}:key/*"],
                                    conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}),
            ]
        for statement in statements:
            add_to_principal_policy(role, statement)
            acknowledge_wildcards(role, statement, "The drift job reads baselines and ground truth by prefix (objects written "
                                  "per build and per day), decrypting through S3 with the owning account's keys only.")

    # -------------------------------------------------------------------------------------------- alarms
    def metric(self, name: str, monitor: str = "data_quality", *, feature: str | None = None, statistic: str = "Maximum") -> cloudwatch.Metric:
        """A metric the publisher writes for this endpoint (``feature_drift``, ``feature_psi``, ``records``, ``auc``, ...)."""
        dimensions = {"Endpoint": self.endpoint.endpoint_name, "Monitor": self.schedule_names[monitor]}  # type: ignore[index]
        if feature is not None:
            dimensions["Feature"] = feature
        hours = self.props.schedule_of(monitor).interval_hours  # type: ignore[arg-type]
        return cloudwatch.Metric(namespace=self.metric_namespace, metric_name=name, dimensions_map=dimensions,
                                 statistic=statistic, period=Duration.hours(min(hours, 24)))

    def _alarm(self, id: str, metric: cloudwatch.Metric, name: str, description: str, *, threshold: float,
               comparison: cloudwatch.ComparisonOperator, missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
               periods: int = 1) -> cloudwatch.Alarm:
        alarm = metric.create_alarm(self, id, alarm_name=name, alarm_description=description, threshold=threshold,
                                    comparison_operator=comparison, evaluation_periods=periods, datapoints_to_alarm=periods,
                                    treat_missing_data=missing)
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        return alarm

    def _drift_alarms(self) -> list[cloudwatch.Alarm]:
        data_quality = self.props.data_quality
        assert data_quality is not None
        endpoint = self.endpoint.endpoint_name
        alarms = [
            self._alarm(
                f"FeatureDrift{pascal_case(feature)}", self.metric("feature_drift", feature=feature),
                feature_drift_alarm_name(self.name_prefix, feature),
                f"Feature {feature!r} of {endpoint} drifted from its training baseline (KS > {data_quality.drift_threshold} "
                f"or PSI > {data_quality.psi_threshold}).",
                threshold=1, comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            )
            for feature in data_quality.drift_features
        ]
        if self.quality_metric is not None:
            metric, threshold = self.quality_metric
            lower_is_better = metric in LOWER_IS_BETTER
            alarms.append(self._alarm(
                "ModelQualityAlarm", self.metric(metric, "model_quality", statistic="Average"),
                quality_alarm_name(self.name_prefix, metric),
                f"Model quality of {endpoint}: {metric} is {'above' if lower_is_better else 'below'} {threshold} against ground truth.",
                threshold=threshold,
                comparison=(cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD if lower_is_better
                            else cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD),
            ))
        return alarms

    def _run_alarm(self, monitor: str) -> cloudwatch.Alarm:
        """run_status below 1 or missing: a run that found no traffic, failed, or never ran."""
        hours = self.props.schedule_of(monitor).interval_hours  # type: ignore[arg-type]
        name = "failed" if monitor == "data_quality" else f"{SUFFIX['model_quality']}-failed"  # type: ignore[index]
        return self._alarm(
            "FailedRunsAlarm" if monitor == "data_quality" else "FailedQualityRunsAlarm",
            self.metric("run_status", monitor, statistic="Minimum"), executions_alarm_name(self.name_prefix, name),
            f"No successful {monitor.replace('_', ' ')} drift run of {self.endpoint.endpoint_name} with traffic: a run failed "
            f"(pipeline {self.name_prefix}{PIPELINE_SUFFIX}), found no captured requests, or did not run. The endpoint is not being monitored.",
            threshold=1, comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
            # A sub-daily schedule tolerates one late run (a run publishes minutes after its hour starts).
            periods=2 if hours < 24 else 1,
        )

    def grant_read_reports(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let a role read this monitor's reports."""
        return self.reports.grant_read(grantee, f"{self.name_prefix}/*")


def _check_namespace(path: str, namespace: str, problems: Problems) -> None:
    if not 1 <= len(namespace) <= 255 or namespace.startswith("AWS/") or not namespace.isascii():
        problems.add(path, f"{namespace!r} is not a custom CloudWatch namespace (1-255 ASCII characters, not starting with AWS/)")


def _default_policy(role: iam.Role) -> iam.Policy:
    policy = role.node.find_child("DefaultPolicy")
    assert isinstance(policy, iam.Policy), role.node.path
    return policy


def _hours(offset: str) -> int | None:
    """Hours (rounded up) of a negative ISO 8601 offset such as -P2D or -PT6H; None for anything else (which
    `MonitoringProps` reports)."""
    match = re.fullmatch(r"-P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?", offset)
    if not match or offset in ("-P", "-PT"):
        return None
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return days * 24 + hours + (1 if minutes else 0)
