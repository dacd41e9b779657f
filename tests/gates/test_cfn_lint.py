"""cfn-lint over every template of the synthesized default estate: zero errors, zero warnings.

No rule is ignored globally. Where a warning is expected it is named here with its reason.
"""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint

from tests.gates.test_snapshots import EXPECTED_STACKS

IGNORED = {
    # Subnets are placed in the zones named in the estate config on purpose (no AZ lookups at synth).
    "W3010",
}
# (rule, logical-id prefix): warnings on resources the CDK itself writes, which we cannot change.
EXPECTED_ON_CDK_RESOURCES = {
    # CDK's provider for restrict_default_security_group adds a DependsOn that a GetAtt already implies.
    ("W3005", "CustomVpcRestrictDefaultSGCustomResourceProvider"),
    # Same for CDK's BucketDeployment handler (writes deploy-time Clarify analysis configs).
    ("W3005", "CustomCDKBucketDeployment"),
}


def _expected(match) -> bool:
    logical_id = str(match.path[1]) if len(match.path) > 1 and match.path[0] == "Resources" else ""
    return any(match.rule.id == rule and logical_id.startswith(prefix) for rule, prefix in EXPECTED_ON_CDK_RESOURCES)


@pytest.mark.parametrize("stack", EXPECTED_STACKS)
def test_template_is_lint_clean(default_estate, stack):
    template = default_estate.templates[stack]
    matches = lint(json.dumps(template), config=ManualArgs(regions=[default_estate.estate.ml_dev.region], ignore_checks=sorted(IGNORED)))
    problems = [f"{m.rule.id} {m.message} ({'/'.join(str(p) for p in m.path)})" for m in matches if not _expected(m)]
    assert problems == []


def test_linter_catches_a_broken_template():
    broken = {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Sometimes"}}}}}
    matches = lint(json.dumps(broken), config=ManualArgs(regions=["eu-west-1"]))
    assert any(m.rule.id.startswith("E") for m in matches)
