from __future__ import annotations

import re

import pytest
from aws_cdk.assertions import Match, Template

from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.network.private_network import DEFAULT_INTERFACE_ENDPOINTS, PrivateNetwork
from tests.helpers import TEST_AZS, make_stack

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]


@pytest.fixture(scope="module")
def network_template() -> Template:
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.LOGS])
    PrivateNetwork(stack, "Network", cidr="10.40.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs)
    return Template.from_stack(stack)


def test_isolated_subnets_only_no_internet(network_template):
    network_template.resource_count_is("AWS::EC2::Subnet", 2)
    network_template.resource_count_is("AWS::EC2::InternetGateway", 0)
    network_template.resource_count_is("AWS::EC2::NatGateway", 0)
    for subnet in network_template.find_resources("AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
    azs = sorted(s["Properties"]["AvailabilityZone"] for s in network_template.find_resources("AWS::EC2::Subnet").values())
    assert azs == TEST_AZS


def test_interface_endpoints_and_s3_gateway(network_template):
    endpoints = network_template.find_resources("AWS::EC2::VPCEndpoint")
    interface = [e for e in endpoints.values() if e["Properties"].get("VpcEndpointType") == "Interface"]
    gateway = [e for e in endpoints.values() if e["Properties"].get("VpcEndpointType") == "Gateway"]
    assert len(interface) == len(DEFAULT_INTERFACE_ENDPOINTS) == 13
    assert len(gateway) == 1
    names = str([e["Properties"]["ServiceName"] for e in interface])
    for service in ("sagemaker.api", "sagemaker.runtime", "sagemaker.featurestore-runtime", "studio", "notebook", "sts",
                    "logs", "monitoring", "ecr.api", "ecr.dkr", "kms", "events", "ssm"):
        assert service in names, service
    assert all(e["Properties"]["PrivateDnsEnabled"] is True for e in interface)


def test_flow_logs_to_encrypted_retained_log_group(network_template):
    network_template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})
    network_template.has_resource(
        "AWS::Logs::LogGroup",
        {"Properties": {"KmsKeyId": Match.any_value(), "RetentionInDays": 365}, "DeletionPolicy": "Retain"},
    )


def test_workload_group_admits_only_itself_and_sends_only_https(network_template):
    groups = network_template.find_resources("AWS::EC2::SecurityGroup", {"Properties": {"GroupDescription": Match.string_like_regexp("^SageMaker workloads")}})
    ((workload_id, workload),) = groups.items()
    own_id = {"Fn::GetAtt": [workload_id, "GroupId"]}
    inline_egress = workload["Properties"]["SecurityGroupEgress"]
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"], e["CidrIp"]) for e in inline_egress] == [("tcp", 443, 443, "0.0.0.0/0")]
    egress = [e["Properties"] for e in network_template.find_resources("AWS::EC2::SecurityGroupEgress").values() if e["Properties"]["GroupId"] == own_id]
    assert sorted((e["IpProtocol"], e.get("FromPort")) for e in egress) == [("-1", None), ("tcp", 443)]
    ingress = [e["Properties"] for e in network_template.find_resources("AWS::EC2::SecurityGroupIngress").values()]
    assert all(i["SourceSecurityGroupId"] == own_id for i in ingress)
    endpoint_ingress = [i for i in ingress if i["GroupId"] != own_id]
    assert [(i["IpProtocol"], i["FromPort"]) for i in endpoint_ingress] == [("tcp", 443)]


def test_default_security_group_is_closed_without_a_lambda_function(network_template):
    """An AWS Config rule with automatic SSM remediation on the VPC's default group, instead of CDK's custom resource
    (a Node.js function without dead-letter queue, reserved concurrency or expiring logs)."""
    network_template.resource_count_is("AWS::Lambda::Function", 0)
    assert not [t for t in (r["Type"] for r in network_template.to_json()["Resources"].values()) if t.startswith("Custom::")]
    (vpc_id,) = network_template.find_resources("AWS::EC2::VPC")
    network_template.has_resource_properties("AWS::Config::ConfigRule", {
        "Source": {"Owner": "AWS", "SourceIdentifier": "VPC_DEFAULT_SECURITY_GROUP_CLOSED"},
        "Scope": {"ComplianceResourceId": {"Fn::GetAtt": [vpc_id, "DefaultSecurityGroup"]},
                  "ComplianceResourceTypes": ["AWS::EC2::SecurityGroup"]},
    })
    network_template.has_resource_properties("AWS::Config::RemediationConfiguration", {
        "TargetId": "AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules", "Automatic": True})


def test_closing_the_default_security_group_can_be_left_to_the_caller():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.LOGS])
    network = PrivateNetwork(stack, "Network", cidr="10.40.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs,
                             restrict_default_security_group=False, interface_endpoints=["SageMakerApi"])
    assert network.default_security_group is None
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Config::ConfigRule", 0)
    template.resource_count_is("AWS::Lambda::Function", 0)


