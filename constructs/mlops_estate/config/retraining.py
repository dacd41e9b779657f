"""Config of event-driven retraining (per model) and of model promotion (per estate), and the physical
names the estate derives from config for the resources other accounts address by name."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from mlops_estate.config.ci import MOVED_QUALIFIER
from mlops_estate.core.validation import Problems, join


# Event patterns and cross-account ARNs must be literal strings; the estate targets the standard partition.
PARTITION = "aws"

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
S3_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/=-]*$")
PARAMETER = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,255}$")
# The parameters of a model's build pipeline (pipeline/reference.py, training_definition) that take an S3 URI:
# the retraining handler passes the new data's S3 URI in one of them. A test keeps this list in step.
BUILD_DATA_PARAMETERS = ("InputDataUrl",)


def promotion_pipeline_name(estate: str, model: str) -> str:
    return f"{estate}-{model}-promotion"


@dataclass(frozen=True)
class RetrainingConfig:
    """When the model's build pipeline restarts by itself."""

    on_drift: bool = True  # a drift alarm in staging or prod goes to ALARM
    on_violations: bool = True  # a Model Monitor execution completes with violations
    on_data_arrival: bool = True  # objects are created in the data lake under data_prefix
    data_prefix: str | None = None  # S3 key prefix of the model's data; default "<data_lake.arrival_prefix><model>/"
    cooldown_minutes: int = 360  # no new execution within this long after the last start
    batching_window_seconds: int = 300  # collect a burst of events this long into one decision
    input_parameter: str = "InputDataUrl"  # the build pipeline's parameter that receives the new data's S3 URI

    def check(self, path: str, problems: Problems) -> None:
        if not 0 <= self.cooldown_minutes <= 10080:
            problems.add(join(path, "cooldown_minutes"), f"{self.cooldown_minutes} is out of range; use 0 to 10080 (one week)")
        if not 0 <= self.batching_window_seconds <= 300:
            problems.add(join(path, "batching_window_seconds"), f"{self.batching_window_seconds} is out of range; SQS batching allows 0 to 300")
        if self.data_prefix is not None and (not S3_PREFIX.match(self.data_prefix) or self.data_prefix.startswith("/")):
            problems.add(join(path, "data_prefix"), f"{self.data_prefix!r} is not an S3 key prefix like 'churn/' (no leading '/')")
        if not PARAMETER.match(self.input_parameter):
            problems.add(join(path, "input_parameter"), f"{self.input_parameter!r} is not a pipeline parameter name (a letter, then letters and digits)")
        elif self.input_parameter not in BUILD_DATA_PARAMETERS:
            problems.add(
                join(path, "input_parameter"),
                f"{self.input_parameter!r} is not a parameter of the model's build pipeline that takes an S3 URI; use one of: "
                f"{', '.join(BUILD_DATA_PARAMETERS)} (SageMaker refuses an execution that names an undeclared parameter)",
            )


@dataclass(frozen=True)
class PromotionConfig:
    """Who approves models, and how the promotion pipeline reaches the serving accounts."""

    approver_emails: tuple[str, ...] = ()
    # The object the CI uploads to the promotion source bucket: the zipped, asset-published cloud assembly.
    source_key: str = "cloud-assembly.zip"
    MOVED_KEYS: ClassVar[dict[str, str]] = {"bootstrap_qualifier": MOVED_QUALIFIER}

    def check(self, path: str, problems: Problems) -> None:
        for i, email in enumerate(self.approver_emails):
            if not EMAIL.match(email):
                problems.add(join(join(path, "approver_emails"), i), f"{email!r} is not an email address")
        if not self.source_key.endswith(".zip") or self.source_key.startswith("/"):
            problems.add(join(path, "source_key"), f"{self.source_key!r} must be an S3 key of a .zip file (no leading '/')")


class _RetrainedModel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def retraining(self) -> RetrainingConfig: ...


def check_data_prefixes(models: Sequence[_RetrainedModel], arrival_prefix: str, path: str, problems: Problems) -> None:
    """A model's data prefix must lie under the data lake's arrival prefix: nothing else is forwarded."""
    for i, model in enumerate(models):
        prefix = model.retraining.data_prefix
        if model.retraining.on_data_arrival and prefix is not None and not prefix.startswith(arrival_prefix):
            problems.add(
                join(join(join(path, i), "retraining"), "data_prefix"),
                f"{prefix!r} is not under data_lake.arrival_prefix {arrival_prefix!r}; the data lake forwards only objects "
                "under that prefix, so this model would never retrain on new data",
            )
