"""Event-driven retraining: drift alarms, monitoring violations and data arrival restart a model's pipeline.

Events land on the ML dev account's estate bus (forwarded from staging/prod and the data lake). One rule per
kind of trigger sends them to a CMK-encrypted SQS buffer queue; the `start_retraining` function reads it in
batches of up to 1,000 messages with a batching window, at a reserved concurrency of 1. So a burst (say
1,000 objects created within a few minutes) reaches the function as one or a few batches, handled one at a
time, so two cool-down decisions never race; every batch starts at most one execution, and the handler's
cool-down (skip while an execution runs or within ``cooldown`` of the last start) collapses the rest. The
event source's maximum concurrency is 2 (its minimum), so a batch throttled by the reserved concurrency is
rare; it returns to the queue after the visibility timeout and is retried. The execution's ClientRequestToken
is derived from the triggering event ids, so redelivered events start nothing new. Malformed events are
reported as batch item failures and move to the dead-letter queue after ``max_receive_count`` receives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_estate.config.estate import EstateConfig, ModelConfig, ServingEnv
from mlops_estate.events.dead_letter_queue import secure_queue
from mlops_estate.events.estate_function import EstateFunction
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.monitoring.model_monitor import ENV_ABBREVIATION, SUFFIX, ModelMonitor
from mlops_estate.config.retraining import PARTITION

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
PROCESSING_JOB_STATE_CHANGE = "SageMaker Processing Job State Change"
SERVING_ENVS: tuple[ServingEnv, ...] = ("staging", "prod")

PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
MAX_BATCH = 1000  # messages per invocation; ~1 KB each keeps a batch far below Lambda's 6 MB payload limit


def to_event_pattern(pattern: Mapping[str, Any]) -> events.EventPattern:
    """An EventBridge JSON pattern (``source``, ``detail-type``, ``account``, ``detail``) as a CDK EventPattern."""
    return events.EventPattern(
        source=pattern.get("source"),
        detail_type=pattern.get("detail-type"),
        account=pattern.get("account"),
        detail=pattern.get("detail"),
    )


@dataclass(frozen=True)
class DriftAlarmTrigger:
    """A drift alarm of the model, in staging or prod, goes to ALARM (OK and INSUFFICIENT_DATA do not match)."""

    alarm_names: Sequence[str]
    accounts: Sequence[str]

    def pattern(self) -> dict[str, Any]:
        return {
            "source": ["aws.cloudwatch"],
            "detail-type": [ALARM_STATE_CHANGE],
            "account": sorted(set(self.accounts)),
            "detail": {"alarmName": sorted(set(self.alarm_names)), "state": {"value": ["ALARM"]}},
        }


@dataclass(frozen=True)
class MonitoringViolationTrigger:
    """A Model Monitor execution (a processing job of one of the model's schedules) completed with violations."""

    schedule_arns: Sequence[str]
    accounts: Sequence[str]

    def pattern(self) -> dict[str, Any]:
        return {
            "source": ["aws.sagemaker"],
            "detail-type": [PROCESSING_JOB_STATE_CHANGE],
            "account": sorted(set(self.accounts)),
            "detail": {
                "ProcessingJobStatus": ["Completed"],
                "ExitMessage": [{"prefix": "CompletedWithViolations"}],
                "MonitoringScheduleArn": sorted(set(self.schedule_arns)),
            },
        }


@dataclass(frozen=True)
class DataArrivalTrigger:
    """Objects created under ``key_prefix`` in the data lake (optionally only in ``bucket_names``)."""

    accounts: Sequence[str]
    key_prefix: str
    bucket_names: Sequence[str] = ()

    def pattern(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"object": {"key": [{"prefix": self.key_prefix}]}}
        if self.bucket_names:
            detail["bucket"] = {"name": sorted(set(self.bucket_names))}
        return {"source": ["aws.s3"], "detail-type": ["Object Created"], "account": sorted(set(self.accounts)), "detail": detail}


Trigger = DriftAlarmTrigger | MonitoringViolationTrigger | DataArrivalTrigger


def monitored_envs(model: ModelConfig) -> list[ServingEnv]:
    """The serving environments where ``model`` has a ModelMonitor (and so drift alarms and schedules)."""
    if model.monitoring is None or not model.monitoring.enabled:
        return []
    return [env for env in SERVING_ENVS if env in model.serving]


def drift_alarm_name(estate: str, model: str, env: ServingEnv) -> str:
    """The name of ModelMonitor's composite ``drift_alarm`` (any drift, quality drop or violation)."""
    return f"{estate}-{model}-{ENV_ABBREVIATION[env]}-drift"


def monitoring_schedule_arns(config: EstateConfig, model: ModelConfig, env: ServingEnv) -> list[str]:
    """The ARNs of ModelMonitor's schedules of ``model`` in ``env`` (SageMaker lowercases names in ARNs)."""
    assert model.monitoring is not None
    account = config.accounts.of(env)
    return [
        f"arn:{PARTITION}:sagemaker:{config.region}:{account}:monitoring-schedule/"
        f"{config.name}-{model.name}-{ENV_ABBREVIATION[env]}-{SUFFIX[monitor]}".lower()
        for monitor in model.monitoring.enabled
    ]


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
    if settings.on_drift and envs:
        names = [drift_alarm_name(config.name, model.name, env) for env in envs]
        triggers.append(DriftAlarmTrigger(alarm_names=names, accounts=accounts))
    if settings.on_violations and envs:
        arns = [arn for env in envs for arn in monitoring_schedule_arns(config, model, env)]
        triggers.append(MonitoringViolationTrigger(schedule_arns=arns, accounts=accounts))
    if settings.on_data_arrival:
        triggers.append(DataArrivalTrigger(accounts=[config.accounts.data_lake], key_prefix=data_prefix(config, model)))
    return triggers


def forwarded_retraining_patterns(config: EstateConfig, env: ServingEnv, monitors: Mapping[str, ModelMonitor]) -> dict[str, events.EventPattern]:
    """What a serving account forwards to the build account: the state changes to ALARM of the real composite
    drift alarms of ``monitors`` (by model name) and their schedules' executions that found violations, for
    the models whose retraining asks for them."""
    account = config.accounts.of(env)
    by_name = {m.name: m for m in config.models}
    out: dict[str, events.EventPattern] = {}
    drift = [monitor for name, monitor in sorted(monitors.items()) if by_name[name].retraining.on_drift]
    if drift:
        names = [_literal_alarm_name(monitor) for monitor in drift]
        out["DriftAlarms"] = to_event_pattern(DriftAlarmTrigger(alarm_names=names, accounts=[account]).pattern())
    violations = [monitor for name, monitor in sorted(monitors.items()) if by_name[name].retraining.on_violations]
    if violations:
        stack = Stack.of(violations[0])
        arns = [
            stack.format_arn(service="sagemaker", resource="monitoring-schedule", resource_name=schedule.lower(),
                             partition=PARTITION, region=config.region, account=account)
            for monitor in violations for schedule in monitor.schedule_names.values()
        ]
        out["MonitoringViolations"] = to_event_pattern(MonitoringViolationTrigger(schedule_arns=arns, accounts=[account]).pattern())
    return out


def _literal_alarm_name(monitor: ModelMonitor) -> str:
    """The physical name of the monitor's composite drift alarm (event patterns need it as a literal)."""
    cfn = monitor.drift_alarm.node.default_child
    assert isinstance(cfn, cloudwatch.CfnCompositeAlarm) and isinstance(cfn.alarm_name, str)
    return cfn.alarm_name


class RetrainingTrigger(Construct):
    """Restarts one model's SageMaker pipeline on the given triggers (see the module docstring).

    The function may call only ListPipelineExecutions and StartPipelineExecution, on that pipeline only.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pipeline_name: str,
        event_bus: events.IEventBus,
        triggers: Sequence[Trigger],
        queue_key: kms.IKey,
        logs_key: kms.IKey,
        placement: NetworkPlacement,
        cooldown: Duration = Duration.hours(6),
        batching_window: Duration = Duration.minutes(5),
        input_parameter: str = "InputDataUrl",
        max_receive_count: int = 10,
    ) -> None:
        super().__init__(scope, id)
        self._validate(pipeline_name, triggers, batching_window, max_receive_count)
        self.pipeline_name = pipeline_name
        self.pipeline_arn = Stack.of(self).format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name.lower())
        alarm_names = sorted({n for t in triggers if isinstance(t, DriftAlarmTrigger) for n in t.alarm_names})
        timeout = Duration.seconds(60)
        self.handler = EstateFunction(
            self,
            "StartRetraining",
            handler="start_retraining",
            description=f"Starts SageMaker pipeline {pipeline_name} on drift, monitoring violations or new data",
            queue_key=queue_key,
            logs_key=logs_key,
            placement=placement,
            timeout=timeout,
            environment={
                "PIPELINE_NAME": pipeline_name,
                "COOLDOWN_SECONDS": str(int(cooldown.to_seconds())),
                "INPUT_PARAMETER": input_parameter,
                "ALARM_NAMES": ",".join(alarm_names),
            },
        )
        self.handler.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="StartAndListThisPipelineOnly",
                actions=["sagemaker:ListPipelineExecutions", "sagemaker:StartPipelineExecution"],
                resources=[self.pipeline_arn],
            )
        )
        # Between the rules and the function: absorbs bursts, batches them, and keeps what fails.
        self.queue = secure_queue(
            self,
            "Buffer",
            key=queue_key,
            retention=Duration.days(4),
            visibility_timeout=Duration.seconds(6 * int(timeout.to_seconds()) + int(batching_window.to_seconds())),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.handler.dead_letter_queue, max_receive_count=max_receive_count),
        )
        self.handler.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=MAX_BATCH,
                max_batching_window=batching_window,
                report_batch_item_failures=True,
                # The minimum; with reserved concurrency 1 it keeps throttled (re-queued) batches rare.
                max_concurrency=2,
            )
        )
        self.rules: list[events.Rule] = []
        for trigger in triggers:
            kind = type(trigger).__name__.removesuffix("Trigger")
            rule = events.Rule(
                self,
                kind,
                event_bus=event_bus,
                description=f"{pipeline_name}: retrain on {kind}",
                event_pattern=to_event_pattern(trigger.pattern()),
                targets=[
                    targets.SqsQueue(
                        self.queue,
                        dead_letter_queue=self.handler.dead_letter_queue,
                        retry_attempts=8,
                        max_event_age=Duration.hours(2),
                    )
                ],
            )
            self.rules.append(rule)

    def _validate(self, pipeline_name: str, triggers: Sequence[Trigger], batching_window: Duration, max_receive_count: int) -> None:
        problems = []
        if not PIPELINE_NAME.match(pipeline_name):
            problems.append(f"pipeline_name {pipeline_name!r} is not a SageMaker pipeline name (letters, digits, hyphens, up to 256)")
        if not triggers:
            problems.append("triggers is empty; give at least one DriftAlarmTrigger, MonitoringViolationTrigger or DataArrivalTrigger")
        kinds = [type(t).__name__ for t in triggers]
        if len(set(kinds)) != len(kinds):
            problems.append(f"triggers has one kind twice ({kinds}); merge their names, prefixes or accounts into one")
        for t in triggers:
            empty = [f for f, v in vars(t).items() if f != "bucket_names" and not v]
            if empty:
                problems.append(f"{type(t).__name__} has empty {', '.join(empty)}; an empty list would match nothing or everything")
        if not 0 <= batching_window.to_seconds() <= 300:
            problems.append(f"batching_window {batching_window.to_seconds()}s is out of range; SQS allows 0-300 s")
        if not 2 <= max_receive_count <= 100:
            problems.append(f"max_receive_count {max_receive_count} is out of range; allowed 2-100")
        if problems:
            raise ValueError(f"{self.node.path}: " + "; ".join(problems))
