"""The ML workspace in the default estate: Studio, a profile per configured user with its persona's role,
MLflow with its ARN exported; all policies managed (the estate's aspect), within IAM's per-role quota."""

from __future__ import annotations

from tests.helpers import default_config, resources_of_type

STACK = "MlDev/Workspace"


def _camel(persona: str) -> str:
    return "".join(p.capitalize() for p in persona.split("_"))


def test_studio_domain_and_a_profile_per_configured_user(default_estate):
    template = default_estate.templates[STACK]
    config = default_config()
    (domain,) = resources_of_type(template, "AWS::SageMaker::Domain").values()
    assert domain["Properties"]["DomainName"] == f"{config.name}-studio"
    assert domain["Properties"]["AppNetworkAccessType"] == "VpcOnly"
    profiles = {p["Properties"]["UserProfileName"]: p for p in resources_of_type(template, "AWS::SageMaker::UserProfile").values()}
    assert sorted(profiles) == sorted(u.name for u in config.users)
    for user in config.users:
        role_id = profiles[user.name]["Properties"]["UserSettings"]["ExecutionRole"]["Fn::GetAtt"][0]
        assert role_id.startswith(f"Personas{_camel(user.persona)}"), (user, role_id)


def test_mlflow_server_from_config_with_its_arn_exported(default_estate):
    template = default_estate.templates[STACK]
    mlflow = default_config().workspace.mlflow
    (server,) = resources_of_type(template, "AWS::SageMaker::MlflowTrackingServer").values()
    assert server["Properties"]["TrackingServerSize"] == mlflow.size
    assert server["Properties"]["MlflowVersion"] == mlflow.version
    exports = [o["Export"]["Name"] for o in template["Outputs"].values() if "Export" in o]
    assert "mlops-mlflow-tracking-server-arn" in exports


def test_persona_roles_hold_only_managed_policies_within_the_quota(default_estate):
    template = default_estate.templates[STACK]
    assert resources_of_type(template, "AWS::IAM::Policy") == {}
    roles = [k for k in resources_of_type(template, "AWS::IAM::Role") if k.startswith("Personas")]
    assert len(roles) == 5  # four personas and the shared-space role
    for role in roles:
        attached = [p for p in resources_of_type(template, "AWS::IAM::ManagedPolicy").values()
                    if {"Ref": role} in p["Properties"].get("Roles", [])]
        assert 0 < len(attached) <= 9, role


def test_workspace_settings_reach_the_ml_dev_stack():
    from aws_cdk import Stage
    from aws_cdk.assertions import Template

    from mlops_estate.config.estate import EstateConfig
    from mlops_estate.stacks.ml_dev import MlDevStack
    from tests.helpers import default_estate_dict, make_app

    data = default_estate_dict()
    boundary = "arn:aws:iam::444444444444:policy/ml-developer-boundary"
    data["workspace"] = {"permissions_boundary_arn": boundary,
                         "studio": {"idle_timeout_minutes": 60, "max_idle_timeout_minutes": 60},
                         "mlflow": {"automatic_model_registration": False, "size": "Large"}}
    stack = MlDevStack(Stage(make_app(), "MlDev"), "Workspace", config=EstateConfig.from_dict(data, "test"))
    template = Template.from_stack(stack).to_json()
    roles = {k: v for k, v in resources_of_type(template, "AWS::IAM::Role").items() if k.startswith("Personas")}
    assert len(roles) == 5  # four personas and the shared-space role: every one bounded
    assert all(r["Properties"]["PermissionsBoundary"] == boundary for r in roles.values())
    (server,) = resources_of_type(template, "AWS::SageMaker::MlflowTrackingServer").values()
    assert server["Properties"]["AutomaticModelRegistration"] is False
    assert server["Properties"]["TrackingServerSize"] == "Large"
    (domain,) = resources_of_type(template, "AWS::SageMaker::Domain").values()
    idle = domain["Properties"]["DefaultUserSettings"]["JupyterLabAppSettings"]["AppLifecycleManagement"]["IdleSettings"]
    assert (idle["IdleTimeoutInMinutes"], idle["MaxIdleTimeoutInMinutes"]) == (60, 60)
