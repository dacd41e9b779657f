"""Config of event-driven retraining (per model) and of model promotion (per estate), and the physical
names the estate derives from config for the resources other accounts address by name: the triggers that
restart a model's build pipeline name the drift alarms and monitoring schedules of its monitors in staging and
prod (`mlops_estate.monitoring.naming`), which live in other accounts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from mlops_estate.config.ci import MOVED_QUALIFIER
from mlops_estate.config.monitoring import monitor_name_prefix
from mlops_estate.core.validation import Problems, join
from mlops_estate.lifecycle.retraining_triggers import DataArrivalTrigger, DriftAlarmTrigger, MonitoringViolationTrigger, Trigger
from mlops_estate.monitoring.naming import drift_alarm_name as monitor_drift_alarm_name
from mlops_estate.monitoring.naming import executions_alarm_name, schedule_arn, schedule_name

if TYPE_CHECKING:  # the estate file imports this module
    from mlops_estate.config.estate import EstateConfig, ModelConfig, ServingEnv


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


SERVING_ENVS: tuple[ServingEnv, ...] = ("staging", "prod")


def monitored_envs(model: ModelConfig) -> list[ServingEnv]:
    """The serving environments where ``model`` is monitored (either engine: drift alarms and schedules)."""
    if model.monitoring is None or not model.monitoring.enabled:
        return []
    return [env for env in SERVING_ENVS if env in model.serving]


def drift_alarm_name(estate: str, model: str, env: ServingEnv) -> str:
    """The name of the composite drift alarm of ``model``'s monitor in ``env``."""
    return monitor_drift_alarm_name(monitor_name_prefix(estate, model, env))


def monitoring_schedule_arns(config: EstateConfig, model: ModelConfig, env: ServingEnv) -> list[str]:
    """The ARNs of the monitoring schedules of ``model`` in ``env``."""
    assert model.monitoring is not None
    prefix = monitor_name_prefix(config.name, model.name, env)
    return [schedule_arn(schedule_name(prefix, monitor), partition=PARTITION, region=config.region, account=config.accounts.of(env))
            for monitor in model.monitoring.enabled]


def data_prefix(config: EstateConfig, model: ModelConfig) -> str:
    """The S3 key prefix of the model's new data in the data lake: ``retraining.data_prefix`` or
    ``<data_lake.arrival_prefix><model>/`` (the data lake forwards only objects under its arrival prefix)."""
    configured = model.retraining.data_prefix
    return configured if configured is not None else f"{config.data_lake.arrival_prefix}{model.name}/"


def retraining_triggers(config: EstateConfig, model: ModelConfig) -> list[Trigger]:
    """The triggers ``model.retraining`` asks for, with names and accounts derived from the estate config.
    Drift and violations apply only where the model is monitored."""
    settings = model.retraining
    envs = monitored_envs(model)
    accounts = [config.accounts.of(env) for env in envs]
    triggers: list[Trigger] = []
    alarm_names: list[str] = []
    if settings.on_drift and envs:
        alarm_names += [drift_alarm_name(config.name, model.name, env) for env in envs]
    if settings.on_violations and envs:
        assert model.monitoring is not None  # monitored_envs
        if model.monitoring.engine == "model_monitor":
            arns = [arn for env in envs for arn in monitoring_schedule_arns(config, model, env)]
            triggers.append(MonitoringViolationTrigger(schedule_arns=arns, accounts=accounts))
        else:  # the portable engine raises its violations alarm instead of processing-job events
            alarm_names += [executions_alarm_name(monitor_name_prefix(config.name, model.name, env), "violations") for env in envs]
    if alarm_names:
        triggers.insert(0, DriftAlarmTrigger(alarm_names=alarm_names, accounts=accounts))
    if settings.on_data_arrival:
        triggers.append(DataArrivalTrigger(accounts=[config.accounts.data_lake], key_prefix=data_prefix(config, model)))
    return triggers
