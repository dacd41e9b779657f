"""cfn-lint for the suite: one loaded rule set per (region, ignored rules), reused for every template.

``cfnlint.api.lint`` builds a new runner per call, which loads the ~1,000 rules and their JSON schemas again
(0.3 s a template, about half of linting a small one). The cfn-lint command line lints all the files of one run
with one runner; this does the same, so a finding is the same either way (tests/gates/test_cfn_lint.py checks).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Iterable

from cfnlint.config import ConfigMixIn
from cfnlint.decode.decode import decode_str
from cfnlint.rules import Match
from cfnlint.runner import Runner

# Subnets are placed in the zones named in the estate config on purpose (no AZ lookups at synth).
IGNORED = frozenset({"W3010"})
# (rule, logical-id prefix): warnings on resources the CDK itself writes, which we cannot change.
EXPECTED_ON_CDK_RESOURCES = {
    # CDK's BucketDeployment handler (writes deploy-time Clarify analysis configs) adds a DependsOn that a GetAtt
    # already implies.
    ("W3005", "CustomCDKBucketDeployment"),
}


@lru_cache(maxsize=None)
def _runner(region: str, ignored: frozenset[str]) -> Runner:
    return Runner(ConfigMixIn(regions=[region], ignore_checks=sorted(ignored)))


def lint_template(template: dict[str, Any] | str, region: str, ignored: Iterable[str] = IGNORED) -> list[Match]:
    """Every cfn-lint finding on one template (a dict or its JSON text) in one region, minus the ignored rules."""
    decoded, errors = decode_str(template if isinstance(template, str) else json.dumps(template))
    if errors:
        return list(errors)
    assert decoded is not None
    return list(_runner(region, frozenset(ignored)).validate_template(decoded))


def expected(match: Match) -> bool:
    """A finding on a resource the CDK writes itself (EXPECTED_ON_CDK_RESOURCES)."""
    logical_id = str(match.path[1]) if len(match.path) > 1 and match.path[0] == "Resources" else ""
    return any(match.rule.id == rule and logical_id.startswith(prefix) for rule, prefix in EXPECTED_ON_CDK_RESOURCES)


def lint_problems(template: dict[str, Any] | str, region: str) -> list[str]:
    """The findings that are neither ignored nor expected, one line each: rule, message, path."""
    return [f"{m.rule.id} {m.message} ({'/'.join(str(p) for p in m.path)})" for m in lint_template(template, region)
            if not expected(m)]
