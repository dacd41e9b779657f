"""FeatureGroup: CMK online store, offline store in a bucket prefix + Glue table, least-privilege role, grants."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import pytest
from aws_cdk import Aspects
from aws_cdk import aws_iam as iam

from mlops_estate.features.catalog import CatalogDatabase
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.features.feature_store import FeatureGroup
from mlops_estate.features.definition import (
    FeatureDefinition,
    FeatureGroupDefinition,
    OfflineStoreOptions,
    OnlineStoreOptions,
    Throughput,
    TtlDuration,
)
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.core.nag import apply_nag_packs
from mlops_estate.security.storage import SecureBucket
from tests.helpers import TEST_ACCOUNT, TEST_REGION, make_app, make_stack, resources_of_type

FEATURES = (
    FeatureDefinition("customer_id", "String"),
    FeatureDefinition("avg_spend_30d", "Fractional"),
    FeatureDefinition("transaction_count_7d", "Integral"),
    FeatureDefinition("event_time", "String"),
)
SPENDING = FeatureGroupDefinition(
    name="customer-spending",
    description="spend per customer",
    record_identifier="customer_id",
    event_time="event_time",
    features=FEATURES,
    online_store=OnlineStoreOptions(ttl=TtlDuration(30, "Days")),
)
HISTORY = FeatureGroupDefinition(
    name="spend-history",
    record_identifier="customer_id",
    event_time="event_time",
    features=FEATURES,
    online_store=None,
    offline_store=OfflineStoreOptions(table_format="Glue", prefix="features/v1"),
    throughput=Throughput(mode="Provisioned", write_capacity_units=10),
)
HOT = FeatureGroupDefinition(
    name="hot-lookup",
    record_identifier="customer_id",
    event_time="event_time",
    features=FEATURES,
    online_store=OnlineStoreOptions(storage_type="InMemory"),
    offline_store=None,
)
GLUE_ARN = f"arn:aws:glue:{TEST_REGION}:{TEST_ACCOUNT}"


@dataclass
class Built:
    template: dict[str, Any]
    groups: dict[str, FeatureGroup]


@pytest.fixture(scope="module")
def built() -> Built:
    """One stack with three groups (online+offline, offline-only, online-only) and a consumer of each grant,
    synthesized once with every nag pack on (so the acknowledgements are proven exact)."""
    app = make_app()
    stack = make_stack(app)
    Aspects.of(stack).add(ManagedPoliciesOnly())
    keys = EstateKeys(stack, "Keys", estate_name="test", classes=[DataClass.DATA])
    data = SecureBucket(stack, "Data", key=keys.data)
    catalog = CatalogDatabase(stack, "Catalog", database_name="test_feature_store", description="offline tables")
    groups = {
        "spending": FeatureGroup(stack, "Spending", definition=SPENDING, online_key=keys.data, offline_bucket=data, catalog=catalog),
        "history": FeatureGroup(stack, "History", definition=HISTORY, offline_bucket=data, catalog=catalog),
        "hot": FeatureGroup(stack, "Hot", definition=HOT, online_key=keys.data),
    }
    for name in ("Endpoint", "Pipeline", "Training"):
        iam.Role(stack, name, assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    groups["spending"].grant_read_online(stack.node.find_child("Endpoint"))  # type: ignore[arg-type]
    groups["spending"].grant_write(stack.node.find_child("Pipeline"))  # type: ignore[arg-type]
    groups["spending"].grant_read_offline(stack.node.find_child("Training"))  # type: ignore[arg-type]
    apply_nag_packs(app)
    assembly = app.synth()
    return Built(template=assembly.get_stack_by_name(stack.stack_name).template, groups=groups)


def _group_resource(built: Built, name: str) -> dict[str, Any]:
    (resource,) = [r for r in resources_of_type(built.template, "AWS::SageMaker::FeatureGroup").values() if r["Properties"]["FeatureGroupName"] == name]
    return resource


def _logical_id(built: Built, type_name: str, prefix: str) -> str:
    (logical_id,) = [k for k in resources_of_type(built.template, type_name) if k.startswith(prefix)]
    return logical_id


def _policy_of(built: Built, role_prefix: str) -> list[dict[str, Any]]:
    role = _logical_id(built, "AWS::IAM::Role", role_prefix)
    statements = [
        s
        for p in resources_of_type(built.template, "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role} in p["Properties"].get("Roles", [])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert not resources_of_type(built.template, "AWS::IAM::Policy"), "inline policies left"
    return statements


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def test_features_and_keys_are_declared(built):
    props = _group_resource(built, "customer-spending")["Properties"]
    assert props["FeatureDefinitions"] == [
        {"FeatureName": "customer_id", "FeatureType": "String"},
        {"FeatureName": "avg_spend_30d", "FeatureType": "Fractional"},
        {"FeatureName": "transaction_count_7d", "FeatureType": "Integral"},
        {"FeatureName": "event_time", "FeatureType": "String"},
    ]
    assert props["RecordIdentifierFeatureName"] == "customer_id"
    assert props["EventTimeFeatureName"] == "event_time"
    assert props["Description"] == "spend per customer"
    assert props["ThroughputConfig"] == {"ThroughputMode": "OnDemand"}


def test_online_store_is_encrypted_with_the_cmk_and_has_the_ttl(built):
    key = _logical_id(built, "AWS::KMS::Key", "KeysData")
    online = _group_resource(built, "customer-spending")["Properties"]["OnlineStoreConfig"]
    assert online == {
        "EnableOnlineStore": True,
        "SecurityConfig": {"KmsKeyId": {"Fn::GetAtt": [key, "Arn"]}},
        "StorageType": "Standard",
        "TtlDuration": {"Unit": "Days", "Value": 30},
    }
    hot = _group_resource(built, "hot-lookup")["Properties"]
    assert hot["OnlineStoreConfig"]["StorageType"] == "InMemory"
    assert "TtlDuration" not in hot["OnlineStoreConfig"]


def test_offline_store_lives_in_its_own_bucket_prefix_and_glue_table(built):
    bucket = _logical_id(built, "AWS::S3::Bucket", "DataBucket")
    key = _logical_id(built, "AWS::KMS::Key", "KeysData")
    offline = _group_resource(built, "customer-spending")["Properties"]["OfflineStoreConfig"]
    assert offline == {
        "S3StorageConfig": {
            "S3Uri": {"Fn::Join": ["", ["s3://", {"Ref": bucket}, "/feature-store/customer-spending"]]},
            "KmsKeyId": {"Fn::GetAtt": [key, "Arn"]},
        },
        "DataCatalogConfig": {"Catalog": "AwsDataCatalog", "Database": "test_feature_store", "TableName": "customer_spending"},
        "DisableGlueTableCreation": False,
        "TableFormat": "Iceberg",
    }
    history = _group_resource(built, "spend-history")["Properties"]
    assert history["OfflineStoreConfig"]["TableFormat"] == "Glue"
    assert history["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"]["Fn::Join"][1][-1] == "/features/v1/spend-history"
    assert "OnlineStoreConfig" not in history
    assert history["ThroughputConfig"] == {"ThroughputMode": "Provisioned", "ProvisionedWriteCapacityUnits": 10}


def test_feature_groups_and_their_database_are_retained(built):
    for resource in [*resources_of_type(built.template, "AWS::SageMaker::FeatureGroup").values(), *resources_of_type(built.template, "AWS::Glue::Database").values()]:
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"


def test_group_waits_for_its_database_and_role_policy(built):
    resource = _group_resource(built, "customer-spending")
    depends = set(resource["DependsOn"])
    assert _logical_id(built, "AWS::Glue::Database", "CatalogDatabase") in depends
    assert _logical_id(built, "AWS::IAM::ManagedPolicy", "SpendingOfflineStoreRole") in depends


def test_only_groups_with_an_offline_store_get_a_role(built):
    role = _logical_id(built, "AWS::IAM::Role", "SpendingOfflineStoreRole")
    assert _group_resource(built, "customer-spending")["Properties"]["RoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
    assert "RoleArn" not in _group_resource(built, "hot-lookup")["Properties"]
    assert built.groups["hot"].role is None
    trust = built.template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}]


def test_offline_role_is_scoped_to_its_prefix_table_and_key(built):
    bucket = _logical_id(built, "AWS::S3::Bucket", "DataBucket")
    key = _logical_id(built, "AWS::KMS::Key", "KeysData")
    statements = _policy_of(built, "SpendingOfflineStoreRole")
    by_actions = {frozenset(_actions(s)): s["Resource"] for s in statements}
    assert by_actions == {
        frozenset({"s3:PutObject", "s3:PutObjectAcl", "s3:GetObject"}): {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/feature-store/customer-spending/*"]]},
        frozenset({"s3:GetBucketAcl"}): {"Fn::GetAtt": [bucket, "Arn"]},
        frozenset({"glue:GetTable", "glue:UpdateTable"}): [
            f"{GLUE_ARN}:catalog",
            f"{GLUE_ARN}:database/test_feature_store",
            f"{GLUE_ARN}:table/test_feature_store/customer_spending",
        ],
        frozenset({"kms:GenerateDataKey", "kms:Decrypt"}): {"Fn::GetAtt": [key, "Arn"]},
    }


def test_grant_read_online(built):
    key = _logical_id(built, "AWS::KMS::Key", "KeysData")
    statements = _policy_of(built, "Endpoint")
    assert {frozenset(_actions(s)): s["Resource"] for s in statements} == {
        frozenset({"sagemaker:GetRecord", "sagemaker:BatchGetRecord", "sagemaker:DescribeFeatureGroup"}): f"arn:aws:sagemaker:{TEST_REGION}:{TEST_ACCOUNT}:feature-group/customer-spending",
        frozenset({"kms:Decrypt"}): {"Fn::GetAtt": [key, "Arn"]},
    }


def test_grant_write(built):
    statements = _policy_of(built, "Pipeline")
    actions = set().union(*(_actions(s) for s in statements))
    assert actions == {"sagemaker:PutRecord", "sagemaker:DeleteRecord", "sagemaker:DescribeFeatureGroup", "kms:Decrypt"}
    assert not any(a.startswith("s3:") or a == "sagemaker:GetRecord" for a in actions)


def test_grant_read_offline(built):
    bucket = _logical_id(built, "AWS::S3::Bucket", "DataBucket")
    statements = _policy_of(built, "Training")
    by_actions = {frozenset(_actions(s)): s for s in statements}
    objects = by_actions[frozenset({"s3:GetObject"})]
    assert objects["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/feature-store/customer-spending/*"]]}
    listing = by_actions[frozenset({"s3:ListBucket"})]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["feature-store/customer-spending/*"]}}
    glue = by_actions[frozenset({"glue:GetDatabase", "glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions", "glue:GetPartition", "glue:GetPartitions"})]
    assert glue["Resource"][-1] == f"{GLUE_ARN}:table/test_feature_store/customer_spending"
    assert frozenset({"kms:Decrypt"}) in by_actions
    assert not any(a.startswith(("s3:Put", "glue:Update", "sagemaker:PutRecord")) for s in statements for a in _actions(s))


def test_grants_that_a_group_cannot_honour_raise(built):
    reader = iam.Role(make_stack(), "Reader", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    with pytest.raises(ValueError, match=re.escape("Test/History: feature group 'spend-history' has no online store to read")):
        built.groups["history"].grant_read_online(reader)
    with pytest.raises(ValueError, match=re.escape("Test/Hot: feature group 'hot-lookup' has no offline store to read")):
        built.groups["hot"].grant_read_offline(reader)


def _build(definition: FeatureGroupDefinition, **props: Any) -> FeatureGroup:
    stack = make_stack()
    return FeatureGroup(stack, "Features", definition=definition, **props)


def test_offline_store_without_a_bucket_is_refused():
    stack = make_stack()
    catalog = CatalogDatabase(stack, "Catalog", database_name="fs", description="d")
    keys = EstateKeys(stack, "Keys", estate_name="t", classes=[DataClass.DATA])
    with pytest.raises(ValueError) as failure:
        FeatureGroup(stack, "Features", definition=SPENDING, online_key=keys.data, catalog=catalog)
    message = str(failure.value)
    assert message.startswith("Test/Features: invalid FeatureGroup 'customer-spending', 1 problem(s):")
    assert "offline_bucket: is required with an offline store: pass a SecureBucket" in message


def test_missing_key_and_catalog_are_reported_together():
    with pytest.raises(ValueError) as failure:
        _build(SPENDING)
    message = str(failure.value)
    assert "3 problem(s)" in message
    assert "online_key: is required: the online store is always encrypted with a customer-managed key" in message
    assert "catalog: is required with an offline store" in message


def test_store_props_without_that_store_are_refused():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="t", classes=[DataClass.DATA])
    bucket = SecureBucket(stack, "Data", key=keys.data)
    with pytest.raises(ValueError, match=re.escape("offline_bucket: is given but the definition has no offline store")):
        FeatureGroup(stack, "Features", definition=HOT, online_key=keys.data, offline_bucket=bucket)


def test_online_key_without_an_online_store_is_refused():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="t", classes=[DataClass.DATA])
    bucket = SecureBucket(stack, "Data", key=keys.data)
    catalog = CatalogDatabase(stack, "Catalog", database_name="fs", description="d")
    with pytest.raises(ValueError, match=re.escape("online_key: is given but the definition has no online store")):
        FeatureGroup(stack, "Features", definition=HISTORY, online_key=keys.data, offline_bucket=bucket, catalog=catalog)


def test_bad_definition_is_refused_with_the_construct_path_and_field():
    bad = replace(SPENDING, event_time="updated_at", online_store=OnlineStoreOptions(ttl=TtlDuration(0)))
    with pytest.raises(ValueError) as failure:
        _build(bad)
    message = str(failure.value)
    assert message.startswith("Test/Features: invalid FeatureGroup 'customer-spending'")
    assert "definition.event_time: 'updated_at' is not one of the features" in message
    assert "definition.online_store.ttl.value: 0 is out of range" in message


def _concrete(value: Any) -> Any:
    """Replace CloudFormation intrinsics with plausible literal values, so the request can be validated."""
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(_concrete(p)) for p in parts)
        if "Fn::GetAtt" in value:
            logical_id, _attribute = value["Fn::GetAtt"]
            return f"arn:aws:iam::{TEST_ACCOUNT}:role/{logical_id}" if "Role" in logical_id else f"arn:aws:kms:{TEST_REGION}:{TEST_ACCOUNT}:key/{logical_id}"
        if "Ref" in value:
            return value["Ref"].lower()
        return {k: _concrete(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_concrete(v) for v in value]
    return value


def _create_feature_group_report(properties: dict[str, Any]) -> str:
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateFeatureGroup").input_shape
    return str(ParamValidator().validate(_concrete(properties), shape).generate_report())


def test_store_configs_are_valid_create_feature_group_requests(built):
    # The online/offline store configs are JSON-typed (raw dicts, not checked by the CDK); SageMaker's own
    # API model (botocore, offline) checks every key, type and minimum of what CloudFormation will pass on.
    for resource in resources_of_type(built.template, "AWS::SageMaker::FeatureGroup").values():
        properties = {k: v for k, v in resource["Properties"].items() if k != "Tags"}
        assert _create_feature_group_report(properties) == "", properties["FeatureGroupName"]
    broken = dict(_group_resource(built, "customer-spending")["Properties"])
    broken["OnlineStoreConfig"] = {**broken["OnlineStoreConfig"], "TTLDuration": {"Unit": "Days", "Value": 0}}
    assert 'Unknown parameter in OnlineStoreConfig: "TTLDuration"' in _create_feature_group_report(broken)
