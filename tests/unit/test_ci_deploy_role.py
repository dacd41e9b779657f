"""CiDeployRole, the GitHub OIDC provider, the CiAccess stacks and the `ci` config: exact trust, only the
bootstrap roles, and every bad input rejected with its path."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk import AspectPriority, Aspects, Duration, Stage
from aws_cdk.assertions import Template

from mlops_estate.governance.ci_deploy_role import BOOTSTRAP_ROLE_KINDS, CiDeployRole, github_oidc_provider
from mlops_estate.config.estate import ConfigError, EstateConfig
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.stacks.ci_access import DEPLOY_ORDER, add_ci_access, ci_role_name, role_variable
from tests.helpers import TEST_ACCOUNT, TEST_REGION, default_config, default_estate_dict, make_app, make_stack, resources_of_type

REPO = "example-org/ml-estate"


def _role_and_policies(template: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    (role,) = resources_of_type(template, "AWS::IAM::Role").values()
    policies = list(resources_of_type(template, "AWS::IAM::Policy").values()) + list(
        resources_of_type(template, "AWS::IAM::ManagedPolicy").values())
    return role, policies


@pytest.fixture(scope="module")
def created() -> dict[str, Any]:
    stack = make_stack()
    provider = github_oidc_provider(stack, "GitHub")
    CiDeployRole(stack, "Deploy", github_repository=REPO, environment="production", provider=provider,
                 bootstrap_qualifier="abc123", role_name="mlops-github-deploy-prod")
    return Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def referenced() -> dict[str, Any]:
    stack = make_stack()
    provider = github_oidc_provider(stack, "GitHub", create=False)
    CiDeployRole(stack, "Deploy", github_repository=REPO, environment="staging", provider=provider,
                 max_session=Duration.hours(2))
    return Template.from_stack(stack).to_json()


def test_provider_is_native_github_with_only_the_sts_audience_and_retained(created):
    (provider,) = resources_of_type(created, "AWS::IAM::OIDCProvider").values()
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]
    assert (provider["DeletionPolicy"], provider["UpdateReplacePolicy"]) == ("Retain", "Retain")
    # Native resource: no custom-resource Lambda behind it.
    assert not resources_of_type(created, "AWS::Lambda::Function")
    assert not [r for r in created["Resources"].values() if r["Type"].startswith("Custom::")]


def test_trust_is_exactly_one_repository_environment_and_the_sts_audience(created):
    role, _ = _role_and_policies(created)
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    provider_id = next(iter(resources_of_type(created, "AWS::IAM::OIDCProvider")))
    assert statement == {
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Effect": "Allow",
        "Principal": {"Federated": {"Ref": provider_id}},
        "Condition": {"StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:example-org/ml-estate:environment:production",
        }},
    }
    assert role["Properties"]["RoleName"] == "mlops-github-deploy-prod"
    assert role["Properties"]["MaxSessionDuration"] == 3600


def test_only_permission_is_assuming_this_accounts_bootstrap_roles(created):
    role, policies = _role_and_policies(created)
    assert "ManagedPolicyArns" not in role["Properties"] and "Policies" not in role["Properties"]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    expected = [f"cdk-abc123-{kind}-role-{TEST_ACCOUNT}-{TEST_REGION}" for kind in BOOTSTRAP_ROLE_KINDS]
    assert len(statements) == 1
    (statement,) = statements
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
    assert statement["Resource"] == [f"arn:aws:iam::{TEST_ACCOUNT}:role/{name}" for name in expected]


def test_referenced_provider_is_the_accounts_github_provider_arn(referenced):
    assert not resources_of_type(referenced, "AWS::IAM::OIDCProvider")
    role, _ = _role_and_policies(referenced)
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"]["Federated"] == f"arn:aws:iam::{TEST_ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == (
        "repo:example-org/ml-estate:environment:staging")
    assert role["Properties"]["MaxSessionDuration"] == 7200


def _construct_error(**overrides: Any) -> str:
    stack = make_stack()
    props: dict[str, Any] = dict(github_repository=REPO, environment="production",
                                 provider=github_oidc_provider(stack, "GitHub", create=False))
    props.update(overrides)
    with pytest.raises(ValueError) as failure:
        CiDeployRole(stack, "Deploy", **props)
    return str(failure.value)


def test_wildcard_repository_is_rejected():
    message = _construct_error(github_repository="example-org/*")
    assert message.startswith("Test/Deploy: 1 problem(s):\n  - github_repository: 'example-org/*' is not a GitHub repository; "
                              "expected 'owner/repo'")


def test_repository_without_owner_is_rejected():
    assert "github_repository: 'ml-estate' is not a GitHub repository" in _construct_error(github_repository="ml-estate")


def test_dot_repository_is_rejected():
    assert "github_repository: 'example-org/..' is not a GitHub repository; expected a repository name other than '.' or '..'" in (
        _construct_error(github_repository="example-org/.."))


def test_bad_environment_name_is_rejected():
    assert "environment: 'prod*' is not a GitHub environment name" in _construct_error(environment="prod*")


def test_bad_qualifier_is_rejected():
    assert "bootstrap_qualifier: 'HNB659FDS' is not a CDK bootstrap qualifier" in _construct_error(bootstrap_qualifier="HNB659FDS")


def test_bad_role_name_is_rejected():
    assert "role_name: 'ci deploy' is not an IAM role name; expected 1-64 of letters, digits and +=,.@_-" in (
        _construct_error(role_name="ci deploy"))


def test_session_longer_than_iam_allows_is_rejected():
    assert "max_session: 13 h is outside what IAM allows; expected 1 to 12 hours" in _construct_error(max_session=Duration.hours(13))


def test_all_construct_problems_are_reported_at_once():
    message = _construct_error(github_repository="a/b/c", environment="", bootstrap_qualifier="x_y")
    assert message == (
        "Test/Deploy: 3 problem(s):\n"
        "  - github_repository: 'a/b/c' is not a GitHub repository; expected 'owner/repo' of letters, digits, '.', '_' and '-' "
        "(no wildcards)\n"
        "  - environment: '' is not a GitHub environment name; expected 1-255 letters, digits, '.', '_' or '-'\n"
        "  - bootstrap_qualifier: 'x_y' is not a CDK bootstrap qualifier; expected 1-10 lower-case letters and digits"
    )


# --- the `ci` config -------------------------------------------------------------------------------------------

def _config_problems(ci: dict[str, Any], **organization: Any) -> list[str]:
    estate = default_estate_dict()
    estate["ci"] = {"max_session_hours": 3, **ci}  # the default estate's longest rollout needs 3 h
    estate["organization"].update(organization)
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(estate, "test")
    return failure.value.problems


def test_default_estate_enables_ci_with_one_environment_per_account():
    ci = default_config().ci
    assert ci is not None and ci.github_repository == REPO
    assert set(ci.environments) == {account for _, account in DEPLOY_ORDER}
    assert ci.environments["prod"] == "production"


@pytest.mark.parametrize("repository", ["example-org", "example-org/*", "-org/repo", "org/..", "org/re po", "repo:org/x"])
def test_config_rejects_a_bad_repository(repository):
    (problem,) = _config_problems({"github_repository": repository})
    assert problem.startswith(f"ci.github_repository: {repository!r} is not a GitHub repository like 'my-org/ml-estate'")


def test_config_rejects_a_bad_environment_name():
    (problem,) = _config_problems({"github_repository": REPO, "environments": {
        "management": "management", "shared_services": "shared services", "data_lake": "data-lake", "ml_dev": "ml-dev",
        "staging": "staging", "prod": "production"}})
    assert problem == ("ci.environments.shared_services: 'shared services' is not a GitHub environment name we accept "
                       "(1-255 letters, digits, '.', '_' or '-')")


def test_config_rejects_two_accounts_sharing_an_environment():
    (problem,) = _config_problems({"github_repository": REPO, "environments": {
        "management": "management", "shared_services": "shared-services", "data_lake": "data-lake", "ml_dev": "ml-dev",
        "staging": "Production", "prod": "production"}})
    assert problem == "ci.environments.prod: 'production' is already the environment of staging; each account needs its own"


def test_config_rejects_a_missing_account_and_an_unknown_one():
    problems = _config_problems({"github_repository": REPO, "environments": {"staging": "staging", "qa": "qa"}})
    assert "ci.environments.qa: 'qa' is not allowed; expected one of 'management', 'shared_services', 'data_lake', 'ml_dev', 'staging', 'prod'" in problems
    assert "ci.environments: needs an environment for every account role; missing data_lake, management, ml_dev, prod, shared_services" in problems


def test_config_rejects_a_session_iam_does_not_allow():
    (problem,) = _config_problems({"github_repository": REPO, "max_session_hours": 0})
    assert problem == "ci.max_session_hours: 0 is out of range; IAM allows 1 to 12 hours"


def test_config_rejects_unknown_ci_keys():
    (problem,) = _config_problems({"github_repository": REPO, "github_repo": REPO})
    assert problem == "ci.github_repo: unknown key; did you mean 'github_repository'?"


# --- the CiAccess stacks --------------------------------------------------------------------------------------

def test_no_ci_config_builds_no_ci_stacks():
    estate = default_estate_dict()
    del estate["ci"]
    assert EstateConfig.from_dict(estate).ci is None
    assert add_ci_access({}, EstateConfig.from_dict(estate)) == {}


def test_role_variables_and_names_follow_the_stage():
    assert [role_variable(stage) for stage, _ in DEPLOY_ORDER] == [
        "DEPLOY_ROLE_ARN_SHARED_SERVICES", "DEPLOY_ROLE_ARN_ML_DEV", "DEPLOY_ROLE_ARN_DATA_LAKE",
        "DEPLOY_ROLE_ARN_ORGANIZATION", "DEPLOY_ROLE_ARN_STAGING", "DEPLOY_ROLE_ARN_PROD"]
    assert ci_role_name(default_config(), "SharedServices") == "mlops-github-deploy-shared-services"


@pytest.fixture(scope="module")
def sandbox_ci() -> dict[str, dict[str, Any]]:
    """The CiAccess stacks alone (no other stack) for an estate whose roles all share one account."""
    estate = default_estate_dict()
    estate["organization"]["management_account"] = TEST_ACCOUNT
    estate["accounts"] = {role: TEST_ACCOUNT for role in estate["accounts"]}
    config = EstateConfig.from_dict(estate)
    app = make_app()
    stages = {name: Stage(app, name) for name, _ in DEPLOY_ORDER}
    for stage in stages.values():
        Aspects.of(stage).add(ManagedPoliciesOnly(), priority=AspectPriority.MUTATING)
    stacks = add_ci_access(stages, config)
    return {name: Template.from_stack(stack).to_json() for name, stack in stacks.items()}


def test_stages_sharing_an_account_create_its_provider_once(sandbox_ci):
    with_provider = [name for name, t in sandbox_ci.items() if resources_of_type(t, "AWS::IAM::OIDCProvider")]
    assert with_provider == ["SharedServices"]  # the first stage the workflow deploys
    names = []
    for name, template in sandbox_ci.items():
        role, _ = _role_and_policies(template)
        names.append(role["Properties"]["RoleName"])
        if name != "SharedServices":
            federated = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Federated"]
            assert federated == f"arn:aws:iam::{TEST_ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    assert len(set(names)) == 6


def test_each_stage_role_trusts_its_own_environment_and_outputs_its_variable(default_estate):
    config = default_config()
    assert config.ci is not None
    assert sorted(default_estate.estate.ci_access) == sorted(stage for stage, _ in DEPLOY_ORDER)
    for stage, account in DEPLOY_ORDER:
        template = default_estate.templates[f"{stage}/CiAccess"]
        role, _ = _role_and_policies(template)
        condition = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]
        assert condition["token.actions.githubusercontent.com:sub"] == f"repo:{REPO}:environment:{config.ci.environments[account]}"
        assert template["Outputs"]["DeployRoleArn"]["Description"] == f"Set as the GitHub Actions variable {role_variable(stage)}"
        assert re.fullmatch(r"mlops-github-deploy-[a-z-]+", role["Properties"]["RoleName"])
        assert len(resources_of_type(template, "AWS::IAM::OIDCProvider")) == 1
