"""EstateFunction: handler source location, asset contents, baseline props, and the explicit VPC opt-out."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration

from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.events.estate_function import EstateFunction, handler_source
from tests.helpers import ROOT, cdk_context, make_stack, resources_of_type

REASON = "Shared services has no workload VPC; this function only calls two public AWS APIs with its role."


def test_handler_source_is_the_real_lambda_folder() -> None:
    assert handler_source("start_retraining") == (ROOT / "lambda" / "start_retraining").resolve()
    assert not handler_source("promote_model").is_symlink()


def test_unknown_handler_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no Lambda handler 'nope': no nope/index.py under mlops_estate.lambda_src"):
        handler_source("nope")


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    # Bytecode next to the handler (as tests and local runs leave it) must not reach the asset.
    cache = ROOT / "lambda" / "promote_model" / "__pycache__"
    cache.mkdir(exist_ok=True)
    stale = cache / "stale.cpython-311.pyc"
    stale.write_bytes(b"\0")
    outdir = tmp_path_factory.mktemp("fn")
    app_out = App(context=cdk_context(), outdir=str(outdir))
    stack = make_stack(app_out)
    keys = EstateKeys(stack, "Keys", estate_name="mlops", classes=[DataClass.MONITORING, DataClass.LOGS])
    EstateFunction(stack, "Fn", handler="promote_model", description="test", queue_key=keys.monitoring, logs_key=keys.logs,
                   outside_vpc_reason=REASON, reserved_concurrency=2, retry_attempts=1, max_event_age=Duration.minutes(30))
    try:
        assembly = app_out.synth()
    finally:
        stale.unlink()
    template = json.loads(Path(assembly.get_stack_artifact(stack.artifact_id).template_full_path).read_text())
    return template, outdir


def test_asset_holds_only_the_handler(synthesized: tuple[dict[str, Any], Path]) -> None:
    _, outdir = synthesized
    [asset] = [p for p in outdir.iterdir() if p.name.startswith("asset.") and p.is_dir()]
    assert sorted(p.name for p in asset.rglob("*")) == ["index.py"]
    assert not (asset / "index.py").is_symlink()


def test_baseline_and_tunables(synthesized: tuple[dict[str, Any], Path]) -> None:
    template, _ = synthesized
    [fn] = [f["Properties"] for f in resources_of_type(template, "AWS::Lambda::Function").values()]
    assert fn["ReservedConcurrentExecutions"] == 2 and fn["Architectures"] == ["arm64"] and fn["Handler"] == "index.handler"
    [invoke] = [c["Properties"] for c in resources_of_type(template, "AWS::Lambda::EventInvokeConfig").values()]
    assert invoke["MaximumRetryAttempts"] == 1 and invoke["MaximumEventAgeInSeconds"] == 1800
    [queue] = resources_of_type(template, "AWS::SQS::Queue").values()
    assert "KmsMasterKeyId" in queue["Properties"] and queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    policies = [s for p in resources_of_type(template, "AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    logs = next(s for s in policies if s.get("Sid") == "WriteOwnLogs")
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert "Fn::GetAtt" in logs["Resource"]  # its own log group, not logs:*
    assert not any("ec2:" in json.dumps(s["Action"]) for s in policies)  # outside a VPC: no network interfaces
    dead_letters = next(s for s in policies if s.get("Sid") == "EncryptDeadLetters")
    assert sorted(dead_letters["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]  # a CMK-encrypted DLQ needs the key
    [monitoring_key] = [k for k in resources_of_type(template, "AWS::KMS::Key") if k.startswith("KeysMonitoring")]
    assert dead_letters["Resource"] == {"Fn::GetAtt": [monitoring_key, "Arn"]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "placement: None with outside_vpc_reason=None is not allowed; expected exactly one of placement (run in the VPC) "
             "or outside_vpc_reason (why not)"),
        ({"outside_vpc_reason": "no VPC"}, "outside_vpc_reason: 'no VPC' is too short to be specific; expected a reason of at least 20 characters"),
        ({"outside_vpc_reason": REASON, "reserved_concurrency": 0}, "reserved_concurrency: 0 is outside the estate's range; expected 1 to 100"),
        ({"outside_vpc_reason": REASON, "retry_attempts": 3}, "retry_attempts: 3 is outside what Lambda allows; expected 0 to 2"),
        ({"outside_vpc_reason": REASON, "max_event_age": Duration.hours(7)},
         "max_event_age: 25200 s is outside what Lambda allows; expected 60 to 21600 seconds"),
        ({"outside_vpc_reason": REASON, "timeout": Duration.minutes(20)}, "timeout: 1200 s is outside what Lambda allows; expected 1 to 900 seconds"),
        ({"outside_vpc_reason": REASON, "memory_size": 64}, "memory_size: 64 MB is outside what Lambda allows; expected 128 to 10240"),
        ({"outside_vpc_reason": REASON, "environment": {"1ST": "x"}},
         "environment['1ST']: '1ST' is not a Lambda environment variable name; expected a letter, then letters, digits and '_'"),
        ({"outside_vpc_reason": REASON, "description": "d" * 257}, "description: 'dddddddddddddddddddddddddddddddddddddddd...' has 257 characters"),
    ],
    ids=["no-placement-no-reason", "short-reason", "concurrency", "retries", "event-age", "timeout", "memory", "environment", "description"],
)
def test_bad_props_are_rejected_with_the_construct_path(kwargs: dict[str, Any], message: str) -> None:
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="mlops", classes=[DataClass.MONITORING, DataClass.LOGS])
    props: dict[str, Any] = {"description": "test", **kwargs}
    with pytest.raises(ValueError, match=r"^Test/Fn: 1 problem\(s\):\n  - " + re.escape(message)):
        EstateFunction(stack, "Fn", handler="promote_model", queue_key=keys.monitoring, logs_key=keys.logs, **props)


def test_bad_props_are_all_reported_at_once() -> None:
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="mlops", classes=[DataClass.MONITORING, DataClass.LOGS])
    with pytest.raises(ValueError) as failure:
        EstateFunction(stack, "Fn", handler="nope", description="test", queue_key=keys.monitoring, logs_key=keys.logs,
                       outside_vpc_reason=REASON, retry_attempts=5, memory_size=20000)
    assert str(failure.value) == (
        "Test/Fn: 3 problem(s):\n"
        "  - handler: 'nope' is not a handler of mlops_estate.lambda_src; expected the name of a folder with an index.py there\n"
        "  - memory_size: 20000 MB is outside what Lambda allows; expected 128 to 10240\n"
        "  - retry_attempts: 5 is outside what Lambda allows; expected 0 to 2"
    )
