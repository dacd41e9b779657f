"""Cost allocation tags on the resources CDK's tag aspect cannot reach.

``Tags.of(scope).add`` tags every L1 that has a tag manager. CDK writes a few resources as plain
``CfnResource`` (the roles and functions of its custom-resource providers, such as the one that strips
the default security group), which the tag aspect skips; this aspect puts the same tags on those.
"""

from __future__ import annotations

from collections.abc import Mapping

import jsii
from aws_cdk import CfnResource, IAspect
from constructs import IConstruct

# Resource types CDK writes as plain CfnResource, whose Tags property is a list of {Key, Value}.
RAW_TAGGABLE_TYPES = frozenset({"AWS::IAM::Role", "AWS::Lambda::Function"})


@jsii.implements(IAspect)
class TagPlainCfnResources:
    """Add ``tags`` to plain `CfnResource`s of the types in `RAW_TAGGABLE_TYPES` (L1 classes are left to `Tags`).

    Args:
        tags: tag key -> value, the same as given to ``Tags.of(scope).add``; they replace the resource's ``Tags``.
    """

    def __init__(self, tags: Mapping[str, str]) -> None:
        self.tags = dict(tags)

    def visit(self, node: IConstruct) -> None:
        if type(node) is CfnResource and node.cfn_resource_type in RAW_TAGGABLE_TYPES:
            node.add_property_override("Tags", [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())])
