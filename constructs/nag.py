"""The policy gates: cdk-nag packs as CDK validation plugins, and narrow acknowledgements."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks
from constructs import Construct

PACKS = (AwsSolutionsChecks, NIST80053R5Checks, HIPAASecurityChecks)


def apply_nag_packs(app: App) -> None:
    """Run AwsSolutions, NIST 800-53 R5 and HIPAA Security on every stage; a finding fails synth."""
    for pack in PACKS:
        Validations.of(app).add_plugins(pack(app))


def acknowledge(scope: Construct, reason: str, *rule_ids: str) -> None:
    """Acknowledge cdk-nag findings on one construct (never a stack), each with a specific reason."""
    if len(reason) < 20:
        raise ValueError(f"{scope.node.path}: an acknowledgement of {', '.join(rule_ids)} needs a specific reason, got {reason!r}")
    Validations.of(scope).acknowledge(*(Acknowledgment(id=rule_id, reason=reason) for rule_id in rule_ids))
