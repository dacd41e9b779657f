"""promote_model: CodePipeline through botocore's Stubber (moto has no start_pipeline_execution), SNS through moto."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.handlers.events import REGION, load_handler, model_package_state_change

PIPELINES = {"mlops-churn": "mlops-churn-promotion", "mlops-spend-forecast": "mlops-spend-forecast-promotion"}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "PIPELINES": json.dumps(PIPELINES), "VARIABLE_NAME": "ModelPackageArn"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="approvals")["TopicArn"]
        queue = sqs.create_queue(QueueName="approvers")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv("TOPIC_ARN", topic)
        yield {"sqs": sqs, "queue": queue}


@pytest.fixture
def handler(aws: dict[str, Any]) -> Iterator[ModuleType]:
    module = load_handler("promote_model")
    codepipeline = boto3.client("codepipeline", region_name=REGION)
    module._CLIENTS["codepipeline"] = codepipeline
    with Stubber(codepipeline) as stub:
        module.stub = stub  # type: ignore[attr-defined]
        yield module
        stub.assert_no_pending_responses()


def notifications(aws: dict[str, Any]) -> list[dict[str, Any]]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_approved_starts_the_promotion_with_the_package_arn(handler: ModuleType, aws: dict[str, Any]) -> None:
    event = model_package_state_change("Approved")
    arn = event["detail"]["ModelPackageArn"]
    handler.stub.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": "3137f7cb-7cf7-4b2f-9c4e-3ed5b2b6d1e9"},
        {"name": "mlops-churn-promotion", "variables": [{"name": "ModelPackageArn", "value": arn}],
         "clientRequestToken": hashlib.sha256(f"{event['id']}|{arn}".encode()).hexdigest()},
    )
    assert handler.handler(event) == {"action": "promote", "pipeline": "mlops-churn-promotion",
                                      "execution": "3137f7cb-7cf7-4b2f-9c4e-3ed5b2b6d1e9"}
    assert notifications(aws) == []


def test_redelivered_approval_reuses_the_request_token(handler: ModuleType) -> None:
    event = model_package_state_change("Approved")
    tokens = []
    for _ in range(2):
        handler.stub.add_response("start_pipeline_execution", {"pipelineExecutionId": "3137f7cb-7cf7-4b2f-9c4e-3ed5b2b6d1e9"})
    client = handler._CLIENTS["codepipeline"]
    client.meta.events.register("provide-client-params.codepipeline.StartPipelineExecution",
                                lambda params, **_: tokens.append(params["clientRequestToken"]))
    handler.handler(event)
    handler.handler(event)
    # CodePipeline returns the first execution for a repeated token: one promotion per approval event.
    assert len(tokens) == 2 and tokens[0] == tokens[1]


def test_pending_manual_approval_notifies_the_approvers(handler: ModuleType, aws: dict[str, Any]) -> None:
    result = handler.handler(model_package_state_change("PendingManualApproval", version=4))
    assert result["action"] == "notify"
    [note] = notifications(aws)
    assert note["Subject"] == "Model mlops-churn v4 awaits approval"
    assert "model-package/mlops-churn/4 --model-approval-status Approved" in note["Message"]


def test_rejected_does_nothing(handler: ModuleType, aws: dict[str, Any]) -> None:
    assert handler.handler(model_package_state_change("Rejected")) == {"action": "none"}
    assert notifications(aws) == []  # and the stub saw no start_pipeline_execution


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (model_package_state_change(group="someone-elses-group"), "model package group 'someone-elses-group' is not promoted here"),
        (model_package_state_change(status="Deleted"), "unknown ModelApprovalStatus 'Deleted'"),
        ({**model_package_state_change(), "detail-type": "SageMaker Endpoint State Change"}, "expected source 'aws.sagemaker', detail-type"),
        ({**model_package_state_change(), "detail": {"ModelPackageGroupName": "mlops-churn"}}, "detail lacks ModelPackageArn, ModelApprovalStatus"),
        ({"source": "aws.sagemaker"}, "expected an EventBridge event with a detail object"),
    ],
    ids=["foreign-group", "unknown-status", "wrong-detail-type", "missing-fields", "no-detail"],
)
def test_malformed_events_raise_a_clear_error(handler: ModuleType, aws: dict[str, Any], event: Any, message: str) -> None:
    with pytest.raises(handler.MalformedEvent, match=message):
        handler.handler(event)
    assert notifications(aws) == []

