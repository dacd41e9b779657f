"""A VPC-only SageMaker Studio domain: CMK-encrypted storage, idle shutdown, sharing to a CMK bucket."""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Mapping

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_estate.core.principal_policy import add_to_principal_policy
from mlops_estate.core.validation import ConfigError, Problems, join
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.security.storage import SecureBucket

# SageMaker's pattern for domain, user profile and space names.
STUDIO_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
NAME_RULE = "1-63 letters, digits and hyphens, starting and ending with a letter or digit"
SHARING_PREFIX = "sharing"
# Every execution-role session of a person carries their user profile name as source identity (the domain sets
# ExecutionRoleIdentityConfig=USER_PROFILE_NAME); it cannot be changed within the session or by role chaining.
# Jobs, pipelines and other sessions without one match no resource named with it.
OWN_SHARING_PREFIX = f"{SHARING_PREFIX}/${{aws:SourceIdentity}}"


# SageMaker limits (AWS::SageMaker::Domain IdleSettings and DefaultEbsStorageSettings).
IDLE_MINUTES = (60, 525600)
EBS_GB = (5, 16384)


def _within(path: str, value: int, bounds: tuple[int, int], unit: str, problems: Problems) -> bool:
    low, high = bounds
    if not low <= value <= high:
        problems.add(path, f"{value} is out of range; SageMaker allows {low} to {high} {unit}")
        return False
    return True


@dataclass(frozen=True)
class StudioConfig:
    """Studio apps shut down after ``idle_timeout_minutes`` without activity; users may pick up to the max.

    Attributes:
        idle_timeout_minutes: minutes without activity after which JupyterLab and Code Editor apps (and shared
            space JupyterLab apps) shut down, by default; 60 to 525600. Defaults to 120.
        max_idle_timeout_minutes: the longest idle timeout a user may choose for their apps, in minutes; 60 to
            525600 and not below ``idle_timeout_minutes`` (users may lower it to 60). Defaults to 480.
        default_ebs_gb: the EBS volume size of a new space, in GiB; 5 to 16384. Defaults to 20.
        max_ebs_gb: the largest EBS volume a space may be given, in GiB; 5 to 16384 and not below
            ``default_ebs_gb``. Defaults to 100.
    """

    idle_timeout_minutes: int = 120
    max_idle_timeout_minutes: int = 480
    default_ebs_gb: int = 20
    max_ebs_gb: int = 100

    def check(self, path: str, problems: Problems) -> None:
        idle = join(path, "idle_timeout_minutes")
        max_idle = join(path, "max_idle_timeout_minutes")
        ok = _within(idle, self.idle_timeout_minutes, IDLE_MINUTES, "minutes", problems)
        ok &= _within(max_idle, self.max_idle_timeout_minutes, IDLE_MINUTES, "minutes", problems)
        if ok and self.max_idle_timeout_minutes < self.idle_timeout_minutes:
            problems.add(max_idle, f"{self.max_idle_timeout_minutes} is below idle_timeout_minutes {self.idle_timeout_minutes}")
        ebs, max_ebs = join(path, "default_ebs_gb"), join(path, "max_ebs_gb")
        ok = _within(ebs, self.default_ebs_gb, EBS_GB, "GiB", problems)
        ok &= _within(max_ebs, self.max_ebs_gb, EBS_GB, "GiB", problems)
        if ok and self.max_ebs_gb < self.default_ebs_gb:
            problems.add(max_ebs, f"{self.max_ebs_gb} is below default_ebs_gb {self.default_ebs_gb}")


