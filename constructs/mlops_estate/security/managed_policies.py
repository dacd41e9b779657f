"""Turn every inline IAM policy into a customer-managed policy.

CDK's ``grant_*`` methods write to a role's inline ``DefaultPolicy``; NIST 800-53 (AC-6) and HIPAA
controls ask for managed policies, which are versioned and reviewable on their own. Rather than
acknowledging the finding on every role, this aspect swaps each ``AWS::IAM::Policy`` for an
``AWS::IAM::ManagedPolicy`` with the same (lazily resolved) document and attachments. Dependencies
on the policy construct keep working because the managed policy takes its place in the tree.
"""

from __future__ import annotations

import jsii
from aws_cdk import IAspect
from aws_cdk import aws_iam as iam
from constructs import IConstruct


@jsii.implements(IAspect)
class ManagedPoliciesOnly:
    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, iam.Policy):
            return
        tree = node.node  # a jsii round-trip each time it is read
        inline = tree.try_find_child("Resource")
        if not isinstance(inline, iam.CfnPolicy):
            return
        managed = iam.CfnManagedPolicy(
            node,
            "Managed",
            policy_document=inline.policy_document,
            roles=inline.roles,
            users=inline.users,
            groups=inline.groups,
        )
        condition = inline.cfn_options.condition
        if condition is not None:
            managed.cfn_options.condition = condition
        tree.try_remove_child("Resource")
