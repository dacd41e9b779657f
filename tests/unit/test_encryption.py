from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from mlops_estate.security.encryption import DataClass, EstateKeys
from tests.helpers import TEST_ACCOUNT, make_stack


@pytest.fixture(scope="module")
def keys_template() -> Template:
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme")
    keys.allow_account(DataClass.MODELS, ["222222222222", "333333333333", TEST_ACCOUNT])
    keys.allow_account(DataClass.DATA, ["444444444444"], write=True)
    return Template.from_stack(stack)


def test_one_rotating_retained_key_per_data_class(keys_template):
    keys = keys_template.find_resources("AWS::KMS::Key")
    assert len(keys) == len(DataClass) == 5
    for key in keys.values():
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["DeletionPolicy"] == "Retain" and key["UpdateReplacePolicy"] == "Retain"
    aliases = sorted(a["Properties"]["AliasName"] for a in keys_template.find_resources("AWS::KMS::Alias").values())
    assert aliases == ["alias/acme/data", "alias/acme/logs", "alias/acme/models", "alias/acme/monitoring", "alias/acme/studio"]


def test_cross_account_use_names_exactly_the_other_accounts(keys_template):
    keys_template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "Description": "acme estate: models encryption key",
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        {
                            "Sid": "EstateAccountsRead",
                            "Effect": "Allow",
                            "Action": ["kms:Decrypt", "kms:DescribeKey"],
                            "Principal": {
                                "AWS": [
                                    "arn:aws:iam::222222222222:root",
                                    "arn:aws:iam::333333333333:root",
                                ]
                            },
                            "Resource": "*",
                        }
                    ]
                )
            },
        },
    )
    keys_template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "Description": "acme estate: data encryption key",
            "KeyPolicy": {"Statement": Match.array_with([Match.object_like({"Sid": "EstateAccountsReadWrite", "Action": Match.array_with(["kms:GenerateDataKey*"])})])},
        },
    )


def test_logs_key_admits_cloudwatch_logs_of_this_account_only(keys_template):
    keys_template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "Description": "acme estate: logs encryption key",
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "CloudWatchLogsOfThisAccount",
                                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": Match.any_value()}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_same_account_grant_is_a_no_op():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.MODELS])
    keys.allow_account(DataClass.MODELS, [TEST_ACCOUNT])
    statements = Template.from_stack(stack).to_json()["Resources"]
    text = str(statements)
    assert "EstateAccountsRead" not in text


def test_asking_for_a_key_not_made_names_the_fix():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.LOGS])
    with pytest.raises(ValueError, match=r"Test/Keys: no 'studio' key in this stack \(keys made here: logs\); add DataClass.STUDIO"):
        keys.studio


def test_bad_props_are_all_reported_with_path_and_value():
    with pytest.raises(ValueError) as failure:
        EstateKeys(make_stack(), "Keys", estate_name="aws", classes=[DataClass.DATA, "logs", DataClass.DATA])  # type: ignore[list-item]
    assert str(failure.value) == (
        "Test/Keys: 3 problem(s):\n"
        "  - estate_name: 'aws' is not a KMS alias prefix; expected '/'-separated runs of letters, digits, '_' and '-' "
        "(at most 239 characters), not 'aws' (AWS's own aliases)\n"
        "  - classes[1]: 'logs' is not a DataClass; expected one of DATA, MODELS, MONITORING, STUDIO, LOGS\n"
        "  - classes: ['data', 'logs', 'data'] names a class twice; expected each at most once"
    )


def test_other_accounts_are_named_by_account_id():
    keys = EstateKeys(make_stack(), "Keys", estate_name="acme", classes=[DataClass.MODELS])
    with pytest.raises(ValueError, match=r"^Test/Keys: allow_account: 1 problem\(s\):\n  - account_ids\[1\]: '2222' is not an AWS "
                                         r"account id; expected exactly 12 digits$"):
        keys.allow_account(DataClass.MODELS, ["222222222222", "2222"])


def test_imported_keys_report_every_bad_arn_and_accept_tokens():
    from aws_cdk import Fn

    from mlops_estate.security.encryption import ImportedKeys

    stack = make_stack()
    arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ImportedKeys(stack, "Ok", key_arns={DataClass.DATA: arn, DataClass.MODELS: arn, DataClass.MONITORING: arn,
                                        DataClass.LOGS: Fn.import_value("LogsKeyArn")})
    with pytest.raises(ValueError) as failure:
        ImportedKeys(stack, "Bad", key_arns={DataClass.DATA: "alias/acme/data", DataClass.MODELS: arn, DataClass.MONITORING: arn,
                                             DataClass.LOGS: "arn:aws:kms:eu-west-1:123456789012:alias/acme/logs"})
    assert str(failure.value) == (
        "Test/Bad: 2 problem(s):\n"
        "  - key_arns[data]: 'alias/acme/data' is not a KMS key ARN; expected arn:<partition>:kms:<region>:<account>:key/<key id>\n"
        "  - key_arns[logs]: 'arn:aws:kms:eu-west-1:123456789012:alias/acme/logs' is not a KMS key ARN; expected "
        "arn:<partition>:kms:<region>:<account>:key/<key id>"
    )