def allow_source_identity(role: iam.IRole) -> None:
    """Let SageMaker of this account set the source identity when it assumes ``role`` (idempotent).

    A domain with ``ExecutionRoleIdentityConfig=USER_PROFILE_NAME`` sets the user profile name as source
    identity on every execution-role session, which the role's trust policy must allow. Roles defined in
    this app are updated; an imported role's trust policy must already allow ``sts:SetSourceIdentity``.
    """
    if not isinstance(role, iam.Role) or role.assume_role_policy is None:
        return
    trust = Stack.of(role).resolve(role.assume_role_policy.to_json()) or {}
    for statement in trust.get("Statement", []):
        actions = statement.get("Action", [])
        if "sts:SetSourceIdentity" in (actions if isinstance(actions, list) else [actions]):
            return
    role.assume_role_policy.add_statements(
        iam.PolicyStatement(
            actions=["sts:SetSourceIdentity"],
            principals=[iam.ServicePrincipal("sagemaker.amazonaws.com")],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )


class StudioDomain(Construct):
    """``AWS::SageMaker::Domain`` in ``VpcOnly`` mode (no direct internet: apps reach AWS only through the
    VPC endpoints of ``placement``), IAM authentication, the studio CMK on its home EFS and space EBS volumes.

    Shared spaces run as ``space_execution_role`` (``DefaultSpaceSettings``), whoever opens them: give it least
    privilege (`Personas.shared_space_role`). Without it the domain has no default space settings, and shared
    spaces cannot run apps.

    Defaults for every user (and shared space): the workload security group, JupyterLab and Code Editor with
    idle shutdown (``settings.idle_timeout_minutes``, users may raise it to ``max_idle_timeout_minutes``),
    EBS space storage sizes, the Studio web portal (Studio Classic hidden), notebook sharing to a
    CMK-encrypted `SecureBucket`, Docker access off, and the user profile name as the source identity of
    every execution-role session (CloudTrail names the person, not just the persona role).

    Sharing: every user profile made here writes its shared notebook snapshots under its own prefix
    ``sharing/<user profile name>/`` (its ``SharingSettings.S3OutputPath``), and `sharing_statements` let a
    session write only under ``sharing/${aws:SourceIdentity}/``, the same prefix: everyone reads every shared
    notebook, nobody replaces or deletes another person's. A profile made elsewhere inherits the domain default
    ``sharing/``: give it ``S3OutputPath`` ``sharing/<its name>/`` or its sharing is denied.

    The domain is retained when the stack is deleted, and deleting the domain keeps the home EFS
    (SageMaker's DeleteDomain default; CloudFormation has no RetentionPolicy property to set).

    Args:
        scope: the construct this domain is defined in.
        id: the construct id, unique within ``scope``.
        domain_name: the Studio domain name: 1-63 letters, digits and hyphens, starting and ending with a letter
            or digit.
        placement: where apps run: the VPC, its private subnets (1 to 16) and the workload security groups,
            which become the domain's, every user's and every shared space's security groups.
        key: the studio CMK: encrypts the home EFS and space EBS volumes, and the shared notebooks (also the key
            of the sharing bucket made here when ``sharing_bucket`` is not given).
        execution_role: the default execution role of user profiles (``DefaultUserSettings``); profiles made with
            `add_user_profile` use their own. Its trust policy is extended (if defined in this app) to let
            SageMaker set the source identity.
        space_execution_role: the role shared spaces run as (``DefaultSpaceSettings``), whoever opens them: give it
            least privilege (`Personas.shared_space_role`). None (the default): no default space settings, so
            shared spaces cannot run apps.
        settings: idle shutdown and space storage sizes (`StudioConfig`). Defaults to ``StudioConfig()``:
            120 minutes idle (users up to 480), 20 GiB EBS (up to 100).
        sharing_bucket: the bucket that holds shared notebook snapshots under ``sharing/``. None (the default):
            a `SecureBucket` encrypted with ``key`` is made here.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain_name: str,
        placement: NetworkPlacement,
        key: kms.IKey,
        execution_role: iam.IRole,
        space_execution_role: iam.IRole | None = None,
        settings: StudioConfig = StudioConfig(),
        sharing_bucket: SecureBucket | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._validate(domain_name, placement, settings)
        self.key = key
        self.placement = placement
        self.execution_role = execution_role
        self.space_execution_role = space_execution_role
        self.sharing_bucket = sharing_bucket or SecureBucket(self, "Sharing", key=key)

        security_groups = placement.security_group_ids
        idle = sagemaker.CfnDomain.AppLifecycleManagementProperty(
            idle_settings=sagemaker.CfnDomain.IdleSettingsProperty(
                lifecycle_management="ENABLED",
                idle_timeout_in_minutes=settings.idle_timeout_minutes,
                min_idle_timeout_in_minutes=IDLE_MINUTES[0],
                max_idle_timeout_in_minutes=settings.max_idle_timeout_minutes,
            )
        )
        storage = sagemaker.CfnDomain.DefaultSpaceStorageSettingsProperty(
            default_ebs_storage_settings=sagemaker.CfnDomain.DefaultEbsStorageSettingsProperty(
                default_ebs_volume_size_in_gb=settings.default_ebs_gb,
                maximum_ebs_volume_size_in_gb=settings.max_ebs_gb,
            )
        )
        jupyter_lab = sagemaker.CfnDomain.JupyterLabAppSettingsProperty(app_lifecycle_management=idle)
        code_editor = sagemaker.CfnDomain.CodeEditorAppSettingsProperty(app_lifecycle_management=idle)
        self.cfn = sagemaker.CfnDomain(
            self,
            "Domain",
            domain_name=domain_name,
            auth_mode="IAM",
            app_network_access_type="VpcOnly",
            vpc_id=placement.vpc.vpc_id,
            subnet_ids=list(placement.subnet_ids),
            kms_key_id=key.key_arn,
            tag_propagation="ENABLED",
            domain_settings=sagemaker.CfnDomain.DomainSettingsProperty(
                security_group_ids=security_groups,
                # Role sessions carry the user profile name as source identity: CloudTrail names the person.
                execution_role_identity_config="USER_PROFILE_NAME",
                docker_settings=sagemaker.CfnDomain.DockerSettingsProperty(enable_docker_access="DISABLED"),
            ),
            default_user_settings=sagemaker.CfnDomain.UserSettingsProperty(
                execution_role=execution_role.role_arn,
                security_groups=security_groups,
                sharing_settings=sagemaker.CfnDomain.SharingSettingsProperty(
                    notebook_output_option="Allowed",
                    s3_output_path=self.sharing_bucket.s3_uri(f"{SHARING_PREFIX}/"),
                    s3_kms_key_id=key.key_arn,
                ),
                jupyter_lab_app_settings=jupyter_lab,
                code_editor_app_settings=code_editor,
                space_storage_settings=storage,
                studio_web_portal="ENABLED",
                default_landing_uri="studio::",
                studio_web_portal_settings=sagemaker.CfnDomain.StudioWebPortalSettingsProperty(
                    hidden_app_types=["JupyterServer", "RStudioServerPro"],
                ),
            ),
            default_space_settings=None if space_execution_role is None else sagemaker.CfnDomain.DefaultSpaceSettingsProperty(
                execution_role=space_execution_role.role_arn,
                security_groups=security_groups,
                jupyter_lab_app_settings=sagemaker.CfnDomain.JupyterLabAppSettingsProperty(app_lifecycle_management=idle),
                space_storage_settings=storage,
            ),
        )
        self.cfn.apply_removal_policy(RemovalPolicy.RETAIN)
        self.user_profiles: dict[str, sagemaker.CfnUserProfile] = {}
        for role in (execution_role, space_execution_role):
            if role is not None:
                allow_source_identity(role)

    def _validate(self, domain_name: str, placement: NetworkPlacement, settings: StudioConfig) -> None:
        problems: list[str] = []
        if not STUDIO_NAME.match(domain_name):
            problems.append(f"domain_name: {domain_name!r} is not a valid Studio domain name ({NAME_RULE})")
        if not placement.subnet_ids:
            problems.append("placement.subnet_ids: is empty; a VpcOnly domain needs at least one private subnet")
        if len(placement.subnet_ids) > 16:
            problems.append(f"placement.subnet_ids: {len(placement.subnet_ids)} subnets given; a domain takes at most 16")
        setting_problems = Problems()
        settings.check("settings", setting_problems)
        problems += setting_problems.items
        if problems:
            raise ConfigError(self.node.path, problems)

    @property
    def domain_id(self) -> str:
        return self.cfn.attr_domain_id

    @property
    def domain_arn(self) -> str:
        return self.cfn.attr_domain_arn

    @property
    def url(self) -> str:
        return self.cfn.attr_url

    @property
    def home_efs_file_system_id(self) -> str:
        return self.cfn.attr_home_efs_file_system_id

    def sharing_statements(self, *, read_only: bool = False) -> list[iam.PolicyStatement]:
        """What a Studio user's execution role needs to share notebooks: read every shared notebook, and (unless
        ``read_only``) write and delete under the session's own prefix ``sharing/<source identity>/``, with the key."""
        bucket = self.sharing_bucket
        statements = [
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.bucket.arn_for_objects(f"{SHARING_PREFIX}/*")]),
            iam.PolicyStatement(actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[bucket.bucket_arn]),
        ]
        if read_only:
            return [*statements, iam.PolicyStatement(actions=["kms:Decrypt", "kms:DescribeKey"], resources=[bucket.key.key_arn])]
        return [
            *statements,
            iam.PolicyStatement(
                sid="ShareOnlyUnderOwnPrefix",
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[bucket.bucket.arn_for_objects(f"{OWN_SHARING_PREFIX}/*")],
            ),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"], resources=[bucket.key.key_arn]
            ),
        ]

    def grant_sharing(self, grantee: iam.IGrantable, *, read_only: bool = False) -> None:
        """Let ``grantee`` (an execution role of this domain) read shared notebooks and, unless ``read_only``, share
        its own (under the prefix of the session's source identity, which this domain sets to the user profile name)."""
        for statement in self.sharing_statements(read_only=read_only):
            add_to_principal_policy(grantee.grant_principal, statement)

    def user_profile_arn(self, user_name: str) -> str:
        return Stack.of(self).format_arn(service="sagemaker", resource="user-profile", resource_name=f"{self.domain_id}/{user_name}")

    def add_user_profiles(self, users: Mapping[str, iam.IRole]) -> dict[str, sagemaker.CfnUserProfile]:
        """Create a user profile per ``name -> execution role``; every bad name is reported at once."""
        problems = [f"user name {n!r} is not a valid Studio user profile name ({NAME_RULE})" for n in users if not STUDIO_NAME.match(n)]
        problems += [f"user name {n!r} already has a profile in this domain" for n in users if n in self.user_profiles]
        if problems:
            raise ConfigError(self.node.path, problems)
        return {name: self.add_user_profile(name, execution_role=role) for name, role in users.items()}

    def add_user_profile(self, user_name: str, *, execution_role: iam.IRole) -> sagemaker.CfnUserProfile:
        """A Studio user profile that runs with ``execution_role`` (its persona's role)."""
        if not STUDIO_NAME.match(user_name):
            raise ValueError(f"{self.node.path}: user name {user_name!r} is not a valid Studio user profile name ({NAME_RULE})")
        if user_name in self.user_profiles:
            raise ValueError(f"{self.node.path}: user name {user_name!r} already has a profile in this domain")
        allow_source_identity(execution_role)
        profile = sagemaker.CfnUserProfile(
            self,
            f"User-{user_name}",
            domain_id=self.domain_id,
            user_profile_name=user_name,
            user_settings=sagemaker.CfnUserProfile.UserSettingsProperty(
                execution_role=execution_role.role_arn,
                security_groups=self.placement.security_group_ids,
                # The user's own prefix: the only one their sessions may write (sharing_statements).
                sharing_settings=sagemaker.CfnUserProfile.SharingSettingsProperty(
                    notebook_output_option="Allowed",
                    s3_output_path=self.sharing_bucket.s3_uri(f"{SHARING_PREFIX}/{user_name}/"),
                    s3_kms_key_id=self.key.key_arn,
                ),
            ),
        )
        self.user_profiles[user_name] = profile
        return profile
