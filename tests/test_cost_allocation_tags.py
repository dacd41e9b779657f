"""Every taggable resource of every stack of the default estate carries the cost allocation tags.

Which resource types are taggable comes from the CloudFormation resource provider schemas that cfn-lint
ships (``tagging.taggable`` and ``tagging.tagProperty``), for the estate's region; no hand-kept list.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint
import pytest

from tests.gates.test_snapshots import EXPECTED_STACKS

SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
COST_TAGS = ("project", "team", "cost-center", "environment")
ENVIRONMENT = {"Organization": "management", "SharedServices": "shared", "DataLake": "data", "MlDev": "dev",
               "Staging": "staging", "Prod": "prod"}


@cache
def _provider(region: str) -> dict[str, str]:
    return json.loads((SCHEMAS / "providers" / f"{region}.json").read_text())


@cache
def tag_property(region: str, type_name: str) -> str | None:
    """The property that holds a resource type's tags, or None when CloudFormation cannot tag it."""
    schema_id = _provider(region).get(type_name)
    if schema_id is None:
        return None
    tagging = json.loads((SCHEMAS / "resources" / f"{schema_id}.json").read_text()).get("tagging", {})
    if not tagging.get("taggable"):
        return None
    return str(tagging.get("tagProperty", "/properties/Tags")).removeprefix("/properties/")


def tags_of(value: Any) -> dict[str, str]:
    """Tags as a dict, from a list of {Key, Value} or a plain map (both shapes occur in CloudFormation)."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {t["Key"]: t["Value"] for t in value if isinstance(t, dict) and "Key" in t}
    return {}


def test_schema_lookup_knows_taggable_and_untaggable_types():
    assert tag_property("eu-west-1", "AWS::S3::Bucket") == "Tags"
    assert tag_property("eu-west-1", "AWS::Budgets::Budget") == "ResourceTags"
    assert tag_property("eu-west-1", "AWS::KMS::Alias") is None


@pytest.mark.parametrize("stack", EXPECTED_STACKS)
def test_every_taggable_resource_carries_the_cost_tags(default_estate, stack):
    config = default_estate.estate.organization.config
    expected = {"project": config.tags.project, "team": config.tags.team, "cost-center": config.tags.cost_center,
                "environment": ENVIRONMENT[stack.split("/")[0]]}
    if stack == "Organization/Guardrails/AccountBaseline":  # the StackSet template names its member accounts' environment
        expected["environment"] = config.organization.baseline_rollout.environment_tag
    checked, missing = 0, []
    for logical_id, resource in default_estate.templates[stack]["Resources"].items():
        prop = tag_property(config.region, resource["Type"])
        if prop is None:
            continue
        checked += 1
        tags = tags_of(resource.get("Properties", {}).get(prop))
        # A StackSet propagates its tags to its stack instances: it carries the member accounts' environment.
        want = ({**expected, "environment": config.organization.baseline_rollout.environment_tag}
                if resource["Type"] == "AWS::CloudFormation::StackSet" else expected)
        wrong = {k: tags.get(k) for k in COST_TAGS if tags.get(k) != want[k]}
        if wrong:
            missing.append(f"{logical_id} ({resource['Type']}.{prop}): {wrong}")
    assert checked > 0
    assert missing == [], "resources without the cost allocation tags:\n  " + "\n  ".join(missing)


def test_plain_cfn_resources_get_the_tags_and_l1s_are_left_to_cdk():
    from aws_cdk import Aspects, CfnResource
    from aws_cdk import aws_iam as iam

    from mlops_estate.governance.cost_tags import TagPlainCfnResources
    from tests.helpers import make_stack, template_of

    stack = make_stack()
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    CfnResource(stack, "Plain", type="AWS::IAM::Role", properties={"AssumeRolePolicyDocument": trust})
    CfnResource(stack, "Other", type="AWS::SNS::Topic")
    iam.CfnRole(stack, "L1", assume_role_policy_document=trust)
    Aspects.of(stack).add(TagPlainCfnResources({"team": "ml-platform"}))
    resources = template_of(stack).to_json()["Resources"]
    assert resources["Plain"]["Properties"]["Tags"] == [{"Key": "team", "Value": "ml-platform"}]
    assert "Properties" not in resources["Other"] or "Tags" not in resources["Other"].get("Properties", {})
    assert "Tags" not in resources["L1"]["Properties"]
