"""Model groups: how the estate splits per-model resources over stacks so no stack reaches a CloudFormation limit.

Every account keeps its base stack (network, keys, buckets, bus, topics) holding the first group of models;
each further group of ``MODELS_PER_STACK`` models gets one more stack in the same Stage (``Staging/Models1``,
``MlDev/Pipelines1``, ``SharedServices/Models1``, ...). Groups are cut by config order and are append-only:
model ``i`` always lands in group ``i // MODELS_PER_STACK`` in every account, so adding a model at the end
never moves an existing one. Removing or reordering a model moves the models after it (their named resources,
such as endpoints, would then clash on deployment): retire models by keeping their position (see README).

The group size is derived from measured budgets, not picked by hand: a base stack may use
``BASE_STACK_RESOURCES`` resources and ``BASE_STACK_BYTES`` of template for its own things, and every model
may add at most ``MODEL_RESOURCES`` resources and ``MODEL_TEMPLATE_BYTES`` of template to any one stack.
The scale test synthesizes a split estate and checks every stack against these budgets, so a construct that
grows a model's footprint beyond them fails the suite before it fails a deployment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

# CloudFormation quotas per stack (template uploaded through S3, as the CDK does).
STACK_RESOURCE_LIMIT = 500
STACK_TEMPLATE_LIMIT_BYTES = 1_000_000
STACK_PARAMETER_LIMIT = 200
STACK_OUTPUT_LIMIT = 200

# Budgets, with room to grow: what a base stack uses for itself (measured with one model: at most 120 resources and
# 156 KiB), and the most one model may add to any one stack (measured on the default models: 11-23 resources and
# 23-48 KiB per model on average; a realtime model with variants, a shadow and every monitor is the heaviest).
# tests/test_scale.py fails when a synthesized stack exceeds them.
BASE_STACK_RESOURCES = 200
BASE_STACK_BYTES = 256 * 1024
MODEL_RESOURCES = 40
MODEL_TEMPLATE_BYTES = 64 * 1024
# Per model: one model-package parameter per variant (serving stacks); config allows a handful of variants.
MODEL_PARAMETERS = 8

MODELS_PER_STACK = min(
    (STACK_RESOURCE_LIMIT - BASE_STACK_RESOURCES) // MODEL_RESOURCES,
    (STACK_TEMPLATE_LIMIT_BYTES - BASE_STACK_BYTES) // MODEL_TEMPLATE_BYTES,
    (STACK_PARAMETER_LIMIT - 10) // MODEL_PARAMETERS,
)

T = TypeVar("T")


def model_groups(models: Sequence[T], size: int = MODELS_PER_STACK) -> list[tuple[T, ...]]:
    """``models`` cut, in order, into consecutive groups of ``size`` (the last may be smaller; none is empty).

    Group 0 belongs to an account's base stack, group ``k`` to its ``k``-th extra stack.
    """
    if size < 1:
        raise ValueError(f"model_groups: size must be at least 1, got {size}")
    return [tuple(models[i:i + size]) for i in range(0, len(models), size)]


def group_stack_id(prefix: str, index: int) -> str:
    """The construct id (and, under its Stage, the stack name suffix) of extra stack ``index`` (1-based)."""
    if index < 1:
        raise ValueError(f"group_stack_id: index {index} is the base stack's group; extra stacks count from 1")
    return f"{prefix}{index}"
