"""Feature group definitions and the data_lake section: parsed from config, every bad input named by path."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlops_estate.config.estate import EstateConfig
from mlops_estate.core.validation import ConfigError, Problems
from mlops_estate.config.data_lake import DataLakeConfig
from mlops_estate.features.definition import (
    FeatureDefinition,
    FeatureGroupDefinition,
    OnlineStoreOptions,
    TtlDuration,
)
from tests.helpers import default_estate_dict


def _group(**changes: Any) -> dict[str, Any]:
    group = default_estate_dict()["feature_groups"][0]
    group.update(changes)
    return group


def _problems(*groups: dict[str, Any], data_lake: dict[str, Any] | None = None) -> list[str]:
    data = default_estate_dict()
    data["feature_groups"] = list(groups)
    if data_lake is not None:
        data["data_lake"] = data_lake
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(data, "test")
    return failure.value.problems


def _one(problems: list[str], path: str, *fragments: str) -> None:
    matching = [p for p in problems if p.startswith(f"{path}: ")]
    assert matching, f"no problem at {path!r} in {problems}"
    assert any(all(f in p for f in fragments) for p in matching), matching


def _features(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"name": n, "type": t} for n, t in pairs]


BASE = (("customer_id", "String"), ("event_time", "String"))


def test_default_estate_declares_customer_spending_features():
    config = EstateConfig.from_dict(default_estate_dict(), "test")
    (group,) = config.feature_groups
    assert group.name == "customer-spending-features"
    assert [(f.name, f.type) for f in group.features] == [
        ("customer_id", "String"),
        ("avg_spend_30d", "Fractional"),
        ("transaction_count_7d", "Integral"),
        ("days_since_last_purchase", "Integral"),
        ("event_time", "String"),
    ]
    assert (group.record_identifier, group.event_time) == ("customer_id", "event_time")
    assert group.online_store == OnlineStoreOptions(storage_type="Standard", ttl=TtlDuration(90, "Days"))
    assert group.offline_store is not None and group.offline_store.table_format == "Iceberg"
    assert group.table_name == "customer_spending_features"
    assert config.data_lake == DataLakeConfig(arrival_prefix="datasets/", arrival_buckets=("curated",))


def test_config_without_the_new_sections_gets_safe_defaults():
    data = default_estate_dict()
    del data["feature_groups"], data["data_lake"]
    config = EstateConfig.from_dict(data, "test")
    assert config.feature_groups == ()
    assert config.data_lake == DataLakeConfig()


@pytest.mark.parametrize(
    "name",
    ["customer id", "-leading", "trailing_", "dots.not.allowed", "a" * 65, "dollar$"],
)
def test_feature_names_that_break_sagemaker_rules(name):
    problems = _problems(_group(features=_features(*BASE, (name, "Fractional"))))
    _one(problems, "feature_groups[0].features[2].name", repr(name), "not a valid feature name")


def test_reserved_feature_names():
    problems = _problems(_group(features=_features(*BASE, ("Write_Time", "String"))))
    _one(problems, "feature_groups[0].features[2].name", "'Write_Time' is reserved", "write_time")


def test_duplicate_feature_names_are_case_insensitive():
    problems = _problems(_group(features=_features(*BASE, ("Spend", "Fractional"), ("spend", "Integral"))))
    _one(problems, "feature_groups[0].features[3].name", "duplicate feature name 'spend'", "index 2 as 'Spend'")


def test_missing_record_identifier_feature():
    problems = _problems(_group(features=_features(("event_time", "String"), ("avg", "Fractional")), record_identifier="customer_id"))
    _one(problems, "feature_groups[0].record_identifier", "'customer_id' is not one of the features", "'event_time', 'avg'")


def test_missing_event_time_feature():
    problems = _problems(_group(features=_features(("customer_id", "String"), ("avg", "Fractional"))))
    _one(problems, "feature_groups[0].event_time", "'event_time' is not one of the features", "event time must be a declared feature")


def test_event_time_must_be_string_or_fractional():
    problems = _problems(_group(features=_features(("customer_id", "String"), ("event_time", "Integral"))))
    _one(problems, "feature_groups[0].event_time", "has type 'Integral'", "'String' or 'Fractional'")


def test_record_identifier_and_event_time_must_differ():
    problems = _problems(_group(features=_features(("ts", "Fractional"), ("avg", "Fractional")), record_identifier="ts", event_time="ts"))
    _one(problems, "feature_groups[0].event_time", "also the record identifier")


def test_missing_record_identifier_key_is_required():
    group = _group()
    del group["record_identifier"]
    _one(_problems(group), "feature_groups[0].record_identifier", "is required")


@pytest.mark.parametrize("value", [0, -5, 2**31])
def test_ttl_out_of_range(value):
    problems = _problems(_group(online_store={"ttl": {"value": value, "unit": "Hours"}}))
    _one(problems, "feature_groups[0].online_store.ttl.value", f"{value} is out of range", "1 to 2147483647")


def test_ttl_unit_must_be_known():
    problems = _problems(_group(online_store={"ttl": {"value": 3, "unit": "Months"}}))
    _one(problems, "feature_groups[0].online_store.ttl.unit", "'Months' is not allowed", "'Weeks'")


def test_invalid_feature_group_name():
    problems = _problems(_group(name="Customer Features"))
    _one(problems, "feature_groups[0].name", "'Customer Features' is not a valid feature group name", "lowercase")


def test_duplicate_feature_groups_by_offline_table_name():
    problems = _problems(_group(name="spend-features"), _group(name="spend_features"))
    _one(problems, "feature_groups[1].name", "duplicate feature group 'spend_features'", "'spend-features' (index 0)", "'spend_features'")


def test_a_group_needs_at_least_one_store():
    problems = _problems(_group(online_store=None, offline_store=None))
    _one(problems, "feature_groups[0]", "both off")


def test_unknown_keys_are_named():
    problems = _problems(_group(online_store={"storage_typ": "Standard"}))
    _one(problems, "feature_groups[0].online_store.storage_typ", "did you mean 'storage_type'")


def test_collections_need_the_in_memory_store_and_cloudformation_support():
    features = [*_features(*BASE), {"name": "recent_items", "type": "String", "collection": "List"}]
    problems = _problems(_group(features=features))
    _one(problems, "feature_groups[0].features[2].collection", "needs online_store.storage_type 'InMemory'")
    _one(problems, "feature_groups[0].features[2].collection", "cannot be deployed", "AWS::SageMaker::FeatureGroup")


def test_vector_rules():
    features = [
        *_features(*BASE),
        {"name": "embedding", "type": "String", "collection": "Vector"},
        {"name": "embedding2", "type": "Fractional", "collection": "Vector", "dimension": 8193},
        {"name": "tags", "type": "String", "collection": "Set", "dimension": 3},
    ]
    problems = _problems(_group(features=features, online_store={"storage_type": "InMemory"}))
    _one(problems, "feature_groups[0].features[2].type", "Vector elements must be 'Fractional'")
    _one(problems, "feature_groups[0].features[2].dimension", "None is out of range", "1 to 8192")
    _one(problems, "feature_groups[0].features[3].dimension", "8193 is out of range")
    _one(problems, "feature_groups[0].features[3].collection", "only one Vector feature (first at index 2)")
    _one(problems, "feature_groups[0].features[4].dimension", "only allowed with collection 'Vector'")


def test_key_features_cannot_be_collections():
    features = [{"name": "customer_id", "type": "String", "collection": "Set"}, {"name": "event_time", "type": "String"}]
    problems = _problems(_group(features=features, online_store={"storage_type": "InMemory"}))
    _one(problems, "feature_groups[0].record_identifier", "is a Set", "single value")


def test_provisioned_throughput_rules():
    problems = _problems(
        _group(throughput={"mode": "Provisioned", "read_capacity_units": 0}),
        _group(name="in-memory", online_store={"storage_type": "InMemory"}, throughput={"mode": "Provisioned", "read_capacity_units": 5, "write_capacity_units": 5}),
        _group(name="offline-only", online_store=None, throughput={"mode": "Provisioned", "read_capacity_units": 5, "write_capacity_units": 40_001}),
        _group(name="on-demand", throughput={"mode": "OnDemand", "write_capacity_units": 5}),
    )
    _one(problems, "feature_groups[0].throughput.read_capacity_units", "0 is out of range", "1 to 40000")
    _one(problems, "feature_groups[0].throughput.write_capacity_units", "None is out of range")
    _one(problems, "feature_groups[1].throughput.mode", "not supported with the InMemory online store")
    _one(problems, "feature_groups[2].throughput.read_capacity_units", "offline-only")
    _one(problems, "feature_groups[2].throughput.write_capacity_units", "40001 is out of range")
    _one(problems, "feature_groups[3].throughput.write_capacity_units", "only allowed with mode 'Provisioned'")


def test_offline_prefix_and_description_limits():
    problems = _problems(_group(offline_store={"prefix": "/features/"}, description="x" * 129))
    _one(problems, "feature_groups[0].offline_store.prefix", "'/features/' is not a valid S3 key prefix")
    _one(problems, "feature_groups[0].description", "129 characters", "at most 128")


def test_every_problem_is_reported_at_once():
    problems = _problems(_group(name="Bad Name", features=_features(("customer_id", "String"), ("is_deleted", "String")), online_store={"ttl": {"value": 0}}))
    assert len(problems) >= 4
    assert {p.split(":")[0] for p in problems} >= {
        "feature_groups[0].name",
        "feature_groups[0].features[1].name",
        "feature_groups[0].event_time",
        "feature_groups[0].online_store.ttl.value",
    }


@pytest.mark.parametrize(
    ("data_lake", "path", "fragment"),
    [
        ({"arrival_prefix": "/datasets/"}, "data_lake.arrival_prefix", "not an S3 key prefix"),
        ({"arrival_prefix": ""}, "data_lake.arrival_prefix", "not an S3 key prefix"),
        ({"arrival_buckets": []}, "data_lake.arrival_buckets", "at least one of 'raw', 'curated'"),
        ({"arrival_buckets": ["curated", "curated"]}, "data_lake.arrival_buckets", "lists a bucket twice"),
        ({"arrival_buckets": ["gold"]}, "data_lake.arrival_buckets[0]", "'gold' is not allowed"),
    ],
)
def test_data_lake_config_errors(data_lake, path, fragment):
    _one(_problems(_group(), data_lake=data_lake), path, fragment)


def test_definition_checks_literals_when_built_in_python():
    # Python does not enforce Literal types; the check does, so a construct never gets a bad value.
    definition = FeatureGroupDefinition(
        name="g",
        record_identifier="id",
        event_time="ts",
        features=(FeatureDefinition("id", "Bool"), FeatureDefinition("ts", "String")),  # type: ignore[arg-type]
    )
    problems = Problems()
    definition.check("definition", problems)
    assert any(re.match(r"definition\.features\[0\]\.type: 'Bool' is not allowed; expected one of 'String', 'Integral', 'Fractional'", p) for p in problems.items)


def test_a_bad_list_item_is_reported_not_crashed_on():
    # Cross-item checks (duplicate names) must not see a half-parsed list; this used to raise AttributeError.
    data = default_estate_dict()
    data["models"][0]["problem_type"] = "Ranking"
    data["feature_groups"][0]["features"][0]["type"] = "Bool"
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(data, "test")
    _one(failure.value.problems, "models[0].problem_type", "'Ranking' is not allowed")
    _one(failure.value.problems, "feature_groups[0].features[0].type", "'Bool' is not allowed")
