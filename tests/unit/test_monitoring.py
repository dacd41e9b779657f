"""ModelMonitor on a test stack: job definitions, schedules, role, alarms, policy gates and bad input."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, AspectPriority, Aspects, Environment, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from cfnlint.api import ManualArgs, lint

from mlops_estate.config.estate import ModelConfig, QualityGateConfig
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.monitoring.model_monitor import MONITORING_TYPE, ModelMonitor, MonitoredEndpoint, MonitorImages
from mlops_estate.config.monitoring import ModelQualityMonitorConfig, MonitoringConfig
from mlops_estate.core.nag import apply_nag_packs
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.security.storage import SecureBucket
from tests.helpers import TEST_AZS, TEST_REGION, cdk_context, default_config, make_app, make_stack, resources_of_type

ENDPOINT = "mlops-churn-staging"
MODEL = "mlops-churn-v1"


def _endpoint(stack, *, capture: bool = True, endpoint=None, model_name: str | None = MODEL, keys=None) -> MonitoredEndpoint:
    keys = keys or EstateKeys(stack, "Keys", estate_name="mlops", classes=[DataClass.DATA, DataClass.MONITORING])
    placement = PrivateNetwork.from_existing(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", subnet_ids=["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"], availability_zones=TEST_AZS, security_group_id="sg-0123456789abcdef0"
    )
    return MonitoredEndpoint(
        endpoint_name=ENDPOINT,
        environment="staging",
        data_capture_enabled=capture,
        data_capture_bucket=SecureBucket(stack, "Capture", key=keys.data).bucket,
        data_capture_prefix="churn",
        placement=placement,
        keys=keys,
        endpoint=endpoint,
        model_name=model_name,
    )


ACCOUNTS = default_config().accounts


def _churn() -> ModelConfig:
    return next(m for m in default_config().models if m.name == "churn")


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
    monitor = ModelMonitor(stack, "Monitor", endpoint=_endpoint(stack, endpoint=endpoint), model=_churn(), estate_name="mlops", accounts=ACCOUNTS)
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
    assert statements["PublishMonitorMetrics"]["Condition"] == {"StringLike": {"cloudwatch:namespace": "aws/sagemaker/Endpoints/*"}}
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
    monkeypatch.setattr(ModelMonitor, "_acknowledge_policy", lambda self, statements: None)
    app = App(context={**cdk_context(), "@aws-cdk/core:validateAgainstDefaultRules": False}, outdir=str(tmp_path))
    stack = make_stack(app)
    Aspects.of(app).add(ManagedPoliciesOnly(), priority=AspectPriority.MUTATING)
    ModelMonitor(stack, "Monitor", endpoint=_endpoint(stack), model=_churn(), estate_name="mlops", accounts=ACCOUNTS)
    apply_nag_packs(app)
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    text = str(failure.value)
    for finding in (
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::mlops-ground-truth/churn/*]",
        "AwsSolutions-IAM5[Resource::<MonitorReportsBucketEBA11CAF.Arn>/mlops-churn-stg/*]",
    ):
        assert finding in text, finding
    assert "NIST.800.53.R5" not in text and "HIPAA.Security" not in text


def test_template_is_cfn_lint_clean(built):
    matches = lint(json.dumps(built.template), config=ManualArgs(regions=[TEST_REGION], ignore_checks=["W3010"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_metric_helpers_point_at_the_published_metrics(built):
    drift = built.monitor.metric_feature_drift("tenure_months")
    assert (drift.namespace, drift.metric_name) == ("aws/sagemaker/Endpoints/data-metrics", "feature_baseline_drift_tenure_months")
    quality = built.monitor.metric_model_quality("f1")
    assert (quality.namespace, quality.metric_name, quality.dimensions["MonitoringSchedule"]) == (
        "aws/sagemaker/Endpoints/model-metrics", "f1", "mlops-churn-stg-mq",
    )
    assert built.monitor.model_quality_target == ("auc", 0.75)


def test_grant_read_reports_is_limited_to_this_monitors_prefix():
    stack = make_stack()
    monitor = ModelMonitor(stack, "Monitor", endpoint=_endpoint(stack), model=_churn(), estate_name="mlops", accounts=ACCOUNTS)
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    monitor.grant_read_reports(reader)
    template = make_template(stack)
    (policy,) = resources_of_type(template, "AWS::IAM::Policy").values()
    resources = json.dumps([s["Resource"] for s in policy["Properties"]["PolicyDocument"]["Statement"]])
    assert "/mlops-churn-stg/*" in resources and "MonitorReportsBucket" in resources


def test_a_regression_model_alarms_when_its_error_rises():
    stack = make_stack()
    model = ModelConfig(
        name="spend",
        problem_type="Regression",
        quality_gate=QualityGateConfig(metric="rmse", threshold=25.0),
        monitoring=MonitoringConfig(
            ground_truth_uri="s3://truth/spend/",
            model_quality=ModelQualityMonitorConfig(constraints_uri="s3://base/spend/constraints.json", inference_attribute="0"),
        ),
    )
    monitor = ModelMonitor(stack, "Monitor", endpoint=_endpoint(stack, model_name=None), model=model, estate_name="mlops")
    template = make_template(stack)
    (alarm,) = [a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values() if a["Properties"]["AlarmName"].endswith("-quality-rmse")]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 25.0)
    assert set(monitor.schedule_names) == {"model_quality"}
    assert resources_of_type(template, "AWS::SageMaker::DataQualityJobDefinition") == {}
    # No bucket accounts in the config: the buckets must be the serving account's own.
    (policy,) = resources_of_type(template, "AWS::IAM::ManagedPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    for sid in ("ReadBaselines", "ReadGroundTruth", "ListGroundTruth"):
        assert statements[sid]["Condition"]["StringEquals"] == {"s3:ResourceAccount": {"Ref": "AWS::AccountId"}}, sid


def make_template(stack) -> dict[str, Any]:
    from aws_cdk.assertions import Template

    return dict(Template.from_stack(stack).to_json())


# ---------------------------------------------------------------------------------------------- bad input
def test_monitors_on_an_endpoint_without_data_capture_are_an_error():
    stack = make_stack()
    with pytest.raises(ValueError) as failure:
        ModelMonitor(stack, "Monitor", endpoint=_endpoint(stack, capture=False), model=_churn(), estate_name="mlops", accounts=ACCOUNTS)
    message = str(failure.value)
    assert message.startswith("Test/Monitor: 1 problem(s):")
    assert "endpoint.data_capture_enabled: False, but data_quality, model_quality, bias, explainability monitoring reads captured requests" in message


def test_a_model_without_monitoring_config_is_an_error():
    stack = make_stack()
    model = dataclasses.replace(_churn(), monitoring=None)
    with pytest.raises(ValueError, match=r"Test/Monitor: 1 problem\(s\):\n  - model 'churn': has no 'monitoring' config"):
        ModelMonitor(stack, "Monitor", endpoint=_endpoint(stack), model=model, estate_name="mlops", accounts=ACCOUNTS)


def test_bucket_owners_by_role_need_the_estates_accounts():
    stack = make_stack()
    with pytest.raises(ValueError, match=r"accounts: None, but monitoring.baselines_account is 'ml_dev'; pass the estate's accounts") as raised:
        ModelMonitor(stack, "Monitor", endpoint=_endpoint(stack), model=_churn(), estate_name="mlops")
    assert "monitoring.ground_truth_account is 'data_lake'" in str(raised.value)


def test_explainability_needs_the_endpoints_model_name():
    stack = make_stack()
    with pytest.raises(ValueError, match=r"endpoint.model_name: explainability monitoring runs the endpoint's model on a shadow endpoint"):
        ModelMonitor(stack, "Monitor", endpoint=_endpoint(stack, model_name=None), model=_churn(), estate_name="mlops", accounts=ACCOUNTS)


def test_names_that_sagemaker_would_reject_are_an_error():
    stack = make_stack()
    with pytest.raises(ValueError, match=r"estate_name: 'an-estate-name-far-too-long-x' gives job definition names like "
                                         r"'an-estate-name-far-too-long-x-a-very-long-model-name-of-thirty-stg-expl-00000000'"):
        ModelMonitor(stack, "Monitor", endpoint=_endpoint(stack), model=dataclasses.replace(_churn(), name="a-very-long-model-name-of-thirty"), estate_name="an-estate-name-far-too-long-x", accounts=ACCOUNTS)


def test_an_endpoint_outside_the_serving_accounts_needs_a_name_prefix():
    stack = make_stack()
    endpoint = dataclasses.replace(_endpoint(stack), environment=None)
    with pytest.raises(ValueError, match=r"Test/Monitor: 1 problem\(s\):\n  - endpoint.environment: None is not one of "
                                         r"\['prod', 'staging'\] \(or give the monitor a name_prefix\)"):
        ModelMonitor(stack, "Monitor", endpoint=endpoint, model=_churn(), estate_name="mlops", accounts=ACCOUNTS)
    with pytest.raises(ValueError, match=r"name_prefix: 'p-" + "x" * 50 + "' gives job definition names like"):
        ModelMonitor(stack, "Long", endpoint=endpoint, model=_churn(), estate_name="mlops", accounts=ACCOUNTS,
                     name_prefix="p-" + "x" * 50)
    monitor = ModelMonitor(stack, "Named", endpoint=endpoint, model=_churn(), estate_name="mlops", accounts=ACCOUNTS,
                           name_prefix="mlops-project-p1")
    assert monitor.schedule_names["data_quality"] == "mlops-project-p1-dq"
    assert stack.resolve(monitor.job_definition_names["data_quality"]).startswith("mlops-project-p1-dq-")


def test_the_longest_names_still_fit_with_the_properties_hash():
    """Room for the hash is part of the name check: a name that passes gives job definitions of at most 63 characters."""
    stack = make_stack()
    estate = "e" * 20
    model = dataclasses.replace(_churn(), name="m" * (63 - len(f"{estate}--stg-expl-00000000")))
    monitor = ModelMonitor(stack, "Monitor", endpoint=_endpoint(stack), model=model, estate_name=estate, accounts=ACCOUNTS)
    assert max(len(stack.resolve(n)) for n in monitor.job_definition_names.values()) == 63
    with pytest.raises(ValueError, match="gives job definition names like"):
        ModelMonitor(make_stack(), "Monitor", endpoint=_endpoint(make_stack()), model=dataclasses.replace(model, name=model.name + "m"),
                     estate_name=estate, accounts=ACCOUNTS)


def _names(model: ModelConfig, *, tags: dict[str, str] | None = None) -> dict[str, str]:
    stack = make_stack()
    monitor = ModelMonitor(stack, "Monitor", endpoint=_endpoint(stack), model=model, estate_name="mlops", accounts=ACCOUNTS)
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
    with pytest.raises(ValueError, match=r"images: no built-in monitor image is known for region 'xx-nowhere-1'; pass images="):
        ModelMonitor(far, "Monitor", endpoint=_endpoint(far), model=_churn(), estate_name="mlops", accounts=ACCOUNTS)
    images = MonitorImages(analyzer="111122223333.dkr.ecr.xx-nowhere-1.amazonaws.com/analyzer", clarify="111122223333.dkr.ecr.xx-nowhere-1.amazonaws.com/clarify")
    other = Stack(app, "Far2", env=Environment(account="123456789012", region="xx-nowhere-1"))
    monitor = ModelMonitor(other, "Monitor", endpoint=_endpoint(other), model=_churn(), estate_name="mlops", images=images, accounts=ACCOUNTS)
    job = resources_of_type(make_template(other), "AWS::SageMaker::ModelBiasJobDefinition")
    assert [j["Properties"]["ModelBiasAppSpecification"]["ImageUri"] for j in job.values()] == [images.clarify]
    assert monitor.images == images


def test_shipped_analysis_configs_are_deterministic(built):
    # Same config, fresh app: the asset (and so the ConfigUri CloudFormation sees) must not change between synths.
    stack = make_stack()
    again = ModelMonitor(stack, "Monitor", endpoint=_endpoint(stack), model=_churn(), estate_name="mlops", accounts=ACCOUNTS)
    resolved = {k: stack.resolve(v) for k, v in again.analysis_config_uris.items()}
    first = {k: Stack.of(built.monitor).resolve(v) for k, v in built.monitor.analysis_config_uris.items()}
    assert resolved == first and set(first) == {"bias", "explainability"}
    assert all(str(uri).endswith(".json") for uri in first.values())


def test_capture_prefix_scopes_the_capture_read():
    stack = make_stack()
    endpoint = _endpoint(stack)
    assert endpoint.data_capture_keys == "churn/*"
    assert dataclasses.replace(endpoint, data_capture_prefix="/capture/churn/").data_capture_keys == "capture/churn/*"
    assert dataclasses.replace(endpoint, data_capture_prefix="").data_capture_keys == "*"
