"""Resolve one run of the portable drift engine: the window, the baseline, and manifests of the window's files.

Invoked by the first step (a LambdaStep) of a `DriftMonitor` pipeline with::

    {"endpoint_name": "churn-prod", "capture_uri": "s3://capture-bucket/data-capture",
     "work_uri": "s3://reports-bucket/<prefix>/runs", "execution_id": "<pipeline execution id>",
     "window_hours": 1, "end_offset_hours": 0,
     "ground_truth_uri": "s3://labels/churn/" | "", "use_ground_truth": "true" | "false",
     "baseline_uri": "s3://.../baseline.json" | ""}

The window ends ``end_offset_hours`` before the current hour starts and lasts ``window_hours``. Capture files are
listed under ``<capture_uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/`` for the window's hours (one hour of slack on each
side: SageMaker files an event under the hour it wrote it; the drift script keeps only events whose inference time
lies in the window). Ground truth (SageMaker's merge layout ``<ground_truth_uri>/yyyy/mm/dd/hh/``) is listed from
the window's start until now, since labels arrive after the inferences they label. Each list becomes a SageMaker
``ManifestFile`` under ``<work_uri>/<execution_id>/``; a list with no file names an empty marker object there, so the
job always starts and reports ``no_data`` (run_status 0: an alarm, never silence).

The baseline is ``baseline_uri`` when given; otherwise the one registered with the model version the endpoint serves
(the variant with the highest weight): endpoint -> endpoint config -> model -> model package, whose
``ModelMetrics.ModelDataQuality.Statistics`` names the ``baseline.json`` its build pipeline profiled.

Returns (every value a string, as the pipeline's output parameters are declared): ``baseline_uri``,
``capture_manifest_uri``, ``ground_truth_manifest_uri``, ``window_start``, ``window_end`` (ISO-8601, UTC),
``capture_files``, ``ground_truth_files``, ``model_package_arn`` ("" with a fixed baseline).

A malformed event raises ``MalformedEvent`` naming the field and quoting its value; a missing baseline raises
``BaselineNotFound`` saying what to register. Either fails the pipeline step, which the monitor's failure alarm sees.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

LOGGER = logging.getLogger("resolve_drift_window")
LOGGER.setLevel(logging.INFO)
S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(?P<key>.*))?$")
MAX_WINDOW_HOURS = 24 * 7
MAX_OFFSET_HOURS = 24 * 30
EMPTY_MARKER = "empty/empty.jsonl"
_CLIENTS: dict[str, Any] = {}


class MalformedEvent(ValueError):
    """The invocation does not have the documented fields."""


class BaselineNotFound(LookupError):
    """The endpoint's model version names no drift baseline."""


def client(name: str) -> Any:
    if name not in _CLIENTS:
        _CLIENTS[name] = boto3.client(name)
    return _CLIENTS[name]


def log(level: int, message: str, **fields: Any) -> None:
    LOGGER.log(level, json.dumps({"message": message, **fields}, default=str, sort_keys=True))


