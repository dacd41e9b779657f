"""What the drift handlers' tests share: moto's AWS with the buckets a test needs, and emptying the buckets between
tests (handlers load with `tests.handlers.events.load_handler`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto import mock_aws

@contextmanager
def moto_clients(region: str, buckets: Sequence[str], services: Sequence[str]) -> Iterator[dict[str, Any]]:
    """moto for a whole module (clients are slow to create): ``buckets`` created, a client per service (s3 included)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (("AWS_DEFAULT_REGION", region), ("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
            patch.setenv(name, value)
        with mock_aws():
            clients = {service: boto3.client(service, region_name=region) for service in ("s3", *services)}
            for bucket in buckets:
                clients["s3"].create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
            yield clients


def empty(s3: Any, buckets: Sequence[str]) -> None:
    for bucket in buckets:
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
