"""Physical names that change whenever a resource must be replaced.

Some resources (Model Monitor job definitions, SageMaker models and endpoint configs) are replaced on any
property change, and CloudFormation creates the replacement before deleting the old one, so a fixed name
would collide on every change: the name carries a hash of everything else the resource renders.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import jsii
from aws_cdk import CfnResource, IResolveContext, IStringProducer, Lazy, Stack

# Hex digits of the properties hash in a name.
HASH_CHARS = 8


# A resource and its name property (camelCase, as in its L1 properties).
Named = tuple[CfnResource, str]


@jsii.implements(IStringProducer)
class _HashedName:
    """``<base>-<hash>``: the hash of every other property the resources render, taken at synthesis.

    Produced lazily (and uncached) so that tags added later by aspects count too. Deterministic: tokens render
    as their CloudFormation intrinsics and assets by content hash, so the same properties always give the same
    name. A deploy-time value (a parameter) hashes as its reference, so a name that must change with a
    parameter's value takes it in ``base``.
    """

    def __init__(self, base: str, resources: Sequence[Named]) -> None:
        self.base = base
        self.resources = resources

    def produce(self, context: IResolveContext) -> str:
        rendered = [
            Stack.of(resource).resolve(resource._render_properties(
                {k: v for k, v in resource._cfn_properties.items() if k != name_property}))
            for resource, name_property in self.resources
        ]
        # One resource hashes its properties alone (the job definition names deployed before groups existed).
        document = rendered[0] if len(rendered) == 1 else rendered
        digest = hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        return f"{self.base}-{digest[:HASH_CHARS]}"


def hashed_name(base: str, *resources: Named) -> str:
    """``<base>-<hash of the other properties of the resources>``. Resources that are replaced together (a model
    and the endpoint config naming it) share one name over all their properties."""
    return Lazy.uncached_string(_HashedName(base, resources))
