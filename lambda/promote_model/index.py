"""React to model package state changes in the shared registry.

  * Approved: start the model's promotion pipeline (CodePipeline V2) with the package ARN as the pipeline
    variable; the pipeline deploys it to staging, waits for a manual approval, then deploys it to prod.
    The clientRequestToken comes from the event id, so a redelivered event starts nothing new.
  * Rejected: nothing to do (logged).
  * PendingManualApproval: tell the approvers (SNS) what to review and how to approve.

Events of groups this function does not promote, or of an unknown shape, raise `MalformedEvent`, so the
invocation fails and the event ends in the dead-letter queue after the bounded retries.

Environment: PIPELINES (JSON object: model package group name -> promotion pipeline name), TOPIC_ARN,
VARIABLE_NAME (the pipeline variable that carries the model package ARN).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any

import boto3

LOGGER = logging.getLogger("promote_model")
LOGGER.setLevel(logging.INFO)
DETAIL_TYPE = "SageMaker Model Package State Change"
_CLIENTS: dict[str, Any] = {}


class MalformedEvent(ValueError):
    """The event is not one this function is wired to receive."""


def log(level: int, message: str, **fields: Any) -> None:
    LOGGER.log(level, json.dumps({"message": message, **fields}, default=str, sort_keys=True))


def client(service: str) -> Any:
    if service not in _CLIENTS:
        _CLIENTS[service] = boto3.client(service)
    return _CLIENTS[service]


def parse(event: Any) -> tuple[str, dict[str, Any]]:
    """(event id, detail) of a model package state change, or MalformedEvent saying what is wrong."""
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        raise MalformedEvent(f"expected an EventBridge event with a detail object, got {json.dumps(event, default=str)[:200]}")
    event_id = str(event.get("id", ""))
    if event.get("source") != "aws.sagemaker" or event.get("detail-type") != DETAIL_TYPE or not event_id:
        raise MalformedEvent(
            f"expected source 'aws.sagemaker', detail-type {DETAIL_TYPE!r} and an id, got "
            f"{event.get('source')!r} / {event.get('detail-type')!r} / {event_id!r}"
        )
    detail = event["detail"]
    missing = [k for k in ("ModelPackageGroupName", "ModelPackageArn", "ModelApprovalStatus") if not detail.get(k)]
    if missing:
        raise MalformedEvent(f"event {event_id}: detail lacks {', '.join(missing)}")
    return event_id, detail


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    try:
        event_id, detail = parse(event)
        pipelines: dict[str, str] = json.loads(os.environ["PIPELINES"])
        group, arn, status = detail["ModelPackageGroupName"], detail["ModelPackageArn"], detail["ModelApprovalStatus"]
        if group not in pipelines:
            raise MalformedEvent(f"event {event_id}: model package group {group!r} is not promoted here (known: {sorted(pipelines)})")
        if status not in ("Approved", "Rejected", "PendingManualApproval"):
            raise MalformedEvent(f"event {event_id}: unknown ModelApprovalStatus {status!r}")
    except MalformedEvent as exc:
        log(logging.ERROR, "malformed event", error=str(exc))
        raise
    fields = {"group": group, "model_package": arn, "status": status, "event_id": event_id}
    if status == "Approved":
        pipeline = pipelines[group]
        execution = client("codepipeline").start_pipeline_execution(
            name=pipeline,
            variables=[{"name": os.environ.get("VARIABLE_NAME", "ModelPackageArn"), "value": arn}],
            clientRequestToken=hashlib.sha256(f"{event_id}|{arn}".encode()).hexdigest(),
        )["pipelineExecutionId"]
        log(logging.INFO, "promotion started", pipeline=pipeline, execution=execution, **fields)
        return {"action": "promote", "pipeline": pipeline, "execution": execution}
    if status == "PendingManualApproval":
        version = detail.get("ModelPackageVersion", "?")
        message = (
            f"Model package {arn} (group {group}, version {version}) is waiting for approval.\n"
            f"Review its metrics in SageMaker Studio (Models > {group}), then approve it with:\n"
            f"  aws sagemaker update-model-package --model-package-arn {arn} --model-approval-status Approved\n"
            f"Approval starts the promotion to staging; prod needs a second, manual approval in the pipeline."
        )
        message_id = client("sns").publish(
            TopicArn=os.environ["TOPIC_ARN"], Subject=f"Model {group} v{version} awaits approval"[:99], Message=message
        )["MessageId"]
        log(logging.INFO, "approvers notified", message_id=message_id, **fields)
        return {"action": "notify", "message_id": message_id}
    log(logging.INFO, "rejected, nothing to promote", **fields)
    return {"action": "none"}
