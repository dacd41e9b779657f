"""Steps that hand work to something outside SageMaker and take typed outputs back: a Lambda function (Lambda) or
a worker that receives an SQS message and answers later (Callback).

The definition JSON is what the SageMaker Python SDK emits for its LambdaStep and CallbackStep (``FunctionArn`` or
``SqsQueueUrl``, ``Arguments`` = the inputs, ``OutputParameters`` = name and type per output, optional
``CacheConfig``); a later step reads an output as ``{"Get": "Steps.<step>.OutputParameters['<output>']"}``. The
pipeline role makes the call, so each step grants that role exactly what its call needs.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Unpack

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from mlops_estate.core.validation import Problems
from mlops_estate.pipeline.expressions import Expression, Kind, Property, Value
from mlops_estate.pipeline.steps.base import CacheConfig, Step, StepOptions
from mlops_estate.pipeline.steps.fields import check_choice, check_kind, check_name, check_unique
from mlops_estate.pipeline.steps.permissions import PipelineRoleScope, RoleGrant

OutputType = Literal["String", "Integer", "Boolean", "Float"]
OUTPUT_TYPES: tuple[OutputType, ...] = ("String", "Integer", "Boolean", "Float")
ANY_VALUE: tuple[Kind, ...] = ("String", "Integer", "Float", "Boolean")


@dataclass(frozen=True)
class StepOutput:
    """A named, typed output of a Lambda or Callback step, which later steps read with ``step.output(name)``.

    Attributes:
        name: the output's name, unique in the step (1-64 letters, digits, hyphens or underscores).
        type: ``String``, ``Integer``, ``Boolean`` or ``Float``; a later step's field checks it like a parameter's.
    """

    name: str
    type: OutputType = "String"

    def to_json(self) -> dict[str, str]:
        return {"OutputName": self.name, "OutputType": self.type}


def _check_io(problems: Problems, inputs: Mapping[str, Value], outputs: Sequence[StepOutput]) -> None:
    for key, value in inputs.items():
        if not isinstance(key, str) or not key:
            problems.add("inputs", f"{key!r} is not an input name; expected a non-empty string")
        if isinstance(value, (str, int, float, bool, Expression)):
            check_kind(problems, f"inputs[{key}]", value, ANY_VALUE)
        else:
            problems.add(f"inputs[{key}]", f"{value!r} is not a string, number, boolean or pipeline expression")
    for i, output in enumerate(outputs):
        check_name(problems, f"outputs[{i}].name", output.name)
        check_choice(problems, f"outputs[{i}].type", output.type, OUTPUT_TYPES)
    check_unique(problems, "outputs", [o.name for o in outputs])


class _OutputStep(Step):
    """A step that hands ``inputs`` to something outside SageMaker and reads typed ``outputs`` back: it checks and
    keeps them (`_take_io`) and renders them, its cache and its target (`target`) the same way for every such step."""

    inputs: dict[str, Value]
    outputs: list[StepOutput]
    cache: CacheConfig | None

    def _take_io(self, inputs: Mapping[str, Value] | None, outputs: Sequence[StepOutput], cache: CacheConfig | None) -> None:
        """Check and keep the inputs, outputs and cache, then raise every problem of the step (its target's too,
        which the subclass checked first)."""
        _check_io(self._problems, inputs or {}, outputs)
        if cache is not None:
            cache.check(self._problems, "cache")
        self.inputs = dict(inputs or {})
        self.outputs = list(outputs)
        self.cache = cache
        self._done()

    @abstractmethod
    def target(self) -> dict[str, Any]:
        """The step's top-level field naming what it calls (``FunctionArn``, ``SqsQueueUrl``)."""

    def output(self, name: str) -> Property:
        """An output of this step, as a value of its declared type for later steps."""
        for output in self.outputs:
            if output.name == name:
                return Property(self.name, f"OutputParameters['{name}']", output.type)
        raise ValueError(f"step {self.name!r} has no output {name!r}; declared: {', '.join(o.name for o in self.outputs) or 'none'}")

    def extra(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.target(), "OutputParameters": [o.to_json() for o in self.outputs]}
        if self.cache is not None:
            out["CacheConfig"] = self.cache.to_json()
        return out

    def arguments(self) -> dict[str, Any]:
        return dict(self.inputs)


