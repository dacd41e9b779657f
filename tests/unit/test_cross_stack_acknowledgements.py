"""Acknowledgements follow cross-stack references: a finding named at construction after a resource of another
stack of the same account stays acknowledged once the CDK turns the reference into Fn::GetStackOutput."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Environment, Stack, Stage, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from mlops_estate.core.cross_stack_acknowledgements import CrossStackAcknowledgements, resolved_names
from mlops_estate.core.nag import acknowledge, acknowledge_wildcards

from tests.helpers import TEST_ACCOUNT, TEST_REGION, cdk_context


def _app(tmp_path, with_plugin: bool) -> App:
    app = App(context=cdk_context(), outdir=str(tmp_path))
    stage = Stage(app, "Account")
    env = Environment(account=TEST_ACCOUNT, region=TEST_REGION)
    producer = Stack(stage, "Base", env=env)
    bucket = s3.Bucket(producer, "Data", enforce_ssl=True)
    consumer = Stack(stage, "Models1", env=env)
    role = iam.Role(consumer, "JobRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    statement = iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects("models/*")])
    policy = iam.ManagedPolicy(consumer, "JobPolicy", statements=[statement], roles=[role])
    acknowledge_wildcards(policy, statement, "The job reads every object under the models/ prefix of the data bucket")
    if with_plugin:
        Validations.of(app).add_plugins(CrossStackAcknowledgements())
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    acknowledge(bucket, "A throwaway bucket of this test; its access logs are not what it is about", "AwsSolutions-S1")
    return app


def _iam5_violations(tmp_path) -> list[str]:
    report = json.loads((tmp_path / "validation-report.json").read_text())
    return [v["ruleName"] for p in report["pluginReports"] for v in p["violations"] if v["ruleName"].startswith("AwsSolutions-IAM5")]


def test_without_restating_the_finding_is_named_after_the_resolved_reference(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        _app(tmp_path, with_plugin=False).synth()
    violations = _iam5_violations(tmp_path)
    assert len(violations) == 1 and '"Fn::GetStackOutput"' in violations[0] and "/models/*" in violations[0]


def test_the_acknowledgement_is_restated_under_the_resolved_id(tmp_path) -> None:
    # The same app as above (whose only unacknowledged finding is that IAM5) passes with the plugin first.
    _app(tmp_path, with_plugin=True).synth()
    assert _iam5_violations(tmp_path) == []


def test_resolved_names_maps_construction_time_renderings_to_stack_outputs() -> None:
    ref = {"StackName": "Account-Base", "Region": "eu-west-1", "OutputName": "PublishOutputBucketArn"}
    consumer = {"Resources": {"P": {"Properties": {"Resource": {"Fn::Join": ["", [{"Fn::GetStackOutput": ref}, "/x/*"]]}}}}}
    producer = {"Outputs": {"PublishOutputBucketArn": {"Value": {"Fn::GetAtt": ["DataBucketABC", "Arn"]}}}}
    assert resolved_names(consumer, {"Account-Base": producer}) == {
        "<DataBucketABC.Arn>": json.dumps({"Fn::GetStackOutput": ref}, separators=(",", ":"))}
    assert resolved_names(consumer, {}) == {}
