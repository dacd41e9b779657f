"""Everything in the default estate that holds data survives a stack deletion and a replacement.

Every resource of a stateful type (`STATEFUL_TYPES` of the logical-id freeze) must carry
``DeletionPolicy: Retain`` and ``UpdateReplacePolicy: Retain``, except the types below, each of which is
frozen for its identity, not for data it holds, and is deliberately not retained.
"""

from __future__ import annotations

from typing import Any

from tests.gates.test_logical_id_freeze import STATEFUL_TYPES

NOT_RETAINED: dict[str, str] = {
    "AWS::SNS::Topic": "delivers alarm, budget and async-inference notifications and stores none; a retained topic "
                       "would only be orphaned",
    "AWS::EC2::VPC": "holds no data; its subnets, endpoints and security groups are deleted with the stack, so a "
                     "retained VPC would be an empty shell",
    "AWS::SageMaker::Endpoint": "serves models and stores nothing (captured requests and async results are in retained "
                                "CMK buckets); a retained endpoint would keep billing its instances",
    "AWS::SageMaker::Pipeline": "its definition is generated from code and config; models, metrics and artifacts of "
                                "its runs live in the retained registry and buckets, and a retained pipeline would "
                                "block redeploying its fixed name",
    "AWS::SageMaker::UserProfile": "holds no data itself: the home directories are on the retained domain's EFS volume "
                                   "and SageMaker refuses to delete a profile that still has spaces or apps",
    "AWS::Events::EventBus": "routes events and stores none (no archive is configured)",
    "AWS::CloudTrail::Trail": "stores nothing itself: the logs are in the retained bucket and log group; its delivery "
                              "needs the bucket policy and logs role of the same stack, so a retained trail would "
                              "outlive its permission to deliver",
    "AWS::ServiceCatalog::Portfolio": "a catalogue entry, no data; frozen so projects keep their launch path, but a "
                                      "retained portfolio would keep offering templates whose launch role is gone",
    "AWS::ServiceCatalog::CloudFormationProduct": "a template reference, no data: launched projects are their own stacks "
                                                  "and keep running; a retained product would stay visible in Studio "
                                                  "without its launch constraint",
}


def not_retained(templates: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"{stack}: {resource['Type']} {logical_id} (DeletionPolicy {resource.get('DeletionPolicy')}, "
        f"UpdateReplacePolicy {resource.get('UpdateReplacePolicy')})"
        for stack, template in sorted(templates.items())
        for logical_id, resource in sorted(template["Resources"].items())
        if resource["Type"] in STATEFUL_TYPES and resource["Type"] not in NOT_RETAINED
        and (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) != ("Retain", "Retain")
    ]


def test_every_stateful_resource_of_the_default_estate_is_retained(default_estate):
    missing = not_retained(default_estate.templates)
    assert not missing, "Stateful resources that CloudFormation would delete with their data:\n  " + "\n  ".join(missing)


def test_the_exceptions_are_stateful_types_the_estate_uses(default_estate):
    used = {r["Type"] for t in default_estate.templates.values() for r in t["Resources"].values()}
    assert set(NOT_RETAINED) <= STATEFUL_TYPES & used


def test_the_check_catches_a_resource_without_retain():
    templates = {"S": {"Resources": {
        "Kept": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
        "Lost": {"Type": "AWS::SageMaker::MlflowTrackingServer", "DeletionPolicy": "Retain"},
        "Topic": {"Type": "AWS::SNS::Topic"},
    }}}
    assert not_retained(templates) == [
        "S: AWS::SageMaker::MlflowTrackingServer Lost (DeletionPolicy Retain, UpdateReplacePolicy None)"]
