"""publish_drift_metrics: reports from moto's S3; the exact PutMetricData calls through botocore's Stubber,
and once against moto's CloudWatch with a report the drift script really wrote."""

from __future__ import annotations

import json
from importlib import import_module
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from tests.handlers.events import load_handler
from tests.handlers.moto_s3 import empty, moto_clients

REGION = "eu-west-1"
BUCKET = "mlops-monitoring-reports-555555555555"
KEY = "churn-prod/churn-drift/2026/11/26/10/report.json"
NAMESPACE = "MlopsEstate/Drift"
CREATED = datetime(2026, 11, 26, 11, 2, 3, tzinfo=timezone.utc)


def report(status: str = "ok", metrics: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A report in drift.py's layout (the fields the Lambda reads, plus a few others)."""
    default = [
        {"name": "records", "value": 1500.0, "unit": "Count", "dimensions": {}},
        {"name": "feature_psi", "value": 0.31, "unit": "None", "dimensions": {"Feature": "age"}},
        {"name": "feature_ks", "value": 0.27, "unit": "None", "dimensions": {"Feature": "age"}},
        {"name": "drift_detected_features", "value": 1.0, "unit": "Count", "dimensions": {}},
    ]
    return {"report_version": 1, "engine": "processing", "status": status, "created_at": "2026-11-26T11:02:03Z",
            "endpoint": "churn-prod", "monitor": "churn-drift", "window": {"start": "2026-11-26T10:00:00Z"},
            "drift": {"detected": status == "ok", "features": ["age"] if status == "ok" else []},
            "metrics": default if metrics is None else metrics, **extra}


def datum(name: str, value: float, unit: str = "None", **dimensions: str) -> dict[str, Any]:
    return {"MetricName": name, "Value": value, "Unit": unit, "Timestamp": CREATED,
            "Dimensions": [{"Name": "Endpoint", "Value": "churn-prod"}, {"Name": "Monitor", "Value": "churn-drift"},
                           *({"Name": k, "Value": v} for k, v in dimensions.items())]}


def object_created(key: str = KEY, bucket: str = BUCKET) -> dict[str, Any]:
    """An S3 Object Created event as EventBridge delivers it."""
    return {
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
        "source": "aws.s3", "account": "555555555555", "time": "2026-11-26T11:02:05Z", "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket},
                   "object": {"key": key, "size": 5220, "etag": "b1946ac92492d2347c6235b4d2611184",
                              "sequencer": "00617F08299329D189"},
                   "request-id": "N4N7GDK58NMKJ12R", "requester": "555555555555",
                   "source-ip-address": "10.0.12.15", "reason": "PutObject"},
    }


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    with moto_clients(REGION, [BUCKET], ["cloudwatch"]) as clients:
        yield clients


@pytest.fixture
def s3(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("METRIC_NAMESPACE", NAMESPACE)
    monkeypatch.delenv("ENDPOINT_NAME", raising=False)
    monkeypatch.delenv("MONITOR_NAME", raising=False)
    yield aws["s3"]
    empty(aws["s3"], [BUCKET])


@pytest.fixture
def handler(s3: Any, aws: dict[str, Any]) -> ModuleType:
    module = load_handler("publish_drift_metrics")
    module._CLIENTS.update(aws)
    return module


@pytest.fixture
def cloudwatch(handler: ModuleType, aws: dict[str, Any]) -> Iterator[Stubber]:
    with Stubber(aws["cloudwatch"]) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def put(s3: Any, body: Any, key: str = KEY) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body if isinstance(body, (str, bytes)) else json.dumps(body))


def expect(stubber: Stubber, data: list[dict[str, Any]]) -> None:
    stubber.add_response("put_metric_data", {}, {"Namespace": NAMESPACE, "MetricData": data})


def test_direct_invocation_publishes_every_metric_with_run_status(handler: ModuleType, s3: Any, cloudwatch: Stubber) -> None:
    put(s3, report())
    expect(cloudwatch, [datum("run_status", 1.0), datum("records", 1500.0, "Count"), datum("feature_psi", 0.31, Feature="age"),
                        datum("feature_ks", 0.27, Feature="age"), datum("drift_detected_features", 1.0, "Count")])
    result = handler.handler({"report_uri": f"s3://{BUCKET}/{KEY}", "endpoint_name": "churn-prod",
                              "monitor_name": "churn-drift"})
    assert result == {"report_uri": f"s3://{BUCKET}/{KEY}", "endpoint": "churn-prod", "monitor": "churn-drift",
                      "status": "ok", "run_status": 1.0, "drift_detected": True, "namespace": NAMESPACE,
                      "metrics_published": 5, "put_metric_data_calls": 1}


