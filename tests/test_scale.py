"""Scale: an estate with more models than one stack can hold is split into model-group stacks, and every stack
stays inside the CloudFormation limits (benchmarks/scale.py measures 1, 10, 50 and 100 models with the gates on)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack, Stage

from mlops_estate.serving.endpoint import pascal
from mlops_estate.stacks.model_groups import (
    BASE_STACK_BYTES,
    BASE_STACK_RESOURCES,
    MODEL_RESOURCES,
    MODEL_TEMPLATE_BYTES,
    MODELS_PER_STACK,
    STACK_OUTPUT_LIMIT,
    STACK_PARAMETER_LIMIT,
    STACK_RESOURCE_LIMIT,
    STACK_TEMPLATE_LIMIT_BYTES,
)
from mlops_estate.config.retraining import promotion_pipeline_name
from mlops_estate.governance.stack_set import StackSetTemplate

from tests.conftest import SynthesizedEstate, synthesize_estate
from tests.cfn_lint import lint_problems
from tests.helpers import scaled_estate_dict

MODELS = 16  # three groups (7, 7, 2): forces a split in every account, and a last group that is not full
BASE_STACKS = {"SharedServices/Registry", "MlDev/Workspace", "Staging/Serving", "Prod/Serving"}
GROUP_PREFIX = {"SharedServices": "Models", "MlDev": "Pipelines", "Staging": "Models", "Prod": "Models"}


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedEstate:
    # nag off keeps it fast; benchmarks/scale.py runs the same estates with every gate on.
    return synthesize_estate(tmp_path_factory.mktemp("scaled"), context={"estate": scaled_estate_dict(MODELS)}, nag=False)


def _sizes(scaled: SynthesizedEstate) -> dict[str, int]:
    """Template file size per stack: the bytes CloudFormation receives (the CDK uploads the file as is)."""
    sizes = {}
    # StackSet templates (the account baseline) are measured too: keyed by path, as in the fixture's templates.
    stack_sets = [c for c in scaled.estate.organization.node.find_all() if isinstance(c, StackSetTemplate)]
    for stack in [*scaled.estate.stacks(), *stack_sets]:
        stage = Stage.of(stack)
        assert stage is not None and stage.outdir
        sizes[stack.node.path] = (Path(stage.outdir) / stack.template_file).stat().st_size
    return sizes


def _per_model_constructs(scaled: SynthesizedEstate) -> dict[tuple[str, str], set[str]]:
    """(stage, model) -> the stacks holding any of the model's own constructs in that stage."""
    names = {m["name"] for m in scaled_estate_dict(MODELS)["models"]}
    ids = {n: {f"{pascal(n)}Endpoint", f"{pascal(n)}Monitor", f"Pipelines-{n}", f"Retrain-{n}", f"Promote-{n}",
               f"Group-{n}", f"Card-{n}"} for n in names}
    owner = {i: n for n, own in ids.items() for i in own}
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for stack in scaled.estate.stacks():
        for construct in stack.node.find_all():
            model = owner.get(construct.node.id)
            if model is not None:
                found[(stack.node.path.split("/")[0], model)].add(Stack.of(construct).node.path)
    return found


def test_every_stack_stays_inside_cloudformation_limits(scaled: SynthesizedEstate) -> None:
    sizes = _sizes(scaled)
    assert set(sizes) == set(scaled.templates), "every synthesized stack is measured"
    over = []
    for name, template in scaled.templates.items():
        counts = {"resources": (len(template.get("Resources", {})), STACK_RESOURCE_LIMIT),
                  "bytes": (sizes[name], STACK_TEMPLATE_LIMIT_BYTES),
                  "parameters": (len(template.get("Parameters", {})), STACK_PARAMETER_LIMIT),
                  "outputs": (len(template.get("Outputs", {})), STACK_OUTPUT_LIMIT)}
        over += [f"{name}: {what} {n} >= {limit}" for what, (n, limit) in counts.items() if n >= limit]
    assert over == []


