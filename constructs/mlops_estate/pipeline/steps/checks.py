"""Check steps: Model Monitor quality checks and Clarify checks, processing jobs whose result the pipeline records
as a baseline (or compares against one) in a model package group."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from mlops_estate.pipeline.expressions import Property, Value, render
from mlops_estate.pipeline.steps.fields import BOOLEAN, check_choice, check_kind, check_s3_uri
from mlops_estate.pipeline.steps.processing import ProcessingStep


class _CheckStep(ProcessingStep):
    """A processing job (all of `ProcessingStep`'s arguments) whose result is a baseline or a drift check."""

    check_types: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        name: str,
        *,
        check_type: str,
        model_package_group: str,
        skip_check: Value = False,
        register_new_baseline: Value = False,
        supplied_baseline_constraints: Value | None = None,
        **processing: Any,
    ) -> None:
        # Set before ProcessingStep.__init__, which ends in `_done`: the override below checks them.
        self.check_type = check_type
        self.model_package_group = model_package_group
        self.skip_check = skip_check
        self.register_new_baseline = register_new_baseline
        self.supplied_baseline_constraints = supplied_baseline_constraints
        super().__init__(name, **processing)

    def _done(self) -> None:
        p = self._problems
        check_choice(p, "check_type", self.check_type, self.check_types)
        if not self.model_package_group:
            p.add("model_package_group", f"{self.model_package_group!r} is empty; expected the name of the group the baselines belong to")
        check_kind(p, "skip_check", self.skip_check, BOOLEAN)
        check_kind(p, "register_new_baseline", self.register_new_baseline, BOOLEAN)
        check_s3_uri(p, "supplied_baseline_constraints", self.supplied_baseline_constraints)
        super()._done()

    def extra(self) -> dict[str, Any]:
        out = super().extra()
        out.update({
            "CheckType": self.check_type,
            "ModelPackageGroupName": self.model_package_group,
            "SkipCheck": render(self.skip_check),
            "RegisterNewBaseline": render(self.register_new_baseline),
        })
        if self.supplied_baseline_constraints is not None:
            out["SuppliedBaselineConstraints"] = render(self.supplied_baseline_constraints)
        return out


class QualityCheckStep(_CheckStep):
    """A data or model quality check (the Model Monitor analyzer image) against a supplied or new baseline.

    Args:
        name: see `Step`.
        check_type: ``DATA_QUALITY`` or ``MODEL_QUALITY``.
        model_package_group: the name of the model package group the baselines belong to.
        supplied_baseline_statistics: S3 URI of the statistics to compare against (none: calculate a new baseline).
        skip_check: skip the comparison (a Boolean literal or parameter).
        register_new_baseline: record the calculated baseline as the new one (a Boolean literal or parameter).
        supplied_baseline_constraints: S3 URI of the constraints to compare against.
        **processing: everything `ProcessingStep` takes (job, image_uri, instance_type, inputs, outputs, ...).
    """

    type_name = "QualityCheck"
    check_types = ("DATA_QUALITY", "MODEL_QUALITY")

    def __init__(
        self,
        name: str,
        *,
        check_type: Literal["DATA_QUALITY", "MODEL_QUALITY"],
        model_package_group: str,
        supplied_baseline_statistics: Value | None = None,
        **kwargs: Any,
    ) -> None:
        self.supplied_baseline_statistics = supplied_baseline_statistics
        super().__init__(name, check_type=check_type, model_package_group=model_package_group, **kwargs)

    def _done(self) -> None:
        check_s3_uri(self._problems, "supplied_baseline_statistics", self.supplied_baseline_statistics)
        super()._done()

    def extra(self) -> dict[str, Any]:
        out = super().extra()
        if self.supplied_baseline_statistics is not None:
            out["SuppliedBaselineStatistics"] = render(self.supplied_baseline_statistics)
        return out

    @property
    def calculated_statistics(self) -> Property:
        return self.prop("CalculatedBaselineStatistics")

    @property
    def calculated_constraints(self) -> Property:
        return self.prop("CalculatedBaselineConstraints")


class ClarifyCheckStep(_CheckStep):
    """A bias or explainability check (the Clarify image) driven by an analysis config among the inputs.

    Args:
        name: see `Step`.
        check_type: ``DATA_BIAS``, ``MODEL_BIAS`` or ``MODEL_EXPLAINABILITY``.
        model_package_group: the name of the model package group the baselines belong to.
        skip_check: skip the comparison (a Boolean literal or parameter).
        register_new_baseline: record the calculated baseline as the new one (a Boolean literal or parameter).
        supplied_baseline_constraints: S3 URI of the constraints to compare against.
        **processing: everything `ProcessingStep` takes (job, image_uri, instance_type, inputs, outputs, ...).
    """

    type_name = "ClarifyCheck"
    check_types = ("DATA_BIAS", "MODEL_BIAS", "MODEL_EXPLAINABILITY")

    def __init__(
        self,
        name: str,
        *,
        check_type: Literal["DATA_BIAS", "MODEL_BIAS", "MODEL_EXPLAINABILITY"],
        model_package_group: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, check_type=check_type, model_package_group=model_package_group, **kwargs)

    @property
    def calculated_constraints(self) -> Property:
        return self.prop("CalculatedBaselineConstraints")


__all__ = ["ClarifyCheckStep", "QualityCheckStep"]
