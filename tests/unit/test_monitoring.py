"""ModelMonitor on a test stack: job definitions, schedules, role, alarms, policy gates and bad input."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, AspectPriority, Aspects, CfnParameter, Environment, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from mlops_estate.config.estate import ModelConfig, ServingConfig
from mlops_estate.serving.serving_config import DataCaptureConfig
from mlops_estate.core.nag import apply_nag_packs
from mlops_estate.core.validation import ConfigError
from mlops_estate.monitoring.images import MonitorImages
from mlops_estate.monitoring.model_monitor import MONITORING_TYPE, ModelMonitor
from mlops_estate.monitoring.monitored_endpoint import MonitoredEndpoint
from mlops_estate.monitoring.props import DataQualityMonitorProps, ModelQualityMonitorProps, MonitoringProps
from mlops_estate.monitoring.quality import QualityTarget
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.security.storage import SecureBucket
from mlops_estate.serving.endpoint import ModelEndpoint, ModelEndpointProps, ModelSource
from tests.cfn_lint import lint_template
from tests.helpers import TEST_AZS, TEST_REGION, cdk_context, default_config, make_app, make_stack, model_monitor_config, resources_of_type

ENDPOINT = "mlops-churn-staging"
MODEL = "mlops-churn-v1"
ACCOUNTS = default_config().accounts


@dataclasses.dataclass
class Parts:
    endpoint: MonitoredEndpoint
    keys: EstateKeys


def _parts(stack, *, endpoint=None, model_name: str | None = MODEL) -> Parts:
    """A stand-in endpoint that captures to a CMK bucket, in an imported VPC."""
    keys = EstateKeys(stack, "Keys", estate_name="mlops", classes=[DataClass.DATA, DataClass.MONITORING])
    zones = [f"{stack.region}{z}" for z in "ab"]  # the stack's own region: PrivateNetwork checks the zones' region
    placement = PrivateNetwork.from_existing(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", subnet_ids=["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"], availability_zones=zones, security_group_id="sg-0123456789abcdef0"
    )
    watched = MonitoredEndpoint(
        endpoint_name=ENDPOINT,
        data_capture=SecureBucket(stack, "Capture", key=keys.data),
        data_capture_prefix="churn",
        placement=placement,
        endpoint=endpoint,
        model_name=model_name,
    )
    return Parts(watched, keys)


def _churn() -> ModelConfig:
    """churn as a Model Monitor customer configures it (all four monitors)."""
    return next(m for m in model_monitor_config().models if m.name == "churn")


def _monitor(stack, id: str = "Monitor", *, model: ModelConfig | None = None, parts: Parts | None = None, **overrides: Any) -> ModelMonitor:
    """A monitor of ``model`` (default churn) on a stand-in endpoint, with the props the estate's serving stack gives."""
    model = model or _churn()
    parts = parts or _parts(stack)
    monitoring = model.monitoring
    assert monitoring is not None
    kwargs: dict[str, Any] = dict(
        endpoint=parts.endpoint,
        props=monitoring,
        name_prefix=f"mlops-{model.name}-stg",
        problem_type=model.problem_type,
        quality_target=QualityTarget(model.quality_gate.metric, model.quality_gate.threshold),
        key=parts.keys.monitoring,
        role_path="/mlops/model-monitor/",
        baselines_account=ACCOUNTS.of(monitoring.baselines_account) if monitoring.baselines_account else None,
        ground_truth_account=ACCOUNTS.of(monitoring.ground_truth_account) if monitoring.ground_truth_account else None,
    )
    kwargs.update(overrides)
    return ModelMonitor(stack, id, **kwargs)


@dataclasses.dataclass
class Built:
    monitor: ModelMonitor
    template: dict[str, Any]
    outdir: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    """The churn model's four monitors on a stand-in endpoint, synthesized once with every nag pack on."""
    outdir = tmp_path_factory.mktemp("monitor")
    app = App(context={**cdk_context(), "@aws-cdk/core:validationReportJson": True}, outdir=str(outdir))
    stack = make_stack(app)
    Aspects.of(app).add(ManagedPoliciesOnly(), priority=AspectPriority.MUTATING)
    endpoint = sagemaker.CfnEndpoint(stack, "Endpoint", endpoint_config_name="mlops-churn-staging-config", endpoint_name=ENDPOINT)
    monitor = _monitor(stack, parts=_parts(stack, endpoint=endpoint))
    apply_nag_packs(app)
    assembly = app.synth()  # fails on any unacknowledged nag finding
    template = json.loads(Path(assembly.get_stack_by_name(stack.stack_name).template_full_path).read_text())
    return Built(monitor, template, outdir)


def _one(template: dict[str, Any], type_name: str) -> dict[str, Any]:
    (resource,) = resources_of_type(template, type_name).values()
    return resource


def _logical_id(template: dict[str, Any], type_name: str, prefix: str) -> str:
    (logical_id,) = [k for k in resources_of_type(template, type_name) if k.startswith(prefix)]
    return logical_id


