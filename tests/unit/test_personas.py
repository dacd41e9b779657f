"""Personas: SageMaker-only execution roles, activity policies per the documented table, scoping to the
estate's own resources, the sign-in policy, user profiles; unknown personas rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_estate.workspace.personas import UserConfig
from mlops_estate.workspace.personas import (
    ACTIVITIES, PERSONAS, SIGN_IN_TAG, PersonaResources, Personas, persona_role_arn, persona_role_name,
)
from mlops_estate.workspace.studio import StudioDomain
from tests.helpers import TEST_ACCOUNT, make_stack
from tests.iam_eval import Caller, allowed, physical_names, render
from tests.unit.workspace_stack import (
    APPROVER_ROLE_ARN, BOUNDARY_ARN, ESTATE, FEATURE_GROUP, REGISTRY_ACCOUNT, USERS, Workspace, as_list, new_workspace_parts,
    statements, workspace,
)


@pytest.fixture(scope="module")
def ws() -> Workspace:
    return workspace()


def _policies_of(ws: Workspace, persona: str) -> dict[str, dict]:
    role_ref = {"Ref": ws.id_of(ws.personas.role(persona))}
    # Without the estate's ManagedPoliciesOnly aspect a role's own DefaultPolicy is still inline.
    policies = {**ws.of_type("AWS::IAM::ManagedPolicy"), **ws.of_type("AWS::IAM::Policy")}
    return {k: v for k, v in policies.items() if role_ref in v["Properties"].get("Roles", [])}


def _allowed(ws: Workspace, persona: str) -> list[tuple[str, dict]]:
    return [(a, s) for p in _policies_of(ws, persona).values() for s in statements(p) for a in as_list(s["Action"])]


def test_roles_are_assumed_only_by_sagemaker_of_this_account_and_bounded(ws):
    for persona in PERSONAS:
        role = ws.resources[ws.id_of(ws.personas.role(persona))]["Properties"]
        trust = role["AssumeRolePolicyDocument"]["Statement"]
        # AssumeRole, and SetSourceIdentity for the Studio domain's user-profile source identity.
        assert sorted(s["Action"] for s in trust) == ["sts:AssumeRole", "sts:SetSourceIdentity"]
        for statement in trust:
            assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
            assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
        assert role["PermissionsBoundary"] == BOUNDARY_ARN
        assert "ManagedPolicyArns" not in role, "no AWS managed policies (e.g. AmazonSageMakerFullAccess)"


def test_activity_policies_are_attached_as_the_table_says(ws):
    table = dict(ACTIVITIES, Studio=PERSONAS)
    for activity, personas in table.items():
        policy = ws.resources[ws.id_of(ws.personas.policies[activity])]
        attached = sorted(r["Ref"] for r in policy["Properties"]["Roles"])
        expected = [ws.id_of(ws.personas.role(p)) for p in personas]
        if activity == "ReadAssets":  # and the shared-space role: estate metadata, nothing else
            expected.append(ws.id_of(ws.personas.shared_space_role))
        assert attached == sorted(expected), activity


def test_no_role_exceeds_the_managed_policy_quota(ws):
    for persona in PERSONAS:
        assert len(_policies_of(ws, persona)) <= 9, persona


def test_jobs_must_run_in_the_estate_vpc_with_estate_keys(ws):
    (create,) = [s for s in statements(ws.resources[ws.id_of(ws.personas.policies["RunWorkloads"])])
                 if s.get("Sid") == "JobsOnlyInTheEstateVpcWithEstateKeys"]
    assert sorted(create["Action"]) == ["sagemaker:CreateHyperParameterTuningJob", "sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob"]
    conditions = create["Condition"]
    assert conditions["Null"] == {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"}
    assert conditions["ForAllValues:StringEquals"]["sagemaker:VpcSubnets"] == [ws.stack.resolve(s) for s in ws.network.placement.subnet_ids]
    keys = conditions["StringEquals"]["sagemaker:VolumeKmsKey"]
    assert {"Fn::GetAtt": [ws.id_of(ws.keys.data), "Arn"]} in keys and {"Ref": ws.id_of(ws.keys.models)} in keys
    assert {"Fn::GetAtt": [ws.id_of(ws.keys.studio), "Arn"]} not in keys


def test_sagemaker_resources_are_scoped_to_the_estate_prefix(ws):
    for activity in ("ReadAssets", "BuildAssets", "Administer"):
        for statement in statements(ws.resources[ws.id_of(ws.personas.policies[activity])]):
            for resource in as_list(statement["Resource"]):
                if isinstance(resource, str) and any(t in resource for t in (":pipeline/", ":model-package", ":feature-group/")):
                    assert f"/{ESTATE}-*" in resource or resource.endswith(f":feature-group/{FEATURE_GROUP}"), resource
    build = ws.resources[ws.id_of(ws.personas.policies["BuildAssets"])]
    resources = [r for s in statements(build) for r in as_list(s["Resource"])]
    assert f"arn:aws:sagemaker:eu-west-1:{REGISTRY_ACCOUNT}:model-package-group/{ESTATE}-*" in resources
    assert f"arn:aws:sagemaker:eu-west-1:123456789012:pipeline/{ESTATE}-*" in resources
    assert f"arn:aws:sagemaker:eu-west-1:123456789012:feature-group/{FEATURE_GROUP}" in resources


def test_only_the_mlops_admin_can_approve_models_and_only_as_the_registrys_approver(ws):
    (update,) = [s for s in statements(ws.resources[ws.id_of(ws.personas.policies["BuildAssets"])]) if s.get("Sid") == "UpdateModelsButNeverApprove"]
    assert update["Condition"] == {"StringNotEquals": {"sagemaker:ModelApprovalStatus": "Approved"}}
    for persona in PERSONAS:
        # No persona sets an approval status itself: the registry's groups live in another account, whose group
        # policies grant this account no UpdateModelPackage; the one path is the registry's ModelApprover role.
        unconditional = [s for a, s in _allowed(ws, persona) if a == "sagemaker:UpdateModelPackage" and "Condition" not in s]
        assert unconditional == [], persona
        assumes = [s for a, s in _allowed(ws, persona) if a in ("sts:AssumeRole", "sts:SetSourceIdentity")]
        if persona == "mlops_admin":
            (statement,) = {json.dumps(s, sort_keys=True): s for s in assumes}.values()
            assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:SetSourceIdentity"]
            assert statement["Resource"] == APPROVER_ROLE_ARN
        else:
            assert assumes == [], persona


def test_the_approver_persona_role_is_named_for_the_registrys_trust(ws):
    admin = ws.resources[ws.id_of(ws.personas.role("mlops_admin"))]["Properties"]
    assert admin["RoleName"] == f"{ESTATE}-mlops-admin" == persona_role_name(ESTATE, "mlops_admin")
    assert ws.stack.resolve(persona_role_arn(ESTATE, "mlops_admin", "444444444444")) == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::444444444444:role/{ESTATE}-mlops-admin"]]}
    for persona in ("data_scientist", "ml_engineer", "auditor"):  # nobody needs to find them by name
        assert "RoleName" not in ws.resources[ws.id_of(ws.personas.role(persona))]["Properties"], persona
    # Without an approver role to assume, the persona keeps a generated name (one-account apps, tests).
    stack = make_stack()
    _, network, data, artifacts, _ = new_workspace_parts(stack)
    alone = Personas(stack, "Alone", resources=PersonaResources(estate_name="sb", data_bucket=data, artifacts_bucket=artifacts,
                                                                 placement=network.placement, job_keys=(data.key,)))
    assert stack.resolve(alone.role("mlops_admin").node.default_child.role_name) is None


def test_the_auditor_reads_metadata_but_never_data_and_changes_nothing(ws):
    actions = {a for a, _ in _allowed(ws, "auditor")}
    assert "s3:GetBucketPolicy" in actions and "kms:GetKeyRotationStatus" in actions
    mutating = ("Create", "Update", "Delete", "Put", "Start", "Stop", "PassRole")
    service_actions = {a for a in actions if a.split(":")[0] in ("sagemaker", "s3", "iam")}
    changes = {a for a in service_actions if any(a.split(":")[1].startswith(m) for m in mutating)}
    # Studio: the auditor runs its own notebook apps and spaces, shares notebooks, opens the MLflow UI; nothing else.
    assert changes == {"sagemaker:CreateApp", "sagemaker:DeleteApp", "sagemaker:CreateSpace", "sagemaker:UpdateSpace",
                       "sagemaker:DeleteSpace", "sagemaker:CreatePresignedMlflowTrackingServerUrl",
                       "s3:PutObject", "s3:DeleteObject"}
    own = ws.stack.resolve(ws.studio.sharing_bucket.bucket.arn_for_objects("sharing/${aws:SourceIdentity}/*"))
    for action, statement in _allowed(ws, "auditor"):
        if action in ("s3:PutObject", "s3:DeleteObject"):  # its own shared notebooks only
            assert as_list(statement["Resource"]) == [own]
    data_objects = ws.stack.resolve(ws.data.bucket.arn_for_objects("*"))
    assert not [s for a, s in _allowed(ws, "auditor") if a == "s3:GetObject" and data_objects in as_list(s["Resource"])]


def test_data_scientists_read_data_but_write_only_artifacts(ws):
    data_arn = {"Fn::GetAtt": [ws.id_of(ws.data.bucket), "Arn"]}
    writes = [s for a, s in _allowed(ws, "data_scientist") if a == "s3:PutObject"]
    for statement in writes:
        for resource in as_list(statement["Resource"]):
            assert data_arn not in resource.get("Fn::Join", ["", []])[1], "no write to the data bucket"
    reads = [s for a, s in _allowed(ws, "data_scientist") if a == "s3:GetObject"]
    assert any(data_arn in r["Fn::Join"][1] for s in reads for r in as_list(s["Resource"]))


def test_sign_in_policy_opens_only_the_profile_named_by_the_session_tag(ws):
    policy = ws.resources[ws.id_of(ws.personas.sign_in_policy)]
    assert policy["Properties"]["ManagedPolicyName"] == f"{ESTATE}-studio-sign-in"
    assert "Roles" not in policy["Properties"]
    presign = statements(policy)[0]
    assert presign["Action"] == "sagemaker:CreatePresignedDomainUrl"
    assert presign["Resource"]["Fn::Join"][1][-1] == f"/${{aws:PrincipalTag/{SIGN_IN_TAG}}}"


def test_only_job_running_personas_may_pass_their_own_role(ws):
    for persona in PERSONAS:
        passes = [s for a, s in _allowed(ws, persona) if a == "iam:PassRole"]
        if persona == "auditor":
            assert passes == []
        else:
            assert [s["Resource"] for s in passes] == [{"Fn::GetAtt": [ws.id_of(ws.personas.role(persona)), "Arn"]}]
            assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_unknown_persona_is_rejected():
    stack = make_stack()
    _, network, _, _, personas = new_workspace_parts(stack)
    with pytest.raises(ValueError, match="unknown persona 'wizard'; choose one of data_scientist, ml_engineer, mlops_admin, auditor"):
        personas.role("wizard")
    domain = StudioDomain(stack, "Studio", domain_name="d", placement=network.placement,
                          key=personas.resources.job_keys[0], execution_role=personas.role("auditor"))
    users = [UserConfig("ana", "data_scientist"), UserConfig("zed", "wizard")]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"users\[1\].persona: 'wizard' is not a persona; choose one of data_scientist"):
        personas.add_user_profiles(domain, users)
    assert domain.user_profiles == {}


def test_sandbox_registry_in_this_account_is_named_once():
    stack = make_stack()
    _, network, data, artifacts, _ = new_workspace_parts(stack)
    personas = Personas(stack, "Sandbox", resources=PersonaResources(
        estate_name="sb", data_bucket=data, artifacts_bucket=artifacts, placement=network.placement,
        job_keys=(data.key,), registry_account=stack.account))
    document = stack.resolve(personas.policies["Administer"].document.to_json())
    assert document["Statement"][0]["Resource"] == [
        "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/sb-*",
        "arn:aws:sagemaker:eu-west-1:123456789012:model-package/sb-*/*",
    ]


def _own_profile(ws: Workspace) -> dict:
    domain_id = {"Fn::GetAtt": [ws.id_of(ws.studio.cfn), "DomainId"]}
    return {"Fn::Join": ["", ["arn:aws:sagemaker:eu-west-1:123456789012:user-profile/", domain_id, "/${sagemaker:UserProfileName}"]]}


SPACE_CHANGES = ("sagemaker:CreateSpace", "sagemaker:UpdateSpace", "sagemaker:DeleteSpace")


@pytest.mark.parametrize("persona", PERSONAS)
def test_personas_change_only_spaces_they_own(ws, persona):
    grants = [s for a, s in _allowed(ws, persona) if a in SPACE_CHANGES]
    assert grants
    sharing = set()
    for statement in grants:
        assert statement["Condition"]["ArnLike"] == {"sagemaker:OwnerUserProfileArn": _own_profile(ws)}
        sharing.add(statement["Condition"]["StringEquals"]["sagemaker:SpaceSharingType"])
    # The auditor never gets a shared space (shared spaces run as the domain's space role, not as the auditor).
    assert sharing == ({"Private"} if persona == "auditor" else {"Private", "Shared"})


@pytest.mark.parametrize("persona", PERSONAS)
def test_apps_run_only_in_own_private_spaces_or_shared_spaces(ws, persona):
    grants = [s for a, s in _allowed(ws, persona) if a in ("sagemaker:CreateApp", "sagemaker:DeleteApp")]
    kinds = set()
    for statement in grants:
        condition = statement["Condition"]
        kind = condition["StringEquals"]["sagemaker:SpaceSharingType"]
        kinds.add(kind)
        if kind == "Private":
            assert condition["ArnLike"] == {"sagemaker:OwnerUserProfileArn": _own_profile(ws)}
    assert kinds == ({"Private"} if persona == "auditor" else {"Private", "Shared"})


def test_studio_tags_only_on_create(ws):
    for persona in PERSONAS:
        for action, statement in _allowed(ws, persona):
            if action == "sagemaker:AddTags" and any(":app/" in str(r) or ":space/" in str(r) for r in as_list(statement["Resource"])):
                assert statement["Condition"] == {"Null": {"sagemaker:TaggingAction": "false"}}


def test_the_shared_space_role_reads_metadata_and_shares_notebooks_only(ws):
    role_ref = {"Ref": ws.id_of(ws.personas.shared_space_role)}
    policies = {**ws.of_type("AWS::IAM::ManagedPolicy"), **ws.of_type("AWS::IAM::Policy")}
    attached = [p for p in policies.values() if role_ref in p["Properties"].get("Roles", [])]
    actions = {a for p in attached for s in statements(p) for a in as_list(s["Action"])}
    assert "sagemaker:DescribePipeline" in actions and "s3:GetObject" in actions
    writes = {a for a in actions if a.split(":")[1].startswith(("Create", "Update", "Delete", "Put", "Start", "PassRole", "Encrypt",
                                                                "GenerateDataKey"))}
    assert writes == set()  # reads estate metadata and shared notebooks, writes nothing
    sharing = ws.stack.resolve(ws.studio.sharing_bucket.bucket.arn_for_objects("sharing/*"))
    s3_objects = [r for p in attached for s in statements(p) if "s3:GetObject" in as_list(s["Action"]) for r in as_list(s["Resource"])]
    assert s3_objects == [sharing], "no data bucket, no artifacts"
    trust = ws.resources[ws.id_of(ws.personas.shared_space_role)]["Properties"]
    assert trust["PermissionsBoundary"] == BOUNDARY_ARN


def test_persona_roles_allow_the_studio_source_identity_without_a_domain():
    stack = make_stack()
    _, _, _, _, personas = new_workspace_parts(stack)
    for role in [*personas.roles.values(), personas.shared_space_role]:
        trust = stack.resolve(role.assume_role_policy.to_json())["Statement"]
        (statement,) = [s for s in trust if s["Action"] == "sts:SetSourceIdentity"]
        assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


KEY_TABLE = json.loads((Path(__file__).parents[1] / "data" / "iam_condition_keys.json").read_text())["actions"]


def test_studio_space_and_app_conditions_are_documented_for_their_actions(ws):
    """A condition key the reference does not list for an action is absent from its requests: an Allow on it never
    matches, and a ForAllValues/IfExists one matches vacuously. Checked against the Service Authorization Reference."""
    studio = [ws.personas.policies["Studio"], ws.personas.policies["RunWorkloads"]]
    checked = 0
    for policy in studio:
        for statement in statements(ws.resources[ws.id_of(policy)]):
            keys = {k for operator in statement.get("Condition", {}).values() for k in operator if k.startswith("sagemaker:")}
            for action in as_list(statement["Action"]) if keys else []:
                assert action in KEY_TABLE, f"{statement.get('Sid')}: {action} is not in the reference table"
                assert keys <= set(KEY_TABLE[action]), f"{statement.get('Sid')}: {action} does not document {keys - set(KEY_TABLE[action])}"
                checked += 1
    assert checked >= 9  # Create/Update/DeleteSpace twice, Create/DeleteApp twice, AddTags


def test_the_auditor_can_neither_create_nor_run_a_shared_space(ws):
    """Shared spaces run as the domain's space role: an auditor able to create one, or start its apps, would act
    as that role. Every auditor grant on spaces and apps is limited to Private spaces."""
    for action, statement in _allowed(ws, "auditor"):
        if action in (*SPACE_CHANGES, "sagemaker:CreateApp", "sagemaker:DeleteApp"):
            assert statement["Condition"]["StringEquals"] == {"sagemaker:SpaceSharingType": "Private"}, action
            assert "sagemaker:OwnerUserProfileArn" in statement["Condition"]["ArnLike"], action


# ------------------------------------------------------------------------------------------- shared notebooks
def _caller(ws: Workspace, role: object) -> Caller:
    template = ws.template.to_json()
    names = physical_names(template, TEST_ACCOUNT)
    role_id = ws.id_of(role)
    policies = {**ws.of_type("AWS::IAM::ManagedPolicy"), **ws.of_type("AWS::IAM::Policy")}
    documents = [p["Properties"]["PolicyDocument"] for p in policies.values() if {"Ref": role_id} in p["Properties"].get("Roles", [])]
    return Caller(names[f"{role_id}.Arn"], TEST_ACCOUNT, [render(s, TEST_ACCOUNT, names) for d in documents for s in d["Statement"]])


def _sharing(ws: Workspace, key: str) -> str:
    bucket = physical_names(ws.template.to_json(), TEST_ACCOUNT)[ws.id_of(ws.studio.sharing_bucket.bucket)]
    return f"arn:aws:s3:::{bucket}/{key}"


@pytest.mark.parametrize("user", USERS, ids=[u.persona for u in USERS])
def test_a_person_shares_notebooks_only_under_their_own_prefix(ws, user):
    """Studio sessions carry the user profile name as source identity; every profile writes under sharing/<its name>/."""
    caller = _caller(ws, ws.personas.role(user.persona))
    me = {"aws:SourceIdentity": user.name}
    others = [u.name for u in USERS if u.name != user.name]
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert allowed(caller, action, _sharing(ws, f"sharing/{user.name}/snapshot/nb.ipynb"), resource_account=TEST_ACCOUNT, ctx=me)
        for other in others:  # nobody replaces or deletes another person's shared work
            assert not allowed(caller, action, _sharing(ws, f"sharing/{other}/snapshot/nb.ipynb"), resource_account=TEST_ACCOUNT,
                               ctx=me), (action, other)
        assert not allowed(caller, action, _sharing(ws, "sharing/nb.ipynb"), resource_account=TEST_ACCOUNT, ctx=me)
        # A job or pipeline running as the persona role has no source identity: it shares nothing.
        assert not allowed(caller, action, _sharing(ws, f"sharing/{user.name}/nb.ipynb"), resource_account=TEST_ACCOUNT)
    for other in others:  # and reads everyone's
        assert allowed(caller, "s3:GetObject", _sharing(ws, f"sharing/{other}/snapshot/nb.ipynb"), resource_account=TEST_ACCOUNT, ctx=me)


def test_shared_spaces_read_shared_notebooks_but_write_none(ws):
    space = _caller(ws, ws.personas.shared_space_role)
    for who in ({}, {"aws:SourceIdentity": "ana"}):
        for action in ("s3:PutObject", "s3:DeleteObject"):
            for key in ("sharing/ana/nb.ipynb", "sharing/kim/nb.ipynb", "sharing/nb.ipynb"):
                assert not allowed(space, action, _sharing(ws, key), resource_account=TEST_ACCOUNT, ctx=who), (action, key, who)
        assert allowed(space, "s3:GetObject", _sharing(ws, "sharing/ana/nb.ipynb"), resource_account=TEST_ACCOUNT, ctx=who)
