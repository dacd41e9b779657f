"""One `bootstrap_qualifier` drives every bootstrap reference of the estate: the stacks' deploy and execution roles
(cloud assembly manifest), their asset bucket and version parameter, the CI deploy roles, the promotion pipeline
and the guardrails' exempt deployment role."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mlops_estate.config.estate import EstateConfig
from mlops_estate.stacks.base import EstateStack
from tests.conftest import SANDBOX_QUALIFIER, SynthesizedEstate
from tests.helpers import config_problems, default_estate_dict, make_app, resources_of_type

QUALIFIER = SANDBOX_QUALIFIER


@pytest.fixture(scope="module")
def team1(sandbox_estate: SynthesizedEstate) -> SynthesizedEstate:
    """The sandbox estate carries the qualifier (one synthesis with every gate on serves both)."""
    return sandbox_estate


def _stack_artifacts(outdir: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for manifest in outdir.glob("assembly-*/manifest.json"):
        for name, artifact in json.loads(manifest.read_text())["artifacts"].items():
            if artifact["type"] == "aws:cloudformation:stack":
                out[name] = artifact["properties"]
    return out


def test_every_stack_deploys_through_the_configured_bootstrap(team1):
    artifacts = _stack_artifacts(team1.outdir)
    assert len(artifacts) == len(team1.templates) - 1  # every deployable stack (the StackSet template is none)
    for name, props in artifacts.items():
        account = re.search(r":iam::(\d{12}):role/", props["assumeRoleArn"]).group(1)  # type: ignore[union-attr]
        assert props["assumeRoleArn"].endswith(f":role/cdk-{QUALIFIER}-deploy-role-{account}-eu-west-1"), name
        assert props["cloudFormationExecutionRoleArn"].endswith(f":role/cdk-{QUALIFIER}-cfn-exec-role-{account}-eu-west-1"), name
        assert props["bootstrapStackVersionSsmParameter"] == f"/cdk-bootstrap/{QUALIFIER}/version", name
    # Nothing anywhere still names the default bootstrap (roles, asset buckets, the StackSet's template URL).
    text = "".join(p.read_text() for p in team1.outdir.glob("assembly-*/*.json"))
    assert "hnb659fds" not in text and f"cdk-{QUALIFIER}-assets-" in text


def test_ci_roles_promotion_and_guardrails_name_the_same_bootstrap(team1):
    templates = team1.templates
    ci = json.dumps(templates["Prod/CiAccess"])
    assigned = set(re.findall(r":role/cdk-([a-z0-9]+)-(deploy|file-publishing|image-publishing|lookup)-role-", ci))
    assert assigned == {(QUALIFIER, kind) for kind in ("deploy", "file-publishing", "image-publishing", "lookup")}
    promotion = json.dumps(resources_of_type(templates["SharedServices/Registry"], "AWS::CodePipeline::Pipeline"))
    assert f"role/cdk-{QUALIFIER}-deploy-role-" in promotion and f"role/cdk-{QUALIFIER}-cfn-exec-role-" in promotion
    scps = [json.dumps(p["Properties"]["Content"]) for p in resources_of_type(templates["Organization/Guardrails"],
                                                                              "AWS::Organizations::Policy").values()]
    protect = [s for doc in scps for s in json.loads(doc)["Statement"] if s["Sid"] == "ProtectAwsConfig"]
    assert protect and f"arn:aws:iam::*:role/cdk-{QUALIFIER}-cfn-exec-role-*" in protect[0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"]


def test_the_old_per_feature_qualifiers_point_to_the_estate_wide_one():
    problems = config_problems(lambda d: (d["ci"].update(bootstrap_qualifier="team1"), d["promotion"].update(bootstrap_qualifier="team1")))
    moved = ("has moved: set the estate-wide 'bootstrap_qualifier' instead; one qualifier now drives every account's bootstrap "
             "(the stacks' synthesizer, the CI deploy roles, the promotion pipeline and the guardrails' deployment role)")
    assert problems == [f"promotion.bootstrap_qualifier: {moved}", f"ci.bootstrap_qualifier: {moved}"]


def test_qualifier_and_deployment_role_must_agree():
    (bad,) = config_problems(lambda d: d.update(bootstrap_qualifier="Team_1"))
    assert bad == "bootstrap_qualifier: 'Team_1' is not a CDK bootstrap qualifier (1-10 lowercase letters and digits)"
    (other,) = config_problems(lambda d: (d.update(bootstrap_qualifier="team1"),
                                    d["organization"].update(deployment_role_name="cdk-hnb659fds-cfn-exec-role")))
    assert other == ("organization.deployment_role_name: 'cdk-hnb659fds-cfn-exec-role' is the execution role of bootstrap "
                     "qualifier 'hnb659fds', but the estate deploys through bootstrap_qualifier 'team1'; leave "
                     "deployment_role_name out (it follows bootstrap_qualifier) or name the same qualifier")
    data = default_estate_dict()
    data["bootstrap_qualifier"] = "team1"
    assert EstateConfig.from_dict(data).deployment_role_name == "cdk-team1-cfn-exec-role"
    data["organization"]["deployment_role_name"] = "org-deployer"  # not a CDK execution role: the user's choice
    assert EstateConfig.from_dict(data).deployment_role_name == "org-deployer"


def test_cdk_qualifier_context_must_match_the_estate():
    """CDK's own `@aws-cdk/core:bootstrapQualifier` would move the stacks alone: a different value is refused."""
    config = EstateConfig.from_dict(default_estate_dict())
    app = make_app(**{"@aws-cdk/core:bootstrapQualifier": "other"})
    with pytest.raises(ValueError, match=re.escape(
            "/Registry: the CDK context @aws-cdk/core:bootstrapQualifier is 'other', but the estate's bootstrap_qualifier "
            "is 'hnb659fds'; set bootstrap_qualifier in the estate config")):
        EstateStack(app, "Registry", config=config, account=config.accounts.shared_services, description="registry")
    same = make_app(**{"@aws-cdk/core:bootstrapQualifier": "hnb659fds"})
    EstateStack(same, "Registry", config=config, account=config.accounts.shared_services, description="registry")
