"""A private network for SageMaker workloads: isolated subnets, VPC endpoints, flow logs; or an imported VPC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_estate.core.nag import acknowledge

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


@dataclass(frozen=True)
class NetworkPlacement:
    """Where SageMaker workloads run: what every VPC-bound construct takes."""

    vpc: ec2.IVpc
    subnet_ids: tuple[str, ...]
    security_group: ec2.ISecurityGroup

    @property
    def security_group_ids(self) -> list[str]:
        return [self.security_group.security_group_id]


class PrivateNetwork(Construct):
    """A VPC with private isolated subnets only (no internet or NAT gateway), flow logs to a CMK-encrypted
    log group, interface endpoints for the SageMaker-related APIs, an S3 gateway endpoint, and one
    security group for SageMaker workloads.

    The workload group admits only itself (distributed training, Studio apps) and sends only HTTPS out.
    Isolated subnets route nowhere but the VPC and the S3 gateway, so HTTPS egress reaches only the
    endpoints and S3; pass ``s3_prefix_list_id`` to also name S3 exactly in the group.

    The VPC's default security group is stripped of its rules by CDK's custom resource (a Lambda function, so a
    file asset); where assets cannot be used (a StackSet template), pass ``restrict_default_security_group=False``
    and close it otherwise (`mlops_estate.network.default_security_group.DefaultSecurityGroupClosed`). The address block is
    ``cidr``, or ``ip_addresses`` (``ec2.IpAddresses.aws_ipam_allocation(...)``: a block from an IPAM pool at deploy time).
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
        unknown = sorted(set(interface_endpoints) - set(DEFAULT_INTERFACE_ENDPOINTS))
        if unknown:
            raise ValueError(
                f"{self.node.path}: unknown interface endpoint(s) {unknown}; choose from {sorted(DEFAULT_INTERFACE_ENDPOINTS)}"
            )
        if len(availability_zones) < 2:
            raise ValueError(f"{self.node.path}: availability_zones needs at least 2 zones, got {list(availability_zones)}")
        if (cidr is None) == (ip_addresses is None):
            raise ValueError(f"{self.node.path}: give exactly one of cidr (a fixed block) and ip_addresses (e.g. an IPAM "
                             f"allocation), got cidr={cidr!r} and ip_addresses={ip_addresses!r}")

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ip_addresses if ip_addresses is not None else ec2.IpAddresses.cidr(str(cidr)),
            availability_zones=list(availability_zones),
            nat_gateways=0,
            create_internet_gateway=False,
            subnet_configuration=[ec2.SubnetConfiguration(name="workloads", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)],
            restrict_default_security_group=restrict_default_security_group,
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
        """Use a VPC the organisation already runs, named by ids (never looked up at synth)."""
        if len(subnet_ids) != len(availability_zones) or len(subnet_ids) < 2:
            raise ValueError(
                f"{scope.node.path}/{id}: give one subnet id per availability zone, at least 2 "
                f"(got {len(subnet_ids)} subnets for {len(availability_zones)} zones)"
            )
        vpc = ec2.Vpc.from_vpc_attributes(
            scope, id, vpc_id=vpc_id, availability_zones=list(availability_zones), isolated_subnet_ids=list(subnet_ids)
        )
        group = ec2.SecurityGroup.from_security_group_id(scope, f"{id}SecurityGroup", security_group_id, mutable=False)
        return NetworkPlacement(vpc=vpc, subnet_ids=tuple(subnet_ids), security_group=group)

