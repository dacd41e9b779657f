"""ModelEndpoint: every mode and option synthesized once (one stack), and every kind of bad props."""

from __future__ import annotations

import json
import re
from pathlib import Path
from dataclasses import replace
from typing import Any

import pytest
from aws_cdk import Aspects, AspectPriority, CfnParameter, Stack
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from mlops_estate.serving.serving_config import ServingConfig
from mlops_estate.security.encryption import EstateKeys
from mlops_estate.serving.endpoint import ModelEndpoint, ModelEndpointProps
from mlops_estate.serving.model_source import ModelSource
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.core.nag import acknowledge, apply_nag_packs
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.serving.serving_config import (
    AlarmsConfig,
    AsyncInferenceConfig,
    CustomMetricConfig,
    DataCaptureConfig,
    RolloutConfig,
    ScalingConfig,
    ScheduledScalingConfig,
    ServerlessConfig,
    VariantConfig,
)
from mlops_estate.security.storage import SecureBucket
from tests.helpers import TEST_AZS, alarm_topics, alarm_topics_closed_to_cloudwatch, make_app, make_stack, resources_of_type

PACKAGE = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/team-churn/3"
CANDIDATE = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/team-churn/4"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/mme-server:1.4"


class Base:
    """Keys, network and buckets of one test stack."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.keys = EstateKeys(stack, "Keys", estate_name="team")
        self.network = PrivateNetwork(stack, "Network", cidr="10.60.0.0/16", availability_zones=TEST_AZS, logs_key=self.keys.logs)
        self.capture = SecureBucket(stack, "Capture", key=self.keys.data)
        self.async_bucket = SecureBucket(stack, "AsyncIo", key=self.keys.data)

    def props(self, name: str, serving: ServingConfig, **overrides: Any) -> ModelEndpointProps:
        values: dict[str, Any] = dict(
            endpoint_name=name,
            model=ModelSource.from_model_package(PACKAGE),
            placement=self.network.placement,
            keys=self.keys,
            serving=serving,
            data_capture_bucket=self.capture,
            async_bucket=self.async_bucket,
        )
        values.update(overrides)
        return ModelEndpointProps(**values)


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    app = make_app(**{"@aws-cdk/core:validationReportJson": True})
    stack = make_stack(app)
    base = Base(stack)
    user_alarm = cloudwatch.Alarm(
        stack, "BusinessKpi", metric=cloudwatch.Metric(namespace="Team", metric_name="Conversions"), threshold=1, evaluation_periods=1
    )
    ab = ModelEndpoint(stack, "Ab", props=base.props(
        "team-ab",
        ServingConfig(
            instance_type="ml.c5.xlarge", min_instances=2, max_instances=5, weight=0.8,
            variants=(VariantConfig(name="challenger", weight=0.2, instance_type="ml.c5.large", min_instances=1, max_instances=3),),
            rollout=RolloutConfig(strategy="linear", size_percent=20, wait_minutes=4, termination_wait_minutes=6, max_execution_minutes=45),
            scaling=ScalingConfig(metric="cpu", target=55, scale_in_cooldown_seconds=420, scale_out_cooldown_seconds=30,
                                  scheduled=(ScheduledScalingConfig(name="morning", schedule="cron(0 7 * * ? *)", min_instances=3, max_instances=5),)),
            data_capture=DataCaptureConfig(sampling_percentage=25, capture_output=False, json_content_types=("application/jsonlines",)),
            alarms=AlarmsConfig(latency_p99_ms=250, errors_5xx=3, model_errors=2, evaluation_minutes=2),
        ),
        variant_models={"challenger": ModelSource.from_model_package(CANDIDATE)},
        rollback_alarms=(user_alarm,),
    ))
    shadow = ModelEndpoint(stack, "Shadowed", props=base.props(
        "team-shadowed",
        ServingConfig(instance_type="ml.m5.xlarge", min_instances=2, max_instances=4,
                      shadow=VariantConfig(name="candidate", weight=0.3, instance_type="ml.m5.large")),
        variant_models={"candidate": ModelSource.from_model_package(CANDIDATE)},
    ))
    serverless = ModelEndpoint(stack, "Sls", props=base.props(
        "team-sls",
        ServingConfig(mode="serverless", serverless=ServerlessConfig(memory_mb=4096, max_concurrency=12, provisioned_concurrency=3,
                                                                       max_provisioned_concurrency=8, provisioned_utilization=0.6),
                      rollout=RolloutConfig(strategy="all_at_once", termination_wait_minutes=2, max_execution_minutes=15)),
        data_capture_bucket=None,
    ))
    async_ = ModelEndpoint(stack, "Async", props=base.props(
        "team-async",
        ServingConfig(mode="async", instance_type="ml.m5.large", min_instances=0, max_instances=3,
                      async_inference=AsyncInferenceConfig(max_concurrent_invocations_per_instance=2, backlog_per_instance=7)),
    ))
    mme = ModelEndpoint(stack, "Mme", props=base.props(
        "team-mme",
        ServingConfig(instance_type="ml.g5.xlarge", min_instances=1, max_instances=2, volume_kms_key=False,
                      scaling=ScalingConfig(metric="gpu", target=70), data_capture=DataCaptureConfig(enabled=False)),
        model=ModelSource.from_image(IMAGE, model_data_url="s3://team-models/mme/", environment={"MMS_MAX_WORKERS": "2"}),
        multi_model=True,
        data_capture_bucket=None,
    ))
    custom = ModelEndpoint(stack, "Custom", props=base.props(
        "team-custom",
        ServingConfig(scaling=ScalingConfig(metric="custom", target=30,
                                            custom_metric=CustomMetricConfig(namespace="Team/Serving", metric_name="QueueDepth", statistic="Maximum"))),
        model=ModelSource.from_image(IMAGE, model_data_url="s3://team-models/custom/model.tar.gz"),
    ))
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    ab.grant_invoke(client)
    async_.grant_invoke(client)
    user_alarm.add_alarm_action(cw_actions.SnsAction(ab.alarm_topic))
    for part in ("input", "output", "failure"):
        acknowledge(client.node.find_child("DefaultPolicy"), "A client sends and fetches its own async requests by object name.",
                    f"AwsSolutions-IAM5[Resource::<AsyncIoBucket4948380B.Arn>/async/team-async/{part}/*]")
    Aspects.of(app).add(ManagedPoliciesOnly(), priority=AspectPriority.MUTATING)
    apply_nag_packs(app)
    template = Template.from_stack(stack)
    return {"outdir": app.outdir, "stack": stack, "base": base, "template": template, "json": template.to_json(), "ab": ab, "shadow": shadow,
            "sls": serverless, "async": async_, "mme": mme, "custom": custom, "user_alarm": user_alarm}


def _one(template: dict[str, Any], type_name: str, prefix: str) -> dict[str, Any]:
    found = {k: v for k, v in resources_of_type(template, type_name).items() if k.startswith(prefix)}
    assert len(found) == 1, sorted(found)
    return next(iter(found.values()))["Properties"]


def _all(template: dict[str, Any], type_name: str, prefix: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources_of_type(template, type_name).items() if k.startswith(prefix)}


def _policy_statements(template: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    policies = [v for k, v in template["Resources"].items() if k.startswith(prefix) and v["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")]
    return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _by_sid(statements: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    return next(s for s in statements if s.get("Sid") == sid)


# ----- model -----

def test_model_from_package_is_vpc_only_and_isolated(built):
    models = _all(built["json"], "AWS::SageMaker::Model", "AbModel")
    model = next(m for k, m in models.items() if re.fullmatch(r"AbModel[0-9A-F]{8}", k))
    assert model["EnableNetworkIsolation"] is True
    assert model["PrimaryContainer"] == {"ModelPackageName": PACKAGE}
    assert len(model["VpcConfig"]["Subnets"]) == 2
    (group,) = model["VpcConfig"]["SecurityGroupIds"]
    assert group["Fn::GetAtt"][0].startswith("NetworkWorkloadSecurityGroup")


def test_each_ab_variant_serves_its_own_package(built):
    models = _all(built["json"], "AWS::SageMaker::Model", "AbModel")
    assert sorted(m["PrimaryContainer"]["ModelPackageName"] for m in models.values()) == [PACKAGE, CANDIDATE]


def test_multi_model_container_from_image_and_prefix(built):
    model = _one(built["json"], "AWS::SageMaker::Model", "MmeModel")
    assert model["PrimaryContainer"] == {
        "Image": IMAGE, "ModelDataUrl": "s3://team-models/mme/", "Mode": "MultiModel", "Environment": {"MMS_MAX_WORKERS": "2"},
    }


def test_serverless_model_has_no_vpc_or_isolation(built):
    # AWS does not support either for serverless endpoints; the construct records it.
    model = _one(built["json"], "AWS::SageMaker::Model", "SlsModel")
    assert "VpcConfig" not in model and "EnableNetworkIsolation" not in model
    assert built["sls"].in_vpc is False and built["ab"].in_vpc is True


def test_every_model_waits_for_its_execution_role_policy(built):
    """CreateModel validates the execution role's access: no model may be created before the role's policy."""
    resources = built["json"]["Resources"]
    endpoints = {"Ab": "ab", "Shadowed": "shadow", "Sls": "sls", "Async": "async", "Mme": "mme", "Custom": "custom"}
    for prefix, key in endpoints.items():
        policy = built[key].role.node.find_child("DefaultPolicy")
        policy_id = built["stack"].get_logical_id(policy.node.find_child("Managed"))
        assert resources[policy_id]["Type"] == "AWS::IAM::ManagedPolicy"
        models = {k: v for k, v in resources_of_type(built["json"], "AWS::SageMaker::Model").items() if k.startswith(f"{prefix}Model")}
        assert models, prefix
        for logical_id, model in models.items():
            assert policy_id in model.get("DependsOn", []), logical_id


# ----- endpoint config -----

def test_production_variants_weights_instances_and_cmk(built):
    config = _one(built["json"], "AWS::SageMaker::EndpointConfig", "AbConfig")
    variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
    assert variants["primary"]["InitialVariantWeight"] == 0.8
    assert variants["primary"]["InstanceType"] == "ml.c5.xlarge" and variants["primary"]["InitialInstanceCount"] == 2
    assert variants["challenger"]["InitialVariantWeight"] == 0.2
    assert variants["challenger"]["InstanceType"] == "ml.c5.large" and variants["challenger"]["InitialInstanceCount"] == 1
    assert "KeysModels" in json.dumps(config["KmsKeyId"])


def test_no_kms_key_on_instances_with_local_storage_when_turned_off(built):
    """SageMaker rejects KmsKeyId when a variant runs on local NVMe storage (ml.g5 here): only an explicit
    ``volume_kms_key=False`` leaves it out (the storage is then hardware-encrypted)."""
    config = _one(built["json"], "AWS::SageMaker::EndpointConfig", "MmeConfig")
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.g5.xlarge"
    assert "KmsKeyId" not in config
    shadowed = _one(built["json"], "AWS::SageMaker::EndpointConfig", "ShadowedConfig")
    assert "KeysModels" in json.dumps(shadowed["KmsKeyId"])


def test_data_capture_settings(built):
    capture = _one(built["json"], "AWS::SageMaker::EndpointConfig", "AbConfig")["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 25
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}]
    assert capture["CaptureContentTypeHeader"] == {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/jsonlines"]}
    assert "KeysData" in json.dumps(capture["KmsKeyId"]) and "Capture" in json.dumps(capture["DestinationS3Uri"])
    ab = built["ab"]
    assert ab.has_data_capture and ab.data_capture_prefix == "data-capture/team-ab"
    assert ab.data_capture_bucket is built["base"].capture


def test_captures_are_written_only_under_the_endpoint_prefix(built):
    statements = _policy_statements(built["json"], "AbExecutionRole")
    put = _by_sid(statements, "DataCapture")
    assert put["Action"] == ["s3:AbortMultipartUpload", "s3:PutObject"]
    assert json.dumps(put["Resource"]).endswith('"/data-capture/team-ab/*"]]}')


def test_data_capture_off_for_serverless_and_when_disabled(built):
    for prefix, endpoint in (("SlsConfig", "sls"), ("MmeConfig", "mme")):
        assert "DataCaptureConfig" not in _one(built["json"], "AWS::SageMaker::EndpointConfig", prefix)
        assert built[endpoint].has_data_capture is False and built[endpoint].data_capture_s3_uri is None


def test_shadow_variant(built):
    config = _one(built["json"], "AWS::SageMaker::EndpointConfig", "ShadowedConfig")
    assert [v["VariantName"] for v in config["ProductionVariants"]] == ["primary"]
    (shadow,) = config["ShadowProductionVariants"]
    assert shadow["VariantName"] == "candidate" and shadow["InitialVariantWeight"] == 0.3
    assert shadow["InstanceType"] == "ml.m5.large" and shadow["InitialInstanceCount"] == 1
    # The shadow keeps its fixed count and is not part of the rollback alarms.
    assert list(built["shadow"].scalable_targets) == ["primary"]
    assert not any("Candidate" in k for k in _all(built["json"], "AWS::CloudWatch::Alarm", "Shadowed"))


def test_serverless_variant(built):
    (variant,) = _one(built["json"], "AWS::SageMaker::EndpointConfig", "SlsConfig")["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 4096, "MaxConcurrency": 12, "ProvisionedConcurrency": 3}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    (target,) = _all(built["json"], "AWS::ApplicationAutoScaling::ScalableTarget", "Sls").values()
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredProvisionedConcurrency"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (3, 8)
    (policy,) = _policies(built, "SlsPrimaryProvisionedConcurrency")
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    assert config["PredefinedMetricSpecification"] == {"PredefinedMetricType": "SageMakerVariantProvisionedConcurrencyUtilization"}
    assert config["TargetValue"] == 0.6
    statements = _policy_statements(built["json"], "SlsExecutionRole")
    assert not any(s.get("Sid") in ("DescribeNetwork", "NetworkInterfacesInTheVpc") for s in statements)


def test_async_inference_config(built):
    config = _one(built["json"], "AWS::SageMaker::EndpointConfig", "AsyncConfig")["AsyncInferenceConfig"]
    assert config["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 2}
    output = config["OutputConfig"]
    assert json.dumps(output["S3OutputPath"]).endswith('"/async/team-async/output/"]]}')
    assert json.dumps(output["S3FailurePath"]).endswith('"/async/team-async/failure/"]]}')
    assert "KeysData" in json.dumps(output["KmsKeyId"])
    assert set(output["NotificationConfig"]) == {"SuccessTopic", "ErrorTopic"}
    for topic in _all(built["json"], "AWS::SNS::Topic", "Async").values():
        assert "KeysMonitoring" in json.dumps(topic["KmsMasterKeyId"])


def test_async_role_reads_inputs_writes_results_publishes_notifications(built):
    statements = _policy_statements(built["json"], "AsyncExecutionRole")
    assert json.dumps(_by_sid(statements, "AsyncInput")["Resource"]).endswith('"/async/team-async/input/*"]]}')
    assert json.dumps(_by_sid(statements, "AsyncOutput")["Resource"]).endswith('"/async/team-async/output/*"]]}')
    assert json.dumps(_by_sid(statements, "AsyncFailure")["Resource"]).endswith('"/async/team-async/failure/*"]]}')
    publish = _by_sid(statements, "AsyncNotifications")
    assert publish["Action"] == "sns:Publish" and len(publish["Resource"]) == 2


# ----- rollout -----

def _endpoint(built, prefix: str) -> dict[str, Any]:
    return _one(built["json"], "AWS::SageMaker::Endpoint", prefix)


def test_canary_rollout_by_default_with_rollback_alarms(built):
    policy = _endpoint(built, "ShadowedEndpoint")["DeploymentConfig"]
    green = policy["BlueGreenUpdatePolicy"]
    assert green["TrafficRoutingConfiguration"] == {
        "Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}, "WaitIntervalInSeconds": 300,
    }
    assert green["TerminationWaitInSeconds"] == 600 and green["MaximumExecutionTimeoutInSeconds"] == 3600
    alarms = [a["AlarmName"]["Ref"] for a in policy["AutoRollbackConfiguration"]["Alarms"]]
    assert sorted(re.sub(r"[0-9A-F]{8}$", "", a) for a in alarms) == [
        "ShadowedPrimaryErrors", "ShadowedPrimaryLatencyP99", "ShadowedPrimaryModelErrors",
    ]


def test_linear_rollout_and_user_alarms(built):
    policy = _endpoint(built, "AbEndpoint")["DeploymentConfig"]
    routing = policy["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {"Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20}, "WaitIntervalInSeconds": 240}
    assert policy["BlueGreenUpdatePolicy"]["TerminationWaitInSeconds"] == 360
    alarms = [a["AlarmName"]["Ref"] for a in policy["AutoRollbackConfiguration"]["Alarms"]]
    assert len(alarms) == 7  # 3 per production variant + the user's
    assert built["stack"].resolve(built["user_alarm"].alarm_name)["Ref"] in alarms


def test_all_at_once_rollout(built):
    green = _endpoint(built, "SlsEndpoint")["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert green["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE"}
    assert green["MaximumExecutionTimeoutInSeconds"] == 900


def test_deploys_keep_instance_counts_but_take_weights_and_capture(built):
    endpoint = _endpoint(built, "AbEndpoint")
    assert endpoint["EndpointName"] == "team-ab"
    assert endpoint["RetainAllVariantProperties"] is True
    assert endpoint["ExcludeRetainedVariantProperties"] == [
        {"VariantPropertyType": "DesiredWeight"}, {"VariantPropertyType": "DataCaptureConfig"},
    ]


def test_alarms_thresholds_and_actions(built):
    alarms = _all(built["json"], "AWS::CloudWatch::Alarm", "AbPrimary")
    latency = next(a for k, a in alarms.items() if "Latency" in k)
    assert latency["MetricName"] == "ModelLatency" and latency["ExtendedStatistic"] == "p99"
    assert latency["Threshold"] == 250_000  # microseconds
    assert latency["EvaluationPeriods"] == 2 and latency["DatapointsToAlarm"] == 2
    errors = next(a for k, a in alarms.items() if k.startswith("AbPrimaryErrors"))
    assert errors["MetricName"] == "Invocation5XXErrors" and errors["Threshold"] == 3
    model_errors = next(a for k, a in alarms.items() if "ModelErrors" in k)
    assert model_errors["MetricName"] == "InvocationModelErrors" and model_errors["Threshold"] == 2
    topic = built["stack"].resolve(built["ab"].alarm_topic.topic_arn)
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [topic]
        assert {"Name": "VariantName", "Value": "primary"} in alarm["Dimensions"]
    # The endpoint's own topic admits CloudWatch (its TLS-only policy replaces SNS's default one).
    assert topic["Ref"] in alarm_topics(built["json"])
    assert alarm_topics_closed_to_cloudwatch(built["json"]) == []


def test_async_error_alarm_counts_failed_invocations(built):
    alarms = _all(built["json"], "AWS::CloudWatch::Alarm", "AsyncPrimaryErrors")
    (alarm,) = alarms.values()
    assert alarm["MetricName"] == "InvocationFailures" and alarm["Dimensions"] == [{"Name": "EndpointName", "Value": "team-async"}]


# ----- scaling -----

def _policies(built, prefix: str) -> list[dict[str, Any]]:
    return list(_all(built["json"], "AWS::ApplicationAutoScaling::ScalingPolicy", prefix).values())


def test_scalable_target_per_variant_with_bounds_and_schedule(built):
    targets = _all(built["json"], "AWS::ApplicationAutoScaling::ScalableTarget", "Ab")
    by_variant = {json.dumps(t["ResourceId"]).split("/variant/")[1].rstrip('"]}'): t for t in targets.values()}
    assert (by_variant["primary"]["MinCapacity"], by_variant["primary"]["MaxCapacity"]) == (2, 5)
    assert (by_variant["challenger"]["MinCapacity"], by_variant["challenger"]["MaxCapacity"]) == (1, 3)
    assert by_variant["primary"]["ScheduledActions"] == [
        {"ScheduledActionName": "Morning", "Schedule": "cron(0 7 * * ? *)", "ScalableTargetAction": {"MinCapacity": 3, "MaxCapacity": 5}}
    ]
    assert "ScheduledActions" not in by_variant["challenger"]
    assert "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in json.dumps(by_variant["primary"]["RoleARN"])


def test_invocations_per_instance_is_the_default_metric(built):
    (policy,) = _policies(built, "ShadowedPrimaryScaling")
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    assert config["PredefinedMetricSpecification"] == {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert (config["TargetValue"], config["ScaleInCooldown"], config["ScaleOutCooldown"]) == (100, 300, 60)


@pytest.mark.parametrize("prefix, metric, namespace, target", [
    ("AbPrimaryScaling", "CPUUtilizationNormalized", "/aws/sagemaker/Endpoints", 55),
    ("MmePrimaryScaling", "GPUUtilizationNormalized", "/aws/sagemaker/Endpoints", 70),
    ("CustomPrimaryScaling", "QueueDepth", "Team/Serving", 30),
])
def test_utilisation_and_custom_metrics(built, prefix, metric, namespace, target):
    (policy,) = _policies(built, prefix)
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    spec = config["CustomizedMetricSpecification"]
    assert (spec["MetricName"], spec["Namespace"], config["TargetValue"]) == (metric, namespace, target)
    assert {d["Name"] for d in spec["Dimensions"]} == {"EndpointName", "VariantName"}


def test_cpu_scaling_cooldowns(built):
    (policy,) = _policies(built, "AbPrimaryScaling")
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    assert (config["ScaleInCooldown"], config["ScaleOutCooldown"]) == (420, 30)


def test_async_scales_to_zero_on_backlog(built):
    (target,) = _all(built["json"], "AWS::ApplicationAutoScaling::ScalableTarget", "Async").values()
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 3)
    config = _one(built["json"], "AWS::SageMaker::EndpointConfig", "AsyncConfig")
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 1  # SageMaker needs one to create it
    policies = _policies(built, "AsyncPrimaryScaling")
    tracking = next(p for p in policies if p["PolicyType"] == "TargetTrackingScaling")["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["CustomizedMetricSpecification"]["MetricName"] == "ApproximateBacklogSizePerInstance"
    assert tracking["TargetValue"] == 7
    step = next(p for p in policies if p["PolicyType"] == "StepScaling")["StepScalingPolicyConfiguration"]
    assert step["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    wake = next(a for k, a in _all(built["json"], "AWS::CloudWatch::Alarm", "AsyncPrimaryScalingFromZero").items())
    assert wake["MetricName"] == "HasBacklogWithoutCapacity" and wake["Threshold"] == 1


# ----- role, logs, dashboard, metrics, grants -----

def test_package_artifacts_read_only_from_the_artifact_account(built):
    statements = _policy_statements(built["json"], "ShadowedExecutionRole")
    read = _by_sid(statements, "ReadModelArtifacts1")
    assert read["Action"] == "s3:GetObject" and read["Condition"] == {"StringEquals": {"s3:ResourceAccount": "222222222222"}}
    decrypt = _by_sid(statements, "DecryptModelArtifacts1")
    assert ":222222222222:key/*" in json.dumps(decrypt["Resource"])
    assert "kms:ViaService" in decrypt["Condition"]["StringLike"]
    pull = _by_sid(statements, "PullImages1")
    assert ":222222222222:repository/*" in json.dumps(pull["Resource"])
    # No action wildcards and no write to anything but the endpoint's own prefixes.
    assert not any("*" in a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))


def test_image_source_pulls_exactly_its_repository_and_prefix(built):
    statements = _policy_statements(built["json"], "MmeExecutionRole")
    assert _by_sid(statements, "PullImages1")["Resource"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ecr:eu-west-1:123456789012:repository/team/mme-server"]]
    }
    assert json.dumps(_by_sid(statements, "ReadModelData1")["Resource"]).endswith(':s3:::team-models/mme/*"]]}')
    single = _by_sid(_policy_statements(built["json"], "CustomExecutionRole"), "ReadModelData1")
    assert json.dumps(single["Resource"]).endswith(':s3:::team-models/custom/model.tar.gz"]]}')


def test_endpoint_log_group_is_encrypted_and_retained(built):
    groups = resources_of_type(built["json"], "AWS::Logs::LogGroup")
    (log_id, group) = next((k, v) for k, v in groups.items() if k.startswith("AbLogs"))
    assert group["Properties"]["LogGroupName"] == "/aws/sagemaker/Endpoints/team-ab"
    assert group["Properties"]["RetentionInDays"] == 365 and "KeysLogs" in json.dumps(group["Properties"]["KmsKeyId"])
    assert group["DeletionPolicy"] == "Retain"
    assert log_id in resources_of_type(built["json"], "AWS::SageMaker::Endpoint")[next(
        k for k in resources_of_type(built["json"], "AWS::SageMaker::Endpoint") if k.startswith("AbEndpoint"))]["DependsOn"]


def test_dashboard_per_endpoint(built):
    dashboards = resources_of_type(built["json"], "AWS::CloudWatch::Dashboard")
    assert len(dashboards) == 6
    body = json.dumps(_one(built["json"], "AWS::CloudWatch::Dashboard", "AsyncDashboard"))
    assert "team-async-endpoint" in body
    for metric in ("Invocations", "ModelLatency", "Invocation5XXErrors", "CPUUtilizationNormalized", "ApproximateBacklogSize"):
        assert metric in body, metric


def test_metric_methods(built):
    ab, stack = built["ab"], built["stack"]
    latency = ab.metric_model_latency("challenger")
    assert (latency.metric_name, latency.namespace, latency.statistic) == ("ModelLatency", "AWS/SageMaker", "p99")
    assert latency.dimensions == {"EndpointName": "team-ab", "VariantName": "challenger"}
    assert ab.metric_invocations().statistic == "Sum"
    assert ab.metric_5xx_errors().metric_name == "Invocation5XXErrors"
    assert ab.metric_cpu_utilization().namespace == "/aws/sagemaker/Endpoints"
    assert ab.metric_memory_utilization().metric_name == "MemoryUtilization"
    count = ab.metric_instance_count("challenger")
    assert count.expression == "invocations_challenger / per_instance_challenger"
    assert built["async"].metric_backlog().dimensions == {"EndpointName": "team-async"}
    assert ab.variant_names == ["primary", "challenger"]
    assert stack.resolve(ab.endpoint_arn)["Fn::Join"][1][-1]["Fn::GetAtt"][1] == "EndpointName"


def test_grant_invoke(built):
    statements = _policy_statements(built["json"], "ClientDefaultPolicy")
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync", "s3:PutObject"} <= actions
    text = json.dumps(statements)
    assert "/async/team-async/input/*" in text and "/async/team-async/output/*" in text


def test_every_mode_passes_the_nag_packs(built):
    # The fixture synthesized with AwsSolutions, NIST 800-53 R5 and HIPAA on; a finding would have failed it.
    # The wildcards of each role are acknowledged one by one, with reasons, on its policy.
    report = json.loads((Path(built["outdir"]) / "validation-report.json").read_text())
    assert report["pluginReports"]
    for plugin in report["pluginReports"]:
        assert (plugin["conclusion"], plugin["violations"]) == ("success", []), plugin["pluginName"]
    acknowledged = set(built["ab"]._wildcards)
    assert "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::*/*]" in acknowledged
    assert not any("Action::" in finding for finding in acknowledged)


def test_image_pull_reason_does_not_claim_aws_images_come_from_the_artifact_account(built):
    # Built-in algorithm and framework images live in AWS's registry accounts, not the artifact account.
    reasons = [reason for finding, reason in built["ab"]._wildcards.items() if ":repository/*]" in finding]
    assert reasons
    for reason in reasons:
        assert "AWS's own registry accounts" in reason and "outside this statement" in reason
        assert "repositories of the artifact account." not in reason


# ----- bad props: one test per kind -----

@pytest.fixture(scope="module")
def bad() -> Base:
    return Base(make_stack(make_app(), "Bad"))


_counter = iter(range(10_000))


def _build(base: Base, serving: ServingConfig, **overrides: Any) -> ModelEndpoint:
    return ModelEndpoint(base.stack, f"E{next(_counter)}", props=base.props("team-bad", serving, **overrides))


def _error(base: Base, serving: ServingConfig, **overrides: Any) -> str:
    with pytest.raises(ValueError) as failure:
        _build(base, serving, **overrides)
    text = str(failure.value)
    assert text.startswith("Bad/E"), text  # names the construct path
    return text


def test_min_above_max(bad):
    assert "serving.max_instances: 1 is below min_instances 3" in _error(bad, ServingConfig(min_instances=3, max_instances=1))


def test_all_weights_zero(bad):
    text = _error(bad, ServingConfig(weight=0, variants=(VariantConfig(name="b", weight=0),)))
    assert "serving.weight: every production variant has weight 0" in text


def test_data_capture_with_serverless(bad):
    text = _error(bad, ServingConfig(mode="serverless", data_capture=DataCaptureConfig(enabled=True)))
    assert "serving.data_capture.enabled: serverless endpoints do not support data capture" in text


def test_bad_instance_type(bad):
    text = _error(bad, ServingConfig(instance_type="m5.large", variants=(VariantConfig(name="b", instance_type="ml.huge"),)))
    assert "serving.instance_type: 'm5.large' is not a SageMaker instance type" in text
    assert "serving.variants[0].instance_type: 'ml.huge' is not a SageMaker instance type" in text


def test_canary_size_out_of_range(bad):
    text = _error(bad, ServingConfig(rollout=RolloutConfig(strategy="canary", size_percent=60)))
    assert "serving.rollout.size_percent: 60 is out of range; a canary size (% of the fleet) must lie in [1, 50]" in text


def test_linear_step_out_of_range(bad):
    text = _error(bad, ServingConfig(rollout=RolloutConfig(strategy="linear", size_percent=5)))
    assert "serving.rollout.size_percent: 5 is out of range; a linear step (% of the fleet) must lie in [10, 50]" in text


def test_traffic_shifting_unavailable_on_inf1(bad):
    text = _error(bad, ServingConfig(instance_type="ml.inf1.xlarge"))
    assert "serving.rollout.strategy: 'canary' traffic shifting is not available on Inf1 instances (ml.inf1.xlarge)" in text


def test_deadline_shorter_than_baking(bad):
    text = _error(bad, ServingConfig(rollout=RolloutConfig(strategy="linear", size_percent=10, wait_minutes=10, max_execution_minutes=60)))
    assert "serving.rollout.max_execution_minutes: 60 is shorter than the 100 minutes the linear rollout bakes" in text


def test_shadow_needs_realtime_and_one_production_variant(bad):
    text = _error(bad, ServingConfig(mode="async", min_instances=0, shadow=VariantConfig(name="s", weight=0.5)))
    assert "serving.shadow: shadow variants need mode 'realtime', not 'async'" in text
    text = _error(bad, ServingConfig(variants=(VariantConfig(name="b"),), shadow=VariantConfig(name="s", weight=0.5)))
    assert "a shadow variant needs exactly one production variant" in text


def test_serverless_rejects_variants_and_multi_model(bad):
    text = _error(bad, ServingConfig(mode="serverless", variants=(VariantConfig(name="b"),)),
                  model=ModelSource.from_image(IMAGE, model_data_url="s3://b/m/"), multi_model=True)
    assert "serving.variants: serverless endpoints serve one production variant only" in text
    assert "multi_model: serverless endpoints cannot host multi-model containers" in text


def test_gpu_metric_needs_a_gpu_instance(bad):
    assert "serving.instance_type: 'ml.m5.large' has no GPU, but scaling.metric is 'gpu'" in _error(
        bad, ServingConfig(scaling=ScalingConfig(metric="gpu", target=60)))


def test_missing_buckets(bad):
    assert "data_capture_bucket: is required while data capture is on" in _error(bad, ServingConfig(), data_capture_bucket=None)
    assert "async_bucket: is required for mode 'async'" in _error(
        bad, ServingConfig(mode="async", min_instances=0), async_bucket=None)


def test_model_source_problems(bad):
    both = ModelSource(model_package_arn=PACKAGE, image_uri=IMAGE)
    assert "model: give exactly one of model_package_arn or image_uri" in _error(bad, ServingConfig(), model=both)
    assert "model.model_package_arn: 'arn:aws:s3:::x' is not a model package ARN" in _error(
        bad, ServingConfig(), model=ModelSource.from_model_package("arn:aws:s3:::x"))
    assert "multi-model endpoints load many artifacts from an S3 prefix" in _error(bad, ServingConfig(), multi_model=True)
    assert "must be a prefix ending in '/'" in _error(
        bad, ServingConfig(), model=ModelSource.from_image(IMAGE, model_data_url="s3://bkt/model.tar.gz"), multi_model=True)
    assert "is not an S3 URL" in _error(bad, ServingConfig(), model=ModelSource.from_image(IMAGE, model_data_url="https://x/m.tar.gz"))


def test_variant_models_must_name_a_variant(bad):
    text = _error(bad, ServingConfig(), variant_models={"ghost": ModelSource.from_model_package(CANDIDATE)})
    assert "variant_models.ghost: names no A/B or shadow variant; known: none" in text


def test_bad_endpoint_name(bad):
    with pytest.raises(ValueError, match=r"endpoint_name: 'team_bad!' is not a valid endpoint name"):
        ModelEndpoint(bad.stack, "Named", props=replace(bad.props("team_bad!", ServingConfig())))


def test_every_problem_reported_at_once(bad):
    text = _error(bad, ServingConfig(instance_type="x", min_instances=3, max_instances=1,
                                     rollout=RolloutConfig(size_percent=0), serverless=ServerlessConfig(memory_mb=1000)))
    assert "4 problem(s)" in text and text.count("\n  - ") == 4


def test_role_writes_only_its_own_log_group(built):
    logs = _by_sid(_policy_statements(built["json"], "AbExecutionRole"), "WorkloadLogs")
    assert logs["Resource"] == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/Endpoints/team-ab:*"


def test_network_interfaces_only_in_the_endpoint_vpc(built):
    """One ENI scope for every SageMaker workload (security.sagemaker_workload): the ec2:Vpc condition."""
    statements = _policy_statements(built["json"], "AbExecutionRole")
    enis = _by_sid(statements, "NetworkInterfacesInTheVpc")
    assert enis["Resource"] == "*" and "ec2:CreateNetworkInterface" in enis["Action"]
    vpc = json.dumps(enis["Condition"]["ArnEquals"]["ec2:Vpc"])
    assert ":vpc/" in vpc and "NetworkVpc" in vpc
    assert _by_sid(statements, "WorkloadMetrics")["Condition"] == {
        "StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "AWS/SageMaker"]}}
    serverless = {s.get("Sid") for s in _policy_statements(built["json"], "SlsExecutionRole")}
    assert {"WorkloadLogs", "WorkloadMetrics", "EcrLogin"} <= serverless
    assert not serverless & {"DescribeNetwork", "NetworkInterfacesInTheVpc"}


def test_artifact_account_comes_from_the_source():
    assert ModelSource.from_model_package(PACKAGE).owner_account == "222222222222"
    # An image's registry never owns the model data: without more, the endpoint's own account does.
    assert ModelSource.from_image(IMAGE).owner_account is None
    assert ModelSource.from_image(IMAGE, model_data_url="s3://b/m.tar.gz", artifact_account="333333333333").owner_account == "333333333333"
    assert ModelSource.from_model_package(PACKAGE, artifact_account="999999999999").owner_account == "999999999999"


@pytest.mark.parametrize("endpoint", ["Ab", "Shadowed", "Sls"])
def test_execution_role_reads_exactly_its_rollback_alarms(built, endpoint):
    """Deployment guardrails watch the auto-rollback alarms with the execution role (cloudwatch:DescribeAlarms)."""
    rollback = [a["AlarmName"]["Ref"] for a in _endpoint(built, f"{endpoint}Endpoint")["DeploymentConfig"]
                ["AutoRollbackConfiguration"]["Alarms"]]
    statement = _by_sid(_policy_statements(built["json"], f"{endpoint}ExecutionRole"), "RollbackAlarms")
    assert statement["Action"] == "cloudwatch:DescribeAlarms"
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    assert sorted(r["Fn::GetAtt"][0] for r in resources) == sorted(rollback)
    assert all(r["Fn::GetAtt"][1] == "Arn" for r in resources)


# ----- model data of an image: the artifact account is the data's, never the image registry's -----

AWS_IMAGE = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"


@pytest.fixture(scope="module")
def sources() -> dict[str, Any]:
    stack = make_stack(make_app(), "Sources")
    base = Base(stack)
    models = SecureBucket(stack, "Models", key=base.keys.models)
    no_capture = ServingConfig(data_capture=DataCaptureConfig(enabled=False))
    for id, source in {
        "ByUrl": ModelSource.from_image(AWS_IMAGE, model_data_url="s3://team-models/xgb/model.tar.gz"),
        "ByBucket": ModelSource.from_image(AWS_IMAGE, model_data_bucket=models.bucket, model_data_object_key="xgb/model.tar.gz"),
        "Elsewhere": ModelSource.from_image(AWS_IMAGE, model_data_url="s3://their-models/xgb/model.tar.gz",
                                            artifact_account="333333333333"),
    }.items():
        ModelEndpoint(stack, id, props=base.props(f"team-{id.lower()}", no_capture, model=source))
    return {"json": Template.from_stack(stack).to_json(), "stack": stack, "models": models}


def test_image_model_data_is_decrypted_with_keys_of_the_data_account_not_the_image_registry(sources):
    statements = _policy_statements(sources["json"], "ByUrlExecutionRole")
    decrypt = _by_sid(statements, "DecryptModelArtifacts1")
    assert decrypt["Resource"] == {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":kms:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":key/*"]]}
    assert "763104351884" not in json.dumps(decrypt)
    # The image itself is pulled from exactly its repository in AWS's registry account.
    assert _by_sid(statements, "PullImages1")["Resource"]["Fn::Join"][1][-1] == ":ecr:eu-west-1:763104351884:repository/pytorch-inference"
    assert json.dumps(_by_sid(statements, "ReadModelData1")["Resource"]).endswith(':s3:::team-models/xgb/model.tar.gz"]]}')


def test_image_model_data_in_a_bucket_reads_that_object_and_decrypts_with_its_key(sources):
    stack, models = sources["stack"], sources["models"]
    statements = _policy_statements(sources["json"], "ByBucketExecutionRole")
    decrypt = _by_sid(statements, "DecryptModelData1")
    assert decrypt["Resource"] == stack.resolve(models.key.key_arn)
    assert decrypt["Condition"] == {"StringLike": {"kms:ViaService": {"Fn::Join": ["", ["s3.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}}}
    assert _by_sid(statements, "ReadModelData1")["Resource"] == stack.resolve(models.bucket.arn_for_objects("xgb/model.tar.gz"))
    assert not any(s.get("Sid", "").startswith(("DecryptModelArtifacts", "ReadModelArtifacts")) for s in statements)
    model = _one(sources["json"], "AWS::SageMaker::Model", "ByBucketModel")
    assert model["PrimaryContainer"]["ModelDataUrl"] == stack.resolve(f"s3://{models.bucket.bucket_name}/xgb/model.tar.gz")


def test_image_model_data_of_another_account(sources):
    decrypt = _by_sid(_policy_statements(sources["json"], "ElsewhereExecutionRole"), "DecryptModelArtifacts1")
    assert decrypt["Resource"]["Fn::Join"][1][-1] == ":333333333333:key/*"


# ----- local NVMe storage: refused unless the volume key is turned off explicitly -----

def test_local_storage_instances_are_refused_while_the_volume_key_is_on(bad):
    text = _error(bad, ServingConfig(instance_type="ml.g5.xlarge", shadow=VariantConfig(name="s", weight=0.5, instance_type="ml.p4d.24xlarge")))
    assert ("serving.instance_type: 'ml.g5.xlarge' has local NVMe instance storage, on which SageMaker rejects the endpoint's "
            "volume KMS key; choose an EBS-backed instance type (ml.m5, ml.c5, ml.r5, ml.p3, ml.inf2, ...) or set "
            "volume_kms_key to false") in text
    assert "serving.shadow.instance_type: 'ml.p4d.24xlarge' has local NVMe instance storage" in text


def test_volume_key_may_be_turned_off_only_for_local_storage(bad):
    text = _error(bad, ServingConfig(volume_kms_key=False))
    assert "serving.volume_kms_key: is false, but no variant runs on an instance type with local NVMe storage" in text


# ----- bad props: everything at once, each with its path and quoted value -----

def test_bad_props_report_every_path_and_value(bad):
    user_alarms = [cloudwatch.Alarm(bad.stack, f"UserAlarm{i}", metric=cloudwatch.Metric(namespace="Team", metric_name="Kpi"),
                                    threshold=1, evaluation_periods=1) for i in range(8)]
    with pytest.raises(ValueError) as failure:
        ModelEndpoint(bad.stack, "Everything", props=bad.props(
            "team_endpoint!",
            ServingConfig(
                instance_type="m5.large", min_instances=0, max_instances=101, weight=-1,
                variants=(VariantConfig(name="b", weight=-0.5, instance_type="ml.m5"),),
                rollout=RolloutConfig(strategy="canary", size_percent=75),
                scaling=ScalingConfig(scheduled=(ScheduledScalingConfig(name="x", schedule="daily", min_instances=-1, max_instances=2),)),
                data_capture=DataCaptureConfig(sampling_percentage=0),
            ),
            model=ModelSource.from_image("docker.io/library/model:1", model_data_url="s3://b/m.tar.gz",
                                         artifact_account="12345", environment={"1BAD": "x"}),
            rollback_alarms=user_alarms,
        ))
    text = str(failure.value)
    assert text.startswith("Bad/Everything: ")
    for expected in (
        "endpoint_name: 'team_endpoint!' is not a valid endpoint name",
        "serving.instance_type: 'm5.large' is not a SageMaker instance type like ml.m5.large",
        "serving.min_instances: 0 is below 1 for mode 'realtime'",
        "serving.max_instances: 101 is above 100",
        "serving.weight: -1 is negative",
        "serving.variants[0].weight: -0.5 is negative",
        "serving.variants[0].instance_type: 'ml.m5' is not a SageMaker instance type",
        "serving.rollout.size_percent: 75 is out of range; a canary size (% of the fleet) must lie in [1, 50]",
        "serving.scaling.scheduled[0].schedule: 'daily' is not a schedule; use cron(...), rate(...) or at(...)",
        "serving.scaling.scheduled[0].min_instances: -1 is negative",
        "serving.data_capture.sampling_percentage: 0 is out of range; the sampling percentage must lie in [1, 100]",
        "model.image_uri: 'docker.io/library/model:1' is not an ECR image like 123456789012.dkr.ecr.eu-west-1.amazonaws.com/repository:tag",
        "model.artifact_account: '12345' is not an AWS account id (exactly 12 digits)",
        "model.environment.1BAD: '1BAD' is not an environment variable name",
        "rollback_alarms: 8 given, with the endpoint's own 6",
    ):
        assert expected in text, expected


def test_model_source_by_bucket_problems(bad):
    bucket = bad.capture.bucket
    text = _error(bad, ServingConfig(), model=ModelSource.from_image(IMAGE, model_data_url="s3://b/m.tar.gz", model_data_bucket=bucket))
    assert "model.model_data_bucket: give model_data_url or model_data_bucket with model_data_object_key, not both" in text
    assert "model.model_data_object_key: is required with model_data_bucket" in text
    text = _error(bad, ServingConfig(), model=ModelSource.from_image(IMAGE, model_data_bucket=bucket, model_data_object_key="models/"))
    assert "model.model_data_object_key: 'models/' is not an object key like models/model.tar.gz" in text
    text = _error(bad, ServingConfig(), model=ModelSource(model_package_arn=PACKAGE, model_data_kms_key=bad.keys.models))
    assert "model.model_data_kms_key: comes from the model package" in text


def test_deploy_time_values_are_accepted(bad):
    instance_type = CfnParameter(bad.stack, "ServingType", default="ml.m5.large").value_as_string
    name = CfnParameter(bad.stack, "EndpointName", default="team-param").value_as_string
    endpoint = ModelEndpoint(bad.stack, "Deployed", props=bad.props(name, ServingConfig(instance_type=instance_type)))
    assert endpoint.variants[0].config.instance_type == instance_type


def test_variant_defaults_keep_every_other_field(built):
    """Variants take the primary's instance type by dataclasses.replace: no field of theirs is dropped."""
    challenger = next(v for v in built["ab"].variants if v.name == "challenger")
    assert challenger.config == VariantConfig(name="challenger", weight=0.2, instance_type="ml.c5.large", min_instances=1, max_instances=3)
    shadow = next(v for v in built["shadow"].variants if v.shadow)
    assert shadow.config == VariantConfig(name="candidate", weight=0.3, instance_type="ml.m5.large", min_instances=1, max_instances=1)
