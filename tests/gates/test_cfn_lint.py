"""cfn-lint over every template of the synthesized default estate: zero errors, zero warnings.

One rule is ignored everywhere (W3010, tests/cfn_lint.py, with its reason); other expected warnings are named per
resource with their reason there. Each template is linted once per session and shared with the whole-estate gate.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.aws_s3 import CfnBucket
from cfnlint.api import ManualArgs, lint

from tests.cfn_lint import IGNORED, lint_template
from tests.cfn_lint import lint_problems as problems
from tests.gates.test_snapshots import EXPECTED_STACKS


def lint_problems(estate, stack: str) -> list[str]:
    """cfn-lint findings of one synthesized stack that are not expected; cached on the session's estate."""
    cache = estate.__dict__.setdefault("_lint_problems", {})
    if stack not in cache:
        cache[stack] = problems(estate.templates[stack], estate.estate.ml_dev.region)
    return list(cache[stack])


@pytest.mark.parametrize("stack", EXPECTED_STACKS)
def test_template_is_lint_clean(default_estate, stack):
    assert lint_problems(default_estate, stack) == []


def test_linter_catches_a_broken_template():
    broken = {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Sometimes"}}}}}
    matches = lint_template(broken, "eu-west-1")
    assert any(m.rule.id.startswith("E") for m in matches)


def test_the_shared_runner_finds_what_a_fresh_cfn_lint_finds():
    """tests/cfn_lint.py reuses one loaded rule set across templates: after clean and broken templates, it reports
    exactly what ``cfnlint.api.lint`` (a new runner per call) reports, ignored rules included."""
    def found(matches) -> list[tuple[str, str, tuple[str, ...]]]:
        return sorted((m.rule.id, m.message, tuple(map(str, m.path))) for m in matches)

    templates = [
        {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}},
        {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Sometimes"},
                                                                        "BucketName": {"Ref": "Missing"}}},
                       "S": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/24",
                                                                         "AvailabilityZone": "eu-west-1a"}}}},
        {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"NoSuch": 1}}}},
    ]
    fresh = {(i, ignored): found(lint(json.dumps(template), config=ManualArgs(regions=["eu-west-1"], ignore_checks=sorted(ignored))))
             for i, template in enumerate(templates) for ignored in (IGNORED, frozenset())}
    for _ in range(2):  # the shared runner lints them all twice, interleaved
        for (i, ignored), expected in fresh.items():
            assert found(lint_template(templates[i], "eu-west-1", ignored)) == expected
    assert {m.rule.id for m in lint_template(templates[1], "eu-west-1", ())} >= {"E3030", "E1020", "W3010"}
    assert "W3010" not in {m.rule.id for m in lint_template(templates[1], "eu-west-1")}


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
    rules = {m.rule.id for m in lint_template(template, "eu-west-1", ignored=())}
    assert {"E3002", "E3030"} <= rules, rules
