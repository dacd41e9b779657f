"""Drop an explicit DependsOn that CDK writes although a reference (GetAtt/Ref) already orders the resources."""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, IStableListProducer, Lazy, Stack


@jsii.implements(IStableListProducer)
class _DependenciesExcept:
    """The logical ids a resource depends on, less one; resolved at synth, after CDK has added its own."""

    def __init__(self, resource: CfnResource, dropped: CfnResource) -> None:
        self._resource, self._dropped = resource, dropped

    def produce(self) -> list[str] | None:
        stack = Stack.of(self._resource)
        ids = {
            str(stack.resolve(d.logical_id))
            for d in self._resource.obtain_dependencies()
            if isinstance(d, CfnResource) and d.node.path != self._dropped.node.path
        }
        return sorted(ids) or None


def drop_redundant_dependency(resource: CfnResource, dependency: CfnResource) -> None:
    """Keep every DependsOn of ``resource`` but ``dependency`` (which ``resource`` must reference anyway:
    cfn-lint W3005). CDK adds such dependencies at synth, so this is resolved lazily, not removed now."""
    resource.add_override("DependsOn", Lazy.list(_DependenciesExcept(resource, dependency), omit_empty=True))
