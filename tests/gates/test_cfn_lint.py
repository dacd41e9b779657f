"""cfn-lint over every template of the synthesized default estate: zero errors, zero warnings.

One rule is ignored everywhere (W3010, below, with its reason); other expected warnings are named per
resource with their reason. Each template is linted once per session and shared with the whole-estate gate.
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
    # CDK's BucketDeployment handler (writes deploy-time Clarify analysis configs) adds a DependsOn that a GetAtt
    # already implies.
    ("W3005", "CustomCDKBucketDeployment"),
}


def _expected(match) -> bool:
    logical_id = str(match.path[1]) if len(match.path) > 1 and match.path[0] == "Resources" else ""
    return any(match.rule.id == rule and logical_id.startswith(prefix) for rule, prefix in EXPECTED_ON_CDK_RESOURCES)


def lint_problems(estate, stack: str) -> list[str]:
    """cfn-lint findings of one synthesized stack that are not expected; cached on the session's estate."""
    cache = estate.__dict__.setdefault("_lint_problems", {})
    if stack not in cache:
        matches = lint(json.dumps(estate.templates[stack]),
                       config=ManualArgs(regions=[estate.estate.ml_dev.region], ignore_checks=sorted(IGNORED)))
        cache[stack] = [f"{m.rule.id} {m.message} ({'/'.join(str(p) for p in m.path)})" for m in matches if not _expected(m)]
    return list(cache[stack])


@pytest.mark.parametrize("stack", EXPECTED_STACKS)
def test_template_is_lint_clean(default_estate, stack):
    assert lint_problems(default_estate, stack) == []


def test_linter_catches_a_broken_template():
    broken = {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Sometimes"}}}}}
    matches = lint(json.dumps(broken), config=ManualArgs(regions=["eu-west-1"]))
    assert any(m.rule.id.startswith("E") for m in matches)
