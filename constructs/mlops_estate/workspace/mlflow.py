"""A SageMaker managed MLflow tracking server with its artifact store in a CMK bucket."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from aws_cdk import ArnFormat, Aws, CfnOutput, Names, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_estate.core.validation import ConfigError, Problems, join
from mlops_estate.core.nag import acknowledge, acknowledge_wildcards
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.security.storage import SecureBucket

SERVER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
PREFIX = re.compile(r"^[a-zA-Z0-9!_.*'()-]+(/[a-zA-Z0-9!_.*'()-]+)*$")

# What a read-only user (an auditor) may do on the server: browse experiments, runs and models.
READ_ONLY_ACTIONS = ("sagemaker-mlflow:AccessUI", "sagemaker-mlflow:Get*", "sagemaker-mlflow:Search*", "sagemaker-mlflow:List*")


MLFLOW_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
MAINTENANCE_WINDOW = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]\d|2[0-3]):([0-5]\d)$")
TrackingServerSize = Literal["Small", "Medium", "Large"]


@dataclass(frozen=True)
class MlflowConfig:
    """The managed MLflow tracking server of the build account."""

    size: TrackingServerSize = "Small"
    version: str = "3.0"
    automatic_model_registration: bool = True
    # Weekly, in UTC: Mon|Tue|Wed|Thu|Fri|Sat|Sun:HH:MM.
    maintenance_window: str = "Sun:03:00"

    def check(self, path: str, problems: Problems) -> None:
        if not MLFLOW_VERSION.match(self.version):
            problems.add(join(path, "version"), f"{self.version!r} is not an MLflow version like 3.0 or 2.16.2")
        if not MAINTENANCE_WINDOW.match(self.maintenance_window):
            problems.add(
                join(path, "maintenance_window"),
                f"{self.maintenance_window!r} is not a weekly UTC window start like Sun:03:00 (Mon..Sun:HH:MM)",
            )


class MlflowTrackingServer(Construct):
    """``AWS::SageMaker::MlflowTrackingServer``: artifacts under ``s3://<artifact bucket>/<artifact_prefix>/``
    (the bucket's CMK), a role that may only use that prefix and key and, with automatic model registration
    on, register models in model package groups named ``<registry_prefix>-*``.

    Size, MLflow version, automatic registration and the weekly maintenance window come from
    `MlflowConfig`. ``tracking_server_arn`` is what ``mlflow.set_tracking_uri`` takes (with the
    ``sagemaker-mlflow`` plugin installed); it is also a stack output. ``grant_access(role)`` lets a role use
    the server (``read_only`` for auditors).

    With ``network``, the MLflow PrivateLink endpoint (``aws.sagemaker.<region>.experiments``) is added to that
    VPC, behind its endpoint security group, with an endpoint policy that reaches this tracking server only:
    VPC-only Studio apps and jobs have no other way to the server, and no way to another account's. A VPC you
    bring with `PrivateNetwork.from_existing` needs that endpoint already.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        tracking_server_name: str,
        artifact_bucket: SecureBucket,
        registry_prefix: str,
        settings: MlflowConfig = MlflowConfig(),
        artifact_prefix: str = "mlflow",
        export_name: str | None = None,
        network: PrivateNetwork | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._validate(tracking_server_name, registry_prefix, artifact_prefix, settings)
        self.artifact_bucket = artifact_bucket
        self.artifact_prefix = artifact_prefix
        self.settings = settings
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}),
            description=f"MLflow tracking server {tracking_server_name}: artifact store and model registration",
        )
        objects = artifact_bucket.bucket.arn_for_objects(f"{artifact_prefix}/*")
        statements: list[tuple[iam.PolicyStatement, str | None]] = [
            (
                iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], resources=[objects]),
                "MLflow names artifact objects by experiment and run id; scoped to its own prefix of the artifact bucket.",
            ),
            (
                iam.PolicyStatement(actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[artifact_bucket.bucket_arn]),
                None,
            ),
            (
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    resources=[artifact_bucket.key.key_arn],
                ),
                None,
            ),
        ]
        if settings.automatic_model_registration:
            registry = [
                stack.format_arn(service="sagemaker", resource="model-package-group", resource_name=f"{registry_prefix}-*",
                                 arn_format=ArnFormat.SLASH_RESOURCE_NAME),
                stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{registry_prefix}-*/*",
                                 arn_format=ArnFormat.SLASH_RESOURCE_NAME),
            ]
            statements.append((
                iam.PolicyStatement(
                    sid="AutomaticModelRegistration",
                    actions=["sagemaker:CreateModelPackageGroup", "sagemaker:CreateModelPackage", "sagemaker:UpdateModelPackage",
                             "sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage", "sagemaker:AddTags"],
                    resources=registry,
                ),
                f"Registered MLflow models become model package groups named by the user; only names starting "
                f"'{registry_prefix}-' are allowed.",
            ))
        self.role_policy = iam.ManagedPolicy(
            self, "RolePolicy", description=f"MLflow tracking server {tracking_server_name}",
            statements=[s for s, _ in statements], roles=[self.role],
        )
        for statement, reason in statements:
            if reason:
                acknowledge_wildcards(self.role_policy, statement, reason)

        self.cfn = sagemaker.CfnMlflowTrackingServer(
            self,
            "Server",
            tracking_server_name=tracking_server_name,
            artifact_store_uri=artifact_bucket.s3_uri(f"{artifact_prefix}/"),
            role_arn=self.role.role_arn,
            tracking_server_size=settings.size,
            mlflow_version=settings.version,
            automatic_model_registration=settings.automatic_model_registration,
            weekly_maintenance_window_start=settings.maintenance_window,
        )
        # The server holds every experiment's and run's metadata (parameters, metrics, lineage): never delete it
        # with the stack or replace it in place.
        self.cfn.apply_removal_policy(RemovalPolicy.RETAIN)
        self.cfn.node.add_dependency(self.role_policy)
        self.tracking_server_name = tracking_server_name
        self.tracking_server_arn = self.cfn.attr_tracking_server_arn
        self.vpc_endpoint: ec2.InterfaceVpcEndpoint | None = None
        if network is not None:
            self.vpc_endpoint = network.vpc.add_interface_endpoint(
                "MlflowExperiments",
                service=ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_EXPERIMENTS,
                subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                security_groups=[network.endpoint_security_group],
                private_dns_enabled=True,
                open=False,
            )
            self.vpc_endpoint.add_to_policy(
                iam.PolicyStatement(
                    sid="ThisTrackingServerOnly",
                    principals=[iam.AnyPrincipal()],
                    actions=["sagemaker-mlflow:*"],
                    resources=[self.tracking_server_arn],
                    conditions={"StringEquals": {"aws:PrincipalAccount": Aws.ACCOUNT_ID}},
                )
            )
        self.output = CfnOutput(
            self,
            "TrackingServerArn",
            value=self.tracking_server_arn,
            description="mlflow.set_tracking_uri(<this ARN>) with the sagemaker-mlflow plugin installed",
            export_name=export_name,
        )

    def _validate(self, name: str, registry_prefix: str, artifact_prefix: str, settings: MlflowConfig) -> None:
        problems = Problems()
        if not SERVER_NAME.match(name):
            problems.add("tracking_server_name", f"{name!r} is not a valid tracking server name (letters, digits, single hyphens, up to 256)")
        if not SERVER_NAME.match(registry_prefix):
            problems.add("registry_prefix", f"{registry_prefix!r} is not a valid model package group name prefix (letters, digits, hyphens)")
        if not PREFIX.match(artifact_prefix):
            problems.add("artifact_prefix", f"{artifact_prefix!r} is not an S3 key prefix like 'mlflow' (no leading or trailing '/')")
        settings.check("settings", problems)
        if problems:
            raise ConfigError(self.node.path, problems.items)

    def grant_access(self, role: iam.IRole, *, read_only: bool = False) -> iam.ManagedPolicy:
        """Let ``role`` call the tracking server (MLflow API and UI) and use its artifact store.

        Full access: every ``sagemaker-mlflow`` action on this server, read/write of the artifact prefix.
        ``read_only``: browse the UI and read experiments, runs, models and artifacts.
        """
        server = self.tracking_server_arn
        objects = self.artifact_bucket.bucket.arn_for_objects(f"{self.artifact_prefix}/*")
        key = self.artifact_bucket.key.key_arn
        mlflow_actions = list(READ_ONLY_ACTIONS) if read_only else ["sagemaker-mlflow:*"]
        statements = [
            iam.PolicyStatement(
                actions=[*mlflow_actions, "sagemaker:DescribeMlflowTrackingServer", "sagemaker:CreatePresignedMlflowTrackingServerUrl"],
                resources=[server],
            ),
            iam.PolicyStatement(
                actions=["s3:GetObject"] if read_only else ["s3:GetObject", "s3:PutObject"],
                resources=[objects],
            ),
            iam.PolicyStatement(actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[self.artifact_bucket.bucket_arn]),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:DescribeKey"] if read_only else ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
                resources=[key],
            ),
        ]
        policy = iam.ManagedPolicy(
            self,
            f"Access{Names.unique_id(role)}",
            description=f"{'Read-only' if read_only else 'Full'} use of MLflow tracking server {self.tracking_server_name}",
            statements=statements,
            roles=[role],
        )
        acknowledge_wildcards(
            policy, statements[0],
            "The MLflow REST API maps to sagemaker-mlflow actions that change with MLflow releases; scoped to this one tracking server.",
        )
        acknowledge_wildcards(policy, statements[1], "MLflow clients read and write run artifacts under generated keys; scoped to the server's prefix.")
        if not read_only:
            acknowledge(
                policy,
                "sagemaker-mlflow:* is full use of this one tracking server (the MLflow API), not of any other resource.",
                "NIST.800.53.R5-IAMPolicyNoStatementsWithFullAccess",
                "HIPAA.Security-IAMPolicyNoStatementsWithFullAccess",
            )
        return policy
