"""cfn-lint over every template of the synthesized default estate: zero errors, zero warnings.

One rule is ignored everywhere (W3010, below, with its reason); other expected warnings are named per
resource with their reason. Each template is linted once per session and shared with the whole-estate gate.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.aws_s3 import CfnBucket
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


def test_cfn_lint_refuses_what_the_builtin_validation_refuses(tmp_path):
    """The default estate fixture trades CDK's built-in validation for cfn-lint: a template the built-in validation
    refuses at synth (an unknown property; it only warns on a bad enum value) is refused by cfn-lint too, the bad enum
    value as well."""
    def app(builtin: bool) -> tuple[App, CfnBucket]:
        built = App(outdir=str(tmp_path / str(builtin)), context={"@aws-cdk/core:validateAgainstDefaultRules": True},
                    builtin_cloud_formation_validation=builtin)
        bucket = CfnBucket(Stack(built, "S"), "B")
        bucket.add_property_override("NoSuchProperty", "x")
        bucket.add_property_override("VersioningConfiguration.Status", "Sometimes")
        return built, bucket

    with pytest.raises(Exception, match=r"ERROR NoSuchProperty: Additional properties are not allowed"):
        app(builtin=True)[0].synth()
    assembly = app(builtin=False)[0].synth()
    template = Path(assembly.get_stack_by_name("S").template_full_path).read_text()
    rules = {m.rule.id for m in lint(template, config=ManualArgs(regions=["eu-west-1"]))}
    assert {"E3002", "E3030"} <= rules, rules
