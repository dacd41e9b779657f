"""Stateful resources must keep their logical IDs: a new ID makes CloudFormation replace the resource,
which deletes (or orphans) the key, bucket, domain, feature group or registry and the data in it.

If a change moves an ID on purpose (never for an existing deployment without a migration plan), update
the frozen list deliberately with `python -m tests.gates.test_logical_id_freeze --update` and explain why
in the commit message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FROZEN_FILE = Path(__file__).with_name("frozen_logical_ids.json")

# Every resource type that holds data or identity other resources depend on.
STATEFUL_TYPES = {
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::SageMaker::Domain",
    "AWS::SageMaker::UserProfile",
    "AWS::SageMaker::FeatureGroup",
    "AWS::SageMaker::ModelPackageGroup",
    "AWS::SageMaker::ModelCard",
    "AWS::SageMaker::MlflowTrackingServer",
    "AWS::SageMaker::Pipeline",
    "AWS::SageMaker::Endpoint",
    "AWS::EC2::VPC",
    "AWS::Events::EventBus",
    "AWS::ECR::Repository",
    "AWS::Glue::Database",
    "AWS::CloudTrail::Trail",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::IAM::OIDCProvider",
    # Replacing a portfolio or product orphans the SageMaker projects provisioned from it.
    "AWS::ServiceCatalog::Portfolio",
    "AWS::ServiceCatalog::CloudFormationProduct",
}


def stateful_ids(templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for stack, template in sorted(templates.items()):
        ids = {k: v["Type"] for k, v in sorted(template["Resources"].items()) if v["Type"] in STATEFUL_TYPES}
        if ids:
            out[stack] = ids
    return out


def test_stateful_logical_ids_are_frozen(default_estate):
    frozen: dict[str, dict[str, str]] = json.loads(FROZEN_FILE.read_text())
    current = stateful_ids(default_estate.templates)
    moved = []
    for stack, ids in frozen.items():
        for logical_id, type_name in ids.items():
            if current.get(stack, {}).get(logical_id) != type_name:
                moved.append(f"{stack}: {type_name} {logical_id}")
    assert not moved, (
        "These stateful resources lost their logical ID. CloudFormation would REPLACE them on the next deploy "
        "and the data they hold would be lost or orphaned:\n  " + "\n  ".join(moved) + "\n"
        "Restore the construct ids (or the construct tree) that produced them. If the move is deliberate and "
        "no deployment holds data there, run `python -m tests.gates.test_logical_id_freeze --update` and say why."
    )
    new = [f"{s}: {t} {i}" for s, ids in current.items() for i, t in ids.items() if i not in frozen.get(s, {})]
    assert not new, (
        "New stateful resources are not yet frozen; add them with "
        "`python -m tests.gates.test_logical_id_freeze --update`:\n  " + "\n  ".join(new)
    )


if __name__ == "__main__" and "--update" in sys.argv:
    import os
    import tempfile

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from tests.conftest import synthesize_estate

    synthesized = synthesize_estate(Path(tempfile.mkdtemp()), nag=False)
    FROZEN_FILE.write_text(json.dumps(stateful_ids(synthesized.templates), indent=2, sort_keys=True) + "\n")
    print(f"wrote {FROZEN_FILE}")
