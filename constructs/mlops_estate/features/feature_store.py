"""A SageMaker Feature Store feature group: CMK online store, S3 + Glue offline store, least-privilege role."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_estate.core.principal_policy import add_to_principal_policy
from mlops_estate.features.catalog import CatalogDatabase
from mlops_estate.core.validation import Problems
from mlops_estate.features.definition import FeatureGroupDefinition
from mlops_estate.core.nag import acknowledge
from mlops_estate.security.storage import SecureBucket

ONLINE_READ_ACTIONS = ("sagemaker:GetRecord", "sagemaker:BatchGetRecord", "sagemaker:DescribeFeatureGroup")
WRITE_ACTIONS = ("sagemaker:PutRecord", "sagemaker:DeleteRecord", "sagemaker:DescribeFeatureGroup")


def _nag_ref(scope: Construct, value: str) -> str:
    """How cdk-nag spells a token in a finding id: ``<LogicalId.Arn>`` for GetAtt, ``<LogicalId>`` for Ref."""
    resolved: Any = Stack.of(scope).resolve(value)
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        logical_id, attribute = resolved["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    return str(resolved)


class FeatureGroup(Construct):
    """One feature group from a validated `FeatureGroupDefinition`.

    - Online store: encrypted with ``online_key`` (a CMK; required whenever the definition has an online
      store), storage type Standard or InMemory, optional TTL.
    - Offline store: objects under ``<prefix>/<name>/`` of ``offline_bucket`` (a CMK `SecureBucket`), a
      table named `FeatureGroupDefinition.table_name` in ``catalog``, format Iceberg or Glue.
    - A role SageMaker uses to write the offline store, allowed exactly that prefix, the bucket's key
      (generate data keys, decrypt) and that one Glue table; no role when there is no offline store.
    - RETAIN: deleting the stack never deletes features.

    Grants: `grant_read_online` (inference), `grant_write` (ingestion), `grant_read_offline` (training,
    Athena point-in-time queries).

    Args:
        scope: the construct this feature group is defined in.
        id: the construct id, unique within ``scope``.
        definition: the feature group (`FeatureGroupDefinition`); validated here, every problem reported at once.
        online_key: the CMK that encrypts the online store; required when the definition has an online store,
            and must be None (the default) when it has none.
        offline_bucket: the CMK `SecureBucket` of the offline store; required when the definition has an offline
            store, and must be None (the default) when it has none.
        catalog: the `CatalogDatabase` that holds the offline store's Glue table; required when the definition
            has an offline store, and must be None (the default) when it has none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        definition: FeatureGroupDefinition,
        online_key: kms.IKey | None = None,
        offline_bucket: SecureBucket | None = None,
        catalog: CatalogDatabase | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._validate(definition, online_key, offline_bucket, catalog)
        self.definition = definition
        self.feature_group_name = definition.name
        # Validated above: each is given exactly when the definition has that store.
        self.online_key = online_key
        self.offline_bucket = offline_bucket
        self.catalog = catalog
        stack = Stack.of(self)
        self.feature_group_arn = stack.format_arn(service="sagemaker", resource="feature-group", resource_name=definition.name)
        self.role: iam.Role | None = None
        self.offline_prefix: str | None = None
        offline_config: dict[str, Any] | None = None
        if self.offline_bucket is not None and self.catalog is not None and definition.offline_store is not None:
            self.offline_prefix = f"{definition.offline_store.prefix}/{definition.name}"
            self.role = self._offline_role(self.offline_bucket, self.catalog, self.offline_prefix)
            offline_config = {
                "S3StorageConfig": {"S3Uri": self.offline_bucket.s3_uri(self.offline_prefix), "KmsKeyId": self.offline_bucket.key.key_arn},
                "DataCatalogConfig": {"Catalog": "AwsDataCatalog", "Database": self.catalog.database_name, "TableName": definition.table_name},
                "DisableGlueTableCreation": False,
                "TableFormat": definition.offline_store.table_format,
            }
        online_config: dict[str, Any] | None = None
        if definition.online_store is not None and self.online_key is not None:
            online_config = {
                "EnableOnlineStore": True,
                "SecurityConfig": {"KmsKeyId": self.online_key.key_arn},
                "StorageType": definition.online_store.storage_type,
            }
            if definition.online_store.ttl is not None:
                online_config["TtlDuration"] = {"Unit": definition.online_store.ttl.unit, "Value": definition.online_store.ttl.value}
        throughput = definition.throughput
        self.resource = sagemaker.CfnFeatureGroup(
            self,
            "FeatureGroup",
            feature_group_name=definition.name,
            description=definition.description or None,
            record_identifier_feature_name=definition.record_identifier,
            event_time_feature_name=definition.event_time,
            feature_definitions=[
                sagemaker.CfnFeatureGroup.FeatureDefinitionProperty(feature_name=f.name, feature_type=f.type) for f in definition.features
            ],
            # JSON-typed properties: raw dicts with the service's PascalCase keys.
            online_store_config=online_config,
            offline_store_config=offline_config,
            role_arn=self.role.role_arn if self.role is not None else None,
            throughput_config=sagemaker.CfnFeatureGroup.ThroughputConfigProperty(
                throughput_mode=throughput.mode,
                provisioned_read_capacity_units=throughput.read_capacity_units,
                provisioned_write_capacity_units=throughput.write_capacity_units,
            ),
        )
        self.resource.apply_removal_policy(RemovalPolicy.RETAIN)
        if self.role is not None and self.catalog is not None:
            # SageMaker creates the Glue table in the database (named by string, so no implicit dependency)
            # and writes with the role, whose policy (not referenced by the group) must exist first.
            self.resource.node.add_dependency(self.role.node.find_child("DefaultPolicy"), self.catalog)

    def _validate(
        self,
        definition: FeatureGroupDefinition,
        online_key: kms.IKey | None,
        offline_bucket: SecureBucket | None,
        catalog: CatalogDatabase | None,
    ) -> None:
        problems = Problems()
        definition.check("definition", problems)
        if definition.online_store is not None and online_key is None:
            problems.add("online_key", "is required: the online store is always encrypted with a customer-managed key (e.g. EstateKeys.data)")
        if definition.online_store is None and online_key is not None:
            problems.add("online_key", "is given but the definition has no online store (online_store is None); drop it or add an online store")
        if definition.offline_store is not None:
            if offline_bucket is None:
                problems.add("offline_bucket", "is required with an offline store: pass a SecureBucket (or set definition.offline_store=None)")
            if catalog is None:
                problems.add("catalog", "is required with an offline store: pass the CatalogDatabase that holds its Glue table")
        else:
            for name, value in (("offline_bucket", offline_bucket), ("catalog", catalog)):
                if value is not None:
                    problems.add(name, "is given but the definition has no offline store (offline_store is None); drop it or add an offline store")
        if problems:
            listed = "\n".join(f"  - {p}" for p in problems.items)
            raise ValueError(f"{self.node.path}: invalid FeatureGroup {definition.name!r}, {len(problems.items)} problem(s):\n{listed}")

    def _offline_role(self, bucket: SecureBucket, catalog: CatalogDatabase, prefix: str) -> iam.Role:
        role = iam.Role(
            self,
            "OfflineStoreRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker Feature Store writes the offline store of feature group {self.definition.name}",
        )
        objects = bucket.bucket.arn_for_objects(f"{prefix}/*")
        # What AmazonSageMakerFeatureStoreAccess grants, scoped to this group's prefix and table.
        add_to_principal_policy(role, iam.PolicyStatement(actions=["s3:PutObject", "s3:PutObjectAcl", "s3:GetObject"], resources=[objects]))
        add_to_principal_policy(role, iam.PolicyStatement(actions=["s3:GetBucketAcl"], resources=[bucket.bucket_arn]))
        add_to_principal_policy(role, iam.PolicyStatement(
            actions=["glue:GetTable", "glue:UpdateTable"],
            resources=[catalog.catalog_arn, catalog.database_arn, catalog.table_arn(self.definition.table_name)],
        ))
        bucket.key.grant(role, "kms:GenerateDataKey", "kms:Decrypt")
        acknowledge(
            role,
            f"Feature Store writes objects with generated names below this group's own prefix {prefix}/ only.",
            f"AwsSolutions-IAM5[Resource::{_nag_ref(self, bucket.bucket_arn)}/{prefix}/*]",
        )
        return role

    def grant_read_online(self, grantee: iam.IGrantable) -> iam.Grant:
        """GetRecord / BatchGetRecord on this group (and kms:Decrypt on the online key, which the data plane needs)."""
        if self.online_key is None:
            raise ValueError(f"{self.node.path}: feature group {self.feature_group_name!r} has no online store to read")
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=list(ONLINE_READ_ACTIONS), resource_arns=[self.feature_group_arn])
        return grant.combine(self.online_key.grant(grantee, "kms:Decrypt"))

    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """PutRecord / DeleteRecord on this group (ingestion); Feature Store fans records out to both stores."""
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=list(WRITE_ACTIONS), resource_arns=[self.feature_group_arn])
        if self.online_key is not None:
            grant = grant.combine(self.online_key.grant(grantee, "kms:Decrypt"))
        return grant

    def grant_read_offline(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the offline store as Athena or a training job does: the group's objects, its Glue table, the key.

        Athena itself (a workgroup and a results location) is granted separately.
        """
        if self.offline_bucket is None or self.catalog is None or self.offline_prefix is None:
            raise ValueError(f"{self.node.path}: feature group {self.feature_group_name!r} has no offline store to read")
        bucket = self.offline_bucket.bucket
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=["sagemaker:DescribeFeatureGroup"], resource_arns=[self.feature_group_arn])
        grant = grant.combine(
            iam.Grant.add_to_principal(grantee=grantee, actions=["s3:GetObject"], resource_arns=[bucket.arn_for_objects(f"{self.offline_prefix}/*")])
        )
        grant = grant.combine(
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["s3:ListBucket"],
                resource_arns=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{self.offline_prefix}/*"]}},
            )
        )
        grant = grant.combine(self.catalog.grant_read_table(grantee, self.definition.table_name))
        if isinstance(grantee, Construct):
            acknowledge(
                grantee,
                f"Reads the objects of feature group {self.feature_group_name}'s offline store, below its own prefix only.",
                f"AwsSolutions-IAM5[Resource::{_nag_ref(self, bucket.bucket_arn)}/{self.offline_prefix}/*]",
            )
        return grant.combine(self.offline_bucket.key.grant(grantee, "kms:Decrypt"))
