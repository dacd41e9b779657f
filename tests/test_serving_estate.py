"""The serving stacks of the default estate: one endpoint per model and environment, wired for promotion
and Model Monitor."""

from __future__ import annotations

import pytest

from mlops_estate.endpoint import MODEL_PACKAGE_ARN
from tests.helpers import resources_of_type

STACKS = {"staging": "Staging/Serving", "prod": "Prod/Serving"}


@pytest.mark.parametrize("env", sorted(STACKS))
def test_every_model_is_served(default_estate, env):
    stack = getattr(default_estate.estate, env)
    template = default_estate.templates[STACKS[env]]
    assert sorted(stack.endpoints) == ["churn", "fraud-batch", "spend-forecast"]
    assert {e.mode for e in stack.endpoints.values()} == {"realtime", "serverless", "async"}
    names = sorted(r["Properties"]["EndpointName"] for r in resources_of_type(template, "AWS::SageMaker::Endpoint").values())
    assert names == [f"mlops-{env}-churn", f"mlops-{env}-fraud-batch", f"mlops-{env}-spend-forecast"]
    assert len(resources_of_type(template, "AWS::CloudWatch::Dashboard")) == 3


@pytest.mark.parametrize("env", sorted(STACKS))
def test_model_package_arrives_as_a_parameter(default_estate, env):
    parameters = default_estate.templates[STACKS[env]]["Parameters"]
    churn = parameters["ChurnModelPackageArn"]
    assert churn["Default"] == "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-churn/1"
    assert churn["AllowedPattern"] == MODEL_PACKAGE_ARN.pattern
    assert {"SpendForecastModelPackageArn", "FraudBatchModelPackageArn"} <= set(parameters)
    extra = "ChurnChallengerModelPackageArn" if env == "staging" else "ChurnShadowModelPackageArn"
    assert extra in parameters


def test_prod_runs_two_instances_with_canary_and_staging_is_cheaper(default_estate):
    prod = default_estate.estate.prod.endpoints["churn"]
    staging = default_estate.estate.staging.endpoints["churn"]
    assert prod.serving.min_instances >= 2 and prod.serving.rollout.strategy == "canary"
    assert staging.serving.instance_type == "ml.m5.large" and prod.serving.instance_type == "ml.m5.xlarge"
    targets = resources_of_type(default_estate.templates["Prod/Serving"], "AWS::ApplicationAutoScaling::ScalableTarget")
    churn = next(t["Properties"] for k, t in targets.items() if k.startswith("ChurnEndpointPrimaryScaling"))
    assert churn["MinCapacity"] == 2 and churn["MaxCapacity"] == 6


def test_what_model_monitor_needs(default_estate):
    stack = default_estate.estate.prod
    churn, spend, fraud = (stack.endpoints[n] for n in ("churn", "spend-forecast", "fraud-batch"))
    assert churn.has_data_capture and fraud.has_data_capture and not spend.has_data_capture
    assert churn.data_capture_bucket is stack.data_capture and churn.data_capture_prefix == "data-capture/mlops-prod-churn"
    assert churn.placement is stack.network.placement and churn.keys is stack.keys
    assert churn.endpoint_name == "mlops-prod-churn"
    assert stack.resolve(churn.endpoint.attr_endpoint_name) == {"Fn::GetAtt": [stack.get_logical_id(churn.endpoint), "EndpointName"]}


def test_async_bucket_only_where_an_async_model_is_served(default_estate):
    stack = default_estate.estate.staging
    assert stack.async_inference is not None
    assert stack.endpoints["fraud-batch"].async_bucket is stack.async_inference
