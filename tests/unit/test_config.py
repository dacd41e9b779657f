"""The estate config: every kind of bad input is reported with its path, all at once, before any synth."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlops_estate.config.estate import ConfigError, EstateConfig, load_estate
from tests.helpers import CDK_JSON, default_estate_dict, scaled_estate_dict


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as failure:
        EstateConfig.from_dict(data, "test")
    return failure.value.problems


def only_problem(data: dict[str, Any]) -> str:
    problems = problems_of(data)
    assert len(problems) == 1, problems
    return problems[0]


def test_default_estate_is_valid():
    config = EstateConfig.from_dict(default_estate_dict())
    assert config.accounts.prod == "666666666666"
    assert [m.name for m in config.models] == ["churn", "spend-forecast", "fraud-batch"]
    assert config.models[1].serving["prod"].mode == "serverless"
    assert not config.sandbox


def test_malformed_account_id():
    data = default_estate_dict()
    data["accounts"]["prod"] = "12345"
    assert only_problem(data) == "accounts.prod: '12345' is not an AWS account id (exactly 12 digits)"


def test_malformed_management_account_and_ou():
    data = default_estate_dict()
    data["organization"]["management_account"] = "abc"
    data["organization"]["ml_ou_ids"] = ["ou-bad"]
    assert problems_of(data) == [
        "organization.management_account: 'abc' is not an AWS account id (exactly 12 digits)",
        "organization.ml_ou_ids[0]: 'ou-bad' is not an OU id (ou-xxxx-xxxxxxxx) or root id (r-xxxx)",
    ]


def test_unknown_key_is_an_error_with_a_suggestion():
    data = default_estate_dict()
    data["models"][0]["quality_gate"]["treshold"] = data["models"][0]["quality_gate"].pop("threshold")
    problems = problems_of(data)
    assert "models[0].quality_gate.treshold: unknown key; did you mean 'threshold'?" in problems
    assert "models[0].quality_gate.threshold: is required" in problems


def test_unknown_top_level_key_lists_known_keys():
    data = default_estate_dict()
    data["colour"] = "blue"
    assert only_problem(data).startswith("colour: unknown key; known keys: accounts, audit, availability_zones")


def test_bad_region_and_zones():
    data = default_estate_dict()
    data["region"] = "europe-1"
    assert "region: 'europe-1' is not an AWS region name like eu-west-1" in problems_of(data)
    data = default_estate_dict()
    data["availability_zones"] = ["eu-west-1a", "us-east-1b"]
    assert only_problem(data) == "availability_zones[1]: 'us-east-1b' is not a zone of region 'eu-west-1' (like eu-west-1a)"
    data["availability_zones"] = ["eu-west-1a"]
    assert only_problem(data) == "availability_zones: needs 2 or 3 zones, got 1"


def test_overlapping_cidrs():
    data = default_estate_dict()
    data["network"]["prod_cidr"] = "10.10.128.0/17"
    assert only_problem(data) == "network.prod_cidr: '10.10.128.0/17' overlaps ml_dev_cidr '10.10.0.0/16'"


def test_bad_cidr_and_prefix():
    data = default_estate_dict()
    data["network"]["staging_cidr"] = "10.20.0.0/28"
    data["network"]["prod_cidr"] = "not-a-cidr"
    assert problems_of(data) == [
        "network.staging_cidr: '10.20.0.0/28' has prefix /28; use /16 to /22 so every AZ gets a subnet",
        "network.prod_cidr: 'not-a-cidr' is not an IPv4 CIDR block like 10.10.0.0/16",
    ]


def test_duplicate_model_names():
    data = default_estate_dict()
    data["models"].append(json.loads(json.dumps(data["models"][0])))
    assert only_problem(data) == "models[3]: duplicate model name 'churn' (first at index 0)"


def test_duplicate_user_names_and_unknown_persona():
    data = default_estate_dict()
    data["users"].append({"name": "ana-scientist", "persona": "wizard"})
    problems = problems_of(data)
    assert problems == [
        "users[4].persona: 'wizard' is not allowed; expected one of 'data_scientist', 'ml_engineer', 'mlops_admin', 'auditor'"
    ]


def test_threshold_out_of_range():
    data = default_estate_dict()
    data["models"][0]["quality_gate"]["threshold"] = 1.5
    assert only_problem(data) == "models[0].quality_gate.threshold: 1.5 is out of range for auc; it must lie in [0, 1]"
    data = default_estate_dict()
    data["models"][1]["quality_gate"]["threshold"] = -1
    assert only_problem(data) == "models[1].quality_gate.threshold: -1.0 is out of range for rmse; it must be >= 0"


def test_metric_that_does_not_fit_the_problem_type():
    data = default_estate_dict()
    data["models"][1]["quality_gate"]["metric"] = "auc"
    assert only_problem(data).startswith("models[1].quality_gate.metric: 'auc' does not apply to Regression; use one of mae, mse, r2, rmse")


def test_serving_limits():
    data = default_estate_dict()
    data["models"][0]["serving"]["prod"].update(min_instances=5, max_instances=2, instance_type="m5.large")
    assert problems_of(data) == [
        "models[0].serving.prod.instance_type: 'm5.large' is not a SageMaker instance type like ml.m5.large",
        "models[0].serving.prod.max_instances: 2 is below min_instances 5",
    ]
    data = default_estate_dict()
    data["models"][0]["serving"]["staging"]["min_instances"] = 0
    assert only_problem(data) == "models[0].serving.staging.min_instances: 0 is below 1 for mode 'realtime'"


def test_wrong_types_are_named():
    data = default_estate_dict()
    data["models"][0]["serving"]["prod"]["min_instances"] = "two"
    data["users"] = {"name": "x"}
    assert problems_of(data) == ["users: expected a list, got dict", "models[0].serving.prod.min_instances: expected a whole number, got 'two'"]


def test_every_problem_is_reported_at_once():
    data = default_estate_dict()
    data["accounts"]["prod"] = "1"
    data["region"] = "x"
    data["models"][0]["name"] = "Churn_Model"
    data["tags"]["team"] = ""
    assert len(problems_of(data)) >= 4


def test_sandbox_mode_is_expressible():
    data = default_estate_dict()
    for role in data["accounts"]:
        data["accounts"][role] = "123456789012"
    assert EstateConfig.from_dict(data).sandbox


def test_message_names_the_source():
    data = default_estate_dict()
    data["accounts"]["prod"] = "1"
    with pytest.raises(ConfigError, match=re.escape("my-estate.json: 1 problem(s):\n  - accounts.prod:")):
        EstateConfig.from_dict(data, "my-estate.json")


def context_of(**values: Any):
    return lambda key: values.get(key)


def test_load_from_cdk_json_default():
    config = load_estate(context_of(), CDK_JSON)
    assert config.name == "mlops"


def test_load_from_estate_file(tmp_path):
    data = default_estate_dict()
    data["name"] = "acme"
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(data))
    assert load_estate(context_of(estate_file=str(path)), CDK_JSON).name == "acme"


def test_estate_file_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match="does not exist"):
        load_estate(context_of(estate_file=str(missing)), CDK_JSON)
    broken = tmp_path / "broken.json"
    broken.write_text("{\n  'name': 1}")
    with pytest.raises(ConfigError, match=re.escape(f"{broken}: 1 problem(s):\n  - line 2 column 3: invalid JSON")):
        load_estate(context_of(estate_file=str(broken)), CDK_JSON)


def test_single_values_override_with_c():
    config = load_estate(
        context_of(
            **{
                "estate": default_estate_dict(),
                "estate.accounts.prod": "999999999999",
                "estate.models.0.quality_gate.threshold": "0.9",
                "estate.availability_zones": '["eu-west-1b", "eu-west-1c"]',
            }
        )
    )
    assert config.accounts.prod == "999999999999"
    assert config.models[0].quality_gate.threshold == 0.9
    assert config.availability_zones == ("eu-west-1b", "eu-west-1c")


def test_bad_override_is_validated_like_the_file():
    with pytest.raises(ConfigError, match=re.escape("accounts.prod: '42' is not an AWS account id")):
        load_estate(context_of(**{"estate": default_estate_dict(), "estate.accounts.prod": "42"}))


def test_override_adds_a_setting_the_file_leaves_out_and_names_a_misspelt_one():
    values = {"estate": default_estate_dict(), "estate.bootstrap_qualifier": "team1"}
    assert "bootstrap_qualifier" not in values["estate"]
    assert load_estate(context_of(**values), context_keys=values).bootstrap_qualifier == "team1"
    values = {"estate": default_estate_dict(), "estate.bootstrap_qualifer": "team1"}
    with pytest.raises(ConfigError, match=r"bootstrap_qualifer: unknown key; did you mean 'bootstrap_qualifier'"):
        load_estate(context_of(**values), context_keys=values)


def test_with_the_apps_context_keys_only_estate_keys_are_read_as_overrides():
    """estate_app passes every context key of the app: the loader then reads the few estate.* keys, not one context
    value per config path (a jsii round-trip each, ~70 per model), with the same result."""
    values = {"estate": default_estate_dict(), "estate.accounts.prod": '"999999999999"', "estate.name": "acme",
              "other": 1}
    read: list[str] = []

    def get_context(key: str) -> Any:
        read.append(key)
        return values.get(key)

    config = load_estate(get_context, context_keys=values)
    assert (config.accounts.prod, config.name) == ("999999999999", "acme")
    assert read == ["estate_file", "estate", "estate", "estate.accounts.prod", "estate.name"]
    read.clear()
    assert load_estate(get_context) == config  # without the keys: the same config, every path looked up
    assert len(read) > 100 and "estate.models.0.name" in read


def test_quoted_string_override_is_unquoted():
    config = load_estate(context_of(**{"estate": default_estate_dict(), "estate.accounts.prod": '"999999999999"'}))
    assert config.accounts.prod == "999999999999"


@pytest.mark.parametrize("models", [1, 4, 10])
def test_scaled_estates_of_the_benchmarks_are_valid(models):
    """benchmarks/scale.py and tests/test_scale.py synthesize these: every setting that names a model must still hold."""
    config = EstateConfig.from_dict(scaled_estate_dict(models), "scaled")
    assert len(config.models) == models
    assert set(config.projects.models) <= {m.name for m in config.models}
