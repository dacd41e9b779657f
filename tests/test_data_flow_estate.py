"""The default estate end to end: the data lake announces new curated data on the ML dev bus, which admits
only the data lake account, and the ML dev account carries the configured feature group."""

from __future__ import annotations

from typing import Any

from tests.helpers import default_config, resources_of_type

LAKE = "DataLake/DataLake"
DEV = "MlDev/Workspace"


def _one(template: dict[str, Any], type_name: str) -> tuple[str, dict[str, Any]]:
    (item,) = resources_of_type(template, type_name).items()
    return item


def test_data_lake_has_its_glue_database(default_estate):
    _, database = _one(default_estate.templates[LAKE], "AWS::Glue::Database")
    assert database["Properties"]["DatabaseInput"]["Name"] == "mlops_data_lake"
    assert database["DeletionPolicy"] == "Retain"


def test_object_created_under_the_prefix_goes_to_the_ml_dev_bus(default_estate):
    config = default_config()
    lake = default_estate.templates[LAKE]
    _, rule = _one(lake, "AWS::Events::Rule")
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"] == {"key": [{"prefix": config.data_lake.arrival_prefix}]}
    curated = default_estate.estate.data_lake.curated.bucket.node.default_child
    assert pattern["detail"]["bucket"] == {"name": [{"Ref": default_estate.estate.data_lake.resolve(curated.logical_id)}]}
    (target,) = rule["Properties"]["Targets"]
    _, bus = _one(default_estate.templates[DEV], "AWS::Events::EventBus")
    assert target["Arn"] == f"arn:aws:events:{config.region}:{config.accounts.ml_dev}:event-bus/{bus['Properties']['Name']}"
    assert bus["Properties"]["Name"] == "mlops-ml-dev"
    assert "DeadLetterConfig" in target and "RoleArn" in target


def test_ml_dev_bus_admits_the_data_lake_for_data_arrival_and_serving_accounts_for_drift(default_estate):
    config = default_config()
    policies = resources_of_type(default_estate.templates[DEV], "AWS::Events::EventBusPolicy").values()
    statements = {p["Properties"]["StatementId"].removeprefix("cdk-"): p["Properties"]["Statement"] for p in policies}
    assert set(statements) == {"DataLakeObjectCreated", "ServingDriftEvents"}
    lake = statements["DataLakeObjectCreated"]
    assert lake["Principal"] == {"AWS": f"arn:aws:iam::{config.accounts.data_lake}:root"}
    assert lake["Action"] == "events:PutEvents"
    assert lake["Condition"]["StringEquals"]["events:source"] == ["aws.s3"]
    serving = statements["ServingDriftEvents"]
    assert sorted(serving["Principal"]["AWS"]) == sorted(
        f"arn:aws:iam::{a}:root" for a in (config.accounts.staging, config.accounts.prod))
    assert serving["Condition"]["StringEquals"] == {
        "events:source": ["aws.cloudwatch", "aws.sagemaker"],
        "events:detail-type": ["CloudWatch Alarm State Change", "SageMaker Processing Job State Change"],
    }


def test_ml_dev_carries_customer_spending_features(default_estate):
    dev = default_estate.templates[DEV]
    _, group = _one(dev, "AWS::SageMaker::FeatureGroup")
    props = group["Properties"]
    assert props["FeatureGroupName"] == "customer-spending-features"
    assert [f["FeatureName"] for f in props["FeatureDefinitions"]] == [
        "customer_id", "avg_spend_30d", "transaction_count_7d", "days_since_last_purchase", "event_time",
    ]
    stack = default_estate.estate.ml_dev
    data_key = stack.resolve(stack.keys.data.key_arn)
    assert props["OnlineStoreConfig"]["SecurityConfig"]["KmsKeyId"] == data_key
    assert props["OfflineStoreConfig"]["S3StorageConfig"]["KmsKeyId"] == data_key
    assert props["OfflineStoreConfig"]["DataCatalogConfig"]["Database"] == "mlops_feature_store"
    assert props["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"] == stack.resolve(stack.data.s3_uri("feature-store/customer-spending-features"))
    assert group["DeletionPolicy"] == "Retain"
    assert set(stack.feature_groups) == {"customer-spending-features"}


def test_sandbox_mode_needs_no_bus_policy(sandbox_estate):
    # One account for every role: the rule still forwards (through its role's IAM), the bus admits nobody else.
    sandbox = sandbox_estate  # given as -c overrides (conftest)
    assert not resources_of_type(sandbox.templates[DEV], "AWS::Events::EventBusPolicy")
    _, rule = _one(sandbox.templates[LAKE], "AWS::Events::Rule")
    assert rule["Properties"]["Targets"][0]["Arn"] == "arn:aws:events:eu-west-1:123456789012:event-bus/mlops-ml-dev"
