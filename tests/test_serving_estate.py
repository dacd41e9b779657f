"""The serving stacks of the default estate: one endpoint per model and environment, wired for promotion
and Model Monitor."""

from __future__ import annotations

import pytest

from mlops_estate.core.patterns import MODEL_PACKAGE_ARN
from tests.helpers import alarm_topics, alarm_topics_closed_to_cloudwatch, resources_of_type

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
    extra = "ChurnChallengerModelPackageArn" if env == "staging" else "ChurnShadowModelPackageArn"
    names = {"ChurnModelPackageArn", "SpendForecastModelPackageArn", "FraudBatchModelPackageArn", extra}
    assert names == {n for n in parameters if n.endswith("ModelPackageArn")}
    stage = STACKS[env].split("/")[0]
    for name in names:
        # Read from SSM at every deployment, so a deploy that does not mention a model keeps its approved ARN.
        assert parameters[name]["Type"] == "AWS::SSM::Parameter::Value<String>"
        assert parameters[name]["Default"] == f"/mlops/serving/{name}"
        # The SSM parameter is owned by that parameter's ApprovedModelStack, whose only parameter is the ARN.
        approved = default_estate.templates[f"{stage}/Approved{name.removesuffix('ModelPackageArn')}"]
        assert set(approved["Parameters"]) - {"BootstrapVersion"} == {"ModelPackageArn"}
        arn = approved["Parameters"]["ModelPackageArn"]
        assert arn["AllowedPattern"] == MODEL_PACKAGE_ARN.pattern
        model = "churn" if name.startswith("Churn") else "spend-forecast" if name.startswith("Spend") else "fraud-batch"
        assert arn["Default"] == f"arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-{model}/1"
        (ssm,) = [r["Properties"] for r in approved["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"]
        assert ssm["Name"] == f"/mlops/serving/{name}" and ssm["Type"] == "String"
        assert ssm["Value"] == {"Ref": "ModelPackageArn"}
    # The serving stack deploys after its approved-model stacks.
    serving = getattr(default_estate.estate, env)
    assert {d.node.id for d in serving.dependencies} >= {f"Approved{n.removesuffix('ModelPackageArn')}" for n in names}


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


def test_every_topic_an_alarm_notifies_admits_cloudwatch(default_estate):
    """An encrypted, TLS-only topic has an explicit policy, which replaces SNS's default: CloudWatch publishes as its
    service principal and needs its own Allow, or every alarm notification is dropped."""
    checked = {path: alarm_topics(template) for path, template in default_estate.templates.items()}
    assert sum(len(topics) for topics in checked.values()) >= 4  # both serving stacks' endpoint and monitor topics at least
    assert {path: closed for path, template in default_estate.templates.items()
            if (closed := alarm_topics_closed_to_cloudwatch(template))} == {}
