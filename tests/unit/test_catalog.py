"""CatalogDatabase: a retained Glue database with an Athena-friendly name, and table read grants."""

from __future__ import annotations

import re

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from mlops_estate.features.catalog import CatalogDatabase, catalog_name
from tests.helpers import TEST_ACCOUNT, TEST_REGION, make_stack


def test_database_is_named_and_retained_and_grants_one_table():
    stack = make_stack()
    catalog = CatalogDatabase(stack, "Catalog", database_name="mlops_data_lake", description="lake tables", location_uri="s3://bucket/")
    role = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    catalog.grant_read_table(role, "orders")
    template = Template.from_stack(stack)
    template.has_resource(
        "AWS::Glue::Database",
        {
            "Properties": {"CatalogId": TEST_ACCOUNT, "DatabaseInput": {"Name": "mlops_data_lake", "Description": "lake tables", "LocationUri": "s3://bucket/"}},
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    glue = f"arn:aws:glue:{TEST_REGION}:{TEST_ACCOUNT}"
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == [f"{glue}:catalog", f"{glue}:database/mlops_data_lake", f"{glue}:table/mlops_data_lake/orders"]
    assert all(a.startswith("glue:Get") for a in statement["Action"])


def test_catalog_name_turns_estate_names_into_athena_names():
    assert catalog_name("ml-ops", "data-lake") == "ml_ops_data_lake"


@pytest.mark.parametrize("name", ["Data-Lake", "1lake", "with space", ""])
def test_invalid_database_name(name):
    with pytest.raises(ValueError, match=re.escape(f"Test/Catalog: database_name {name!r} is not a valid Glue/Athena database name")):
        CatalogDatabase(make_stack(), "Catalog", database_name=name, description="d")