JOB_TYPES = {
    "AWS::SageMaker::DataQualityJobDefinition": ("mlops-churn-stg-dq", "DataQuality", True),
    "AWS::SageMaker::ModelQualityJobDefinition": ("mlops-churn-stg-mq", "ModelQuality", True),
    "AWS::SageMaker::ModelBiasJobDefinition": ("mlops-churn-stg-bias", "ModelBias", True),
    "AWS::SageMaker::ModelExplainabilityJobDefinition": ("mlops-churn-stg-expl", "ModelExplainability", False),
}


@pytest.mark.parametrize("type_name", sorted(JOB_TYPES))
def test_job_definitions_are_vpc_only_encrypted_and_least_privileged(built, type_name):
    name, prefix, isolated = JOB_TYPES[type_name]
    props = _one(built.template, type_name)["Properties"]
    key = {"Fn::GetAtt": [_logical_id(built.template, "AWS::KMS::Key", "KeysMonitoring"), "Arn"]}
    assert re.fullmatch(f"{name}-[0-9a-f]{{8}}", props["JobDefinitionName"]) and len(props["JobDefinitionName"]) <= 63
    assert props["EndpointName"] == ENDPOINT
    assert props["RoleArn"] == {"Fn::GetAtt": [_logical_id(built.template, "AWS::IAM::Role", "MonitorRole"), "Arn"]}
    assert props["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": True,
        "EnableNetworkIsolation": isolated,
        "VpcConfig": {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]},
    }
    assert props["JobResources"]["ClusterConfig"] == {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30, "VolumeKmsKeyId": key}
    output_key = next(v for k, v in props.items() if k.endswith("JobOutputConfig"))
    assert output_key["KmsKeyId"] == key
    assert output_key["MonitoringOutputs"][0]["S3Output"]["S3UploadMode"] == "EndOfJob"
    assert props["StoppingCondition"] == {"MaxRuntimeInSeconds": 3000}
    app_spec = next(v for k, v in props.items() if k.endswith("AppSpecification"))
    assert app_spec["Environment"] == {"publish_cloudwatch_metrics": "Enabled"}


def test_baselines_come_from_config(built):
    base = "s3://mlops-monitoring-baselines/churn"
    dq = _one(built.template, "AWS::SageMaker::DataQualityJobDefinition")["Properties"]["DataQualityBaselineConfig"]
    assert dq == {
        "ConstraintsResource": {"S3Uri": f"{base}/data-quality/constraints.json"},
        "StatisticsResource": {"S3Uri": f"{base}/data-quality/statistics.json"},
    }
    for type_name, folder in (
        ("AWS::SageMaker::ModelQualityJobDefinition", "model-quality"),
        ("AWS::SageMaker::ModelBiasJobDefinition", "bias"),
        ("AWS::SageMaker::ModelExplainabilityJobDefinition", "explainability"),
    ):
        props = _one(built.template, type_name)["Properties"]
        baseline = next(v for k, v in props.items() if k.endswith("BaselineConfig"))
        assert baseline == {"ConstraintsResource": {"S3Uri": f"{base}/{folder}/constraints.json"}}


def test_images_are_the_regions_aws_owned_monitor_images(built):
    dq = _one(built.template, "AWS::SageMaker::DataQualityJobDefinition")["Properties"]["DataQualityAppSpecification"]
    bias = _one(built.template, "AWS::SageMaker::ModelBiasJobDefinition")["Properties"]["ModelBiasAppSpecification"]
    assert dq["ImageUri"] == f"468650794304.dkr.ecr.{TEST_REGION}.amazonaws.com/sagemaker-model-monitor-analyzer"
    assert bias["ImageUri"] == f"131013547314.dkr.ecr.{TEST_REGION}.amazonaws.com/sagemaker-clarify-processing:1.0"


def test_model_quality_reads_predictions_and_ground_truth(built):
    props = _one(built.template, "AWS::SageMaker::ModelQualityJobDefinition")["Properties"]
    assert props["ModelQualityAppSpecification"]["ProblemType"] == "BinaryClassification"
    job_input = props["ModelQualityJobInput"]
    assert job_input["GroundTruthS3Input"] == {"S3Uri": "s3://mlops-ground-truth/churn/"}
    endpoint_input = job_input["EndpointInput"]
    assert endpoint_input["ProbabilityAttribute"] == "0"
    assert endpoint_input["ProbabilityThresholdAttribute"] == 0.5
    assert (endpoint_input["StartTimeOffset"], endpoint_input["EndTimeOffset"]) == ("-P2D", "-P1D")


def test_bias_analysis_config_carries_the_facets_from_config(built):
    config = built.monitor.bias_analysis_config
    assert config is not None
    assert config["facet"] == [{"name_or_index": "age_band", "value_or_threshold": ["65+"]}]
    assert config["label"] == "churned" and config["label_values_or_threshold"] == [1]
    assert config["headers"][-1] == "churned" and config["headers"][:-1] == list(_churn().monitoring.features)  # type: ignore[union-attr]
    props = _one(built.template, "AWS::SageMaker::ModelBiasJobDefinition")["Properties"]
    uri = props["ModelBiasAppSpecification"]["ConfigUri"]
    assert uri == built.monitor.analysis_config_uris["bias"]
    shipped = _shipped_asset(built, uri)
    assert shipped == config
    assert props["ModelBiasJobInput"]["GroundTruthS3Input"] == {"S3Uri": "s3://mlops-ground-truth/churn/"}


