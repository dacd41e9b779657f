"""A Stage that applies Python aspects in one walk of its tree instead of one Node->Python callback per construct.

An aspect written in Python and added with ``Aspects.of(scope).add`` lives in the jsii Node process as a proxy: CDK
calls its ``visit`` once for every construct under ``scope``, and each call is a callback into Python plus the
message that completes it, whatever the aspect then does (most visits only look at the construct's type, which
Python knows without asking Node). For the default estate's three stage aspects that was ~5,100 callbacks, a third
of all jsii traffic of a synth (BENCHMARKS.md).

`WalkedAspectsStage` keeps its Python aspects itself. When the stage synthesizes (``app.synth()``, the CLI, or
``Template.from_stack`` on one of its stacks, which all go through ``Stage.synth``), it first lists its tree in one
call (``node.find_all()``, preorder, as CDK walks) and calls every aspect's ``visit`` in Python, per construct in
priority order (then in the order added), as ``Aspects.of(stage).add(aspect, priority=...)`` would. Then CDK
synthesizes the stage as usual, with the aspects it keeps in Node (``Tags``, permissions boundaries, ...).

The same as ``Aspects.of``: every construct of the stage is visited, the stage included; a construct an aspect adds
during the walk is visited too (the walk repeats until it finds no new construct); no aspect visits a construct twice,
however often the stage synthesizes; a nested Stage is not entered (CDK leaves it to its own aspects).

Different: the walk runs at the start of the stage's synthesis, before the aspects CDK applies in Node, so an aspect
here neither sees what those change nor visits a construct that one of them adds; and a construct that an aspect of
the walk removes from the tree may still be visited by the aspects after it. Aspects that need either belong in
``Aspects.of``. The estate's aspects need neither: they tag plain `CfnResource`s, swap inline IAM policies for
managed ones and add construct validations, which read the final properties when CDK validates the tree.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import AspectPriority, IAspect, Stage
from aws_cdk.cx_api import CloudAssembly
from constructs import Construct, IConstruct


def _ref(construct: IConstruct) -> str:
    """The jsii object id of a construct: stable for the life of the app, known in Python without a round-trip."""
    return str(construct.__jsii_ref__.ref)  # type: ignore[attr-defined]


class WalkedAspectsStage(Stage):
    """A `Stage` whose Python aspects are applied in one walk of its tree when it synthesizes (see the module docstring).

    Args:
        scope: the parent (an `App` or another `Stage`).
        id: the stage's construct id.
        **kwargs: the options of `Stage` (``env``, ``outdir``, ``stage_name``, ...).
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self._aspects: list[tuple[float, int, IAspect]] = []  # (priority, order added, aspect)
        self._visited: set[str] = set()  # jsii ids of the constructs already walked

    @property
    def walked_aspects(self) -> list[IAspect]:
        """The aspects of the walk, in the order each construct meets them."""
        return [aspect for _, _, aspect in sorted(self._aspects, key=lambda a: a[:2])]

    def add_walked_aspect(self, aspect: IAspect, *, priority: float = AspectPriority.DEFAULT) -> None:
        """Apply ``aspect`` to every construct of this stage at synthesis, like ``Aspects.of(stage).add(aspect,
        priority=priority)`` but visited from Python in one walk (the lowest priority first, as CDK orders them)."""
        self._aspects.append((priority, len(self._aspects), aspect))

    def walk(self) -> None:
        """Visit every construct not visited yet with the aspects of the walk (`synth` does, first)."""
        aspects = self.walked_aspects
        while aspects:
            found = self.node.find_all()
            nested = [c for c in found[1:] if isinstance(c, Stage)]
            skipped = {_ref(c) for stage in nested for c in stage.node.find_all()}
            new = [c for c in found if _ref(c) not in self._visited and _ref(c) not in skipped]
            if not new:
                return
            for construct in new:
                self._visited.add(_ref(construct))
                for aspect in aspects:
                    aspect.visit(construct)

    def synth(self, *, aspect_stabilization: bool | None = None, error_on_duplicate_synth: bool | None = None,
              force: bool | None = None, skip_validation: bool | None = None,
              validate_on_synthesis: bool | None = None) -> CloudAssembly:
        """Walk the aspects, then synthesize as `Stage.synth` (which CDK also calls for a nested stage)."""
        self.walk()
        return super().synth(aspect_stabilization=aspect_stabilization, error_on_duplicate_synth=error_on_duplicate_synth,
                             force=force, skip_validation=skip_validation, validate_on_synthesis=validate_on_synthesis)