def test_models_are_split_into_append_only_groups_in_every_account(scaled: SynthesizedEstate) -> None:
    groups = -(-MODELS // MODELS_PER_STACK)
    assert groups > 2
    for stage, prefix in GROUP_PREFIX.items():
        extra = sorted(p for p in scaled.templates if p.startswith(f"{stage}/{prefix}"))
        assert extra == sorted(f"{stage}/{prefix}{k}" for k in range(1, groups)), stage
    found = _per_model_constructs(scaled)
    for i, model in enumerate(m["name"] for m in scaled_estate_dict(MODELS)["models"]):
        group = i // MODELS_PER_STACK
        for stage, prefix in GROUP_PREFIX.items():
            base = next(b for b in BASE_STACKS if b.startswith(f"{stage}/"))
            expected = base if group == 0 else f"{stage}/{prefix}{group}"
            assert found[(stage, model)] == {expected}, f"{model} in {stage}: {found[(stage, model)]}"


def test_no_model_has_resources_in_two_stacks_of_an_account(scaled: SynthesizedEstate) -> None:
    found = _per_model_constructs(scaled)
    assert len(found) == MODELS * len(GROUP_PREFIX)
    assert {k: v for k, v in found.items() if len(v) != 1} == {}
    # Named resources too: each endpoint name appears in exactly one template of its account.
    for env in ("Staging", "Prod"):
        for model in scaled_estate_dict(MODELS)["models"]:
            name = f"{scaled.estate.ml_dev.config.name}-{env.lower()}-{model['name']}"
            holders = [p for p, t in scaled.templates.items() if p.startswith(f"{env}/") and any(
                r["Type"] == "AWS::SageMaker::Endpoint" and r["Properties"].get("EndpointName") == name
                for r in t["Resources"].values())]
            assert len(holders) == 1, f"{name}: {holders}"


def test_stacks_stay_inside_the_per_model_budgets_the_group_size_is_computed_from(scaled: SynthesizedEstate) -> None:
    sizes = _sizes(scaled)
    hosted: dict[str, int] = defaultdict(int)
    for (_, _model), stacks in _per_model_constructs(scaled).items():
        for stack in stacks:
            hosted[stack] += 1
    over = []
    for stack, models in hosted.items():
        resources = len(scaled.templates[stack]["Resources"])
        # A group stack's own overhead (promotion trigger, drift forwarder) fits in its models' budget.
        base_resources, base_bytes = (BASE_STACK_RESOURCES, BASE_STACK_BYTES) if stack in BASE_STACKS else (0, 0)
        if resources > base_resources + models * MODEL_RESOURCES:
            over.append(f"{stack}: {resources} resources for {models} models")
        if sizes[stack] > base_bytes + models * MODEL_TEMPLATE_BYTES:
            over.append(f"{stack}: {sizes[stack]} bytes for {models} models")
    assert over == []


def _deploy_actions(template: dict[str, Any], pipeline_name: str) -> list[dict[str, Any]]:
    pipeline = next(r for r in template["Resources"].values()
                    if r["Type"] == "AWS::CodePipeline::Pipeline" and r["Properties"].get("Name") == pipeline_name)
    return [a["Configuration"] for stage in pipeline["Properties"]["Stages"] for a in stage["Actions"]
            if a["ActionTypeId"]["Provider"] == "CloudFormation"]


def test_promotion_deploys_the_stack_that_serves_each_model(scaled: SynthesizedEstate) -> None:
    models = scaled_estate_dict(MODELS)["models"]
    checked = 0
    for i, model in enumerate(models):
        group = i // MODELS_PER_STACK
        registry = "SharedServices/Registry" if group == 0 else f"SharedServices/Models{group}"
        configs = _deploy_actions(scaled.templates[registry], promotion_pipeline_name(scaled.estate.ml_dev.config.name, model["name"]))
        serving = {c["StackName"] for c in configs if not c["StackName"].split("-", 1)[1].startswith("Approved")}
        expected = {"Staging-Serving", "Prod-Serving"} if group == 0 else {f"Staging-Models{group}", f"Prod-Models{group}"}
        assert serving == expected, model["name"]
        for c in configs:
            template_path = json.dumps(c["TemplatePath"])
            assert c["StackName"].split("-", 1)[1] in template_path.replace("-", ""), c
        checked += 1
    assert checked == MODELS


def test_the_default_estate_needs_no_model_group_stacks(default_estate: SynthesizedEstate) -> None:
    """The default estate (3 models) keeps every model in its account's base stack: no stack id or logical id moves."""
    assert MODELS_PER_STACK >= len(default_estate.estate.ml_dev.config.models)
    assert all(not stacks for stacks in default_estate.estate.model_stacks.values())
    assert not [p for p in default_estate.templates if p.split("/")[1].startswith(("Models", "Pipelines"))]


@pytest.mark.parametrize("stack", ["SharedServices/Models1", "MlDev/Pipelines1", "Staging/Models1", "Prod/Models1",
                                   "Staging/Serving", "MlDev/Workspace"])
def test_split_templates_are_lint_clean(scaled: SynthesizedEstate, stack: str) -> None:
    """Group stacks (Fn::GetStackOutput references) and base stacks (the outputs they publish) lint clean."""
    region = scaled.estate.ml_dev.region
    assert lint_problems(scaled.templates[stack], region) == []