def test_eventbridge_object_created_takes_names_from_the_report(handler: ModuleType, s3: Any, cloudwatch: Stubber) -> None:
    put(s3, report(metrics=[{"name": "records", "value": 7, "unit": "Count", "dimensions": {}}]))
    expect(cloudwatch, [datum("run_status", 1.0), datum("records", 7.0, "Count")])
    result = handler.handler(object_created())
    assert (result["endpoint"], result["monitor"], result["metrics_published"]) == ("churn-prod", "churn-drift", 2)


def test_names_event_over_report_over_environment(handler: ModuleType, s3: Any, cloudwatch: Stubber,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENDPOINT_NAME", "from-env")
    monkeypatch.setenv("MONITOR_NAME", "monitor-env")
    put(s3, report(metrics=[], endpoint=None, monitor="monitor-report"))
    cloudwatch.add_response("put_metric_data", {}, {"Namespace": NAMESPACE, "MetricData": [
        {"MetricName": "run_status", "Value": 1.0, "Unit": "None", "Timestamp": CREATED,
         "Dimensions": [{"Name": "Endpoint", "Value": "from-env"}, {"Name": "Monitor", "Value": "monitor-report"}]}]})
    assert handler.handler(object_created())["endpoint"] == "from-env"
    cloudwatch.add_response("put_metric_data", {}, {"Namespace": NAMESPACE, "MetricData": [
        {"MetricName": "run_status", "Value": 1.0, "Unit": "None", "Timestamp": CREATED,
         "Dimensions": [{"Name": "Endpoint", "Value": "ev"}, {"Name": "Monitor", "Value": "mon"}]}]})
    assert handler.handler({"report_uri": f"s3://{BUCKET}/{KEY}", "endpoint_name": "ev", "monitor_name": "mon"})["monitor"] == "mon"


def test_no_data_run_publishes_run_status_zero(handler: ModuleType, s3: Any, cloudwatch: Stubber) -> None:
    put(s3, report("no_data", metrics=[{"name": "records", "value": 0.0, "unit": "Count", "dimensions": {}},
                                       {"name": "malformed_records", "value": 3.0, "unit": "Count", "dimensions": {}}]))
    expect(cloudwatch, [datum("run_status", 0.0), datum("records", 0.0, "Count"), datum("malformed_records", 3.0, "Count")])
    result = handler.handler(object_created())
    assert (result["status"], result["run_status"], result["drift_detected"]) == ("no_data", 0.0, False)


def test_batches_of_at_most_1000_data(handler: ModuleType, s3: Any, cloudwatch: Stubber) -> None:
    metrics = [{"name": "feature_psi", "value": i / 1000, "dimensions": {"Feature": f"f{i:04d}"}} for i in range(2500)]
    put(s3, report(metrics=metrics))
    data = [datum("run_status", 1.0), *(datum("feature_psi", i / 1000, Feature=f"f{i:04d}") for i in range(2500))]
    for start in (0, 1000, 2000):
        expect(cloudwatch, data[start:start + 1000])
    result = handler.handler(object_created())
    assert (result["metrics_published"], result["put_metric_data_calls"]) == (2501, 3)


@pytest.mark.parametrize(("body", "message"), [
    (report(metrics=[{"name": "records", "value": 1}, {"name": "feature_psi", "value": 0.1},
                     {"name": "feature_ks", "value": "abc", "dimensions": {"Feature": "age"}}]),
     'metrics[2].value is "abc"; expected a finite number'),
    (report(metrics=[{"name": "", "value": 1}]), 'metrics[0].name is ""; expected a string of 1-255 characters'),
    (report(metrics=[{"name": "x", "value": True}]), "metrics[0].value is true; expected a finite number"),
    (report(metrics=[{"name": "x", "value": 1, "unit": "Furlongs"}]), 'metrics[0].unit is "Furlongs"'),
    (report(metrics=[{"name": "x", "value": 1, "dimensions": {"Endpoint": "other"}}]), 'dimensions key is "Endpoint"'),
    (report(metrics=[{"name": "x", "value": 1, "dimensions": {"Feature": 3}}]), "metrics[0].dimensions.Feature is 3"),
    (report(metrics={"records": 1}), 'metrics is {"records": 1}; expected a list'),
    (report(status="drifting"), 'status is "drifting"; expected "ok" or "no_data"'),
    (report(report_version=2), "report_version is 2; expected 1"),
    ("[1, 2", "is not JSON"),
    ('"a string"', 'the report is "a string"; expected a JSON object'),
])
def test_malformed_report_fails_loudly_after_run_status_zero(handler: ModuleType, s3: Any, cloudwatch: Stubber,
                                                             body: Any, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENDPOINT_NAME", "churn-prod")
    monkeypatch.setenv("MONITOR_NAME", "churn-drift")
    put(s3, body)
    run_status = datum("run_status", 0.0)
    if not isinstance(body, dict):
        run_status["Timestamp"] = ANY  # no created_at to read: the time of the call
    expect(cloudwatch, [run_status])
    with pytest.raises(handler.MalformedReport) as error:
        handler.handler(object_created())
    assert message in str(error.value) and f"s3://{BUCKET}/{KEY}" in str(error.value)


def test_missing_report_is_a_failed_run(handler: ModuleType, s3: Any, cloudwatch: Stubber) -> None:
    expect(cloudwatch, [{**datum("run_status", 0.0), "Timestamp": ANY}])
    with pytest.raises(handler.MalformedReport, match="cannot be read"):
        handler.handler({"report_uri": f"s3://{BUCKET}/churn-prod/missing/report.json", "endpoint_name": "churn-prod",
                         "monitor_name": "churn-drift"})


@pytest.mark.parametrize(("event", "message"), [
    (object_created(key="churn-prod/churn-drift/constraint_violations.json"), "expected a key ending in report.json"),
    ({"report_uri": "https://example.com/report.json"}, 'report_uri is "https://example.com/report.json"'),
    ({"report_uri": f"s3://{BUCKET}/{KEY}", "endpoint_name": ""}, 'endpoint_name is ""'),
    ({"detail-type": "Scheduled Event", "source": "aws.events"}, '"Scheduled Event"'),
    ([1], "expected an object, got list"),
])
def test_malformed_events(handler: ModuleType, s3: Any, event: Any, message: str) -> None:
    with pytest.raises(handler.MalformedEvent, match=message.replace("(", r"\(").replace(".", r"\.")):
        handler.handler(event)


def test_names_are_required_and_namespace_too(handler: ModuleType, s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    put(s3, report(endpoint=None, monitor=None))
    with pytest.raises(handler.MalformedEvent, match="no endpoint or monitor name"):
        handler.handler(object_created())
    monkeypatch.delenv("METRIC_NAMESPACE")
    with pytest.raises(handler.MalformedEvent, match="METRIC_NAMESPACE"):
        handler.handler(object_created())


def test_a_report_the_drift_script_wrote_lands_in_cloudwatch(handler: ModuleType, s3: Any, tmp_path: Path) -> None:
    drift = import_module("mlops_estate.monitoring.scripts.drift")
    (tmp_path / "train.csv").write_text("age,plan\n" + "".join(f"{20 + i % 50},{'ab'[i % 2]}\n" for i in range(400)))
    assert drift.main(["baseline", "--data", str(tmp_path / "train.csv"), "--output", str(tmp_path / "b")]) == 0
    folder = tmp_path / "capture" / "churn-prod" / "AllTraffic" / "2026" / "11" / "26" / "10"
    folder.mkdir(parents=True)
    line = ('{{"captureData":{{"endpointInput":{{"observedContentType":"text/csv","mode":"INPUT","data":"{row}",'
            '"encoding":"CSV"}}}},"eventMetadata":{{"eventId":"e{i}","inferenceTime":"2026-11-26T10:{m:02d}:00Z"}},'
            '"eventVersion":"0"}}\n')
    (folder / "a.jsonl").write_text("".join(line.format(row=f"{60 + i % 30},a", i=i, m=i % 60) for i in range(200)))
    assert drift.main(["check", "--baseline", str(tmp_path / "b"), "--capture", str(tmp_path / "capture"), "--output",
                       str(tmp_path / "out"), "--endpoint-name", "churn-prod", "--monitor-name", "churn-drift",
                       "--window-start", "2026-11-26T10:00:00Z", "--window-end", "2026-11-26T11:00:00Z"]) == 0
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    put(s3, (tmp_path / "out" / "report.json").read_text())
    result = handler.handler(object_created())
    assert result["drift_detected"] is True and result["metrics_published"] == len(written["metrics"]) + 1
    listed = handler.client("cloudwatch").list_metrics(Namespace=NAMESPACE)["Metrics"]
    names = {(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"]))) for m in listed}
    assert ("run_status", (("Endpoint", "churn-prod"), ("Monitor", "churn-drift"))) in names
    assert ("feature_drift", (("Endpoint", "churn-prod"), ("Feature", "age"), ("Monitor", "churn-drift"))) in names
    assert len(names) == len(written["metrics"]) + 1
