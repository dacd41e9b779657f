"""MlflowTrackingServer: settings from config, CMK artifact store, least-privilege role, grant_access, the ARN output."""

from __future__ import annotations

import re

import pytest

from mlops_estate.workspace.mlflow import MlflowTrackingServer
from mlops_estate.workspace.mlflow import MlflowConfig
from tests.helpers import make_stack
from tests.unit.workspace_stack import ESTATE, Workspace, as_list, new_workspace_parts, statements, workspace


@pytest.fixture(scope="module")
def ws() -> Workspace:
    return workspace()


def _server(ws: Workspace, server: MlflowTrackingServer) -> dict:
    return ws.resources[str(ws.stack.resolve(server.cfn.logical_id))]


def test_server_takes_size_version_registration_and_window_from_settings(ws):
    props = _server(ws, ws.mlflow)["Properties"]
    assert props["TrackingServerName"] == f"{ESTATE}-mlflow"
    assert props["TrackingServerSize"] == "Medium"
    assert props["MlflowVersion"] == "2.16.2"
    assert props["AutomaticModelRegistration"] is True
    assert props["WeeklyMaintenanceWindowStart"] == "Tue:04:30"
    assert props["RoleArn"] == {"Fn::GetAtt": [ws.id_of(ws.mlflow.role), "Arn"]}
    assert _server(ws, ws.mlflow_no_registration)["Properties"]["AutomaticModelRegistration"] is False


def test_artifacts_go_to_the_cmk_bucket_under_the_mlflow_prefix(ws):
    props = _server(ws, ws.mlflow)["Properties"]
    assert props["ArtifactStoreUri"] == {"Fn::Join": ["", ["s3://", {"Ref": ws.id_of(ws.artifacts.bucket)}, "/mlflow/"]]}
    bucket = ws.resources[ws.id_of(ws.artifacts.bucket)]["Properties"]
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert encryption["KMSMasterKeyID"] == {"Fn::GetAtt": [ws.id_of(ws.keys.models), "Arn"]}


def _role_statements(ws: Workspace, server: MlflowTrackingServer) -> list[dict]:
    return statements(ws.resources[ws.id_of(server.role_policy)])


def test_role_uses_only_its_prefix_its_key_and_the_estate_registry(ws):
    role = ws.resources[ws.id_of(ws.mlflow.role)]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    objects = ws.stack.resolve(ws.artifacts.bucket.arn_for_objects("mlflow/*"))
    for statement in _role_statements(ws, ws.mlflow):
        for resource in as_list(statement["Resource"]):
            assert resource != "*"
        if any(a.startswith("s3:") and "Object" in a for a in as_list(statement["Action"])):
            assert statement["Resource"] == objects
    (registration,) = [s for s in _role_statements(ws, ws.mlflow) if s.get("Sid") == "AutomaticModelRegistration"]
    assert registration["Resource"] == [
        f"arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/{ESTATE}-*",
        f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{ESTATE}-*/*",
    ]
    assert not [s for s in _role_statements(ws, ws.mlflow_no_registration) if s.get("Sid") == "AutomaticModelRegistration"]


def test_server_is_retained_on_delete_and_replacement(ws):
    server = _server(ws, ws.mlflow)
    assert server["DeletionPolicy"] == "Retain" and server["UpdateReplacePolicy"] == "Retain"


def test_server_waits_for_its_role_policy(ws):
    assert ws.id_of(ws.mlflow.role_policy) in _server(ws, ws.mlflow)["DependsOn"]


def _access(ws: Workspace, persona: str) -> dict:
    role_ref = {"Ref": ws.id_of(ws.personas.role(persona))}
    (policy,) = [p for k, p in ws.of_type("AWS::IAM::ManagedPolicy").items()
                 if k.startswith("MlflowAccess") and role_ref in p["Properties"]["Roles"]]
    return policy


def test_grant_access_gives_the_mlflow_api_on_this_server_only(ws):
    server_arn = {"Fn::GetAtt": [str(ws.stack.resolve(ws.mlflow.cfn.logical_id)), "TrackingServerArn"]}
    api = statements(_access(ws, "ml_engineer"))[0]
    assert "sagemaker-mlflow:*" in api["Action"]
    assert "sagemaker:CreatePresignedMlflowTrackingServerUrl" in api["Action"]
    assert api["Resource"] == server_arn
    writes = {a for s in statements(_access(ws, "ml_engineer")) for a in as_list(s["Action"])}
    assert {"s3:PutObject", "kms:GenerateDataKey"} <= writes


def test_read_only_access_cannot_write(ws):
    actions = {a for s in statements(_access(ws, "auditor")) for a in as_list(s["Action"])}
    assert "sagemaker-mlflow:*" not in actions
    assert {"sagemaker-mlflow:AccessUI", "sagemaker-mlflow:Get*", "sagemaker-mlflow:Search*"} <= actions
    assert not {"s3:PutObject", "kms:GenerateDataKey"} & actions


def test_tracking_server_arn_is_a_stack_output(ws):
    outputs = ws.template.to_json()["Outputs"]
    (output,) = [o for o in outputs.values() if o.get("Export", {}).get("Name") == f"{ESTATE}-mlflow-arn"]
    assert output["Value"] == {"Fn::GetAtt": [str(ws.stack.resolve(ws.mlflow.cfn.logical_id)), "TrackingServerArn"]}
    assert "set_tracking_uri" in output["Description"]


def test_bad_props_are_all_reported_at_once():
    stack = make_stack()
    _, _, _, artifacts, _ = new_workspace_parts(stack)
    settings = MlflowConfig(version="latest", maintenance_window="Sunday 3am")
    with pytest.raises(ValueError) as failure:
        MlflowTrackingServer(stack, "Bad", tracking_server_name="my_server", artifact_bucket=artifacts,
                             registry_prefix="team-a", artifact_prefix="/mlflow/", settings=settings)
    text = str(failure.value)
    assert text.startswith("Test/Bad: 4 problem(s)")
    assert "tracking_server_name: 'my_server' is not a valid tracking server name" in text
    assert "artifact_prefix: '/mlflow/' is not an S3 key prefix" in text
    assert "settings.version: 'latest' is not an MLflow version like 3.0 or 2.16.2" in text
    assert re.search(r"settings.maintenance_window: 'Sunday 3am' is not a weekly UTC window start like Sun:03:00", text)


def test_vpc_endpoint_reaches_only_this_tracking_server(ws):
    assert ws.mlflow.vpc_endpoint is not None and ws.mlflow_no_registration.vpc_endpoint is None
    props = ws.resources[ws.id_of(ws.mlflow.vpc_endpoint)]["Properties"]
    assert props["ServiceName"] == "aws.sagemaker.eu-west-1.experiments"
    assert props["PrivateDnsEnabled"] is True
    assert props["SecurityGroupIds"] == [ws.stack.resolve(ws.network.endpoint_security_group.security_group_id)]
    (statement,) = props["PolicyDocument"]["Statement"]
    assert statement["Action"] == "sagemaker-mlflow:*"
    assert statement["Resource"] == ws.stack.resolve(ws.mlflow.tracking_server_arn)
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}
