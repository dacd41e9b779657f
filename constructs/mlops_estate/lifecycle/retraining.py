"""Event-driven retraining: drift alarms, monitoring violations and data arrival restart a model's pipeline.

The triggers (`mlops_estate.lifecycle.retraining_triggers`) are rules on an event bus (the account's default bus
unless one is given; in the estate, the ML dev account's bus, which staging/prod and the data lake forward to).
They send the events to a CMK-encrypted SQS buffer queue; the `start_retraining` function reads it in batches of
up to 1,000 messages with a batching window, at a reserved concurrency of 1. So a burst (say 1,000 objects
created within a few minutes) reaches the function as one or a few batches, handled one at a time, so two
cool-down decisions never race; every batch starts at most one execution, and the handler's cool-down (skip
while an execution runs or within ``cooldown`` of the last start) collapses the rest. The event source's maximum
concurrency is 2 (its minimum), so a batch throttled by the reserved concurrency is rare; it returns to the queue
after the visibility timeout and is retried. The execution's ClientRequestToken is derived from the triggering
event ids, so redelivered events start nothing new. Malformed events are reported as batch item failures and
move to the dead-letter queue after ``max_receive_count`` receives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_estate.core.patterns import PIPELINE_NAME
from mlops_estate.core.principal_policy import add_to_principal_policy
from mlops_estate.core.validation import Problems, join
from mlops_estate.events.dead_letter_queue import secure_queue
from mlops_estate.events.estate_function import EstateFunction
from mlops_estate.lifecycle.retraining_triggers import (
    ALARM_STATE_CHANGE,
    PROCESSING_JOB_STATE_CHANGE,
    DataArrivalTrigger,
    DriftAlarmTrigger,
    MonitoringViolationTrigger,
    Trigger,
)
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.pipeline.training_pipeline import TrainingPipeline

# The trigger kinds are part of this construct's signature: importable from here too.
__all__ = [
    "ALARM_STATE_CHANGE", "PROCESSING_JOB_STATE_CHANGE", "DataArrivalTrigger", "DriftAlarmTrigger",
    "MonitoringViolationTrigger", "RetrainingTrigger", "Trigger", "to_event_pattern",
]

MAX_BATCH = 1000  # messages per invocation; ~1 KB each keeps a batch far below Lambda's 6 MB payload limit


def to_event_pattern(pattern: Mapping[str, Any]) -> events.EventPattern:
    """An EventBridge JSON pattern (``source``, ``detail-type``, ``account``, ``detail``) as a CDK EventPattern."""
    return events.EventPattern(
        source=pattern.get("source"),
        detail_type=pattern.get("detail-type"),
        account=pattern.get("account"),
        detail=pattern.get("detail"),
    )


class RetrainingTrigger(Construct):
    """Restarts one SageMaker pipeline on the given triggers (see the module docstring).

    The function may call only ListPipelineExecutions and StartPipelineExecution, on that pipeline only.

    Args:
        scope: the parent construct.
        id: the construct id.
        pipeline: the pipeline to restart: a `TrainingPipeline` (its declared parameters are checked), or the name
            of a pipeline made elsewhere.
        triggers: what restarts it, at most one of each kind (`DriftAlarmTrigger.of(monitor)`,
            `MonitoringViolationTrigger.of(monitor)`, `DataArrivalTrigger`).
        queue_key: the CMK of the buffer and dead-letter queues.
        logs_key: the CMK of the function's log group.
        placement: the VPC subnets and security group the function runs in.
        event_bus: the bus the triggers' events arrive on; default the account's default bus.
        cooldown: no new execution within this long after the last start (or while one runs).
        batching_window: how long the queue collects a burst of events into one decision, 0-300 seconds.
        input_parameter: the pipeline's String parameter that receives the new data's S3 URI (data arrival).
        max_receive_count: receives of a failing message before it moves to the dead-letter queue, 2-100.

    Attributes:
        pipeline_name / pipeline_arn: the pipeline restarted.
        handler: the `EstateFunction` that starts executions.
        queue: the buffer queue between the rules and the function.
        rules: one EventBridge rule per trigger.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pipeline: TrainingPipeline | str,
        triggers: Sequence[Trigger],
        queue_key: kms.IKey,
        logs_key: kms.IKey,
        placement: NetworkPlacement,
        event_bus: events.IEventBus | None = None,
        cooldown: Duration = Duration.hours(6),
        batching_window: Duration = Duration.minutes(5),
        input_parameter: str = "InputDataUrl",
        max_receive_count: int = 10,
    ) -> None:
        super().__init__(scope, id)
        pipeline_name = pipeline.pipeline_name if isinstance(pipeline, TrainingPipeline) else pipeline
        self._validate(pipeline, pipeline_name, triggers, batching_window, input_parameter, max_receive_count)
        self.pipeline_name = pipeline_name
        # SageMaker lowercases names in ARNs.
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
        add_to_principal_policy(self.handler.role, iam.PolicyStatement(
            sid="StartAndListThisPipelineOnly",
            actions=["sagemaker:ListPipelineExecutions", "sagemaker:StartPipelineExecution"],
            resources=[self.pipeline_arn],
        ))
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

    def _validate(self, pipeline: TrainingPipeline | str, pipeline_name: str, triggers: Sequence[Trigger],
                  batching_window: Duration, input_parameter: str, max_receive_count: int) -> None:
        problems = Problems()
        where = "pipeline.pipeline_name" if isinstance(pipeline, TrainingPipeline) else "pipeline"
        if Token.is_unresolved(pipeline_name):
            problems.add(where, f"{pipeline_name!r} is only known at deployment; SageMaker lowercases names in ARNs, so "
                                "the function's policy needs a literal pipeline name")
        elif not PIPELINE_NAME.match(pipeline_name):
            problems.add(where, f"{pipeline_name!r} is not a SageMaker pipeline name (letters, digits, hyphens, up to 256)")
        if not triggers:
            problems.add("triggers", "[] is empty; give at least one DriftAlarmTrigger, MonitoringViolationTrigger or "
                                     "DataArrivalTrigger")
        kinds = [type(t).__name__ for t in triggers]
        for kind in sorted({k for k in kinds if kinds.count(k) > 1}):
            problems.add("triggers", f"lists {kind} {kinds.count(kind)} times; merge their names, prefixes or accounts into one")
        for i, trigger in enumerate(triggers):
            for field in dataclasses.fields(trigger):
                value = getattr(trigger, field.name)
                if field.name != "bucket_names" and not value:
                    problems.add(join(join("triggers", i), field.name), f"{value!r} is empty; an empty list would match "
                                                                        "nothing or everything")
        if not 0 <= batching_window.to_seconds() <= 300:
            problems.add("batching_window", f"{batching_window.to_seconds():g} seconds is out of range; SQS batching "
                                            "allows 0-300 seconds")
        if not 2 <= max_receive_count <= 100:
            problems.add("max_receive_count", f"{max_receive_count!r} is out of range; allowed 2-100")
        if isinstance(pipeline, TrainingPipeline) and any(isinstance(t, DataArrivalTrigger) for t in triggers):
            declared = {p.name: p.kind for p in pipeline.definition.parameters}
            if input_parameter not in declared:
                problems.add("input_parameter", f"{input_parameter!r} is not a parameter of pipeline {pipeline_name!r}; "
                                                f"declared: {', '.join(sorted(declared)) or 'none'} (SageMaker refuses an "
                                                "execution that names an undeclared parameter)")
            elif declared[input_parameter] != "String":
                problems.add("input_parameter", f"{input_parameter!r} is a {declared[input_parameter]} parameter of pipeline "
                                                f"{pipeline_name!r}; the new data's S3 URI needs a String parameter")
        problems.raise_if_any(self.node.path)
