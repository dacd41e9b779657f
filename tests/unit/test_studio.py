"""StudioDomain: VPC-only, CMK storage, idle shutdown, sharing to a CMK bucket, retained; bad props rejected."""

from __future__ import annotations

import re

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.workspace.studio import StudioDomain
from mlops_estate.workspace.studio import StudioConfig
from tests.helpers import make_stack
from tests.unit.workspace_stack import USERS, Workspace, new_workspace_parts, workspace


@pytest.fixture(scope="module")
def ws() -> Workspace:
    return workspace()


def _domain(ws: Workspace) -> dict:
    (domain,) = ws.of_type("AWS::SageMaker::Domain").values()
    return domain


def _ref(ws: Workspace, construct) -> dict:
    return {"Ref": ws.stack.resolve(construct.node.default_child.logical_id)}


def _arn(ws: Workspace, construct) -> dict:
    return {"Fn::GetAtt": [ws.stack.resolve(construct.node.default_child.logical_id), "Arn"]}


def test_domain_is_vpc_only_in_the_private_subnets_with_the_workload_group(ws):
    props = _domain(ws)["Properties"]
    assert props["AppNetworkAccessType"] == "VpcOnly"
    assert props["AuthMode"] == "IAM"
    assert props["VpcId"] == _ref(ws, ws.network.vpc)
    assert props["SubnetIds"] == [ws.stack.resolve(s) for s in ws.network.placement.subnet_ids]
    group = ws.stack.resolve(ws.network.placement.security_group.security_group_id)
    assert props["DomainSettings"]["SecurityGroupIds"] == [group]
    assert props["DefaultUserSettings"]["SecurityGroups"] == [group]
    assert props["DefaultSpaceSettings"]["SecurityGroups"] == [group]
    assert props["DomainSettings"]["DockerSettings"] == {"EnableDockerAccess": "DISABLED"}
    assert props["DomainSettings"]["ExecutionRoleIdentityConfig"] == "USER_PROFILE_NAME"


def test_domain_storage_uses_the_studio_key_and_is_retained(ws):
    domain = _domain(ws)
    assert domain["Properties"]["KmsKeyId"] == _arn(ws, ws.keys.studio)
    assert domain["DeletionPolicy"] == "Retain"
    assert domain["UpdateReplacePolicy"] == "Retain"


def test_jupyterlab_and_code_editor_shut_down_when_idle(ws):
    expected = {"AppLifecycleManagement": {"IdleSettings": {
        "LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 90,
        "MinIdleTimeoutInMinutes": 60, "MaxIdleTimeoutInMinutes": 240}}}
    user = _domain(ws)["Properties"]["DefaultUserSettings"]
    space = _domain(ws)["Properties"]["DefaultSpaceSettings"]
    assert user["JupyterLabAppSettings"] == expected
    assert user["CodeEditorAppSettings"] == expected
    assert space["JupyterLabAppSettings"] == expected
    storage = {"DefaultEbsStorageSettings": {"DefaultEbsVolumeSizeInGb": 10, "MaximumEbsVolumeSizeInGb": 50}}
    assert user["SpaceStorageSettings"] == storage == space["SpaceStorageSettings"]


def test_default_user_settings_use_the_web_portal_and_the_default_role(ws):
    user = _domain(ws)["Properties"]["DefaultUserSettings"]
    role = {"Fn::GetAtt": [ws.stack.resolve(ws.personas.role("data_scientist").node.default_child.logical_id), "Arn"]}
    assert user["ExecutionRole"] == role
    # Shared spaces run as the least-privilege shared-space role, never as a persona's role.
    space_role = {"Fn::GetAtt": [ws.id_of(ws.personas.shared_space_role), "Arn"]}
    assert _domain(ws)["Properties"]["DefaultSpaceSettings"]["ExecutionRole"] == space_role
    assert user["StudioWebPortal"] == "ENABLED"
    assert "JupyterServer" in user["StudioWebPortalSettings"]["HiddenAppTypes"]


