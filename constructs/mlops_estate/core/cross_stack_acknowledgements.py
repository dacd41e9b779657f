"""Acknowledgements that follow cross-stack references.

A construct names its cdk-nag findings when it is built, rendering a referenced resource the way cdk-nag does
for a same-stack reference (``<DataCaptureBucketA9343715.Arn>/...``). When the construct sits in another stack
of the same account than the resource (a model-group stack using its account's base-stack buckets, see
model_groups.py), the CDK turns that reference into ``Fn::GetStackOutput`` (weak references, cdk.json) only at
synthesis, and cdk-nag then names the finding after the rendered ``{"Fn::GetStackOutput":{...}}`` instead.

`CrossStackAcknowledgements` is a validation plugin that runs before the nag packs (its report is always
clean): it reads the synthesized templates, maps every ``Fn::GetStackOutput`` of a stack back to the producer's
output value, and re-states each acknowledgement of that stack's constructs under the resolved id, with the
same construct, the same reason. It acknowledges nothing that was not acknowledged already.

It re-states the acknowledgements made with `mlops_estate.core.nag.acknowledge` (which the library and the estate
use for every acknowledgement, and which remembers them per stack on the Python side), not ones made with
``Validations.of(...).acknowledge`` directly: reading every construct's metadata back from Node cost ~1,000 jsii
messages per synth of the default estate. (CDK's own acknowledgements name CloudFormation-Validate rules, never a
resource, so none of them has anything to re-state.) Re-stating less can only leave a finding unacknowledged,
never hide one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    Stack,
    Stage,
    Validations,
)
from constructs import IConstruct

from mlops_estate.core.nag import acknowledged_in, flatten_reference

def _stack_outputs(value: Any) -> Iterator[dict[str, Any]]:
    """Every ``Fn::GetStackOutput`` argument in a template fragment."""
    if isinstance(value, dict):
        if set(value) == {"Fn::GetStackOutput"} and isinstance(value["Fn::GetStackOutput"], dict):
            yield value["Fn::GetStackOutput"]
            return
        for item in value.values():
            yield from _stack_outputs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _stack_outputs(item)


def resolved_names(template: dict[str, Any], templates_by_stack_name: dict[str, dict[str, Any]]) -> dict[str, str]:
    """For one consumer template: the construction-time rendering of each referenced producer value
    (``<Bucket.Arn>``) -> how cdk-nag renders the ``Fn::GetStackOutput`` that replaced it."""
    names: dict[str, str] = {}
    for ref in _stack_outputs(template.get("Resources", {})):
        producer = templates_by_stack_name.get(str(ref.get("StackName")))
        output = (producer or {}).get("Outputs", {}).get(str(ref.get("OutputName")))
        if output is None:
            continue
        names[flatten_reference(output["Value"])] = json.dumps({"Fn::GetStackOutput": ref}, separators=(",", ":"))
    return names


@jsii.implements(IPolicyValidationPlugin)
class CrossStackAcknowledgements:
    """See the module docstring. Add it before the nag packs (`mlops_estate.core.nag.apply_nag_packs` does)."""

    @property
    def name(self) -> str:
        return "CrossStackAcknowledgements"

    @property
    def version(self) -> str:
        return "1.0.0"

    @property
    def rule_ids(self) -> list[str]:
        return []

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        root = context.app_construct
        stacks = [c for c in root.node.find_all() if isinstance(c, Stack)]
        templates = {}
        for stack in stacks:
            stage = Stage.of(stack)
            path = Path(stage.outdir if stage is not None else ".") / stack.template_file
            if path.is_file():
                templates[stack.stack_name] = json.loads(path.read_text(encoding="utf-8"))
        for stack in stacks:
            names = resolved_names(templates.get(stack.stack_name, {}), templates)
            if names:
                for construct, acknowledged in acknowledged_in(stack):
                    _restate(construct, acknowledged, names)
        return PolicyValidationPluginReport(success=True, violations=[])


def _restate(construct: IConstruct, acknowledged: list[tuple[str, str]], names: dict[str, str]) -> None:
    restated: list[Acknowledgment] = []
    for rule_id, reason in acknowledged:
        resolved = rule_id
        for built, rendered in names.items():
            resolved = resolved.replace(built, rendered)
        if resolved != rule_id:
            restated.append(Acknowledgment(id=resolved, reason=str(reason)))
    if restated:
        Validations.of(construct).acknowledge(*restated)