def test_explainability_analysis_config_uses_the_shap_baseline_and_the_endpoints_model(built):
    config = built.monitor.explainability_analysis_config
    assert config is not None
    assert config["methods"]["shap"]["baseline"] == "s3://mlops-monitoring-baselines/churn/explainability/shap_baseline.csv"
    assert config["predictor"]["model_name"] == MODEL
    uri = _one(built.template, "AWS::SageMaker::ModelExplainabilityJobDefinition")["Properties"]["ModelExplainabilityAppSpecification"]["ConfigUri"]
    assert _shipped_asset(built, uri) == config


def _shipped_asset(built: Built, uri: str) -> Any:
    """The analysis config file as cdk deploy would upload it (from the cloud assembly)."""
    object_key = uri.rsplit("/", 1)[1]
    asset_hash = object_key.removesuffix(".json")
    return json.loads((built.outdir / f"asset.{asset_hash}.json").read_text())


def test_one_schedule_per_monitor_with_the_configured_cron_after_the_endpoint(built):
    schedules = {s["Properties"]["MonitoringScheduleName"]: s for s in resources_of_type(built.template, "AWS::SageMaker::MonitoringSchedule").values()}
    expected = {
        "mlops-churn-stg-dq": ("DataQuality", "cron(0 * ? * * *)"),
        "mlops-churn-stg-mq": ("ModelQuality", "cron(0 2 ? * * *)"),
        "mlops-churn-stg-bias": ("ModelBias", "cron(0 3 ? * * *)"),
        "mlops-churn-stg-expl": ("ModelExplainability", "cron(0 4 ? * * *)"),
    }
    assert set(schedules) == set(expected)
    for name, (monitoring_type, cron) in expected.items():
        config = schedules[name]["Properties"]["MonitoringScheduleConfig"]
        (definition,) = [d for d in built.template["Resources"].values()
                         if d["Type"] == f"AWS::SageMaker::{monitoring_type}JobDefinition"]
        assert definition["Properties"]["JobDefinitionName"].startswith(f"{name}-")
        assert config == {"MonitoringJobDefinitionName": definition["Properties"]["JobDefinitionName"], "MonitoringType": monitoring_type,
                          "ScheduleConfig": {"ScheduleExpression": cron}}
        assert schedules[name]["Properties"]["EndpointName"] == ENDPOINT
        assert "Endpoint" in schedules[name]["DependsOn"]


def _policy_statements(built: Built) -> dict[str, dict[str, Any]]:
    policy = resources_of_type(built.template, "AWS::IAM::ManagedPolicy")[_logical_id(built.template, "AWS::IAM::ManagedPolicy", "MonitorPolicy")]
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def test_role_has_no_wildcard_actions_and_reads_exactly_the_baselines(built):
    statements = _policy_statements(built)
    for statement in statements.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in a for a in actions), statement
    baselines = {json.dumps(r) for r in statements["ReadBaselines"]["Resource"]}
    assert len(baselines) == 6 and all("mlops-monitoring-baselines/churn/" in r for r in baselines)
    # The example buckets belong to the accounts the config names: reads never reach a same-named bucket elsewhere.
    assert statements["ReadBaselines"]["Condition"] == {"StringEquals": {"s3:ResourceAccount": "444444444444"}}
    assert statements["ReadGroundTruth"]["Condition"] == {"StringEquals": {"s3:ResourceAccount": "333333333333"}}
    assert statements["ListGroundTruth"]["Condition"] == {"StringLike": {"s3:prefix": ["churn/*"]},
                                                          "StringEquals": {"s3:ResourceAccount": "333333333333"}}
    assert statements["WorkloadMetrics"]["Condition"] == {"StringLike": {"cloudwatch:namespace": ["aws/sagemaker/Endpoints/*"]}}
    assert statements["WorkloadLogs"]["Resource"] == f"arn:aws:logs:{TEST_REGION}:123456789012:log-group:/aws/sagemaker/ProcessingJobs:*"
    assert "ec2:Vpc" in statements["NetworkInterfacesInTheVpc"]["Condition"]["ArnEquals"]
    assert statements["MonitoringKeyGrantsForVolumes"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert json.dumps(statements["DescribeTheModel"]["Resource"]).endswith(f':model/{MODEL}"]]}}')


def test_role_is_assumed_by_sagemaker_only(built):
    role = _one(built.template, "AWS::IAM::Role")["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
    ]


def _alarms(built: Built) -> dict[str, dict[str, Any]]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in resources_of_type(built.template, "AWS::CloudWatch::Alarm").values()}


