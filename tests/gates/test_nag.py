"""cdk-nag AwsSolutions, NIST 800-53 R5 and HIPAA Security on every stage: zero unacknowledged findings."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import aws_s3 as s3

from mlops_estate.core.nag import acknowledge, apply_nag_packs
from tests.helpers import make_app, make_stack

VALIDATION_FAILED = "ValidationFailed"


def test_default_estate_has_no_unacknowledged_findings(default_estate):
    # The fixture synthesized with every pack on, so a finding would already have failed synthesis (the packs write
    # no report of their own; test_gate_fails_synth_on_a_noncompliant_bucket shows a finding failing it); any plugin
    # that did write a report found nothing. (This variant's CloudFormation gate is cfn-lint: tests/conftest.py.)
    report = json.loads((default_estate.outdir / "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        assert plugin["conclusion"] == "success", plugin["pluginName"]
        assert plugin["violations"] == [], plugin["pluginName"]


def test_the_other_estate_variants_pass_cdks_cloudformation_validation(sandbox_estate, model_monitor_estate):
    for estate in (sandbox_estate, model_monitor_estate):
        report = json.loads((estate.outdir / "validation-report.json").read_text())
        assert [p["pluginName"] for p in report["pluginReports"]] == ["CloudFormation Validate"]
        (plugin,) = report["pluginReports"]
        assert plugin["conclusion"] == "success" and plugin["violations"] == []


def test_gate_fails_synth_on_a_noncompliant_bucket():
    app = make_app()
    stack = make_stack(app)
    s3.Bucket(stack, "Plain")
    apply_nag_packs(app)
    with pytest.raises(RuntimeError, match=VALIDATION_FAILED) as failure:
        app.synth()
    text = str(failure.value)
    for rule in ("AwsSolutions-S1", "NIST.800.53.R5-S3DefaultEncryptionKMS", "HIPAA.Security-S3BucketVersioningEnabled"):
        assert rule in text, rule


def test_acknowledgement_needs_a_specific_reason():
    stack = make_stack()
    bucket = s3.Bucket(stack, "B")
    with pytest.raises(ValueError, match=re.escape("needs a specific reason")):
        acknowledge(bucket, "ok", "AwsSolutions-S1")