def test_s3_prefix_list_narrows_egress():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.LOGS])
    PrivateNetwork(stack, "Network", cidr="10.40.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs,
                   s3_prefix_list_id="pl-6da54004", interface_endpoints=["SageMakerApi"])
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::EC2::SecurityGroupEgress", {"DestinationPrefixListId": "pl-6da54004", "FromPort": 443})
    assert "0.0.0.0/0" not in str(template.to_json())
    template.resource_count_is("AWS::EC2::VPCEndpoint", 2)


def test_bad_props_are_all_reported_with_path_and_value():
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.LOGS])
    with pytest.raises(ValueError) as failure:
        PrivateNetwork(stack, "N1", cidr="10.1.0.0/24", availability_zones=["eu-west-1a", "us-east-1b", "eu-west-1a"], logs_key=keys.logs,
                       interface_endpoints=["Sagemaker", "Sts"], s3_prefix_list_id="s3")
    assert str(failure.value) == (
        "Test/N1: 5 problem(s):\n"
        "  - interface_endpoints[0]: 'Sagemaker' is not a known interface endpoint; expected one of "
        f"{', '.join(sorted(DEFAULT_INTERFACE_ENDPOINTS))}\n"
        "  - availability_zones: ['eu-west-1a', 'us-east-1b', 'eu-west-1a'] names a zone twice; expected distinct zones\n"
        "  - availability_zones[1]: 'us-east-1b' is not an availability zone of the stack's region eu-west-1; expected a zone like eu-west-1a\n"
        "  - cidr: '10.1.0.0/24' is not an IPv4 block with room for a /24 subnet per zone; expected a network address with a prefix "
        "from /16 to /22, like 10.10.0.0/16\n"
        "  - s3_prefix_list_id: 's3' is not a managed prefix list id; expected pl- and 8 or 17 hex digits, like pl-6da54004"
    )


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"availability_zones": ["eu-west-1a"]}, "availability_zones: ['eu-west-1a'] is not enough zones; expected at least 2"),
    ({"cidr": "10.1.0.1/16"}, "cidr: '10.1.0.1/16' is not an IPv4 block"),
    ({"cidr": "10.1.0.0/8"}, "cidr: '10.1.0.0/8' is not an IPv4 block"),
    ({"cidr": None}, "cidr: None with no ip_addresses is not allowed; expected exactly one of cidr"),
], ids=["one-zone", "host-bits", "too-large", "no-address-plan"])
def test_each_bad_prop_is_named(kwargs, problem):
    stack = make_stack()
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.LOGS])
    props = {"cidr": "10.1.0.0/16", "availability_zones": TEST_AZS, **kwargs}
    with pytest.raises(ValueError, match=r"Test/N: 1 problem\(s\):\n  - " + re.escape(problem)):
        PrivateNetwork(stack, "N", logs_key=keys.logs, **props)


def test_tokens_are_accepted_where_literals_are_checked():
    from aws_cdk import App, Stack

    stack = Stack(App(), "Agnostic")  # no environment: the region and zones are tokens
    keys = EstateKeys(stack, "Keys", estate_name="acme", classes=[DataClass.LOGS])
    PrivateNetwork(stack, "N", cidr="10.1.0.0/16", availability_zones=stack.availability_zones[:2], logs_key=keys.logs)
    with pytest.raises(ValueError, match=r"availability_zones\[0\]: 'zone-a' is not an availability zone name; expected one like eu-west-1a"):
        PrivateNetwork(stack, "Bad", cidr="10.1.0.0/16", availability_zones=["zone-a", stack.availability_zones[1]], logs_key=keys.logs)


def test_import_existing_vpc_by_ids_without_lookup():
    stack = make_stack()
    placement = PrivateNetwork.from_existing(
        stack, "Existing", vpc_id=VPC, subnet_ids=SUBNETS, availability_zones=TEST_AZS, security_group_id="sg-0123456789abcdef0"
    )
    assert placement.subnet_ids == tuple(SUBNETS)
    assert placement.security_group_ids == ["sg-0123456789abcdef0"]
    assert placement.vpc.vpc_id == VPC


def test_import_existing_vpc_reports_bad_ids_at_once():
    with pytest.raises(ValueError) as failure:
        PrivateNetwork.from_existing(make_stack(), "Bad", vpc_id="vpc-0abc", subnet_ids=["subnet-1"], availability_zones=TEST_AZS,
                                     security_group_id="sg-1")
    assert str(failure.value) == (
        "Test/Bad: 4 problem(s):\n"
        "  - vpc_id: 'vpc-0abc' is not a VPC id; expected vpc- and 8 or 17 hex digits\n"
        "  - subnet_ids[0]: 'subnet-1' is not a subnet id; expected subnet- and 8 or 17 hex digits\n"
        "  - subnet_ids: ['subnet-1'] are 1 subnets for 2 zones; expected one subnet id per availability zone\n"
        "  - security_group_id: 'sg-1' is not a security group id; expected sg- and 8 or 17 hex digits"
    )
