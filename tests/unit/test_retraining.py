"""RetrainingTrigger: the function's baseline, the buffer queue, exact permissions, and every rule's pattern."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events

from mlops_estate.core.validation import ConfigError
from mlops_estate.lifecycle.retraining import DataArrivalTrigger, DriftAlarmTrigger, MonitoringViolationTrigger, RetrainingTrigger
from mlops_estate.monitoring.model_monitor import ModelMonitor
from mlops_estate.monitoring.monitored_endpoint import MonitoredEndpoint
from mlops_estate.monitoring.props import DataQualityMonitorProps, MonitoringProps
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.pipeline import JobEnvironment, ParameterInteger, ParameterString, PipelineDefinition, ProcessingStep
from mlops_estate.pipeline.training_pipeline import PipelineStorage, TrainingPipeline
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.security.storage import SecureBucket
from tests.handlers.events import (
    DATA_LAKE, PROD, STAGING, alarm_state_change, matches, model_package_state_change, monitoring_job_completed, object_created,
)
from tests.helpers import make_stack, resources_of_type, template_of

SCHEDULE_PREFIX = f"arn:aws:sagemaker:eu-west-1:{STAGING}:monitoring-schedule/mlops-churn-stg-dq"
TRIGGERS = [
    DriftAlarmTrigger(alarm_names=["mlops-churn-stg-drift", "mlops-churn-prd-drift"], accounts=[STAGING, PROD]),
    MonitoringViolationTrigger(schedule_arns=[SCHEDULE_PREFIX], accounts=[STAGING]),
    DataArrivalTrigger(accounts=[DATA_LAKE], key_prefix="churn/daily/"),
]


def placement_in(stack: Stack) -> NetworkPlacement:
    """An imported VPC named by ids (with route tables, so the CDK does not warn)."""
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a", "eu-west-1b"],
                                      isolated_subnet_ids=["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"], isolated_subnet_route_table_ids=["rtb-0123456789abcdef1", "rtb-0123456789abcdef2"])
    group = ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0", mutable=False)
    return NetworkPlacement(vpc=vpc, subnet_ids=("subnet-0123456789abcdef1", "subnet-0123456789abcdef2"), security_group=group)


def _parts(stack: Stack) -> dict[str, Any]:
    keys = EstateKeys(stack, "Keys", estate_name="mlops", classes=[DataClass.MONITORING, DataClass.LOGS])
    placement = placement_in(stack)
    bus = events.EventBus.from_event_bus_name(stack, "Bus", "mlops-ml-dev")
    return {"event_bus": bus, "queue_key": keys.monitoring, "logs_key": keys.logs, "placement": placement}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    stack = make_stack()
    RetrainingTrigger(stack, "Retrain", pipeline="mlops-churn-build", triggers=TRIGGERS,
                      cooldown=Duration.hours(12), **_parts(stack))
    return template_of(stack).to_json()


def one(template: dict[str, Any], type_name: str) -> dict[str, Any]:
    [resource] = resources_of_type(template, type_name).values()
    return resource["Properties"]


def test_function_baseline(template: dict[str, Any]) -> None:
    fn = one(template, "AWS::Lambda::Function")
    assert fn["Runtime"] == "python3.14" and fn["Architectures"] == ["arm64"]
    assert fn["ReservedConcurrentExecutions"] == 1 and fn["Timeout"] == 60
    assert fn["VpcConfig"]["SubnetIds"] == ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"] and fn["VpcConfig"]["SecurityGroupIds"] == ["sg-0123456789abcdef0"]
    assert "TargetArn" in fn["DeadLetterConfig"]
    assert fn["Environment"]["Variables"] == {
        "PIPELINE_NAME": "mlops-churn-build", "COOLDOWN_SECONDS": "43200", "INPUT_PARAMETER": "InputDataUrl",
        "ALARM_NAMES": "mlops-churn-prd-drift,mlops-churn-stg-drift",
    }
    invoke = one(template, "AWS::Lambda::EventInvokeConfig")
    assert invoke["MaximumRetryAttempts"] == 2 and invoke["MaximumEventAgeInSeconds"] == 3600
    log_group = one(template, "AWS::Logs::LogGroup")
    assert log_group["RetentionInDays"] == 365 and "KmsKeyId" in log_group


def test_buffer_queue_batches_bursts_into_one_invocation(template: dict[str, Any]) -> None:
    mapping = one(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["BatchSize"] == 1000 and mapping["MaximumBatchingWindowInSeconds"] == 300
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    queues = resources_of_type(template, "AWS::SQS::Queue")
    buffer = next(q["Properties"] for q in queues.values() if "RedrivePolicy" in q["Properties"])
    assert buffer["RedrivePolicy"]["maxReceiveCount"] == 10
    assert buffer["VisibilityTimeout"] == 6 * 60 + 300
    assert all("KmsMasterKeyId" in q["Properties"] for q in queues.values())
    assert all(q["DeletionPolicy"] == "Retain" for q in queues.values())


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_role_may_only_list_and_start_its_pipeline(template: dict[str, Any]) -> None:
    statements = [s for p in resources_of_type(template, "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    sagemaker = [s for s in statements if any(a.startswith("sagemaker:") for a in _list(s["Action"]))]
    [statement] = sagemaker
    assert sorted(statement["Action"]) == ["sagemaker:ListPipelineExecutions", "sagemaker:StartPipelineExecution"]
    assert ":pipeline/mlops-churn-build" in json.dumps(statement["Resource"])
    assert "*" not in json.dumps(statement["Resource"]).replace("${AWS::", "")


def test_rules_on_the_estate_bus_feed_the_queue_with_bounded_retries(template: dict[str, Any]) -> None:
    rules = resources_of_type(template, "AWS::Events::Rule")
    assert len(rules) == 3
    for rule in rules.values():
        props = rule["Properties"]
        assert props["EventBusName"] == "mlops-ml-dev"
        [target] = props["Targets"]
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 8}
        assert "Arn" in target["DeadLetterConfig"]


def _pattern(template: dict[str, Any], source: str) -> dict[str, Any]:
    [pattern] = [r["Properties"]["EventPattern"] for r in resources_of_type(template, "AWS::Events::Rule").values()
                 if r["Properties"]["EventPattern"]["source"] == [source]]
    return pattern


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (alarm_state_change(), True),
        (alarm_state_change(alarm="mlops-churn-prd-drift", account=PROD), True),
        (alarm_state_change(state="OK"), False),
        (alarm_state_change(state="INSUFFICIENT_DATA"), False),
        (alarm_state_change(alarm="mlops-churn-staging-latency"), False),
        (alarm_state_change(account="999999999999"), False),
    ],
    ids=["staging-alarm", "prod-alarm", "ok", "insufficient-data", "other-alarm", "foreign-account"],
)
def test_drift_rule_pattern(template: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(_pattern(template, "aws.cloudwatch"), event) is expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (monitoring_job_completed(), True),
        (monitoring_job_completed(exit_message="Completed: Job completed successfully with no violations."), False),
        (monitoring_job_completed(schedule="mlops-fraud-batch-staging-data-quality"), False),
        (monitoring_job_completed(account=PROD), False),
        (model_package_state_change(), False),
    ],
    ids=["violations", "no-violations", "other-model", "other-account", "other-detail-type"],
)
def test_monitoring_violations_rule_pattern(template: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(_pattern(template, "aws.sagemaker"), event) is expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (object_created(), True),
        (object_created(key="spend-forecast/daily/part-0001.parquet"), False),
        (object_created(key="churn/adhoc/part-0001.parquet"), False),
        (object_created(account=STAGING), False),
    ],
    ids=["model-prefix", "other-model", "other-prefix", "other-account"],
)
def test_data_arrival_rule_pattern(template: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(_pattern(template, "aws.s3"), event) is expected


def test_data_arrival_can_name_buckets() -> None:
    pattern = DataArrivalTrigger(accounts=[DATA_LAKE], key_prefix="churn/", bucket_names=["mlops-curated"]).pattern()
    assert matches(pattern, object_created(bucket="mlops-curated"))
    assert not matches(pattern, object_created(bucket="mlops-raw"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pipeline": "bad name!"}, "pipeline: 'bad name!' is not a SageMaker pipeline name (letters, digits, hyphens, up to 256)"),
        ({"triggers": []}, "triggers: [] is empty; give at least one DriftAlarmTrigger"),
        ({"triggers": [TRIGGERS[0], TRIGGERS[0]]}, "triggers: lists DriftAlarmTrigger 2 times; merge their names"),
        ({"triggers": [DriftAlarmTrigger(alarm_names=[], accounts=[STAGING])]},
         "triggers[0].alarm_names: [] is empty; an empty list would match nothing or everything"),
        ({"batching_window": Duration.minutes(10)}, "batching_window: 600 seconds is out of range; SQS batching allows 0-300 seconds"),
        ({"max_receive_count": 1}, "max_receive_count: 1 is out of range; allowed 2-100"),
    ],
    ids=["pipeline-name", "no-triggers", "duplicate-kind", "empty-names", "batching-window", "receive-count"],
)
def test_bad_props_are_rejected_with_the_construct_path(kwargs: dict[str, Any], message: str) -> None:
    stack = make_stack()
    props: dict[str, Any] = {"pipeline": "mlops-churn-build", "triggers": TRIGGERS, **_parts(stack), **kwargs}
    with pytest.raises(ConfigError) as raised:
        RetrainingTrigger(stack, "Retrain", **props)
    assert str(raised.value).startswith("Test/Retrain: 1 problem(s):")
    assert any(p.startswith(message) for p in raised.value.problems), raised.value.problems


def _pipeline(stack: Stack, parts: dict[str, Any]) -> TrainingPipeline:
    """A small pipeline of a user's own, declaring a String and an Integer parameter."""
    name = "team-churn-build"

    def definition(jobs: JobEnvironment) -> PipelineDefinition:
        return PipelineDefinition(name, parameters=[ParameterString("TrainData", "s3://team-data/churn/"), ParameterInteger("Epochs", 3)],
                                  steps=[ProcessingStep("Prep", job=jobs, image_uri=IMAGE, instance_type="ml.m5.large", code="s3://code/prep.py")])

    data = SecureBucket(stack, "Data", key=parts["queue_key"])
    return TrainingPipeline(stack, "Build", pipeline_name=name, definition=definition, placement=parts["placement"],
                            storage=PipelineStorage(key=parts["queue_key"], buckets=(data,)))


IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ("InputDataUrl", "input_parameter: 'InputDataUrl' is not a parameter of pipeline 'team-churn-build'; declared: Epochs, "
                         "TrainData (SageMaker refuses an execution that names an undeclared parameter)"),
        ("Epochs", "input_parameter: 'Epochs' is a Integer parameter of pipeline 'team-churn-build'; the new data's S3 URI "
                   "needs a String parameter"),
    ],
    ids=["undeclared", "not-a-string"],
)
def test_the_input_parameter_must_be_a_declared_string_parameter_of_the_pipeline(parameter: str, message: str) -> None:
    stack = make_stack()
    parts = _parts(stack)
    pipeline = _pipeline(stack, parts)
    with pytest.raises(ConfigError) as raised:
        RetrainingTrigger(stack, "Retrain", pipeline=pipeline, triggers=TRIGGERS, input_parameter=parameter, **parts)
    assert raised.value.problems == [message]


def test_a_pipeline_and_a_monitor_of_the_same_app_need_no_names_rebuilt() -> None:
    """A user's own app: the trigger takes the pipeline and the monitor, and listens on the default bus."""
    stack = make_stack()
    parts = _parts(stack)
    del parts["event_bus"]
    pipeline = _pipeline(stack, parts)
    watched = MonitoredEndpoint(endpoint_name="team-churn", data_capture=SecureBucket(stack, "Capture", key=parts["queue_key"]),
                                data_capture_prefix="capture", placement=parts["placement"])
    monitor = ModelMonitor(stack, "Monitor", endpoint=watched, props=MonitoringProps(data_quality=DataQualityMonitorProps(
        constraints_uri="s3://team-baselines/churn/constraints.json", statistics_uri="s3://team-baselines/churn/statistics.json",
        drift_features=("tenure",))))
    trigger = RetrainingTrigger(stack, "Retrain", pipeline=pipeline, input_parameter="TrainData", **parts, triggers=[
        DriftAlarmTrigger.of(monitor), MonitoringViolationTrigger.of(monitor),
        DataArrivalTrigger(accounts=[stack.account], key_prefix="churn/")])
    assert trigger.pipeline_name == "team-churn-build"
    template = template_of(stack).to_json()
    rules = [r["Properties"] for k, r in resources_of_type(template, "AWS::Events::Rule").items() if k.startswith("Retrain")]
    assert len(rules) == 3 and all("EventBusName" not in r for r in rules)
    drift = next(r["EventPattern"] for r in rules if r["EventPattern"]["source"] == ["aws.cloudwatch"])
    assert drift["detail"]["alarmName"] == ["team-churn-drift"] and drift["account"] == ["123456789012"]
    assert matches(drift, alarm_state_change(alarm="team-churn-drift", account="123456789012"))
    violations = next(r["EventPattern"] for r in rules if r["EventPattern"]["source"] == ["aws.sagemaker"])
    assert violations["detail"]["MonitoringScheduleArn"] == ["arn:aws:sagemaker:eu-west-1:123456789012:monitoring-schedule/team-churn-dq"]
    fn = next(r["Properties"] for r in resources_of_type(template, "AWS::Lambda::Function").values()
              if r["Properties"].get("Environment", {}).get("Variables", {}).get("PIPELINE_NAME"))
    assert fn["Environment"]["Variables"]["ALARM_NAMES"] == "team-churn-drift"
    assert fn["Environment"]["Variables"]["INPUT_PARAMETER"] == "TrainData"
