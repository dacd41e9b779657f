"""Start a model's SageMaker pipeline when its data drifts, its monitor finds violations or new data arrives.

Triggers (EventBridge events, delivered one by one or in SQS batches):
  * CloudWatch Alarm State Change to ALARM of one of the model's drift alarms (forwarded from staging/prod),
  * SageMaker Processing Job State Change of a Model Monitor job that completed with violations,
  * S3 Object Created in the data lake (its S3 URI becomes the pipeline's input parameter).

A batch of triggers starts at most one execution. The ClientRequestToken is derived from the triggering
event ids, and the token is also written into the execution description, so a redelivered event starts
nothing new. While an execution runs, or within the cool-down after the last start, triggers are skipped.
Malformed or unexpected events raise `MalformedEvent` (direct invocation) or are reported as batch item
failures (SQS), so they end in the dead-letter queue; nothing is silently dropped.

Environment: PIPELINE_NAME, COOLDOWN_SECONDS, INPUT_PARAMETER (optional), ALARM_NAMES (comma-separated).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

LOGGER = logging.getLogger("start_retraining")
LOGGER.setLevel(logging.INFO)
ACTIVE = {"Executing", "Stopping"}
_CLIENT: Any = None


class MalformedEvent(ValueError):
    """The event is not one this function is wired to receive."""


@dataclass(frozen=True)
class Trigger:
    kind: str  # "drift" | "violations" | "data"
    event_id: str
    subject: str  # alarm name, monitoring schedule ARN or s3:// URI
    bucket: str = ""
    key: str = ""


def log(level: int, message: str, **fields: Any) -> None:
    LOGGER.log(level, json.dumps({"message": message, **fields}, default=str, sort_keys=True))


def sagemaker() -> Any:
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = boto3.client("sagemaker")
    return _CLIENT


def _field(data: Any, *path: str) -> Any:
    node = data
    for i, key in enumerate(path):
        if not isinstance(node, dict) or key not in node:
            raise MalformedEvent(f"event has no '{'.'.join(path[: i + 1])}' (event id {_id(data)})")
        node = node[key]
    return node


def _id(event: Any) -> str:
    return str(event.get("id", "?")) if isinstance(event, dict) else "?"


def parse_event(event: Any) -> Trigger:
    """Turn one EventBridge event into a Trigger, or raise MalformedEvent saying what is wrong."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"expected an EventBridge event object, got {type(event).__name__}")
    event_id = str(_field(event, "id"))
    source, detail_type = _field(event, "source"), _field(event, "detail-type")
    if (source, detail_type) == ("aws.cloudwatch", "CloudWatch Alarm State Change"):
        name, state = _field(event, "detail", "alarmName"), _field(event, "detail", "state", "value")
        allowed = [n for n in os.environ.get("ALARM_NAMES", "").split(",") if n]
        if state != "ALARM" or name not in allowed:
            raise MalformedEvent(f"alarm {name!r} in state {state!r} is not an ALARM of the drift alarms {allowed} (event id {event_id})")
        return Trigger("drift", event_id, str(name))
    if (source, detail_type) == ("aws.sagemaker", "SageMaker Processing Job State Change"):
        schedule = _field(event, "detail", "MonitoringScheduleArn")
        status, exit_message = _field(event, "detail", "ProcessingJobStatus"), str(event["detail"].get("ExitMessage", ""))
        if status != "Completed" or not exit_message.startswith("CompletedWithViolations"):
            raise MalformedEvent(f"monitoring job of {schedule} ended {status!r} ({exit_message!r}), not with violations (event id {event_id})")
        return Trigger("violations", event_id, str(schedule))
    if (source, detail_type) == ("aws.s3", "Object Created"):
        bucket, key = str(_field(event, "detail", "bucket", "name")), str(_field(event, "detail", "object", "key"))
        return Trigger("data", event_id, f"s3://{bucket}/{key}", bucket, key)
    raise MalformedEvent(f"unexpected event source {source!r} / detail-type {detail_type!r} (event id {event_id})")


