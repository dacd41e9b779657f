"""The default estate's SageMaker project templates: in the ML dev account, for the configured personas and models."""

from __future__ import annotations

import json

from tests.helpers import resources_of_type


def _projects(default_estate):
    return default_estate.templates["MlDev/Projects"]


def test_portfolio_is_shared_with_exactly_the_configured_personas(default_estate):
    template = _projects(default_estate)
    associations = resources_of_type(template, "AWS::ServiceCatalog::PortfolioPrincipalAssociation").values()
    outputs = sorted(a["Properties"]["PrincipalARN"]["Fn::GetStackOutput"]["OutputName"] for a in associations)
    assert len(outputs) == 2
    assert "PersonasDataScientist" in outputs[0] and "PersonasMlEngineer" in outputs[1]
    assert all(a["Properties"]["PrincipalType"] == "IAM" for a in associations)
    (creator,) = [p for p in resources_of_type(template, "AWS::IAM::ManagedPolicy").values()
                  if "create SageMaker projects" in p["Properties"].get("Description", "")]
    roles = json.dumps(creator["Properties"]["Roles"])
    assert "PersonasDataScientist" in roles and "PersonasMlEngineer" in roles
    assert "MlopsAdmin" not in roles and "Auditor" not in roles


def test_one_visible_product_per_configured_model_each_with_a_launch_constraint(default_estate):
    template = _projects(default_estate)
    products = resources_of_type(template, "AWS::ServiceCatalog::CloudFormationProduct")
    assert sorted(p["Properties"]["Name"] for p in products.values()) == [
        "mlops churn model build", "mlops churn model deploy", "mlops spend-forecast model build", "mlops spend-forecast model deploy"]
    for product in products.values():
        assert {"Key": "sagemaker:studio-visibility", "Value": "true"} in product["Properties"]["Tags"]
    constraints = resources_of_type(template, "AWS::ServiceCatalog::LaunchRoleConstraint")
    assert sorted(c["Properties"]["ProductId"]["Ref"] for c in constraints.values()) == sorted(products)


def test_estate_handles_point_at_the_workspace(default_estate):
    template = _projects(default_estate)
    values = {p["Properties"]["Name"]: p["Properties"]["Value"] for p in resources_of_type(template, "AWS::SSM::Parameter").values()}
    assert values["/mlops/projects/vpc-id"]["Fn::GetStackOutput"]["StackName"] == "MlDev-Workspace"
    assert "NetworkVpc" in values["/mlops/projects/vpc-id"]["Fn::GetStackOutput"]["OutputName"]
    assert "KeysModels" in values["/mlops/projects/models-key-arn"]["Fn::GetStackOutput"]["OutputName"]
    assert "ProjectBoundary" in values["/mlops/projects/boundary-arn"]["Ref"]


def test_workspace_resources_do_not_depend_on_the_projects_stack(default_estate):
    # The projects stack only reads the workspace: removing it (projects.enabled false) leaves the workspace intact.
    assert "MlDev-Projects" not in json.dumps(default_estate.templates["MlDev/Workspace"])