def _field(event: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = event.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise MalformedEvent(f"{name} is {json.dumps(value, default=str)}; expected a non-empty string")
    return value.strip()


def _s3(event: dict[str, Any], name: str, *, required: bool = True) -> tuple[str, str] | None:
    text = _field(event, name, required=required)
    if not text:
        return None
    match = S3_URI.match(text)
    if not match:
        raise MalformedEvent(f"{name} is {json.dumps(text)}; expected an S3 URI like s3://bucket/prefix")
    return match.group("bucket"), (match.group("key") or "").strip("/")


def _hours(event: dict[str, Any], name: str, low: int, high: int) -> int:
    value = event.get(name)
    try:
        number = int(value) if not isinstance(value, bool) else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high or (isinstance(value, float) and not value.is_integer()):
        raise MalformedEvent(f"{name} is {json.dumps(value, default=str)}; expected a whole number of hours from {low} to {high}")
    return number


def _flag(event: dict[str, Any], name: str) -> bool:
    value = event.get(name, "false")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise MalformedEvent(f"{name} is {json.dumps(value, default=str)}; expected true or false")


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def list_keys(bucket: str, prefix: str) -> list[str]:
    """Every object key under ``prefix`` (a folder: ends with ``/``)."""
    keys: list[str] = []
    for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/"))
    return keys


def list_folders(bucket: str, prefix: str) -> list[str]:
    folders: list[str] = []
    for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        folders.extend(item["Prefix"] for item in page.get("CommonPrefixes", []))
    return folders


def hour_folders(start: datetime, end: datetime) -> list[str]:
    """``yyyy/mm/dd/hh/`` of every hour from ``start`` (inclusive) to ``end`` (exclusive)."""
    folders, moment = [], start
    while moment < end:
        folders.append(moment.strftime("%Y/%m/%d/%H/"))
        moment += timedelta(hours=1)
    return folders


def capture_keys(bucket: str, root: str, endpoint: str, start: datetime, end: datetime) -> list[str]:
    base = _join(root, endpoint) + "/"
    keys: list[str] = []
    for variant in list_folders(bucket, base):
        for hour in hour_folders(start - timedelta(hours=1), end + timedelta(hours=1)):
            keys.extend(list_keys(bucket, variant + hour))
    return keys


def ground_truth_keys(bucket: str, root: str, start: datetime, now: datetime) -> list[str]:
    base = root + "/" if root else ""
    keys: list[str] = []
    for hour in hour_folders(start, now + timedelta(hours=1)):
        keys.extend(list_keys(bucket, base + hour))
    return keys


def write_manifest(name: str, keys: list[str], *, bucket: str, root: str, work: tuple[str, str]) -> str:
    """A ManifestFile of ``keys`` (relative to ``root``), or of the empty marker when there are none; its S3 URI."""
    work_bucket, work_prefix = work
    if keys:
        prefix = f"s3://{bucket}/{root + '/' if root else ''}"
        entries: list[Any] = [{"prefix": prefix}, *(k[len(root) + 1 if root else 0:] for k in sorted(keys))]
    else:
        client("s3").put_object(Bucket=work_bucket, Key=_join(work_prefix, EMPTY_MARKER), Body=b"")
        entries = [{"prefix": f"s3://{work_bucket}/{work_prefix}/"}, EMPTY_MARKER]
    key = _join(work_prefix, f"{name}.manifest")
    client("s3").put_object(Bucket=work_bucket, Key=key, Body=json.dumps(entries).encode(), ContentType="application/json")
    return f"s3://{work_bucket}/{key}"


def served_package(endpoint: str) -> str:
    """The model package ARN behind the endpoint's most heavily weighted variant."""
    sagemaker = client("sagemaker")
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    variants = described.get("ProductionVariants") or []
    if not variants:
        raise BaselineNotFound(f"endpoint {endpoint!r} has no production variants (status {described.get('EndpointStatus')!r})")
    primary = max(variants, key=lambda v: (v.get("CurrentWeight", 0.0), v.get("VariantName", "")))
    config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    model_name = next((v["ModelName"] for v in config["ProductionVariants"] if v["VariantName"] == primary["VariantName"]), None)
    if model_name is None:
        raise BaselineNotFound(f"endpoint config {described['EndpointConfigName']!r} has no variant {primary['VariantName']!r}")
    model = sagemaker.describe_model(ModelName=model_name)
    containers = [model["PrimaryContainer"]] if "PrimaryContainer" in model else model.get("Containers", [])
    package = next((c.get("ModelPackageName") for c in containers if c.get("ModelPackageName")), None)
    if not package:
        raise BaselineNotFound(f"model {model_name!r} of endpoint {endpoint!r} was not created from a model package; give the "
                               "monitor a fixed baseline_uri instead")
    return str(package)


def registered_baseline(package: str) -> str:
    described = client("sagemaker").describe_model_package(ModelPackageName=package)
    uri = (((described.get("ModelMetrics") or {}).get("ModelDataQuality") or {}).get("Statistics") or {}).get("S3Uri")
    if not uri:
        raise BaselineNotFound(f"model package {package!r} registers no drift baseline: its build pipeline must profile the "
                               "training data (drift.py baseline) and register baseline.json as "
                               "ModelMetrics.ModelDataQuality.Statistics")
    return str(uri)


def handler(event: Any, context: Any = None, *, now: datetime | None = None) -> dict[str, str]:
    if not isinstance(event, dict):
        raise MalformedEvent(f"expected an object, got {type(event).__name__}")
    endpoint = _field(event, "endpoint_name")
    capture = _s3(event, "capture_uri")
    work = _s3(event, "work_uri")
    execution = _field(event, "execution_id")
    if not re.fullmatch(r"[A-Za-z0-9\-]{1,128}", execution):
        raise MalformedEvent(f"execution_id is {json.dumps(execution)}; expected a pipeline execution id")
    window_hours = _hours(event, "window_hours", 1, MAX_WINDOW_HOURS)
    offset_hours = _hours(event, "end_offset_hours", 0, MAX_OFFSET_HOURS)
    truth = _s3(event, "ground_truth_uri", required=False)
    use_truth = _flag(event, "use_ground_truth")
    if use_truth and truth is None:
        raise MalformedEvent('use_ground_truth is "true" but ground_truth_uri is ""; give the S3 prefix of the labels')
    fixed = _field(event, "baseline_uri", required=False)
    if fixed and not S3_URI.match(fixed):
        raise MalformedEvent(f"baseline_uri is {json.dumps(fixed)}; expected an S3 URI like s3://bucket/baseline.json")
    assert capture is not None and work is not None  # required above

    current = (now or datetime.now(timezone.utc)).replace(minute=0, second=0, microsecond=0)
    end = current - timedelta(hours=offset_hours)
    start = end - timedelta(hours=window_hours)
    package = "" if fixed else served_package(endpoint)
    baseline = fixed or registered_baseline(package)

    run = (work[0], _join(work[1], execution))
    captured = capture_keys(capture[0], capture[1], endpoint, start, end)
    labels = ground_truth_keys(truth[0], truth[1], start, current) if use_truth and truth is not None else []
    result = {
        "baseline_uri": baseline,
        "capture_manifest_uri": write_manifest("capture", captured, bucket=capture[0], root=capture[1], work=run),
        "ground_truth_manifest_uri": write_manifest("ground-truth", labels, bucket=truth[0] if truth else "",
                                                    root=truth[1] if truth else "", work=run),
        "window_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window_end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "capture_files": str(len(captured)),
        "ground_truth_files": str(len(labels)),
        "model_package_arn": package,
    }
    log(logging.INFO, "drift run resolved", endpoint=endpoint, execution=execution, **result)
    return result
