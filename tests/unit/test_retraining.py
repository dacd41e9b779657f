"""RetrainingTrigger: the function's baseline, the buffer queue, exact permissions, and every rule's pattern."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events

from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.lifecycle.retraining import DataArrivalTrigger, DriftAlarmTrigger, MonitoringViolationTrigger, RetrainingTrigger
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
    RetrainingTrigger(stack, "Retrain", pipeline_name="mlops-churn-build", triggers=TRIGGERS,
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
        ({"pipeline_name": "bad name!"}, "pipeline_name 'bad name!' is not a SageMaker pipeline name"),
        ({"triggers": []}, "triggers is empty"),
        ({"triggers": [TRIGGERS[0], TRIGGERS[0]]}, "triggers has one kind twice"),
        ({"triggers": [DriftAlarmTrigger(alarm_names=[], accounts=[STAGING])]}, "DriftAlarmTrigger has empty alarm_names"),
        ({"batching_window": Duration.minutes(10)}, "batching_window 600s is out of range; SQS allows 0-300 s"),
        ({"max_receive_count": 1}, "max_receive_count 1 is out of range; allowed 2-100"),
    ],
    ids=["pipeline-name", "no-triggers", "duplicate-kind", "empty-names", "batching-window", "receive-count"],
)
def test_bad_props_are_rejected_with_the_construct_path(kwargs: dict[str, Any], message: str) -> None:
    stack = make_stack()
    props: dict[str, Any] = {"pipeline_name": "mlops-churn-build", "triggers": TRIGGERS, **_parts(stack), **kwargs}
    with pytest.raises(ValueError, match=r"^Test/Retrain: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        RetrainingTrigger(stack, "Retrain", **props)