def input_uri(triggers: list[Trigger]) -> str | None:
    """The S3 prefix that holds the newly arrived objects (of the last trigger's bucket)."""
    data = [t for t in triggers if t.kind == "data"]
    if not data:
        return None
    bucket = data[-1].bucket
    keys = [t.key for t in data if t.bucket == bucket]
    if len(set(keys)) == 1:
        return f"s3://{bucket}/{keys[0]}"  # one object: exactly it
    common = os.path.commonprefix(keys)  # several: the deepest folder holding them all
    return f"s3://{bucket}/{common.rpartition('/')[0] + '/' if '/' in common else ''}"


def token_for(triggers: list[Trigger]) -> str:
    return hashlib.sha256("|".join(sorted({t.event_id for t in triggers})).encode()).hexdigest()[:64]


def start(triggers: list[Trigger], now: datetime | None = None) -> dict[str, Any]:
    """Start one pipeline execution for a batch of triggers, unless a duplicate, running or cooling down."""
    pipeline = os.environ["PIPELINE_NAME"]
    cooldown = timedelta(seconds=int(os.environ.get("COOLDOWN_SECONDS", "0")))
    now = now or datetime.now(timezone.utc)
    token = token_for(triggers)
    kinds = sorted({t.kind for t in triggers})
    summaries = sagemaker().list_pipeline_executions(
        PipelineName=pipeline, SortBy="CreationTime", SortOrder="Descending", MaxResults=50
    )["PipelineExecutionSummaries"]
    summaries.sort(key=lambda s: s["StartTime"], reverse=True)
    reason = None
    if any(token in s.get("PipelineExecutionDescription", "") for s in summaries):
        reason = "duplicate: an execution was already started for these events"
    elif running := [s["PipelineExecutionArn"] for s in summaries if s["PipelineExecutionStatus"] in ACTIVE]:
        reason = f"an execution is running: {running[0]}"
    elif summaries and now - summaries[0]["StartTime"] < cooldown:
        reason = f"cool-down: last execution started {summaries[0]['StartTime'].isoformat()}, window {cooldown}"
    if reason:
        log(logging.INFO, "skipped", pipeline=pipeline, reason=reason, triggers=len(triggers), kinds=kinds, token=token)
        return {"started": False, "reason": reason}
    parameters = []
    uri, parameter = input_uri(triggers), os.environ.get("INPUT_PARAMETER", "")
    if uri and parameter:
        parameters.append({"Name": parameter, "Value": uri})
    subjects = sorted({t.subject for t in triggers if t.kind != "data"})
    description = f"retraining on {'+'.join(kinds)} ({len(triggers)} events{': ' + ', '.join(subjects)[:1500] if subjects else ''}); trigger {token}"
    arn = sagemaker().start_pipeline_execution(
        PipelineName=pipeline,
        ClientRequestToken=token,
        PipelineExecutionDescription=description,
        PipelineParameters=parameters,
    )["PipelineExecutionArn"]
    log(logging.INFO, "started", pipeline=pipeline, execution=arn, kinds=kinds, triggers=len(triggers), input=uri, token=token)
    return {"started": True, "execution": arn}


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    if isinstance(event, dict) and "Records" in event:  # SQS batch from the buffer queue
        triggers, failures = [], []
        for record in event["Records"]:
            try:
                triggers.append(parse_event(json.loads(record["body"])))
            except (MalformedEvent, ValueError, KeyError, TypeError) as exc:
                log(logging.ERROR, "malformed event, sent back for the dead-letter queue", error=str(exc), message_id=record.get("messageId"))
                failures.append({"itemIdentifier": record.get("messageId", "")})
        result = start(triggers) if triggers else {"started": False, "reason": "no valid events"}
        return {**result, "batchItemFailures": failures}
    try:
        return start([parse_event(event)])
    except MalformedEvent as exc:
        log(logging.ERROR, "malformed event", error=str(exc))
        raise
