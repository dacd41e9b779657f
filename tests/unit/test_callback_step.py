"""CallbackStep: the definition JSON the SageMaker Python SDK emits for its CallbackStep, outputs later steps can
read, and a pipeline role that may send to exactly that queue (and use its key)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs

from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.pipeline import (
    CallbackStep,
    ConditionGreaterThanOrEqualTo,
    ConditionStep,
    FailStep,
    JobEnvironment,
    ParameterFloat,
    PipelineDefinition,
    StepError,
    StepOutput,
)
from mlops_estate.pipeline.training_pipeline import PipelineStorage, TrainingPipeline
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.security.storage import SecureBucket
from tests.helpers import TEST_ACCOUNT, TEST_AZS, make_stack, policy_statements, template_of
from tests.pipeline_schema import from_template, validate

QUEUE_ARN = f"arn:aws:sqs:eu-west-1:{TEST_ACCOUNT}:labelling"


def definition(queue: sqs.IQueue, name: str = "team-callback") -> PipelineDefinition:
    """A human labels a sample (an external worker answers through the queue's callback token); its score gates the rest."""
    threshold = ParameterFloat("MinAgreement", 0.9)
    label = CallbackStep("Label", queue=queue, inputs={"sample": "s3://bucket/sample/", "threshold": threshold},
                         outputs=[StepOutput("agreement", "Float"), StepOutput("labels")])
    gate = ConditionStep("Agreed", conditions=[ConditionGreaterThanOrEqualTo(label.output("agreement"), threshold)],
                         else_steps=[FailStep("Disagreed", error_message=label.output("labels"))])
    return PipelineDefinition(name, parameters=[threshold], steps=[label, gate])


def test_the_step_is_rendered_as_the_sdk_renders_a_callback_step() -> None:
    stack = Stack()
    queue = sqs.Queue.from_queue_arn(stack, "Queue", QUEUE_ARN)
    body = definition(queue).to_dict()
    validate(body)  # the published schema defines CallbackStep: no patch was needed
    step = body["Steps"][0]
    assert step["Type"] == "Callback"
    assert stack.resolve(step["SqsQueueUrl"]) == stack.resolve(queue.queue_url)
    assert step["OutputParameters"] == [{"OutputName": "agreement", "OutputType": "Float"}, {"OutputName": "labels", "OutputType": "String"}]
    assert step["Arguments"] == {"sample": "s3://bucket/sample/", "threshold": {"Get": "Parameters.MinAgreement"}}
    gate = body["Steps"][1]["Arguments"]
    assert gate["Conditions"][0]["LeftValue"] == {"Get": "Steps.Label.OutputParameters['agreement']"}
    assert gate["ElseSteps"][0]["Arguments"]["ErrorMessage"] == {"Get": "Steps.Label.OutputParameters['labels']"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"queue": QUEUE_ARN}, f"queue: '{QUEUE_ARN}' is not an SQS queue; expected an aws_sqs.IQueue"),
    ({"outputs": [StepOutput("Labels"), StepOutput("Labels")]}, "outputs: 'Labels' is given twice; names must be unique"),
    ({"inputs": {"sample": None}}, "inputs[sample]: None is not a string, number, boolean or pipeline expression"),
])
def test_bad_input_is_refused_with_path_and_value(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"queue": sqs.Queue.from_queue_arn(Stack(), "Queue", QUEUE_ARN), **kwargs}
    with pytest.raises(StepError, match=re.escape(message)):
        CallbackStep("Label", **args)


class Built:
    """A TrainingPipeline whose definition sends to a KMS-encrypted queue of its own stack."""

    def __init__(self) -> None:
        self.stack = make_stack(id="Callback")
        keys = EstateKeys(self.stack, "Keys", estate_name="team", classes=[DataClass.MODELS, DataClass.LOGS])
        network = PrivateNetwork(self.stack, "Network", cidr="10.90.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs)
        bucket = SecureBucket(self.stack, "Artifacts", key=keys.models)
        self.key = kms.Key(self.stack, "QueueKey", enable_key_rotation=True)
        self.queue = sqs.Queue(self.stack, "Labelling", encryption=sqs.QueueEncryption.KMS, encryption_master_key=self.key,
                               enforce_ssl=True)
        self.pipeline = TrainingPipeline(
            self.stack, "Pipeline", pipeline_name="team-callback", definition=lambda jobs: definition(self.queue),
            placement=network.placement, storage=PipelineStorage(key=keys.models, buckets=(bucket.bucket,)))
        self.template: dict[str, Any] = template_of(self.stack).to_json()


@pytest.fixture(scope="module")
def built() -> Built:
    return Built()


def _with(statements: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [s for s in statements if any(a.startswith(prefix) for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))]


def test_the_pipeline_role_may_send_to_exactly_that_queue_with_its_key(built: Built) -> None:
    statements = policy_statements(built.template, "PipelinePipelineRole")
    stack = built.stack
    assert _with(statements, "sqs:") == [{"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": stack.resolve(built.queue.queue_arn)}]
    key_statements = [s for s in _with(statements, "kms:") if s["Resource"] == stack.resolve(built.key.key_arn)]
    assert key_statements == [{"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Effect": "Allow", "Resource": stack.resolve(built.key.key_arn)}]
    assert "sqs:" not in json.dumps(policy_statements(built.template, "PipelineJobRole"))


def test_the_deployed_definition_matches_the_schema(built: Built) -> None:
    (pipeline,) = [r for r in built.template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    validate(from_template(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]))
