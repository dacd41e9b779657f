"""LambdaStep: the definition JSON the SageMaker Python SDK emits for its LambdaStep, outputs later steps can read,
and a pipeline role that may invoke exactly that function."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_

from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.pipeline import (
    CacheConfig,
    ConditionEquals,
    ConditionStep,
    ExecutionVariables,
    FailStep,
    JobEnvironment,
    LambdaStep,
    ParameterString,
    PipelineDefinition,
    PipelineDefinitionError,
    ProcessingStep,
    StepError,
    StepOutput,
)
from mlops_estate.pipeline.training_pipeline import PipelineStorage, TrainingPipeline
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.security.storage import SecureBucket
from tests.helpers import TEST_ACCOUNT, TEST_AZS, make_stack, policy_statements, template_of
from tests.pipeline_schema import from_template, validate
from tests.unit.test_pipeline_builder import IMAGE, JOBS

FUNCTION_ARN = f"arn:aws:lambda:eu-west-1:{TEST_ACCOUNT}:function:approve-data"


def definition(function: lambda_.IFunction, jobs: JobEnvironment = JOBS, name: str = "team-lambda") -> PipelineDefinition:
    """Check the data with a function; its outputs decide (Condition) and configure (Processing) what follows."""
    data = ParameterString("InputData", "s3://bucket/in/")
    check = LambdaStep(
        "CheckData", function=function,
        inputs={"data": data, "execution": ExecutionVariables.PIPELINE_EXECUTION_ID, "max_rows": 1000, "strict": True},
        outputs=[StepOutput("approved", "Boolean"), StepOutput("schema_version"), StepOutput("rows", "Integer")],
        cache=CacheConfig("PT1H"), description="Let a function check the new data",
    )
    prep = ProcessingStep("Prep", job=jobs, image_uri=IMAGE, instance_type="ml.m5.large", code="s3://bucket/code/prep.py",
                          environment={"SCHEMA_VERSION": check.output("schema_version")})
    gate = ConditionStep("Approved", conditions=[ConditionEquals(check.output("approved"), True)], if_steps=[prep],
                         else_steps=[FailStep("Rejected", error_message="the data check rejected the input")])
    return PipelineDefinition(name, parameters=[data], steps=[check, gate])


@pytest.fixture(scope="module")
def body() -> dict[str, Any]:
    stack = Stack()
    return definition(lambda_.Function.from_function_arn(stack, "Fn", FUNCTION_ARN)).to_dict()


def test_the_step_is_rendered_as_the_sdk_renders_a_lambda_step(body: dict[str, Any]) -> None:
    validate(body)  # the published schema defines LambdaStep: no patch was needed
    step = body["Steps"][0]
    assert step == {
        "Name": "CheckData", "Type": "Lambda", "Description": "Let a function check the new data",
        "FunctionArn": FUNCTION_ARN,
        "OutputParameters": [{"OutputName": "approved", "OutputType": "Boolean"}, {"OutputName": "schema_version", "OutputType": "String"},
                             {"OutputName": "rows", "OutputType": "Integer"}],
        "CacheConfig": {"Enabled": True, "ExpireAfter": "PT1H"},
        "Arguments": {"data": {"Get": "Parameters.InputData"}, "execution": {"Get": "Execution.PipelineExecutionId"},
                      "max_rows": 1000, "strict": True},
    }


def test_later_steps_read_its_outputs(body: dict[str, Any]) -> None:
    gate = body["Steps"][1]
    assert gate["Arguments"]["Conditions"][0]["LeftValue"] == {"Get": "Steps.CheckData.OutputParameters['approved']"}
    prep = gate["Arguments"]["IfSteps"][0]
    assert prep["Arguments"]["Environment"] == {"SCHEMA_VERSION": {"Get": "Steps.CheckData.OutputParameters['schema_version']"}}


def test_an_output_is_typed_like_a_parameter() -> None:
    check = LambdaStep("CheckData", function=lambda_.Function.from_function_arn(Stack(), "Fn", FUNCTION_ARN),
                       outputs=[StepOutput("rows", "Integer")])
    with pytest.raises(StepError, match=re.escape("instance_type: property Steps.CheckData.OutputParameters['rows'] is Integer; "
                                                  "expected String")):
        ProcessingStep("Prep", job=JOBS, image_uri=IMAGE, instance_type=check.output("rows"), code="s3://bucket/p.py")
    with pytest.raises(ValueError, match=re.escape("step 'CheckData' has no output 'count'; declared: rows")):
        check.output("count")


def test_an_output_of_a_step_outside_the_pipeline_is_refused() -> None:
    check = LambdaStep("CheckData", function=lambda_.Function.from_function_arn(Stack(), "Fn", FUNCTION_ARN),
                       outputs=[StepOutput("reason")])
    with pytest.raises(PipelineDefinitionError, match=re.escape("step 'Stop' references unknown step 'CheckData'")):
        PipelineDefinition("p", steps=[FailStep("Stop", error_message=check.output("reason"))]).to_dict()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"function": "arn:aws:lambda:eu-west-1:123456789012:function:f"},
     "function: 'arn:aws:lambda:eu-west-1:123456789012:function:f' is not a Lambda function; expected an aws_lambda.IFunction"),
    ({"outputs": [StepOutput("ok", "Decimal")]},  # type: ignore[arg-type]
     "outputs[0].type: 'Decimal' is not allowed; expected one of 'String', 'Integer', 'Boolean', 'Float'"),
    ({"outputs": [StepOutput("not ok")]}, "outputs[0].name: 'not ok' is invalid; expected 1-64 letters, digits, hyphens or underscores"),
    ({"outputs": [StepOutput("a"), StepOutput("a", "Float")]}, "outputs: 'a' is given twice; names must be unique"),
    ({"inputs": {"rows": [1, 2]}}, "inputs[rows]: [1, 2] is not a string, number, boolean or pipeline expression"),
    ({"cache": CacheConfig("1 hour")}, "cache.expire_after: '1 hour' is not an ISO 8601 duration"),
])
def test_bad_input_is_refused_with_path_and_value(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"function": lambda_.Function.from_function_arn(Stack(), "Fn", FUNCTION_ARN), **kwargs}
    with pytest.raises(StepError, match=re.escape(message)):
        LambdaStep("CheckData", **args)


class Built:
    """A TrainingPipeline whose definition invokes a function of its own stack."""

    def __init__(self) -> None:
        self.stack = make_stack(id="Lambda")
        keys = EstateKeys(self.stack, "Keys", estate_name="team", classes=[DataClass.MODELS, DataClass.LOGS])
        network = PrivateNetwork(self.stack, "Network", cidr="10.80.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs)
        bucket = SecureBucket(self.stack, "Artifacts", key=keys.models)
        self.function = lambda_.Function(self.stack, "Approve", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
                                         code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"))
        self.other = lambda_.Function(self.stack, "Other", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
                                      code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"))
        self.pipeline = TrainingPipeline(
            self.stack, "Pipeline", pipeline_name="team-lambda", definition=lambda jobs: definition(self.function, jobs),
            placement=network.placement, storage=PipelineStorage(key=keys.models, buckets=(bucket.bucket,)))
        self.template: dict[str, Any] = template_of(self.stack).to_json()


@pytest.fixture(scope="module")
def built() -> Built:
    return Built()


def test_the_pipeline_role_may_invoke_exactly_that_function(built: Built) -> None:
    invokes = [s for s in policy_statements(built.template, "PipelinePipelineRole")
               if "lambda:InvokeFunction" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    function = built.stack.resolve(built.function.function_arn)
    assert invokes == [{"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": function}]
    assert "Other" not in json.dumps(policy_statements(built.template, "PipelinePipelineRole"))
    # The job role invokes nothing.
    assert "lambda:" not in json.dumps(policy_statements(built.template, "PipelineJobRole"))


def test_the_deployed_definition_matches_the_schema(built: Built) -> None:
    (pipeline,) = [r for r in built.template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    body = from_template(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"])
    validate(body)
    assert body["Steps"][0]["FunctionArn"] == "TOKEN"  # the function's ARN attribute, resolved at deploy time
