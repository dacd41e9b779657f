"""WalkedAspectsStage: Python aspects applied in one walk at synth, visiting what ``Aspects.of(stage)`` would."""

from __future__ import annotations

import jsii
from aws_cdk import AspectPriority, Aspects, IAspect, Stack, Stage
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template
from constructs import Construct, IConstruct

from mlops_estate.core.walked_aspects import WalkedAspectsStage
from tests.helpers import make_app


@jsii.implements(IAspect)
class Record:
    def __init__(self, name: str, log: list[tuple[str, str]]) -> None:
        self.name, self.log = name, log

    def visit(self, node: IConstruct) -> None:
        self.log.append((self.name, node.node.path))


@jsii.implements(IAspect)
class AddOnce:
    """Adds a construct under the first topic it visits (as ManagedPoliciesOnly adds a managed policy)."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, sns.Topic) and node.node.try_find_child("Added") is None:
            Construct(node, "Added")


def _visits(make_stage, priorities: tuple[int, int]) -> list[tuple[str, str]]:
    log: list[tuple[str, str]] = []
    app = make_app()
    stage = make_stage(app)
    stack = Stack(stage, "S")
    sns.Topic(stack, "T")
    first, second = Record("first", log), Record("second", log)
    if isinstance(stage, WalkedAspectsStage):
        stage.add_walked_aspect(second, priority=priorities[1])
        stage.add_walked_aspect(first, priority=priorities[0])
        stage.add_walked_aspect(AddOnce(), priority=AspectPriority.MUTATING)
    else:
        Aspects.of(stage).add(second, priority=priorities[1])
        Aspects.of(stage).add(first, priority=priorities[0])
        Aspects.of(stage).add(AddOnce(), priority=AspectPriority.MUTATING)
    app.synth()
    return log


def test_the_walk_visits_what_aspects_of_the_stage_visit_in_the_same_order():
    priorities = (AspectPriority.MUTATING, AspectPriority.READONLY)
    walked = _visits(lambda app: WalkedAspectsStage(app, "Gate"), priorities)
    cdk = _visits(lambda app: Stage(app, "Gate"), priorities)
    assert "Gate/S/T/Added" in {path for _, path in walked}  # a construct added during the walk is visited too
    assert walked == cdk
    assert walked[0] == ("first", "Gate") and walked[1] == ("second", "Gate")


def test_no_construct_is_visited_twice_and_nested_stages_are_left_alone():
    log: list[tuple[str, str]] = []
    app = make_app()
    stage = WalkedAspectsStage(app, "Gate")
    stack = Stack(stage, "S")
    sns.Topic(stack, "T")
    inner = Stage(stage, "Inner")
    sns.Topic(Stack(inner, "S"), "T")
    stage.add_walked_aspect(Record("r", log))
    Template.from_stack(stack)  # Stage.synth through CDK's assertions
    app.synth()
    stage.synth(force=True)
    paths = [path for _, path in log]
    assert len(paths) == len(set(paths))
    assert "Gate/S/T/Resource" in paths and not any(p.startswith("Gate/Inner") for p in paths)


def test_a_construct_added_after_the_first_synth_is_visited_at_the_next():
    log: list[tuple[str, str]] = []
    app = make_app()
    stage = WalkedAspectsStage(app, "Gate")
    stack = Stack(stage, "S")
    stage.add_walked_aspect(Record("r", log))
    stage.walk()
    Construct(stack, "Later")
    stage.walk()
    assert [p for _, p in log].count("Gate/S/Later") == 1
