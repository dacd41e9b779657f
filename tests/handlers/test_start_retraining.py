"""start_retraining against moto's SageMaker (start/list pipeline executions), Stubber where moto cannot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.handlers.events import (
    PROD, REGION, alarm_state_change, load_handler, monitoring_job_completed, object_created, sqs_batch,
)

PIPELINE = "mlops-churn-build"
ALARMS = "mlops-churn-prd-drift,mlops-churn-stg-drift"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("PIPELINE_NAME", PIPELINE)
    monkeypatch.setenv("COOLDOWN_SECONDS", "0")
    monkeypatch.setenv("INPUT_PARAMETER", "InputDataUrl")
    monkeypatch.setenv("ALARM_NAMES", ALARMS)


@pytest.fixture
def sagemaker(env: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("sagemaker", region_name=REGION)
        definition = {"Version": "2020-12-01", "Parameters": [{"Name": "InputDataUrl", "Type": "String"}], "Steps": []}
        client.create_pipeline(PipelineName=PIPELINE, PipelineDefinition=json.dumps(definition),
                               RoleArn="arn:aws:iam::444444444444:role/mlops-pipeline")
        yield client


@pytest.fixture
def handler(sagemaker: Any) -> ModuleType:
    return load_handler("start_retraining")


def executions(client: Any) -> list[dict[str, Any]]:
    return list(client.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"])


def parameters(client: Any, arn: str) -> list[dict[str, str]]:
    return list(client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"])


def test_drift_alarm_starts_the_pipeline_without_parameters(handler: ModuleType, sagemaker: Any) -> None:
    result = handler.handler(alarm_state_change())
    assert result["started"] is True
    [execution] = executions(sagemaker)
    assert execution["PipelineExecutionArn"] == result["execution"]
    assert "drift" in execution["PipelineExecutionDescription"]
    assert "mlops-churn-stg-drift" in execution["PipelineExecutionDescription"]
    assert parameters(sagemaker, result["execution"]) == []


def test_same_event_twice_starts_one_execution(handler: ModuleType, sagemaker: Any) -> None:
    # No cool-down: only the token derived from the event keeps the redelivery from starting a second run.
    first = handler.handler(alarm_state_change())
    second = handler.handler(alarm_state_change())
    assert first["started"] is True
    assert second == {"started": False, "reason": "duplicate: an execution was already started for these events"}
    assert len(executions(sagemaker)) == 1


def test_token_is_derived_from_the_event_ids(handler: ModuleType) -> None:
    a = handler.parse_event(alarm_state_change(event_id="a"))
    b = handler.parse_event(alarm_state_change(event_id="b"))
    assert handler.token_for([a]) == handler.token_for([a])
    assert handler.token_for([a, b]) == handler.token_for([b, a])
    assert handler.token_for([a]) != handler.token_for([b])
    assert 32 <= len(handler.token_for([a])) <= 128  # ClientRequestToken's allowed length


def test_other_event_within_cooldown_is_skipped(handler: ModuleType, sagemaker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COOLDOWN_SECONDS", "3600")
    assert handler.handler(alarm_state_change(event_id="first"))["started"] is True
    skipped = handler.handler(alarm_state_change(alarm="mlops-churn-prd-drift", account=PROD, event_id="second"))
    assert skipped["started"] is False and skipped["reason"].startswith("cool-down")
    assert len(executions(sagemaker)) == 1


def test_after_the_cooldown_a_new_event_starts_again(handler: ModuleType, sagemaker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COOLDOWN_SECONDS", "3600")
    handler.handler(alarm_state_change(event_id="first"))
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    assert handler.start([handler.parse_event(alarm_state_change(event_id="second"))], now=later)["started"] is True
    assert len(executions(sagemaker)) == 2


def test_a_burst_of_object_created_events_starts_one_execution(handler: ModuleType, sagemaker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COOLDOWN_SECONDS", "21600")
    burst = [object_created(key=f"churn/daily/2026-11-26/part-{i:04d}.parquet", event_id=f"evt-{i}") for i in range(1000)]
    # The buffer queue hands the function batches of up to 1,000; reserved concurrency 1 runs them one by one.
    first = handler.handler(sqs_batch(*burst[:600]))
    second = handler.handler(sqs_batch(*burst[600:]))
    assert first["started"] is True and first["batchItemFailures"] == []
    assert second["started"] is False and second["reason"].startswith("cool-down")
    [execution] = executions(sagemaker)
    assert parameters(sagemaker, execution["PipelineExecutionArn"]) == [
        {"Name": "InputDataUrl", "Value": "s3://mlops-curated/churn/daily/2026-11-26/"}
    ]


def test_one_new_object_is_the_input_uri(handler: ModuleType, sagemaker: Any) -> None:
    result = handler.handler(object_created(key="churn/daily/2026-11-27/part-0001.parquet"))
    assert parameters(sagemaker, result["execution"]) == [
        {"Name": "InputDataUrl", "Value": "s3://mlops-curated/churn/daily/2026-11-27/part-0001.parquet"}
    ]


def test_without_input_parameter_new_data_starts_with_pipeline_defaults(handler: ModuleType, sagemaker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INPUT_PARAMETER", "")
    result = handler.handler(object_created())
    assert parameters(sagemaker, result["execution"]) == []


def test_monitoring_violations_start_the_pipeline(handler: ModuleType, sagemaker: Any) -> None:
    result = handler.handler(monitoring_job_completed())
    assert result["started"] is True
    [execution] = executions(sagemaker)
    assert "violations" in execution["PipelineExecutionDescription"]
    assert "monitoring-schedule/mlops-churn-stg-dq" in execution["PipelineExecutionDescription"]


def test_running_execution_skips(env: None) -> None:
    handler = load_handler("start_retraining")
    client = boto3.client("sagemaker", region_name=REGION)
    handler._CLIENT = client
    running = {"PipelineExecutionArn": f"arn:aws:sagemaker:{REGION}:444444444444:pipeline/{PIPELINE}/execution/abc",
               "StartTime": datetime.now(timezone.utc) - timedelta(days=3), "PipelineExecutionStatus": "Executing",
               "PipelineExecutionDescription": "retraining on data"}
    with Stubber(client) as stub:  # moto's executions finish at once, so a running one needs the Stubber
        stub.add_response("list_pipeline_executions", {"PipelineExecutionSummaries": [running]},
                          {"PipelineName": PIPELINE, "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 50})
        result = handler.handler(alarm_state_change())
        stub.assert_no_pending_responses()  # and no start_pipeline_execution was called
    assert result == {"started": False, "reason": f"an execution is running: {running['PipelineExecutionArn']}"}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"id": "x", "source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change"}, "event has no 'detail'"),
        ({"id": "x", "source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}},
         "unexpected event source 'aws.ec2'"),
        (alarm_state_change(state="OK"), "in state 'OK' is not an ALARM"),
        (alarm_state_change(alarm="mlops-other-staging-drift"), "'mlops-other-staging-drift' in state 'ALARM' is not an ALARM of the drift alarms"),
        (monitoring_job_completed(exit_message="Completed: Job completed successfully with no violations."), "not with violations"),
        ("not an event", "expected an EventBridge event object, got str"),
    ],
    ids=["no-detail", "unknown-source", "alarm-ok", "foreign-alarm", "no-violations", "not-an-object"],
)
def test_malformed_events_raise_a_clear_error(handler: ModuleType, sagemaker: Any, event: Any, message: str) -> None:
    with pytest.raises(handler.MalformedEvent, match=message.replace("(", r"\(").replace(")", r"\)")):
        handler.handler(event)
    assert executions(sagemaker) == []


def test_malformed_messages_of_a_batch_go_back_for_the_dead_letter_queue(handler: ModuleType, sagemaker: Any) -> None:
    batch = sqs_batch(alarm_state_change(), "{not json", {"id": "y", "source": "aws.s3", "detail-type": "Object Created"})
    result = handler.handler(batch)
    failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    assert failed == [batch["Records"][1]["messageId"], batch["Records"][2]["messageId"]]
    assert result["started"] is True and len(executions(sagemaker)) == 1


def test_logs_are_structured_json(handler: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="start_retraining"):
        handler.handler(alarm_state_change())
    record = json.loads(caplog.records[-1].getMessage())
    assert record["message"] == "started" and record["pipeline"] == PIPELINE and record["kinds"] == ["drift"]


def test_alarm_from_prod_is_accepted(handler: ModuleType) -> None:
    trigger = handler.parse_event(alarm_state_change(alarm="mlops-churn-prd-drift", account=PROD))
    assert (trigger.kind, trigger.subject) == ("drift", "mlops-churn-prd-drift")
