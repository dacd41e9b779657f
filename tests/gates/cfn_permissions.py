"""What CloudFormation's resource handlers need, from the resource provider schemas cfn-lint ships, and the ARNs
the resources of a SageMaker project template would have once Service Catalog launches it.

cfn-lint stores the schemas as ``data/schemas/providers/<region>.json`` (resource type -> hash) and
``data/schemas/resources/<hash>.json`` (the provider schema, with ``handlers.<op>.permissions`` and
``tagging.permissions``). Intrinsics are rendered with example values of one launch: the provisioned stack is
``SC-<account>-pp-<id>`` and CloudFormation names an unnamed resource ``<stack>-<logical id>-<suffix>``.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint

SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
# CloudFormation runs these handlers in stack operations; ``list`` serves resource discovery (IaC generator,
# ``ListResources``), never a launch, update or termination of a provisioned product.
STACK_HANDLERS = ("create", "read", "update", "delete")

PROJECT_NAME = "churn-team"
PROJECT_ID = "p-abcdefghij12"


@cache
def provider_schema(region: str, resource_type: str) -> dict[str, Any]:
    index = json.loads((SCHEMAS / "providers" / f"{region}.json").read_text())
    return json.loads((SCHEMAS / "resources" / f"{index[resource_type]}.json").read_text())


def handler_permissions(region: str, resource_type: str) -> dict[str, set[str]]:
    """The permissions of each stack handler (tagging permissions count for create, read and update)."""
    schema = provider_schema(region, resource_type)
    tagging = set(schema.get("tagging", {}).get("permissions", []))
    out = {}
    for op in STACK_HANDLERS:
        if op in schema.get("handlers", {}):
            out[op] = set(schema["handlers"][op]["permissions"]) | (tagging if op != "delete" else set())
    return out


class Renderer:
    """Renders CloudFormation values of one template to strings, as one launch would resolve them."""

    def __init__(self, template: dict[str, Any], *, account: str, region: str, partition: str = "aws") -> None:
        self.template = template
        self.account, self.region, self.partition = account, region, partition
        self.stack = f"SC-{account}-pp-abcdefghijklm"
        self.resources = template.get("Resources", {})

    def parameter(self, name: str) -> str:
        if name == "SageMakerProjectName":
            return PROJECT_NAME
        if name == "SageMakerProjectId":
            return PROJECT_ID
        if name == "ModelPackageArn":
            return re.sub(r"\[0-9\]\{1,6\}\$$", "3", self.template["Parameters"][name]["AllowedPattern"]
                          .lstrip("^").replace("arn:aws[a-z-]*", f"arn:{self.partition}"))
        key = re.fullmatch(r"Estate(\w+)KeyArn", name)
        if key:
            return estate_key(key[1])
        bucket = re.fullmatch(r"Estate(Artifacts|Data)Bucket", name)
        if bucket:
            return estate_bucket(bucket[1])
        function = re.fullmatch(r"EstateDrift(Resolver|Publisher)Arn", name)
        if function:
            return estate_function(f"drift {function[1].lower()}")
        default = self.template.get("Parameters", {}).get(name, {}).get("Default")
        return f"<{default or name}>"

    def name(self, logical_id: str) -> str:
        """The physical name of a resource: its name property, or the name CloudFormation generates."""
        resource = self.resources[logical_id]
        props = resource.get("Properties", {})
        for key in NAME_PROPERTIES.get(resource["Type"], ()):
            if key in props:
                return self.render(props[key])
        return f"{self.stack}-{logical_id[:20]}-ABCDEFGHIJKL"

    def arn(self, logical_id: str) -> list[str]:
        """The ARN(s) IAM authorizes the resource's own actions against."""
        resource = self.resources[logical_id]
        kind, props = resource["Type"], resource.get("Properties", {})
        name = self.name(logical_id)
        regional = f"arn:{self.partition}:{{service}}:{self.region}:{self.account}"
        if kind == "AWS::IAM::Role":
            return [f"arn:{self.partition}:iam::{self.account}:role{self.render(props.get('Path', '/'))}{name}"]
        if kind == "AWS::IAM::ManagedPolicy":
            return [f"arn:{self.partition}:iam::{self.account}:policy{self.render(props.get('Path', '/'))}{name}"]
        if kind == "AWS::Events::Rule":
            bus = self.render(props.get("EventBusName", "default")).rsplit("/", 1)[-1]
            return [f"{regional.format(service='events')}:rule/{name}" if bus == "default"
                    else f"{regional.format(service='events')}:rule/{bus}/{name}"]
        if kind in SAGEMAKER_RESOURCES:
            return [f"{regional.format(service='sagemaker')}:{SAGEMAKER_RESOURCES[kind]}/{name.lower()}"]
        if kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
            return [f"{regional.format(service='cloudwatch')}:alarm:{name}"]
        if kind == "AWS::CloudWatch::Dashboard":
            return [f"arn:{self.partition}:cloudwatch::{self.account}:dashboard/{name}"]
        if kind == "AWS::Logs::LogGroup":
            return [f"{regional.format(service='logs')}:log-group:{name}"]
        if kind == "AWS::SNS::Topic":
            return [f"{regional.format(service='sns')}:{name}"]
        if kind == "AWS::SNS::TopicPolicy":
            return [self.render(t) for t in props["Topics"]]
        if kind == "AWS::Scheduler::Schedule":
            return [f"{regional.format(service='scheduler')}:schedule/{self.render(props.get('GroupName', 'default'))}/{name}"]
        if kind == "AWS::Lambda::Function":
            shared = re.search(r"DriftFunctions(Resolver|Publisher)Function", logical_id)
            if shared:  # the estate's shared drift functions, which a template names by an SSM handle
                return [estate_function(f"drift {shared[1].lower()}")]
            return [f"{regional.format(service='lambda')}:function:{name}"]
        raise AssertionError(f"no ARN known for {kind} ({logical_id}): teach tests/gates/cfn_permissions.py its ARN format")

    def render(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)):
            return str(value)
        assert isinstance(value, dict) and len(value) == 1, value
        (fn, arg), = value.items()
        if fn == "Ref":
            pseudo = {"AWS::AccountId": self.account, "AWS::Region": self.region, "AWS::Partition": self.partition,
                      "AWS::StackName": self.stack, "AWS::URLSuffix": "amazonaws.com"}
            if arg in pseudo:
                return pseudo[arg]
            if arg in self.resources:
                kind = self.resources[arg]["Type"]
                return self.arn(arg)[0] if kind in ("AWS::SNS::Topic", "AWS::IAM::ManagedPolicy") else self.name(arg)
            return self.parameter(arg)
        if fn == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            if attribute != "Arn":
                return self.name(logical)
            # CloudFormation's Arn attribute of a log group ends in ":*" (the group and its streams).
            return self.arn(logical)[0] + (":*" if self.resources[logical]["Type"] == "AWS::Logs::LogGroup" else "")
        if fn == "Fn::Join":
            return self.render(arg[0]).join(self.render(v) for v in arg[1])
        if fn == "Fn::Select":
            return self.render_list(arg[1])[int(self.render(arg[0]))]
        if fn == "Fn::GetStackOutput":
            key = re.search(r"Keys(Data|Models|Monitoring|Logs)", arg["OutputName"])
            if key:
                return estate_key(key[1])
            bucket = re.search(r"GetAtt(Artifacts|Data)Bucket\w*Arn", arg["OutputName"])
            if bucket:
                return f"arn:{self.partition}:s3:::{estate_bucket(bucket[1])}"
            return f"<{arg['StackName']}.{arg['OutputName']}>"
        return f"<{fn}>"

    def render_list(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return [self.render(v) for v in value]
        (fn, arg), = value.items()
        assert fn == "Fn::Split", value
        return self.render(arg[1]).split(arg[0])

    def roles_referenced(self, value: Any) -> list[str]:
        """The ARNs of the template's roles a resource's properties name (what it passes)."""
        if isinstance(value, dict):
            if set(value) == {"Fn::GetAtt"} and self.resources.get(value["Fn::GetAtt"][0], {}).get("Type") == "AWS::IAM::Role":
                return self.arn(value["Fn::GetAtt"][0])
            return [a for v in value.values() for a in self.roles_referenced(v)]
        if isinstance(value, list):
            return [a for v in value for a in self.roles_referenced(v)]
        return []


def estate_key(kind: str) -> str:
    """A symbolic ARN of one of the estate's keys (a template reads it from SSM, the estate stack exports it)."""
    return f"<estate {kind.lower()} key>"


def estate_function(kind: str) -> str:
    """A symbolic ARN of one of the estate's shared Lambda functions (read from SSM by a template)."""
    return f"<estate {kind} function>"


def estate_bucket(kind: str) -> str:
    """A symbolic name of one of the estate's buckets (read from SSM by a template, exported by the estate stack)."""
    return f"<estate {kind.lower()} bucket>"


NAME_PROPERTIES = {
    "AWS::IAM::Role": ("RoleName",),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName",),
    "AWS::Events::Rule": ("Name",),
    "AWS::SageMaker::Pipeline": ("PipelineName",),
    "AWS::SageMaker::Model": ("ModelName",),
    "AWS::SageMaker::EndpointConfig": ("EndpointConfigName",),
    "AWS::SageMaker::Endpoint": ("EndpointName",),
    "AWS::SageMaker::DataQualityJobDefinition": ("JobDefinitionName",),
    "AWS::SageMaker::MonitoringSchedule": ("MonitoringScheduleName",),
    "AWS::CloudWatch::Alarm": ("AlarmName",),
    "AWS::CloudWatch::CompositeAlarm": ("AlarmName",),
    "AWS::CloudWatch::Dashboard": ("DashboardName",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::Scheduler::Schedule": ("Name",),
    "AWS::Lambda::Function": ("FunctionName",),
}

SAGEMAKER_RESOURCES = {
    "AWS::SageMaker::Pipeline": "pipeline",
    "AWS::SageMaker::Model": "model",
    "AWS::SageMaker::EndpointConfig": "endpoint-config",
    "AWS::SageMaker::Endpoint": "endpoint",
    "AWS::SageMaker::DataQualityJobDefinition": "data-quality-job-definition",
    "AWS::SageMaker::MonitoringSchedule": "monitoring-schedule",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Some Allow statement admits the action on the resource (by fnmatch of its Action and Resource patterns;
    conditions are not evaluated)."""
    return any(s["Effect"] == "Allow"
               and any(fnmatchcase(action.lower(), a.lower()) for a in _as_list(s["Action"]))
               and any(fnmatchcase(resource, r) for r in s["_rendered"])
               for s in statements)


def rendered_statements(policy: dict[str, Any], renderer: Renderer) -> list[dict[str, Any]]:
    return [{**s, "_rendered": [renderer.render(r) for r in _as_list(s["Resource"])]}
            for s in policy["Properties"]["PolicyDocument"]["Statement"]]
