"""Adding a statement to a principal's policy in one jsii round-trip.

``principal.add_to_principal_policy(statement)`` costs three Python<->Node messages: the call, then one per property
of the ``AddToPrincipalPolicyResult`` struct it returns (jsii fetches each). ``Role.add_to_policy`` is the same call
returning only ``statementAdded``, in one message. Every construct adds statements through here.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam


def add_to_principal_policy(principal: iam.IPrincipal, statement: iam.PolicyStatement) -> None:
    """Add ``statement`` to the policy of ``principal`` (for a role: its default policy)."""
    if isinstance(principal, iam.Role):
        principal.add_to_policy(statement)
    else:
        principal.add_to_principal_policy(statement)
