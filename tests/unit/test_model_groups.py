"""Model groups: the group size derived from the budgets, and the append-only cut by config order."""

from __future__ import annotations

import pytest

from mlops_estate.stacks.model_groups import (
    BASE_STACK_BYTES,
    BASE_STACK_RESOURCES,
    MODEL_PARAMETERS,
    MODEL_RESOURCES,
    MODEL_TEMPLATE_BYTES,
    MODELS_PER_STACK,
    STACK_PARAMETER_LIMIT,
    STACK_RESOURCE_LIMIT,
    STACK_TEMPLATE_LIMIT_BYTES,
    group_stack_id,
    model_groups,
)


def test_a_full_stack_stays_inside_every_limit() -> None:
    assert BASE_STACK_RESOURCES + MODELS_PER_STACK * MODEL_RESOURCES < STACK_RESOURCE_LIMIT
    assert BASE_STACK_BYTES + MODELS_PER_STACK * MODEL_TEMPLATE_BYTES < STACK_TEMPLATE_LIMIT_BYTES
    assert MODELS_PER_STACK * MODEL_PARAMETERS < STACK_PARAMETER_LIMIT
    # ... and one more model would not (the size is the largest that fits, not an arbitrary constant).
    assert (BASE_STACK_RESOURCES + (MODELS_PER_STACK + 1) * MODEL_RESOURCES > STACK_RESOURCE_LIMIT
            or BASE_STACK_BYTES + (MODELS_PER_STACK + 1) * MODEL_TEMPLATE_BYTES > STACK_TEMPLATE_LIMIT_BYTES
            or (MODELS_PER_STACK + 1) * MODEL_PARAMETERS > STACK_PARAMETER_LIMIT - 10)


def test_the_default_estate_fits_in_the_base_stacks() -> None:
    assert MODELS_PER_STACK >= 3


def test_groups_are_consecutive_in_config_order_and_none_is_empty() -> None:
    models = [f"m{i}" for i in range(10)]
    assert model_groups(models, 4) == [("m0", "m1", "m2", "m3"), ("m4", "m5", "m6", "m7"), ("m8", "m9")]
    assert model_groups([], 4) == []
    assert model_groups(models[:4], 4) == [tuple(models[:4])]


def test_adding_a_model_never_moves_an_existing_one() -> None:
    models = [f"m{i}" for i in range(30)]
    for n in range(1, len(models)):
        before, after = model_groups(models[:n]), model_groups(models[:n + 1])
        placed = {m: k for k, group in enumerate(after) for m in group}
        assert all(placed[m] == k for k, group in enumerate(before) for m in group)


def test_a_group_size_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="size must be at least 1, got 0"):
        model_groups(["a"], 0)


def test_extra_stack_ids_count_from_one() -> None:
    assert group_stack_id("Models", 1) == "Models1"
    with pytest.raises(ValueError, match="index 0 is the base stack's group"):
        group_stack_id("Models", 0)