def test_feature_drift_alarms_watch_the_data_quality_metrics(built):
    alarms = _alarms(built)
    for feature in ("tenure_months", "monthly_charges", "support_calls"):
        alarm = alarms[f"mlops-churn-stg-drift-{feature}"]
        assert alarm["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"
        assert alarm["MetricName"] == f"feature_baseline_drift_{feature}"
        assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == [
            {"Name": "Endpoint", "Value": ENDPOINT},
            {"Name": "MonitoringSchedule", "Value": "mlops-churn-stg-dq"},
        ]
        assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["Period"]) == ("GreaterThanThreshold", 0.1, 3600)
        assert alarm["TreatMissingData"] == "notBreaching"


def test_model_quality_alarm_fires_below_the_threshold(built):
    alarm = _alarms(built)["mlops-churn-stg-quality-auc"]
    assert alarm["Namespace"] == "aws/sagemaker/Endpoints/model-metrics"
    assert (alarm["MetricName"], alarm["ComparisonOperator"], alarm["Threshold"]) == ("auc", "LessThanThreshold", 0.75)
    assert alarm["Period"] == 86400  # the daily schedule publishes once a day


def test_failed_and_violating_executions_raise_alarms_through_eventbridge(built):
    rules = resources_of_type(built.template, "AWS::Events::Rule")
    role_arn = {"Fn::GetAtt": [_logical_id(built.template, "AWS::IAM::Role", "MonitorRole"), "Arn"]}
    patterns = {k: r["Properties"]["EventPattern"] for k, r in rules.items()}
    failed = patterns[_logical_id(built.template, "AWS::Events::Rule", "MonitorFailedExecutions")]
    assert failed["detail-type"] == ["SageMaker Processing Job State Change"]
    assert failed["detail"] == {"RoleArn": [role_arn], "ProcessingJobStatus": ["Failed", "Stopped"]}
    violations = patterns[_logical_id(built.template, "AWS::Events::Rule", "MonitorViolationExecutions")]
    assert violations["detail"]["ExitMessage"] == [{"prefix": "CompletedWithViolations"}]
    alarm = _alarms(built)["mlops-churn-stg-failed"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Events", "TriggeredRules")
    assert alarm["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": _logical_id(built.template, "AWS::Events::Rule", "MonitorFailedExecutions")}}]
    topic = {"Ref": _logical_id(built.template, "AWS::SNS::Topic", "MonitorAlarms")}
    for rule in rules.values():
        assert rule["Properties"]["Targets"][0]["Arn"] == topic


def test_drift_alarm_aggregates_every_drift_signal(built):
    composite = _one(built.template, "AWS::CloudWatch::CompositeAlarm")["Properties"]
    rule = json.dumps(composite["AlarmRule"])
    for logical_id in resources_of_type(built.template, "AWS::CloudWatch::Alarm"):
        expected = "FailedExecutions" not in logical_id
        assert (logical_id in rule) is expected, logical_id
    assert composite["AlarmName"] == "mlops-churn-stg-drift"
    assert built.monitor.drift_alarm in built.monitor.alarms and built.monitor.failure_alarm in built.monitor.alarms
    assert len(built.monitor.alarms) == 7


def test_every_alarm_notifies_the_encrypted_topic(built):
    topic_id = _logical_id(built.template, "AWS::SNS::Topic", "MonitorAlarms")
    topic = resources_of_type(built.template, "AWS::SNS::Topic")[topic_id]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [_logical_id(built.template, "AWS::KMS::Key", "KeysMonitoring"), "Arn"]}
    for alarm in [*resources_of_type(built.template, "AWS::CloudWatch::Alarm").values(), *resources_of_type(built.template, "AWS::CloudWatch::CompositeAlarm").values()]:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    policy = _one(built.template, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]["Statement"]
    cloudwatch = next(s for s in policy if s.get("Sid") == "CloudWatchAlarmsOfThisAccount")
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)


def test_reports_bucket_is_retained_and_encrypted_with_the_monitoring_key(built):
    bucket_id = _logical_id(built.template, "AWS::S3::Bucket", "MonitorReports")
    bucket = resources_of_type(built.template, "AWS::S3::Bucket")[bucket_id]
    assert bucket["DeletionPolicy"] == "Retain"
    rule = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert rule["KMSMasterKeyID"] == {"Fn::GetAtt": [_logical_id(built.template, "AWS::KMS::Key", "KeysMonitoring"), "Arn"]}


# PrivateNetwork.from_existing imports subnets by id only, so the CDK notes that they carry no route table.
KNOWN_ANNOTATIONS = {"Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId"}


