"""A private network for SageMaker workloads: isolated subnets, VPC endpoints, flow logs; or an imported VPC."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_estate.core.nag import acknowledge
from mlops_estate.network.default_security_group import DefaultSecurityGroupClosed
from mlops_estate.core.patterns import AVAILABILITY_ZONE, PREFIX_LIST_ID, SECURITY_GROUP_ID, SUBNET_ID, VPC_ID
from mlops_estate.core.validation import Problems

# Every AWS API a VPC-only SageMaker workload calls, reachable without internet access.
DEFAULT_INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "SageMakerApi": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
    "SageMakerRuntime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
    "FeatureStoreRuntime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_FEATURESTORE_RUNTIME,
    "Studio": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_STUDIO,
    "Notebook": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_NOTEBOOK,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "Events": ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
    "Ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
}
# Every availability zone gets one /24 subnet.
SUBNET_PREFIX = 24


@dataclass(frozen=True)
class NetworkPlacement:
    """Where SageMaker workloads run: what every VPC-bound construct takes (`PrivateNetwork.placement`, or
    `PrivateNetwork.from_existing` for a VPC made elsewhere).

    Attributes:
        vpc: the VPC (its id scopes the workloads' network-interface permissions).
        subnet_ids: the private subnets workloads get network interfaces in, one per availability zone.
        security_group: the one security group every workload runs with.
    """

    vpc: ec2.IVpc
    subnet_ids: tuple[str, ...]
    security_group: ec2.ISecurityGroup

    @property
    def security_group_ids(self) -> list[str]:
        return [self.security_group.security_group_id]


class PrivateNetwork(Construct):
    """A VPC for SageMaker workloads that cannot reach the internet: private isolated subnets only (one /24 per
    availability zone; no internet or NAT gateway), flow logs of all traffic to a CMK-encrypted, retained log
    group, interface endpoints (private DNS) for the AWS APIs the workloads call, an S3 gateway endpoint, and
    one security group for SageMaker workloads (``placement``).

    The workload group admits only itself (distributed training, Studio apps) and sends only HTTPS out.
    Isolated subnets route nowhere but the VPC and the S3 gateway, so HTTPS egress reaches only the
    endpoints and S3; pass ``s3_prefix_list_id`` to also name S3 exactly in the group.

    Args:
        scope: the parent construct.
        id: the construct id (stateful: keep it stable).
        cidr: a fixed IPv4 address block like ``10.10.0.0/16``, from /16 to the prefix that leaves a /24 per
            zone (/23 for 2 zones, /22 for 3 or 4). Give exactly one of ``cidr`` and ``ip_addresses``.
        availability_zones: at least 2 distinct zone names of the stack's region (``eu-west-1a``; tokens such
            as ``Stack.availability_zones`` entries accepted).
        logs_key: the customer-managed key of the flow-log group (it must admit CloudWatch Logs, as the
            ``logs`` key of `EstateKeys` does).
        flow_log_retention: how long flow logs are kept; default one year.
        interface_endpoints: which interface endpoints to create, by the names of
            ``DEFAULT_INTERFACE_ENDPOINTS`` (default: all 13: SageMaker API, runtime, Feature Store runtime,
            Studio, notebook, STS, CloudWatch Logs and monitoring, ECR API and Docker, KMS, EventBridge, SSM).
        s3_prefix_list_id: the region's S3 managed prefix list (``pl-...``); when given, HTTPS egress to S3 is
            allowed to it only instead of ``0.0.0.0/0`` (which the isolated subnets' routes limit to S3 anyway).
        restrict_default_security_group: close the VPC's default security group (default) without any Lambda
            function: an AWS Config rule flags any rule on it and an automatic SSM remediation removes it
            (`DefaultSecurityGroupClosed`, attribute ``default_security_group``; it needs the account's Config
            recorder). CDK's own restriction is a custom resource whose Node.js function has no dead-letter queue,
            no reserved concurrency and logs that never expire. ``False`` leaves closing it to the caller.
        ip_addresses: instead of ``cidr``, an allocation such as ``ec2.IpAddresses.aws_ipam_allocation(...)``
            (a block from an IPAM pool at deploy time).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cidr: str | None = None,
        availability_zones: Sequence[str],
        logs_key: kms.IKey,
        flow_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        interface_endpoints: Sequence[str] = tuple(DEFAULT_INTERFACE_ENDPOINTS),
        s3_prefix_list_id: str | None = None,
        restrict_default_security_group: bool = True,
        ip_addresses: ec2.IIpAddresses | None = None,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems()
        for i, name in enumerate(interface_endpoints):
            if name not in DEFAULT_INTERFACE_ENDPOINTS:
                problems.add(f"interface_endpoints[{i}]", f"{name!r} is not a known interface endpoint; expected one of "
                                                          f"{', '.join(sorted(DEFAULT_INTERFACE_ENDPOINTS))}")
        if len(set(interface_endpoints)) != len(interface_endpoints):
            problems.add("interface_endpoints", f"{list(interface_endpoints)!r} names an endpoint twice; expected each once")
        check_zones(availability_zones, Stack.of(self).region, problems)
        if (cidr is None) == (ip_addresses is None):
            problems.add("cidr", f"{cidr!r} with {'no' if ip_addresses is None else 'an'} ip_addresses is not allowed; expected "
                                 "exactly one of cidr (a fixed block) and ip_addresses (e.g. an IPAM allocation)")
        elif cidr is not None and not Token.is_unresolved(cidr):
            largest = SUBNET_PREFIX - math.ceil(math.log2(max(len(availability_zones), 2)))
            try:
                block = ipaddress.IPv4Network(cidr)
            except ValueError:
                block = None
            if block is None or not 16 <= block.prefixlen <= largest:
                problems.add("cidr", f"{cidr!r} is not an IPv4 block with room for a /{SUBNET_PREFIX} subnet per zone; "
                                     f"expected a network address with a prefix from /16 to /{largest}, like 10.10.0.0/16")
        if s3_prefix_list_id is not None:
            problems.match("s3_prefix_list_id", s3_prefix_list_id, PREFIX_LIST_ID, "a managed prefix list id",
                           "pl- and 8 or 17 hex digits, like pl-6da54004")
        problems.raise_if_any(self.node.path)

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ip_addresses if ip_addresses is not None else ec2.IpAddresses.cidr(str(cidr)),
            availability_zones=list(availability_zones),
            nat_gateways=0,
            create_internet_gateway=False,
            subnet_configuration=[ec2.SubnetConfiguration(name="workloads", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)],
            restrict_default_security_group=False,
        )
        self.default_security_group = (
            DefaultSecurityGroupClosed(self, "DefaultSecurityGroupClosed", vpc=self.vpc) if restrict_default_security_group else None
        )
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            encryption_key=logs_key,
            retention=flow_log_retention,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

        self.endpoint_security_group = ec2.SecurityGroup(
            self, "EndpointSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description="VPC interface endpoints: HTTPS from SageMaker workloads only",
        )
        self.security_group = ec2.SecurityGroup(
            self, "WorkloadSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description="SageMaker workloads: each other, and HTTPS to VPC endpoints and S3",
        )
        self.security_group.add_ingress_rule(self.security_group, ec2.Port.all_traffic(), "Workloads talk to each other")
        for child in self.security_group.node.children:
            if isinstance(child, ec2.CfnSecurityGroupIngress):
                acknowledge(
                    child,
                    "Self-referencing rule: only members of this group reach these ports; SageMaker distributed "
                    "training and Studio apps need all ports between their own instances.",
                    "NIST.800.53.R5-EC2RestrictedCommonPorts",
                    "HIPAA.Security-EC2RestrictedCommonPorts",
                )
        self.security_group.add_egress_rule(self.security_group, ec2.Port.all_traffic(), "Workloads talk to each other")
        self.security_group.add_egress_rule(self.endpoint_security_group, ec2.Port.HTTPS, "AWS APIs through interface endpoints")
        if s3_prefix_list_id:
            self.security_group.add_egress_rule(ec2.Peer.prefix_list(s3_prefix_list_id), ec2.Port.HTTPS, "S3 through the gateway endpoint")
        else:
            self.security_group.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.HTTPS, "S3 via the gateway endpoint; isolated subnets route nowhere else"
            )
        self.endpoint_security_group.add_ingress_rule(self.security_group, ec2.Port.HTTPS, "HTTPS from SageMaker workloads")

        subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[subnets])
        for name in interface_endpoints:
            self.vpc.add_interface_endpoint(
                name,
                service=DEFAULT_INTERFACE_ENDPOINTS[name],
                subnets=subnets,
                security_groups=[self.endpoint_security_group],
                private_dns_enabled=True,
                open=False,
            )
        self.placement = NetworkPlacement(
            vpc=self.vpc,
            subnet_ids=tuple(s.subnet_id for s in self.vpc.isolated_subnets),
            security_group=self.security_group,
        )

    @staticmethod
    def from_existing(
        scope: Construct,
        id: str,
        *,
        vpc_id: str,
        subnet_ids: Sequence[str],
        availability_zones: Sequence[str],
        security_group_id: str,
    ) -> NetworkPlacement:
        """Use a VPC the organisation already runs, named by ids (never looked up at synth). Tokens (e.g. SSM
        parameter values) are accepted for every id.

        Args:
            scope: the construct to create the imported VPC and security group in.
            id: the imported VPC's id (the security group's is ``<id>SecurityGroup``).
            vpc_id: the VPC's id (``vpc-...``).
            subnet_ids: its private subnets (``subnet-...``), one per availability zone, at least 2.
            availability_zones: the zones of ``subnet_ids``, in the same order.
            security_group_id: the security group workloads run with (``sg-...``); used as is, never modified.
        """
        problems = Problems()
        problems.match("vpc_id", vpc_id, VPC_ID, "a VPC id", "vpc- and 8 or 17 hex digits")
        for i, subnet in enumerate(subnet_ids):
            problems.match(f"subnet_ids[{i}]", subnet, SUBNET_ID, "a subnet id", "subnet- and 8 or 17 hex digits")
        if len(subnet_ids) != len(availability_zones):
            problems.add("subnet_ids", f"{list(subnet_ids)!r} are {len(subnet_ids)} subnets for {len(availability_zones)} zones; "
                                       "expected one subnet id per availability zone")
        check_zones(availability_zones, Stack.of(scope).region, problems)
        problems.match("security_group_id", security_group_id, SECURITY_GROUP_ID, "a security group id", "sg- and 8 or 17 hex digits")
        problems.raise_if_any(f"{scope.node.path}/{id}")
        vpc = ec2.Vpc.from_vpc_attributes(
            scope, id, vpc_id=vpc_id, availability_zones=list(availability_zones), isolated_subnet_ids=list(subnet_ids)
        )
        group = ec2.SecurityGroup.from_security_group_id(scope, f"{id}SecurityGroup", security_group_id, mutable=False)
        return NetworkPlacement(vpc=vpc, subnet_ids=tuple(subnet_ids), security_group=group)



def check_zones(zones: Sequence[str], region: str, problems: Problems) -> None:
    """At least 2 distinct availability zones, each literal one a zone of ``region`` (of any region while that
    is a token)."""
    if len(zones) < 2:
        problems.add("availability_zones", f"{list(zones)!r} is not enough zones; expected at least 2")
    if len(set(zones)) != len(zones):
        problems.add("availability_zones", f"{list(zones)!r} names a zone twice; expected distinct zones")
    own = None if Token.is_unresolved(region) else re.compile(re.escape(region) + "[a-z]")
    for i, zone in enumerate(zones):
        if own is not None:
            if not Token.is_unresolved(zone) and not own.fullmatch(zone):
                problems.add(f"availability_zones[{i}]", f"{zone!r} is not an availability zone of the stack's region "
                                                         f"{region}; expected a zone like {region}a")
        else:
            problems.match(f"availability_zones[{i}]", zone, AVAILABILITY_ZONE, "an availability zone name", "one like eu-west-1a")