class LambdaStep(_OutputStep):
    """Invoke a Lambda function with ``inputs`` and read its ``outputs`` (the keys of the JSON object it returns).

    The pipeline role gets ``lambda:InvokeFunction`` on exactly this function (or version, or alias).

    Args:
        name: see `Step`.
        function: the function to invoke (any `aws_lambda.IFunction`: a function, version or alias, or one
            imported by ARN).
        inputs: the event the function receives, by key (literals or pipeline expressions).
        outputs: the values the function returns that later steps read (`StepOutput`, names unique).
        cache: reuse of an identical earlier run (`CacheConfig`; default: none).
        **options: ``depends_on``, ``display_name``, ``description`` (see `Step`).
    """

    type_name = "Lambda"

    def __init__(
        self,
        name: str,
        *,
        function: lambda_.IFunction,
        inputs: Mapping[str, Value] | None = None,
        outputs: Sequence[StepOutput] = (),
        cache: CacheConfig | None = None,
        **options: Unpack[StepOptions],
    ) -> None:
        super().__init__(name, **options)
        if not isinstance(getattr(function, "function_arn", None), str):
            self._problems.add("function", f"{function!r} is not a Lambda function; expected an aws_lambda.IFunction "
                               "(Function, Version, Alias or Function.from_function_arn)")
        self.function = function
        self._take_io(inputs, outputs, cache)

    def pipeline_role_grant(self, scope: PipelineRoleScope) -> RoleGrant | None:
        return RoleGrant(statements=(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]),))

    def target(self) -> dict[str, Any]:
        return {"FunctionArn": self.function.function_arn}


class CallbackStep(_OutputStep):
    """Send an SQS message with ``inputs`` (and a callback token) and wait until a worker reports the ``outputs``.

    The pipeline role gets ``sqs:SendMessage`` on exactly this queue (and, for a queue encrypted with a customer
    managed key, ``kms:GenerateDataKey``/``kms:Decrypt`` on that key). The worker that takes the message answers
    with SageMaker's SendPipelineExecutionStepSuccess (or ...Failure) and the token; grant it that yourself.

    Args:
        name: see `Step`.
        queue: the queue the message goes to (any `aws_sqs.IQueue`, e.g. one imported by ARN).
        inputs: the message's arguments, by key (literals or pipeline expressions).
        outputs: the values the worker reports that later steps read (`StepOutput`, names unique).
        cache: reuse of an identical earlier run (`CacheConfig`; default: none).
        **options: ``depends_on``, ``display_name``, ``description`` (see `Step`).
    """

    type_name = "Callback"

    def __init__(
        self,
        name: str,
        *,
        queue: sqs.IQueue,
        inputs: Mapping[str, Value] | None = None,
        outputs: Sequence[StepOutput] = (),
        cache: CacheConfig | None = None,
        **options: Unpack[StepOptions],
    ) -> None:
        super().__init__(name, **options)
        if not isinstance(getattr(queue, "queue_url", None), str):
            self._problems.add("queue", f"{queue!r} is not an SQS queue; expected an aws_sqs.IQueue (Queue or Queue.from_queue_arn)")
        self.queue = queue
        self._take_io(inputs, outputs, cache)

    def pipeline_role_grant(self, scope: PipelineRoleScope) -> RoleGrant | None:
        statements = [iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.queue.queue_arn])]
        key = self.queue.encryption_master_key
        if key is not None:  # SQS encrypts the message with the sender's permissions on the queue's key
            statements.append(iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn]))
        return RoleGrant(statements=tuple(statements))

    def target(self) -> dict[str, Any]:
        return {"SqsQueueUrl": self.queue.queue_url}


__all__ = ["CallbackStep", "LambdaStep", "StepOutput"]
