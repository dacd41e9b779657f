"""A Glue Data Catalog database: where Athena, Glue and the Feature Store offline store find tables."""

from __future__ import annotations

import re

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from constructs import Construct

# Glue allows more, but Athena (the way people query the lake and the offline store) wants lowercase
# letters, digits and underscores; 255 characters at most.
DATABASE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,254}$")
TABLE_READ_ACTIONS = ("glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions", "glue:GetPartition", "glue:GetPartitions")


def catalog_name(*parts: str) -> str:
    """A Glue/Athena name from estate names: '-' becomes '_' (``catalog_name("mlops", "data-lake")``)."""
    return "_".join(p.replace("-", "_") for p in parts).lower()


class CatalogDatabase(Construct):
    """A Glue database with a name people query by (derived from config), RETAIN.

    Tables in it are made by their owners (the Feature Store makes its offline tables, crawlers or jobs
    make the lake's); this construct gives the ARNs IAM needs and read grants scoped to named tables.

    Args:
        scope: the construct this database is defined in.
        id: the construct id, unique within ``scope``.
        database_name: the Glue/Athena database name: 1-255 lowercase letters, digits and underscores, starting
            with a letter (`catalog_name` derives one from estate names).
        description: the database description shown in the Glue console.
        location_uri: the database's location (``LocationUri``), e.g. an ``s3://`` URI. None (the default): no
            location.
    """

    def __init__(self, scope: Construct, id: str, *, database_name: str, description: str, location_uri: str | None = None) -> None:
        super().__init__(scope, id)
        if not DATABASE_NAME.match(database_name):
            raise ValueError(
                f"{self.node.path}: database_name {database_name!r} is not a valid Glue/Athena database name "
                "(1-255 lowercase letters, digits and underscores, starting with a letter)"
            )
        self.database_name = database_name
        stack = Stack.of(self)
        self.resource = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(name=database_name, description=description, location_uri=location_uri),
        )
        self.resource.apply_removal_policy(RemovalPolicy.RETAIN)
        self.catalog_arn = stack.format_arn(service="glue", resource="catalog")
        self.database_arn = stack.format_arn(service="glue", resource="database", resource_name=database_name)

    def table_arn(self, table_name: str) -> str:
        return Stack.of(self).format_arn(service="glue", resource="table", resource_name=f"{self.database_name}/{table_name}")

    def grant_read_table(self, grantee: iam.IGrantable, table_name: str) -> iam.Grant:
        """Read one table's definition and partitions (what Athena needs from the catalog to query it)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["glue:GetDatabase", *TABLE_READ_ACTIONS],
            resource_arns=[self.catalog_arn, self.database_arn, self.table_arn(table_name)],
        )
