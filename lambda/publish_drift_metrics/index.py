"""Publish a drift report's metrics to CloudWatch (the portable drift engine's network-isolated job cannot).

Invocation, either shape:
  * direct (a SageMaker pipeline LambdaStep, or any caller)::

        {"report_uri": "s3://bucket/prefix/report.json", "endpoint_name": "churn-prod", "monitor_name": "churn-drift"}

    ``endpoint_name`` / ``monitor_name`` are optional when the report (``endpoint``, ``monitor``) or the
    environment (``ENDPOINT_NAME``, ``MONITOR_NAME``) names them; the event wins over the report, the report
    over the environment;
  * an EventBridge ``Object Created`` event of S3 (``source`` ``aws.s3``) for a key ending in ``report.json``.

The report (``report.json``, ``report_version`` 1, written by monitoring/scripts/drift.py) is validated: a
malformed one raises ``MalformedReport`` naming the field and quoting its value; nothing is dropped silently.
Each entry of its ``metrics`` list becomes one datum in the namespace ``METRIC_NAMESPACE`` with the dimensions
``Endpoint``, ``Monitor`` and the entry's own, timestamped with the report's ``created_at``; ``PutMetricData``
calls carry at most 1,000 data each. One more datum, ``run_status`` (``Endpoint``, ``Monitor``), is 1 for a
report with status ``ok`` and 0 for ``no_data`` or for a report that cannot be read or is malformed (published
before the error is raised), so an alarm on ``run_status < 1`` or on missing data catches empty and failed runs.

Returns ``{"report_uri", "endpoint", "monitor", "status", "run_status", "drift_detected", "namespace",
"metrics_published", "put_metric_data_calls"}``.

Environment: METRIC_NAMESPACE (required), ENDPOINT_NAME, MONITOR_NAME (optional defaults).
"""

from __future__ import annotations

import json
import logging
import math
import os
from datetime import datetime, timezone
from typing import Any

import boto3

