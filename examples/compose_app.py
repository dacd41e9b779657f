#!/usr/bin/env python3
"""Three of the estate's constructs composed in a CDK app of your own, without the estate config.

Run from anywhere once the library is installed:  python examples/compose_app.py  (writes ./cdk.out)
"""

from __future__ import annotations

import sys

from aws_cdk import App, Aspects, Environment, Stack
from constructs import Construct

from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.core.nag import apply_nag_packs
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.security.storage import SecureBucket

ACCOUNT, REGION, ZONES = "123456789012", "eu-west-1", ["eu-west-1a", "eu-west-1b"]


class TeamMlStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, env=Environment(account=ACCOUNT, region=REGION))
        # Explicit zones: no AZ lookup, so synth needs no credentials.
        self.node.set_context(f"availability-zones:account={ACCOUNT}:region={REGION}", ZONES)
        keys = EstateKeys(self, "Keys", estate_name="team-a", classes=[DataClass.DATA, DataClass.LOGS])
        self.network = PrivateNetwork(self, "Network", cidr="10.50.0.0/16", availability_zones=ZONES, logs_key=keys.logs)
        self.data = SecureBucket(self, "Data", key=keys.data)


def main(outdir: str | None = None) -> App:
    # SecureBucket delivers access logs through a bucket policy (no ACLs): the flag a new `cdk init` sets.
    app = App(outdir=outdir)
    stack = TeamMlStack(app, "TeamMl")
    Aspects.of(stack).add(ManagedPoliciesOnly())
    apply_nag_packs(app)
    app.synth()
    return app


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