def test_notebooks_are_shared_to_a_bucket_encrypted_with_the_studio_key(ws):
    sharing = _domain(ws)["Properties"]["DefaultUserSettings"]["SharingSettings"]
    assert sharing["NotebookOutputOption"] == "Allowed"
    assert sharing["S3KmsKeyId"] == _arn(ws, ws.keys.studio)
    bucket_id = ws.stack.resolve(ws.studio.sharing_bucket.bucket.node.default_child.logical_id)
    assert sharing["S3OutputPath"] == {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/sharing/"]]}
    bucket = ws.resources[bucket_id]
    encryption = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert encryption == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": _arn(ws, ws.keys.studio)}
    assert bucket["DeletionPolicy"] == "Retain"


def test_one_user_profile_per_user_with_the_persona_role(ws):
    profiles = {p["Properties"]["UserProfileName"]: p["Properties"] for p in ws.of_type("AWS::SageMaker::UserProfile").values()}
    assert sorted(profiles) == sorted(u.name for u in USERS)
    for user in USERS:
        role_id = ws.stack.resolve(ws.personas.role(user.persona).node.default_child.logical_id)
        assert profiles[user.name]["UserSettings"]["ExecutionRole"] == {"Fn::GetAtt": [role_id, "Arn"]}
        assert profiles[user.name]["DomainId"] == {"Fn::GetAtt": [ws.stack.resolve(ws.studio.cfn.logical_id), "DomainId"]}
    arn = ws.stack.resolve(ws.studio.user_profile_arn("ana"))
    assert arn["Fn::Join"][1][0] == "arn:aws:sagemaker:eu-west-1:123456789012:user-profile/"
    assert arn["Fn::Join"][1][-1] == "/ana"


def test_execution_roles_trust_sagemaker_to_set_the_source_identity_once(ws):
    roles = [ws.personas.role(p) for p in ("data_scientist", "auditor")] + [ws.personas.shared_space_role]
    for role in roles:  # the domain default, a profile-only role and the shared-space role
        trust = ws.resources[ws.id_of(role)]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert [s["Action"] for s in trust].count("sts:SetSourceIdentity") == 1


def test_a_role_defined_here_gets_source_identity_and_a_domain_without_a_space_role_has_no_space_defaults():
    stack = make_stack()
    keys, network, _, _, _ = new_workspace_parts(stack)
    role = iam.Role(stack, "Own", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    StudioDomain(stack, "Studio", domain_name="d", placement=network.placement, key=keys.studio, execution_role=role)
    trust = stack.resolve(role.assume_role_policy.to_json())["Statement"]
    assert [s["Action"] for s in trust] == ["sts:AssumeRole", "sts:SetSourceIdentity"]
    domain = Template.from_stack(stack).find_resources("AWS::SageMaker::Domain")
    (props,) = [d["Properties"] for d in domain.values()]
    assert "DefaultSpaceSettings" not in props  # shared spaces need an explicit, least-privilege space role


def test_grant_sharing_reads_the_sharing_prefix_and_writes_only_the_sessions_own():
    stack = make_stack()
    keys, network, _, _, personas = new_workspace_parts(stack)
    studio = StudioDomain(stack, "Studio", domain_name="d", placement=network.placement, key=keys.studio,
                          execution_role=personas.role("data_scientist"))
    writer = iam.Role(stack, "Writer", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    reader = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    studio.grant_sharing(writer)
    studio.grant_sharing(reader, read_only=True)

    def grants(role: iam.Role) -> dict[str, list[str]]:
        document = stack.resolve(role.node.find_child("DefaultPolicy").document.to_json())
        out: dict[str, list[str]] = {}
        for statement in document["Statement"]:
            for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
                resource = statement["Resource"]
                out[action] = [resource["Fn::Join"][1][-1] if "Fn::Join" in resource else "bucket-or-key"]
        return out

    assert grants(writer) == {
        "s3:GetObject": ["/sharing/*"], "s3:PutObject": ["/sharing/${aws:SourceIdentity}/*"],
        "s3:DeleteObject": ["/sharing/${aws:SourceIdentity}/*"], "s3:ListBucket": ["bucket-or-key"],
        "s3:GetBucketLocation": ["bucket-or-key"], "kms:Decrypt": ["bucket-or-key"], "kms:Encrypt": ["bucket-or-key"],
        "kms:GenerateDataKey": ["bucket-or-key"], "kms:DescribeKey": ["bucket-or-key"]}
    assert grants(reader) == {
        "s3:GetObject": ["/sharing/*"], "s3:ListBucket": ["bucket-or-key"], "s3:GetBucketLocation": ["bucket-or-key"],
        "kms:Decrypt": ["bucket-or-key"], "kms:DescribeKey": ["bucket-or-key"]}


def test_every_user_profile_shares_under_its_own_prefix(ws):
    """The prefix the profile's sessions may write (sharing/${aws:SourceIdentity}/, the source identity being the
    profile name) is where Studio puts that profile's shared snapshots."""
    bucket_id = ws.stack.resolve(ws.studio.sharing_bucket.bucket.node.default_child.logical_id)
    for profile in ws.of_type("AWS::SageMaker::UserProfile").values():
        props = profile["Properties"]
        sharing = props["UserSettings"]["SharingSettings"]
        assert sharing["S3OutputPath"] == {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, f"/sharing/{props['UserProfileName']}/"]]}
        assert sharing["S3KmsKeyId"] == _arn(ws, ws.keys.studio)
        assert sharing["NotebookOutputOption"] == "Allowed"
    domain_settings = _domain(ws)["Properties"]["DomainSettings"]
    assert domain_settings["ExecutionRoleIdentityConfig"] == "USER_PROFILE_NAME"


# ------------------------------------------------------------------------------------------- bad props
@pytest.fixture()
def parts():
    stack = make_stack()
    keys, network, _, _, personas = new_workspace_parts(stack)
    return stack, keys, network, personas


def _build(parts, **overrides):
    stack, keys, network, personas = parts
    props = dict(domain_name="good-name", placement=network.placement, key=keys.studio, execution_role=personas.role("auditor"))
    props.update(overrides)
    return StudioDomain(stack, "Bad", **props)


def test_invalid_domain_name_is_rejected(parts):
    with pytest.raises(ValueError, match=re.escape("Test/Bad: 1 problem(s):\n  - domain_name: 'my_domain!' is not a valid Studio domain name")):
        _build(parts, domain_name="my_domain!")


def test_placement_without_subnets_is_rejected(parts):
    stack, keys, network, personas = parts
    empty = NetworkPlacement(vpc=network.vpc, subnet_ids=(), security_group=network.security_group)
    with pytest.raises(ValueError, match="placement.subnet_ids: is empty; a VpcOnly domain needs at least one private subnet"):
        _build(parts, placement=empty)


def test_bad_idle_and_storage_settings_are_all_reported(parts):
    settings = StudioConfig(idle_timeout_minutes=30, max_idle_timeout_minutes=120, default_ebs_gb=50, max_ebs_gb=20)
    with pytest.raises(ValueError) as failure:
        _build(parts, domain_name="-bad", settings=settings)
    text = str(failure.value)
    assert "3 problem(s)" in text
    assert "domain_name: '-bad'" in text
    assert "settings.idle_timeout_minutes: 30 is out of range; SageMaker allows 60 to 525600 minutes" in text
    assert "settings.max_ebs_gb: 20 is below default_ebs_gb 50" in text


def test_invalid_and_duplicate_user_names_are_rejected(parts):
    domain = _build(parts)
    role = parts[3].role("auditor")
    with pytest.raises(ValueError) as failure:
        domain.add_user_profiles({"ok-user": role, "bad_user": role, "-x": role})
    text = str(failure.value)
    assert text.startswith("Test/Bad: 2 problem(s)")
    assert "user name 'bad_user' is not a valid Studio user profile name" in text
    assert "user name '-x' is not a valid" in text
    assert domain.user_profiles == {}, "nothing is created when any name is bad"
    domain.add_user_profile("ok-user", execution_role=role)
    with pytest.raises(ValueError, match="user name 'ok-user' already has a profile in this domain"):
        domain.add_user_profile("ok-user", execution_role=role)
