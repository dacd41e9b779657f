from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from mlops_estate.lifecycle.container_registry import EstateRepositories
from mlops_estate.security.encryption import DataClass, EstateKeys
from tests.helpers import TEST_ACCOUNT, make_stack


@pytest.fixture(scope="module")
def template() -> Template:
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.MODELS])
    EstateRepositories(stack, "Repos", estate_name="acme", key=keys.models, push_accounts=["444444444444"],
                       pull_accounts=["555555555555", "666666666666", TEST_ACCOUNT])
    return Template.from_stack(stack)


def test_repositories_are_cmk_encrypted_immutable_scanned_and_retained(template):
    repos = template.find_resources("AWS::ECR::Repository")
    assert sorted(r["Properties"]["RepositoryName"] for r in repos.values()) == ["acme/serving", "acme/training"]
    for repo in repos.values():
        props = repo["Properties"]
        assert props["EncryptionConfiguration"]["EncryptionType"] == "KMS"
        assert "KmsKey" in props["EncryptionConfiguration"]
        assert props["ImageTagMutability"] == "IMMUTABLE"
        assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
        assert repo["DeletionPolicy"] == "Retain"
        assert "untagged" in props["LifecyclePolicy"]["LifecyclePolicyText"]


def test_only_estate_accounts_pull_and_only_the_build_account_pushes(template):
    for repo in template.find_resources("AWS::ECR::Repository").values():
        statements = {s["Sid"]: s for s in repo["Properties"]["RepositoryPolicyText"]["Statement"]}
        assert set(statements) == {"EstateAccountsPull", "EstateAccountsPush"}
        assert statements["EstateAccountsPull"]["Principal"]["AWS"] == [
            "arn:aws:iam::444444444444:root", "arn:aws:iam::555555555555:root", "arn:aws:iam::666666666666:root"]
        assert statements["EstateAccountsPush"]["Principal"]["AWS"] == "arn:aws:iam::444444444444:root"
        assert "ecr:PutImage" in statements["EstateAccountsPush"]["Action"]
        assert "ecr:PutImage" not in statements["EstateAccountsPull"]["Action"]


def test_bad_props_are_reported_together():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.MODELS])
    with pytest.raises(ValueError) as failure:
        EstateRepositories(stack, "Bad", estate_name="acme", key=keys.models, kinds=["Training!"], untagged_days=0,
                           pull_accounts=["123"])
    assert str(failure.value) == (
        "Test/Bad: 3 problem(s):\n"
        "  - kinds[0]: 'Training!' makes the repository name 'acme/Training!', which ECR refuses; expected lower-case letters and "
        "digits joined by single '.', '_', '-' or '/' (2-256 characters)\n"
        "  - untagged_days: 0 is not allowed; expected 1 to 3650 days\n"
        "  - pull_accounts[0]: '123' is not an AWS account id; expected exactly 12 digits"
    )


def test_shared_services_repositories_name_the_estate_accounts(default_estate):
    template = default_estate.templates["SharedServices/Registry"]
    repos = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECR::Repository"]
    assert len(repos) == 2
    text = str(repos)
    for account in ("444444444444", "555555555555", "666666666666"):
        assert account in text
    assert "333333333333" not in text and "111111111111" not in text