LOGGER = logging.getLogger("publish_drift_metrics")
LOGGER.setLevel(logging.INFO)
MAX_PER_CALL = 1000  # PutMetricData: data per call
MAX_DIMENSIONS = 30  # per datum
REPORT_VERSION = 1
STATUSES = {"ok": 1.0, "no_data": 0.0}
UNITS = {"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
         "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
         "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
         "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}
RESERVED = {"Endpoint", "Monitor"}
_CLIENTS: dict[str, Any] = {}


class MalformedEvent(ValueError):
    """The invocation is not one of the two documented shapes."""


class MalformedReport(ValueError):
    """The report cannot be read or does not have the documented layout."""


def client(name: str) -> Any:
    if name not in _CLIENTS:
        _CLIENTS[name] = boto3.client(name)
    return _CLIENTS[name]


def log(level: int, message: str, **fields: Any) -> None:
    LOGGER.log(level, json.dumps({"message": message, **fields}, default=str, sort_keys=True))


def _text(value: Any, where: str, error: type[ValueError]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise error(f"{where} is {json.dumps(value, default=str)}; expected a non-empty string")
    return value


def parse_event(event: Any) -> tuple[str, str, str, str | None, str | None]:
    """(report URI, bucket, key, endpoint name or None, monitor name or None) of an invocation."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"expected an object, got {type(event).__name__}")
    if "report_uri" in event:
        uri = _text(event["report_uri"], "report_uri", MalformedEvent)
        if not uri.startswith("s3://") or "/" not in uri[5:] or uri.endswith("/"):
            raise MalformedEvent(f"report_uri is {json.dumps(uri)}; expected s3://<bucket>/<key>")
        bucket, key = uri[5:].split("/", 1)
        names = [None if event.get(k) is None else _text(event[k], k, MalformedEvent) for k in ("endpoint_name", "monitor_name")]
        return uri, bucket, key, names[0], names[1]
    if event.get("source") == "aws.s3" and event.get("detail-type") == "Object Created":
        detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
        bucket = _text((detail.get("bucket") or {}).get("name"), "detail.bucket.name", MalformedEvent)
        key = _text((detail.get("object") or {}).get("key"), "detail.object.key", MalformedEvent)
        if not key.endswith("report.json"):
            raise MalformedEvent(f"detail.object.key is {json.dumps(key)}; expected a key ending in report.json "
                                 f"(event id {event.get('id', '?')})")
        return f"s3://{bucket}/{key}", bucket, key, None, None
    raise MalformedEvent("expected {\"report_uri\": \"s3://...\"} or an S3 Object Created event; got "
                         f"keys {sorted(event)[:10]} (source {json.dumps(event.get('source'))}, "
                         f"detail-type {json.dumps(event.get('detail-type'))})")


def read_report(bucket: str, key: str) -> Any:
    uri = f"s3://{bucket}/{key}"
    try:
        body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:  # noqa: BLE001 - any failure to read is a failed run, reported below
        raise MalformedReport(f"{uri} cannot be read: {error}") from error
    try:
        return json.loads(body)
    except ValueError as error:
        raise MalformedReport(f"{uri} is not JSON ({error}): {body[:200]!r}") from None


def validate(report: Any, uri: str) -> list[dict[str, Any]]:
    """The report's metrics as PutMetricData data (without the Endpoint/Monitor dimensions yet)."""
    def bad(where: str, value: Any, expected: str) -> MalformedReport:
        return MalformedReport(f"{uri}: {where} is {json.dumps(value, default=str)[:200]}; expected {expected}")

    if not isinstance(report, dict):
        raise bad("the report", report, "a JSON object")
    if report.get("report_version") != REPORT_VERSION:
        raise bad("report_version", report.get("report_version"), str(REPORT_VERSION))
    if report.get("status") not in STATUSES:
        raise bad("status", report.get("status"), " or ".join(map(json.dumps, STATUSES)))
    metrics = report.get("metrics")
    if not isinstance(metrics, list):
        raise bad("metrics", metrics, "a list")
    data = []
    for i, item in enumerate(metrics):
        where = f"metrics[{i}]"
        if not isinstance(item, dict):
            raise bad(where, item, "an object with name, value, dimensions")
        name, value = item.get("name"), item.get("value")
        if not isinstance(name, str) or not 0 < len(name) <= 255:
            raise bad(f"{where}.name", name, "a string of 1-255 characters")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad(f"{where}.value", value, "a finite number")
        unit = item.get("unit", "None")
        if unit not in UNITS:
            raise bad(f"{where}.unit", unit, "a CloudWatch unit")
        dimensions = item.get("dimensions", {})
        if not isinstance(dimensions, dict) or len(dimensions) > MAX_DIMENSIONS - len(RESERVED):
            raise bad(f"{where}.dimensions", dimensions, f"an object of at most {MAX_DIMENSIONS - len(RESERVED)} names")
        for dim, dim_value in dimensions.items():
            if dim in RESERVED or not isinstance(dim, str) or not 0 < len(dim) <= 255:
                raise bad(f"{where}.dimensions key", dim, f"a name of 1-255 characters other than {sorted(RESERVED)}")
            if not isinstance(dim_value, str) or not 0 < len(dim_value) <= 1024:
                raise bad(f"{where}.dimensions.{dim}", dim_value, "a string of 1-1024 characters")
        data.append({"MetricName": name, "Value": float(value), "Unit": unit,
                     "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]})
    return data


def _timestamp(report: Any) -> datetime:
    created = report.get("created_at") if isinstance(report, dict) else None
    if isinstance(created, str):
        try:
            moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    return datetime.now(timezone.utc)


def publish(namespace: str, data: list[dict[str, Any]]) -> int:
    """PutMetricData in calls of at most MAX_PER_CALL data; returns the number of calls."""
    calls = 0
    for start in range(0, len(data), MAX_PER_CALL):
        client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=data[start:start + MAX_PER_CALL])
        calls += 1
    return calls


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    namespace = _text(os.environ.get("METRIC_NAMESPACE"), "environment variable METRIC_NAMESPACE", MalformedEvent)
    uri, bucket, key, endpoint, monitor = parse_event(event)
    report: Any = None
    error: MalformedReport | None = None
    data: list[dict[str, Any]] = []
    try:
        report = read_report(bucket, key)
        data = validate(report, uri)
    except MalformedReport as failure:
        error = failure
    from_report = report if isinstance(report, dict) else {}
    endpoint = endpoint or from_report.get("endpoint") or os.environ.get("ENDPOINT_NAME")
    monitor = monitor or from_report.get("monitor") or os.environ.get("MONITOR_NAME")
    if not isinstance(endpoint, str) or not endpoint or not isinstance(monitor, str) or not monitor:
        raise MalformedEvent(f"{uri}: no endpoint or monitor name (endpoint {json.dumps(endpoint)}, monitor "
                             f"{json.dumps(monitor)}): pass endpoint_name/monitor_name, write them into the report "
                             "or set ENDPOINT_NAME/MONITOR_NAME") from error
    status = from_report.get("status") if error is None else "failed"
    run_status = STATUSES.get(str(status), 0.0)
    timestamp = _timestamp(report)
    base = [{"Name": "Endpoint", "Value": endpoint}, {"Name": "Monitor", "Value": monitor}]
    data = [{"MetricName": "run_status", "Value": run_status, "Unit": "None"}, *data]
    for datum in data:
        datum["Dimensions"] = base + datum.get("Dimensions", [])
        datum["Timestamp"] = timestamp
    calls = publish(namespace, data)
    if error is not None:
        log(logging.ERROR, "malformed drift report", report_uri=uri, error=str(error), run_status=run_status)
        raise error
    summary = {"report_uri": uri, "endpoint": endpoint, "monitor": monitor, "status": status, "run_status": run_status,
               "drift_detected": bool((from_report.get("drift") or {}).get("detected")), "namespace": namespace,
               "metrics_published": len(data), "put_metric_data_calls": calls}
    log(logging.INFO if run_status else logging.WARNING, "drift metrics published", **summary)
    return summary