def test_nag_packs_found_nothing_on_the_monitor(built):
    # The fixture synthesized with every nag pack on: an unacknowledged finding would have failed synthesis.
    report = json.loads((built.outdir / "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        assert [v["ruleName"] for v in plugin["violations"] if v["ruleName"] not in KNOWN_ANNOTATIONS] == [], plugin["pluginName"]


def test_the_gate_needs_each_acknowledgement(monkeypatch, tmp_path):
    monkeypatch.setattr(ModelMonitor, "_acknowledge_policy", lambda self, *statements: None)
    app = App(context={**cdk_context(), "@aws-cdk/core:validateAgainstDefaultRules": False}, outdir=str(tmp_path))
    stack = make_stack(app)
    Aspects.of(app).add(ManagedPoliciesOnly(), priority=AspectPriority.MUTATING)
    _monitor(stack)
    apply_nag_packs(app)
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    text = str(failure.value)
    for finding in (
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::mlops-ground-truth/churn/*]",
        "AwsSolutions-IAM5[Resource::<MonitorReportsBucketEBA11CAF.Arn>/mlops-churn-stg/*]",
        f"AwsSolutions-IAM5[Resource::arn:aws:logs:{TEST_REGION}:123456789012:log-group:/aws/sagemaker/ProcessingJobs:*]",
    ):
        assert finding in text, finding
    assert "NIST.800.53.R5" not in text and "HIPAA.Security" not in text


def test_template_is_cfn_lint_clean(built):
    matches = lint_template(built.template, TEST_REGION)
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_metric_helpers_point_at_the_published_metrics(built):
    drift = built.monitor.metric_feature_drift("tenure_months")
    assert (drift.namespace, drift.metric_name) == ("aws/sagemaker/Endpoints/data-metrics", "feature_baseline_drift_tenure_months")
    quality = built.monitor.metric_model_quality("f1")
    assert (quality.namespace, quality.metric_name, quality.dimensions["MonitoringSchedule"]) == (
        "aws/sagemaker/Endpoints/model-metrics", "f1", "mlops-churn-stg-mq",
    )
    assert built.monitor.model_quality_target == ("auc", 0.75)


def test_retraining_finds_the_monitor_by_its_names(built):
    assert built.monitor.drift_alarm_name == "mlops-churn-stg-drift" == built.monitor.name_prefix + "-drift"
    assert built.monitor.schedule_arns["data_quality"] == "arn:aws:sagemaker:eu-west-1:123456789012:monitoring-schedule/mlops-churn-stg-dq"
    assert built.monitor.account == "123456789012"


def test_role_path_is_the_one_given(built):
    assert _one(built.template, "AWS::IAM::Role")["Properties"]["Path"] == "/mlops/model-monitor/"


def test_grant_read_reports_is_limited_to_this_monitors_prefix():
    stack = make_stack()
    monitor = _monitor(stack)
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    monitor.grant_read_reports(reader)
    template = make_template(stack)
    (policy,) = resources_of_type(template, "AWS::IAM::Policy").values()
    resources = json.dumps([s["Resource"] for s in policy["Properties"]["PolicyDocument"]["Statement"]])
    assert "/mlops-churn-stg/*" in resources and "MonitorReportsBucket" in resources


def test_a_regression_model_alarms_when_its_error_rises():
    stack = make_stack()
    parts = _parts(stack, model_name=None)
    monitor = ModelMonitor(
        stack, "Monitor", endpoint=parts.endpoint, name_prefix="mlops-spend-stg", problem_type="Regression",
        quality_target=QualityTarget("rmse", 25.0),
        props=MonitoringProps(
            ground_truth_uri="s3://truth/spend/",
            model_quality=ModelQualityMonitorProps(constraints_uri="s3://base/spend/constraints.json", inference_attribute="0"),
        ),
    )
    template = make_template(stack)
    (alarm,) = [a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values() if a["Properties"]["AlarmName"].endswith("-quality-rmse")]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 25.0)
    assert set(monitor.schedule_names) == {"model_quality"}
    assert resources_of_type(template, "AWS::SageMaker::DataQualityJobDefinition") == {}
    # No bucket accounts given: the buckets must be the monitor's own account's.
    (policy,) = resources_of_type(template, "AWS::IAM::ManagedPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    for sid in ("ReadBaselines", "ReadGroundTruth", "ListGroundTruth"):
        assert statements[sid]["Condition"]["StringEquals"] == {"s3:ResourceAccount": {"Ref": "AWS::AccountId"}}, sid
    # Without a key, a MonitoredEndpoint's monitor encrypts with the data-capture bucket's key; no role path.
    data_key = {"Fn::GetAtt": [next(k for k in resources_of_type(template, "AWS::KMS::Key") if k.startswith("KeysData")), "Arn"]}
    job = _one(template, "AWS::SageMaker::ModelQualityJobDefinition")["Properties"]
    assert job["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"] == data_key
    assert "Path" not in _one(template, "AWS::IAM::Role")["Properties"]


def test_baselines_in_a_bucket_of_the_app_are_read_from_that_bucket():
    """Baseline URIs built from buckets (tokens) work like literal ones: no assertion on the URI's shape."""
    stack = make_stack()
    parts = _parts(stack)
    baselines = SecureBucket(stack, "Baselines", key=parts.keys.data)
    imported = s3.Bucket.from_bucket_name(stack, "Imported", "team-baselines")
    truth = s3.Bucket(stack, "Truth")
    ModelMonitor(
        stack, "Monitor", endpoint=parts.endpoint,
        props=MonitoringProps(
            features=("tenure",), ground_truth_uri=truth.s3_url_for_object("labels/"),
            data_quality=DataQualityMonitorProps(constraints_uri=baselines.s3_uri("churn/constraints.json"),
                                                 statistics_uri=imported.s3_url_for_object("churn/statistics.json"),
                                                 drift_features=("tenure",)),
            model_quality=ModelQualityMonitorProps(constraints_uri=baselines.s3_uri("churn/mq/constraints.json"),
                                                   inference_attribute="0"),
        ),
        problem_type="Regression", quality_target=QualityTarget("rmse", 3.0),
    )
    template = make_template(stack)
    bucket = next(k for k in resources_of_type(template, "AWS::S3::Bucket") if k.startswith("BaselinesBucket"))
    truth_id = next(k for k in resources_of_type(template, "AWS::S3::Bucket") if k.startswith("Truth"))
    dq = _one(template, "AWS::SageMaker::DataQualityJobDefinition")["Properties"]["DataQualityBaselineConfig"]
    assert dq["ConstraintsResource"]["S3Uri"] == {"Fn::Join": ["", ["s3://", {"Ref": bucket}, "/churn/constraints.json"]]}
    assert dq["StatisticsResource"]["S3Uri"] == "s3://team-baselines/churn/statistics.json"
    (policy,) = resources_of_type(template, "AWS::IAM::ManagedPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    reads = json.dumps(statements["ReadBaselines"]["Resource"])
    assert f'{{"Ref": "{bucket}"}}, "/churn/constraints.json"' in reads and "s3:::team-baselines/churn/statistics.json" in reads
    assert f'{{"Ref": "{truth_id}"}}, "/labels/*"' in json.dumps(statements["ReadGroundTruth"]["Resource"])


def test_a_model_endpoint_is_monitored_with_its_own_keys_and_capture():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="team")
    network = PrivateNetwork(stack, "Network", cidr="10.60.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs)
    endpoint = ModelEndpoint(stack, "Endpoint", props=ModelEndpointProps(
        endpoint_name="team-churn", model=ModelSource.from_model_package("arn:aws:sagemaker:eu-west-1:222222222222:model-package/team-churn/3"),
        placement=network.placement, keys=keys, data_capture_bucket=SecureBucket(stack, "Capture", key=keys.data)))
    monitor = ModelMonitor(stack, "Monitor", endpoint=endpoint, props=dataclasses.replace(
        _churn().monitoring, model_quality=None, bias=None, explainability=None))  # type: ignore[type-var]
    assert monitor.name_prefix == "team-churn" and monitor.schedule_names == {"data_quality": "team-churn-dq"}
    assert monitor.endpoint.data_capture_prefix == endpoint.data_capture_prefix
    template = make_template(stack)
    monitoring_key = {"Fn::GetAtt": [next(k for k in resources_of_type(template, "AWS::KMS::Key") if k.startswith("KeysMonitoring")), "Arn"]}
    job = _one(template, "AWS::SageMaker::DataQualityJobDefinition")["Properties"]
    assert job["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"] == monitoring_key
    assert "Endpoint" in "".join(_one(template, "AWS::SageMaker::MonitoringSchedule")["DependsOn"])


def make_template(stack) -> dict[str, Any]:
    from aws_cdk.assertions import Template

    return dict(Template.from_stack(stack).to_json())


# ---------------------------------------------------------------------------------------------- bad input
def _problems(build) -> list[str]:
    with pytest.raises(ConfigError) as failure:
        build()
    assert str(failure.value).startswith("Test/Monitor: ")
    return failure.value.problems


def test_bad_props_are_all_reported_with_their_path_and_value():
    """What the estate file's parser would catch, caught by the construct itself."""
    stack = make_stack()
    churn = _churn().monitoring
    assert churn is not None and churn.data_quality is not None
    props = dataclasses.replace(
        churn,
        data_quality=dataclasses.replace(churn.data_quality, drift_features=("tenure_months", "shoe_size"), drift_threshold=-0.1,
                                         schedule="rate(1 hour)"),
    )
    problems = _problems(lambda: _monitor(stack, props=props, problem_type="Regression", quality_target=QualityTarget("auc", 7.0)))
    expected = [
        "props.data_quality.schedule: 'rate(1 hour)' is not a cron expression SageMaker Model Monitor accepts; use "
        "cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at hour H, 0-23) or cron(0 H/N ? * * *) (every N hours, N 1-24)",
        "props.data_quality.drift_threshold: -0.1 is not a drift distance in (0, 1]",
        "props.data_quality.drift_features[1]: 'shoe_size' is not one of features ['tenure_months', 'monthly_charges', "
        "'total_charges', 'contract_type', 'support_calls', 'age_band']",
        "quality_target.metric: 'auc' is not a Regression model quality metric; use one of mae, mse, r2, rmse",
        "quality_target.threshold: 7.0 is out of range for auc; it must lie in [0, 1]",
    ]
    for message in expected:
        assert message in problems, (message, problems)


def test_a_runtime_longer_than_an_hourly_schedule_is_an_error():
    stack = make_stack()
    props = MonitoringProps(max_runtime_minutes=500, data_quality=DataQualityMonitorProps(
        constraints_uri="s3://base/c.json", statistics_uri="s3://base/s.json", drift_features=("x",)))
    assert _problems(lambda: _monitor(stack, props=props)) == [
        "props.max_runtime_minutes: 500 must be at least 1 and shorter than the most frequent schedule (1 h), or runs "
        "overlap and SageMaker skips them"]


def test_model_quality_needs_the_problem_type_and_a_metric():
    stack = make_stack()
    props = MonitoringProps(ground_truth_uri="s3://truth/spend/", model_quality=ModelQualityMonitorProps(
        constraints_uri="s3://base/spend/constraints.json", inference_attribute="0"))
    assert _problems(lambda: _monitor(stack, props=props, problem_type=None, quality_target=None)) == [
        "problem_type: None, but model quality monitoring needs the model's problem type; use one of "
        "BinaryClassification, MulticlassClassification, Regression"]
    assert _problems(lambda: _monitor(make_stack(), props=props, problem_type="Regression", quality_target=None)) == [
        "props.model_quality.metric: is empty and the monitor has no quality_target; name the metric to alarm on: one of "
        "mae, mse, r2, rmse",
        "props.model_quality.threshold: is None and the monitor has no quality_target; give the threshold to alarm on"]


def test_literal_uris_and_instance_types_are_checked_tokens_are_not():
    stack = make_stack()
    props = MonitoringProps(instance_type="m5.large", data_quality=DataQualityMonitorProps(
        constraints_uri="bucket/constraints.json", statistics_uri="s3://Bad_Bucket/s.json", drift_features=("x",)))
    problems = _problems(lambda: _monitor(stack, props=props))
    assert "props.instance_type: 'm5.large' is not a SageMaker instance type like ml.m5.xlarge" in problems
    assert "props.data_quality.constraints_uri: 'bucket/constraints.json' is not an S3 URI like s3://bucket/prefix/constraints.json" in problems
    assert "props.data_quality.statistics_uri: 's3://Bad_Bucket/s.json' is not an S3 URI like s3://bucket/prefix/statistics.json" in problems


def test_monitors_on_an_endpoint_without_data_capture_are_an_error():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="team")
    network = PrivateNetwork(stack, "Network", cidr="10.60.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs)
    endpoint = ModelEndpoint(stack, "Endpoint", props=ModelEndpointProps(
        endpoint_name="team-churn", model=ModelSource.from_model_package("arn:aws:sagemaker:eu-west-1:222222222222:model-package/team-churn/3"),
        placement=network.placement, keys=keys, serving=ServingConfig(data_capture=DataCaptureConfig(enabled=False))))
    problems = _problems(lambda: ModelMonitor(stack, "Monitor", endpoint=endpoint, props=_churn().monitoring))  # type: ignore[arg-type]
    assert problems[0] == ("endpoint: endpoint 'team-churn' captures no data (mode 'realtime'); Model Monitor reads captured "
                           "requests: enable data capture on the endpoint (ModelEndpointProps.serving.data_capture)")


def test_props_that_enable_no_monitor_are_an_error():
    assert _problems(lambda: _monitor(make_stack(), props=MonitoringProps())) == [
        "props: enables no monitor; give at least one of data_quality, model_quality, bias, explainability (or remove 'monitoring')"]


def test_bucket_owners_must_be_account_ids():
    problems = _problems(lambda: _monitor(make_stack(), baselines_account="ml_dev", role_path="model-monitor"))
    assert problems == ["role_path: 'model-monitor' is not an IAM path like /model-monitor/ (starts and ends with '/')",
                        "baselines_account: 'ml_dev' is not an AWS account id (12 digits)"]


def test_explainability_needs_the_endpoints_model_name():
    stack = make_stack()
    assert _problems(lambda: _monitor(stack, parts=_parts(stack, model_name=None))) == [
        "endpoint.model_name: explainability monitoring runs the endpoint's model on a shadow endpoint; give the SageMaker "
        "model name (or remove the explainability monitor)"]


def test_names_that_sagemaker_would_reject_are_an_error():
    problems = _problems(lambda: _monitor(make_stack(), name_prefix="p-" + "x" * 50))
    assert problems == [f"name_prefix: 'p-{'x' * 50}' gives job definition names like 'p-{'x' * 50}-expl-00000000', which "
                        "SageMaker rejects (letters, digits, hyphens, up to 63); give a shorter name_prefix"]


def test_the_name_prefix_defaults_to_the_endpoint_name():
    stack = make_stack()
    monitor = _monitor(stack, name_prefix=None)
    assert monitor.schedule_names["data_quality"] == f"{ENDPOINT}-dq" and monitor.drift_alarm_name == f"{ENDPOINT}-drift"
    assert stack.resolve(monitor.job_definition_names["data_quality"]).startswith(f"{ENDPOINT}-dq-")


def test_the_longest_names_still_fit_with_the_properties_hash():
    """Room for the hash is part of the name check: a prefix that passes gives job definitions of at most 63 characters."""
    stack = make_stack()
    prefix = "p" * (63 - len("-expl-00000000"))
    monitor = _monitor(stack, name_prefix=prefix)
    assert max(len(stack.resolve(n)) for n in monitor.job_definition_names.values()) == 63
    with pytest.raises(ConfigError, match="gives job definition names like"):
        _monitor(make_stack(), name_prefix=prefix + "p")


def test_a_deploy_time_name_prefix_has_no_schedule_arns():
    stack = make_stack()
    prefix = CfnParameter(stack, "Prefix", type="String").value_as_string
    monitor = _monitor(stack, name_prefix=prefix)
    with pytest.raises(ValueError, match="the schedule names are only known at deployment"):
        monitor.schedule_arns  # noqa: B018


def _names(model: ModelConfig, *, tags: dict[str, str] | None = None) -> dict[str, str]:
    stack = make_stack()
    monitor = _monitor(stack, model=model)
    for key, value in (tags or {}).items():
        Tags.of(monitor).add(key, value)
    return _template_names(make_template(stack))  # synthesized: aspects (tags) have run


def _template_names(template: dict[str, Any]) -> dict[str, str]:
    names = {d["Type"]: d["Properties"]["JobDefinitionName"] for d in template["Resources"].values() if d["Type"].endswith("JobDefinition")}
    return {monitor_type: names[f"AWS::SageMaker::{kind}JobDefinition"] for monitor_type, kind in MONITORING_TYPE.items()
            if f"AWS::SageMaker::{kind}JobDefinition" in names}


def test_job_definition_names_change_with_their_properties_and_only_then(built):
    """Every job definition property is replace-on-update and CloudFormation creates the replacement first:
    a changed definition must get a new name, an unchanged one must keep its name."""
    churn = _churn()
    built_names = _template_names(built.template)
    assert set(built_names) == set(built.monitor.job_definition_names)
    assert _names(churn) == built_names  # same props, fresh app: same names
    monitoring = churn.monitoring
    assert monitoring is not None and monitoring.data_quality is not None and monitoring.bias is not None
    new_baseline = dataclasses.replace(monitoring, data_quality=dataclasses.replace(
        monitoring.data_quality, constraints_uri="s3://mlops-monitoring-baselines/churn/v2/constraints.json"))
    changed = _names(dataclasses.replace(churn, monitoring=new_baseline))
    assert changed["data_quality"] != built_names["data_quality"]
    assert {k: v for k, v in changed.items() if k != "data_quality"} == {k: v for k, v in built_names.items() if k != "data_quality"}
    bigger = _names(dataclasses.replace(churn, monitoring=dataclasses.replace(monitoring, instance_type="ml.m5.2xlarge")))
    assert all(bigger[k] != v for k, v in built_names.items())
    # Tags are replace-on-update too, and aspects add them after construction.
    tagged = _names(churn, tags={"team": "risk"})
    assert all(tagged[k] != v for k, v in built_names.items())
    # The bias analysis config ships as an asset: a change in it moves the ConfigUri, hence the name.
    facet = dataclasses.replace(monitoring, bias=dataclasses.replace(monitoring.bias, label_values=("0",)))
    assert _names(dataclasses.replace(churn, monitoring=facet))["bias"] != built_names["bias"]


def test_a_region_without_known_images_needs_explicit_images():
    app = make_app()
    far = Stack(app, "Far", env=Environment(account="123456789012", region="xx-nowhere-1"))
    with pytest.raises(ConfigError, match=r"images: None, and no built-in monitor image is known for region 'xx-nowhere-1'; pass images="):
        _monitor(far)
    images = MonitorImages(analyzer="111122223333.dkr.ecr.xx-nowhere-1.amazonaws.com/analyzer", clarify="111122223333.dkr.ecr.xx-nowhere-1.amazonaws.com/clarify")
    other = Stack(app, "Far2", env=Environment(account="123456789012", region="xx-nowhere-1"))
    monitor = _monitor(other, images=images)
    job = resources_of_type(make_template(other), "AWS::SageMaker::ModelBiasJobDefinition")
    assert [j["Properties"]["ModelBiasAppSpecification"]["ImageUri"] for j in job.values()] == [images.clarify]
    assert monitor.images == images


def test_shipped_analysis_configs_are_deterministic(built):
    # Same props, fresh app: the asset (and so the ConfigUri CloudFormation sees) must not change between synths.
    stack = make_stack()
    again = _monitor(stack)
    resolved = {k: stack.resolve(v) for k, v in again.analysis_config_uris.items()}
    first = {k: Stack.of(built.monitor).resolve(v) for k, v in built.monitor.analysis_config_uris.items()}
    assert resolved == first and set(first) == {"bias", "explainability"}
    assert all(str(uri).endswith(".json") for uri in first.values())


def test_capture_prefix_scopes_the_capture_read():
    stack = make_stack()
    endpoint = _parts(stack).endpoint
    assert endpoint.data_capture_keys == "churn/*"
    assert dataclasses.replace(endpoint, data_capture_prefix="/capture/churn/").data_capture_keys == "capture/churn/*"
    assert dataclasses.replace(endpoint, data_capture_prefix="").data_capture_keys == "*"
