"""resolve_drift_window: capture and ground-truth files in moto's S3 (SageMaker's layouts), the SageMaker describe
chain through botocore's Stubber (exact requests), and the manifests it writes read back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.handlers.events import load_handler
from tests.handlers.moto_s3 import empty, moto_clients

REGION = "eu-west-1"
CAPTURE = "mlops-data-capture-555555555555"
REPORTS = "mlops-monitoring-reports-555555555555"
LABELS = "mlops-ground-truth"
ENDPOINT = "mlops-prod-churn"
NOW = datetime(2026, 11, 26, 11, 17, 42, tzinfo=timezone.utc)  # the run: window 10:00-11:00
PACKAGE = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-churn/7"
BASELINE = "s3://mlops-registry-artifacts/models/churn/baseline/exec-1/baseline.json"


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    with moto_clients(REGION, [CAPTURE, REPORTS, LABELS], ["sagemaker"]) as clients:
        yield clients


@pytest.fixture
def s3(aws: dict[str, Any]) -> Iterator[Any]:
    yield aws["s3"]
    empty(aws["s3"], [CAPTURE, REPORTS, LABELS])


@pytest.fixture
def handler(s3: Any, aws: dict[str, Any]) -> ModuleType:
    module = load_handler("resolve_drift_window")
    module._CLIENTS.update(aws)
    return module


@pytest.fixture
def sagemaker(handler: ModuleType, aws: dict[str, Any]) -> Iterator[Stubber]:
    with Stubber(aws["sagemaker"]) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def event(**overrides: Any) -> dict[str, Any]:
    return {"endpoint_name": ENDPOINT, "capture_uri": f"s3://{CAPTURE}/data-capture", "execution_id": "abc123xyz",
            "work_uri": f"s3://{REPORTS}/mlops-churn-prd/runs", "window_hours": 1, "end_offset_hours": 0,
            "ground_truth_uri": f"s3://{LABELS}/churn/", "use_ground_truth": "false", "baseline_uri": "", **overrides}


def expect_describe_chain(stubber: Stubber, baseline: str | None = BASELINE) -> None:
    stubber.add_response("describe_endpoint", {
        "EndpointName": ENDPOINT, "EndpointArn": f"arn:aws:sagemaker:{REGION}:555555555555:endpoint/{ENDPOINT}",
        "EndpointConfigName": "ChurnEndpointConfig-AbC", "EndpointStatus": "InService",
        "CreationTime": NOW, "LastModifiedTime": NOW,
        "ProductionVariants": [{"VariantName": "canary", "CurrentWeight": 0.1}, {"VariantName": "primary", "CurrentWeight": 0.9}],
    }, {"EndpointName": ENDPOINT})
    stubber.add_response("describe_endpoint_config", {
        "EndpointConfigName": "ChurnEndpointConfig-AbC", "CreationTime": NOW,
        "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:555555555555:endpoint-config/churnendpointconfig-abc",
        "ProductionVariants": [{"VariantName": "canary", "ModelName": "ChurnCanary-1"},
                               {"VariantName": "primary", "ModelName": "ChurnPrimary-1"}],
    }, {"EndpointConfigName": "ChurnEndpointConfig-AbC"})
    stubber.add_response("describe_model", {
        "ModelName": "ChurnPrimary-1", "CreationTime": NOW,
        "ModelArn": f"arn:aws:sagemaker:{REGION}:555555555555:model/churnprimary-1",
        "PrimaryContainer": {"ModelPackageName": PACKAGE},
    }, {"ModelName": "ChurnPrimary-1"})
    metrics = {"ModelDataQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": baseline}}} if baseline else {}
    stubber.add_response("describe_model_package", {
        "ModelPackageName": "mlops-churn", "ModelPackageArn": PACKAGE, "CreationTime": NOW,
        "ModelPackageStatus": "Completed", "ModelMetrics": metrics,
        "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
    }, {"ModelPackageName": PACKAGE})


def manifest(s3: Any, uri: str) -> list[Any]:
    bucket, key = uri[len("s3://"):].split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())  # type: ignore[no-any-return]


def put(s3: Any, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"eventMetadata": {}}\n')


def test_lists_the_windows_capture_of_every_variant_and_resolves_the_served_versions_baseline(
        handler: ModuleType, s3: Any, sagemaker: Stubber) -> None:
    expect_describe_chain(sagemaker)
    inside = [f"data-capture/{ENDPOINT}/primary/2026/11/26/10/a.jsonl", f"data-capture/{ENDPOINT}/canary/2026/11/26/10/b.jsonl",
              # one hour of slack on each side: SageMaker files events under the hour it wrote them
              f"data-capture/{ENDPOINT}/primary/2026/11/26/09/late.jsonl", f"data-capture/{ENDPOINT}/primary/2026/11/26/11/c.jsonl"]
    outside = [f"data-capture/{ENDPOINT}/primary/2026/11/26/07/old.jsonl", f"data-capture/other-endpoint/primary/2026/11/26/10/x.jsonl"]
    for key in inside + outside:
        put(s3, CAPTURE, key)
    result = handler.handler(event(), now=NOW)
    assert result["window_start"] == "2026-11-26T10:00:00Z" and result["window_end"] == "2026-11-26T11:00:00Z"
    assert result["baseline_uri"] == BASELINE and result["model_package_arn"] == PACKAGE
    assert result["capture_files"] == "4" and result["ground_truth_files"] == "0"
    assert result["capture_manifest_uri"] == f"s3://{REPORTS}/mlops-churn-prd/runs/abc123xyz/capture.manifest"
    entries = manifest(s3, result["capture_manifest_uri"])
    assert entries[0] == {"prefix": f"s3://{CAPTURE}/data-capture/"}
    assert sorted(entries[1:]) == sorted(k[len("data-capture/"):] for k in inside)
    # No ground truth asked for: the manifest names the empty marker, so the job still starts.
    truth = manifest(s3, result["ground_truth_manifest_uri"])
    assert truth == [{"prefix": f"s3://{REPORTS}/mlops-churn-prd/runs/abc123xyz/"}, "empty/empty.jsonl"]
    assert s3.get_object(Bucket=REPORTS, Key="mlops-churn-prd/runs/abc123xyz/empty/empty.jsonl")["ContentLength"] == 0


def test_a_window_without_traffic_still_yields_a_manifest_so_the_run_reports_no_data(
        handler: ModuleType, s3: Any, sagemaker: Stubber) -> None:
    expect_describe_chain(sagemaker)
    result = handler.handler(event(), now=NOW)
    assert result["capture_files"] == "0"
    assert manifest(s3, result["capture_manifest_uri"])[1:] == ["empty/empty.jsonl"]


def test_ground_truth_is_listed_from_the_window_start_until_now_for_an_offset_window(handler: ModuleType, s3: Any) -> None:
    # Model quality: yesterday's inferences (window ending 24 h before this hour), labels uploaded since.
    for key in ("churn/2026/11/25/10/labels.jsonl", "churn/2026/11/26/09/labels.jsonl", "churn/2026/11/24/10/old.jsonl"):
        put(s3, LABELS, key)
    put(s3, CAPTURE, f"data-capture/{ENDPOINT}/primary/2026/11/25/10/a.jsonl")
    result = handler.handler(event(window_hours=24, end_offset_hours=24, use_ground_truth="true", baseline_uri=BASELINE), now=NOW)
    assert (result["window_start"], result["window_end"]) == ("2026-11-24T11:00:00Z", "2026-11-25T11:00:00Z")
    assert result["model_package_arn"] == "" and result["baseline_uri"] == BASELINE  # a fixed baseline: no lookup
    entries = manifest(s3, result["ground_truth_manifest_uri"])
    assert entries[0] == {"prefix": f"s3://{LABELS}/churn/"}
    assert sorted(entries[1:]) == ["2026/11/25/10/labels.jsonl", "2026/11/26/09/labels.jsonl"]
    assert result["capture_files"] == "1"


def test_a_version_without_a_registered_baseline_fails_the_step_saying_what_to_register(
        handler: ModuleType, s3: Any, sagemaker: Stubber) -> None:
    expect_describe_chain(sagemaker, baseline=None)
    with pytest.raises(handler.BaselineNotFound, match=r"mlops-churn/7' registers no drift baseline: .*drift.py baseline.*"
                                                       r"ModelMetrics.ModelDataQuality.Statistics"):
        handler.handler(event(), now=NOW)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"endpoint_name": ""}, 'endpoint_name is ""; expected a non-empty string'),
    ({"capture_uri": "bucket/prefix"}, 'capture_uri is "bucket/prefix"; expected an S3 URI like s3://bucket/prefix'),
    ({"window_hours": 0}, "window_hours is 0; expected a whole number of hours from 1 to 168"),
    ({"window_hours": "1.5"}, 'window_hours is "1.5"; expected a whole number of hours from 1 to 168'),
    ({"end_offset_hours": -1}, "end_offset_hours is -1; expected a whole number of hours from 0 to 720"),
    ({"use_ground_truth": "yes"}, 'use_ground_truth is "yes"; expected true or false'),
    ({"use_ground_truth": "true", "ground_truth_uri": ""}, 'use_ground_truth is "true" but ground_truth_uri is ""'),
    ({"execution_id": "a/b"}, 'execution_id is "a/b"; expected a pipeline execution id'),
    ({"baseline_uri": "baseline.json"}, 'baseline_uri is "baseline.json"; expected an S3 URI'),
])
def test_malformed_events_are_refused_with_the_field_and_value(handler: ModuleType, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(handler.MalformedEvent) as failure:
        handler.handler(event(**overrides), now=NOW)
    assert message in str(failure.value)


def test_a_non_object_event_is_refused(handler: ModuleType) -> None:
    with pytest.raises(handler.MalformedEvent, match="expected an object, got list"):
        handler.handler([], now=NOW)
