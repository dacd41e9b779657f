"""EventBridge events shaped exactly as AWS sends them (copied from real deliveries, ids and accounts replaced),
a loader for the handlers (``lambda`` is a keyword, so by file path) and an EventBridge pattern matcher."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType
from typing import Any

from moto.events.models import EventPattern

from tests.helpers import ROOT

REGION = "eu-west-1"
STAGING, PROD, DATA_LAKE, SHARED = "555555555555", "666666666666", "333333333333", "222222222222"


def load_handler(name: str) -> ModuleType:
    """A fresh import of lambda/<name>/index.py (fresh module state: no cached clients)."""
    path = ROOT / "lambda" / name / "index.py"
    module_name = f"handler_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def matches(pattern: dict[str, Any] | str, event: dict[str, Any]) -> bool:
    """EventBridge pattern matching (moto's implementation: exact values, prefix, wildcard, nesting, arrays)."""
    return EventPattern.load(pattern if isinstance(pattern, str) else json.dumps(pattern)).matches_event(event)


def alarm_state_change(alarm: str = "mlops-churn-stg-drift", state: str = "ALARM", account: str = STAGING,
                       event_id: str = "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92") -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account,
        "time": "2026-11-26T10:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{account}:alarm:{alarm}"],
        "detail": {
            "alarmName": alarm,
            "state": {
                "value": state,
                "reason": "Threshold Crossed: 1 out of the last 1 datapoints [3.0 (26/11/26 09:00:00)] was greater than the threshold (0.0).",
                "reasonData": "{\"version\":\"1.0\",\"queryDate\":\"2026-11-26T10:00:00.000+0000\",\"threshold\":0.0}",
                "timestamp": "2026-11-26T10:00:00.000+0000",
            },
            "previousState": {"value": "OK", "reason": "Threshold Crossed", "timestamp": "2026-11-25T10:00:00.000+0000"},
            "configuration": {
                "description": "Feature drift of the churn endpoint",
                "metrics": [{
                    "id": "m1",
                    "metricStat": {
                        "metric": {
                            "namespace": "aws/sagemaker/Endpoints/data-metrics",
                            "name": "feature_baseline_drift_total_amount",
                            "dimensions": {"Endpoint": "mlops-churn-staging", "MonitoringSchedule": "mlops-churn-stg-dq"},
                        },
                        "period": 3600,
                        "stat": "Maximum",
                    },
                    "returnData": True,
                }],
            },
        },
    }


def object_created(key: str = "churn/daily/2026-11-26/part-0001.parquet", bucket: str = "mlops-curated",
                   account: str = DATA_LAKE, event_id: str = "17793124-05d4-b198-2fde-7ededc63b103") -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": "2026-11-26T10:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": 5242880, "etag": "b1946ac92492d2347c6235b4d2611184",
                       "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mq8Bw", "sequencer": "00617F08299329D189"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "10.10.1.20",
            "reason": "PutObject",
        },
    }


def monitoring_job_completed(schedule: str = "mlops-churn-stg-dq", account: str = STAGING,
                             exit_message: str = "CompletedWithViolations: Job completed successfully with 2 violations.",
                             event_id: str = "8a0c4b56-5e8f-4f0b-9d53-1b3c2e4f5a6b") -> dict[str, Any]:
    job = "model-monitoring-202611261000-a1b2c3d4e5f6a7b8c9d0e1f2"
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "SageMaker Processing Job State Change",
        "source": "aws.sagemaker",
        "account": account,
        "time": "2026-11-26T10:05:00Z",
        "region": REGION,
        "resources": [f"arn:aws:sagemaker:{REGION}:{account}:processing-job/{job}"],
        "detail": {
            "ProcessingJobName": job,
            "ProcessingJobArn": f"arn:aws:sagemaker:{REGION}:{account}:processing-job/{job}",
            "ProcessingJobStatus": "Completed",
            "ExitMessage": exit_message,
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "AppSpecification": {"ImageUri": f"468650794304.dkr.ecr.{REGION}.amazonaws.com/sagemaker-model-monitor-analyzer"},
            "RoleArn": f"arn:aws:iam::{account}:role/mlops-monitoring",
            "MonitoringScheduleArn": f"arn:aws:sagemaker:{REGION}:{account}:monitoring-schedule/{schedule}",
            "ProcessingStartTime": 1764151200000,
            "ProcessingEndTime": 1764151500000,
            "CreationTime": 1764151100000,
            "LastModifiedTime": 1764151500000,
            "Tags": {},
        },
    }


def model_package_state_change(status: str = "Approved", group: str = "mlops-churn", version: int = 3,
                               account: str = SHARED, event_id: str = "5c5ba0a1-5f6e-4c54-b4a6-8e0bfa0e6f3d") -> dict[str, Any]:
    arn = f"arn:aws:sagemaker:{REGION}:{account}:model-package/{group}/{version}"
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": account,
        "time": "2026-11-26T11:00:00Z",
        "region": REGION,
        "resources": [arn],
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": version,
            "ModelPackageArn": arn,
            "CreationTime": 1764154800000,
            "InferenceSpecification": {
                "Containers": [{"Image": f"141502667606.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1",
                                "ImageDigest": "sha256:2a3b...", "ModelDataUrl": f"s3://mlops-artifacts/{group}/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": status,
            "ApprovalDescription": "auc 0.87 >= 0.8",
            "LastModifiedTime": 1764158400000,
        },
    }


def sqs_batch(*events: dict[str, Any] | str) -> dict[str, Any]:
    """An SQS event as Lambda receives it from the buffer queue (an EventBridge event per message body)."""
    return {
        "Records": [
            {
                "messageId": f"059f36b4-87a3-44ab-83d2-{i:012d}",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
                "body": e if isinstance(e, str) else json.dumps(e),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764151200000",
                               "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1764151200001"},
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:444444444444:retrain-buffer",
                "awsRegion": REGION,
            }
            for i, e in enumerate(events)
        ]
    }

