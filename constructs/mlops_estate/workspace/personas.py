"""The people of the ML workspace: one SageMaker execution role per persona, least-privilege activity
policies scoped to the estate's own resources, and a Studio user profile per configured user.

How humans get in: the persona roles are *execution roles*. Only SageMaker (``sagemaker.amazonaws.com``,
from this account) assumes them, on behalf of the Studio user profile that names them. A person never
assumes a persona role; they sign in through the organisation's identity provider (IAM Identity Center
permission set or a federated IAM role) whose only SageMaker right is the ``<estate>-studio-sign-in``
managed policy: ``sagemaker:CreatePresignedDomainUrl`` on the user profile named by their session tag
``studio-user``. Once inside Studio, everything they do runs with their persona's execution role.

Activities (one customer-managed policy each, shared by the personas that perform them):

============== ============== =========== =========== =======
activity       data_scientist ml_engineer mlops_admin auditor
============== ============== =========== =========== =======
Studio         x              x           x           x
ReadAssets     x              x           x           x
DataAccess     x              x           x
RunWorkloads   x              x           x
BuildAssets                   x           x
Administer                                x
Audit                                     x           x
============== ============== =========== =========== =======

Approving models: ``mlops_admin`` alone may assume the registry account's `ModelApprover` role
(``resources.model_approver_role_arn``), which is the only principal that can set a model package version to
``Approved``; the approver's trust admits exactly this persona's role (then named ``<estate>-mlops-admin``, so the
other account can name it) from a session that carries the person's source identity. No persona updates the
registry's approval status directly.

Sharing notebooks: every persona reads all of the Studio sharing prefix and writes and deletes only under its own
``sharing/<user profile name>/`` (see `StudioDomain.sharing_statements`); the shared-space role only reads it.

Studio spaces: every persona creates, updates and deletes only spaces it owns (``sagemaker:OwnerUserProfileArn``
is its own user profile, ``${sagemaker:UserProfileName}`` of the session) and runs apps only in its own private
spaces; the personas that run workloads may also own shared spaces and start and stop apps in shared spaces.
The auditor gets private spaces only. Shared spaces run as ``shared_space_role`` (the domain's default space
role), which holds ReadAssets and reads the Studio sharing prefix only: opening a shared space never gives more
than a workload persona already has.

A role holds at most 9 managed policies (activities, its own pass-role policy, MLflow access), below
IAM's default quota of 10 per role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_estate.core.principal_policy import add_to_principal_policy
from mlops_estate.core.validation import ConfigError, Problems, join
from mlops_estate.core.nag import acknowledge_wildcards
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.security.storage import SecureBucket
from mlops_estate.workspace.studio import StudioDomain, allow_source_identity

Persona = Literal["data_scientist", "ml_engineer", "mlops_admin", "auditor"]
USER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
PERSONAS: tuple[Persona, ...] = ("data_scientist", "ml_engineer", "mlops_admin", "auditor")
SIGN_IN_TAG = "studio-user"
# The persona that may assume the registry's ModelApprover role.
APPROVER: Persona = "mlops_admin"

# activity -> personas that perform it (Studio is added once a domain is known, for every persona).
ACTIVITIES: Mapping[str, tuple[Persona, ...]] = {
    "ReadAssets": PERSONAS,
    "DataAccess": ("data_scientist", "ml_engineer", "mlops_admin"),
    "RunWorkloads": ("data_scientist", "ml_engineer", "mlops_admin"),
    "BuildAssets": ("ml_engineer", "mlops_admin"),
    "Administer": ("mlops_admin",),
    "Audit": ("auditor", "mlops_admin"),
}

SHARING_REASON = ("Studio writes shared notebook snapshots under generated keys: read under the sharing prefix, written "
                  "and deleted only under the session's own sharing/<source identity>/ prefix.")
SHARING_READ_REASON = "Shared notebook snapshots have generated keys; read-only, under the sharing prefix."

JOB_TYPES = ("training-job", "processing-job", "transform-job", "hyper-parameter-tuning-job")


@dataclass(frozen=True)
class UserConfig:
    """A Studio user and the persona whose role and permissions they get.

    Attributes:
        name: the user profile name (letters, digits and single hyphens, up to 63); it becomes the source identity
            of the person's sessions and names their sharing prefix.
        persona: which persona role the user works as: data_scientist, ml_engineer, mlops_admin or auditor.
    """

    name: str
    persona: Persona

    def check(self, path: str, problems: Problems) -> None:
        if not USER_NAME.match(self.name):
            problems.add(join(path, "name"), f"{self.name!r} is not a valid Studio user profile name (letters, digits, single hyphens, up to 63)")


@dataclass(frozen=True)
class PersonaResources:
    """What the persona policies are scoped to: the estate's buckets, keys, network and name prefix.

    Attributes:
        estate_name: the estate's name prefix: the personas reach only pipelines, model package groups, feature
            groups and ECR repositories named ``<estate_name>-*``; it also prefixes the role descriptions and
            names the ``<estate_name>-studio-sign-in`` policy.
        data_bucket: the estate's data bucket: read-only (objects and key) for the personas with DataAccess;
            the auditor reads its configuration.
        artifacts_bucket: the estate's artifact bucket: read, write and delete of objects (and use of its key)
            for the personas with DataAccess; the auditor reads its configuration.
        placement: the estate's network: training, processing and tuning jobs may be created only in its subnets
            with its security groups, and job network interfaces only in its VPC.
        job_keys: the KMS keys jobs must encrypt their volumes with (passed by ARN or key id as
            ``VolumeKmsKey``); the personas that run workloads may use them, the auditor reads their policies.
        registry_account: the account of the shared model registry and ECR repositories, whose
            ``<estate_name>-*`` model package groups and repositories are reached as well. None (the default):
            this account only.
        feature_groups: names of further feature groups of the estate, reached in addition to
            ``<estate_name>-*``: those named without the estate prefix (e.g. from ``config.feature_groups``).
            Defaults to none.
        model_approver_role_arn: the ARN of the registry account's ModelApprover role
            (`RegistryLocation.approver_role_arn`): the mlops_admin persona may assume it, and its role is then
            named `persona_role_name(estate_name, "mlops_admin")` so that role's trust can name it. None (the
            default): no persona may approve models.
    """

    estate_name: str
    data_bucket: SecureBucket
    artifacts_bucket: SecureBucket
    placement: NetworkPlacement
    # Keys jobs must encrypt their volumes with (passed by ARN or key id as VolumeKmsKey).
    job_keys: tuple[kms.IKey, ...]
    # The account of the shared model registry and ECR repositories (None: this account only).
    registry_account: str | None = None
    # Feature groups of the estate named without the estate prefix (e.g. from config.feature_groups).
    feature_groups: tuple[str, ...] = ()
    # The registry account's ModelApprover role (`RegistryLocation.approver_role_arn`): the mlops_admin persona may
    # assume it, and is then named `persona_role_name(estate_name, "mlops_admin")` so that role's trust can name it.
    model_approver_role_arn: str | None = None


def persona_role_name(estate_name: str, persona: Persona) -> str:
    """The physical name of a persona role another account must find by name (the approver: `APPROVER`)."""
    return f"{estate_name}-{persona.replace('_', '-')}"


def persona_role_arn(estate_name: str, persona: Persona, account: str) -> str:
    return f"arn:{Aws.PARTITION}:iam::{account}:role/{persona_role_name(estate_name, persona)}"


def _camel(persona: str) -> str:
    return "".join(part.capitalize() for part in persona.split("_"))


class Personas(Construct):
    """An execution role per persona with the activity policies of the table in this module's docs.

    ``use_domain(domain)`` adds the Studio activity and the sign-in policy; ``add_user_profiles`` creates
    one Studio user profile per configured user with the role of their persona. ``shared_space_role`` is the
    role for Studio shared spaces (ReadAssets only).

    Args:
        scope: the construct the personas are defined in.
        id: the construct id, unique within ``scope``.
        resources: the estate's buckets, keys, network and name prefix the activity policies are scoped to
            (`PersonaResources`).
        permissions_boundary: a managed policy set as the permissions boundary of every persona role and of the
            shared-space role. None (the default): no boundary.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        resources: PersonaResources,
        permissions_boundary: iam.IManagedPolicy | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.resources = resources
        self.prefix = resources.estate_name
        self._stack = Stack.of(self)
        self.roles: dict[Persona, iam.Role] = {}
        approves = resources.model_approver_role_arn is not None
        if approves and len(persona_role_name(self.prefix, APPROVER)) > 64:
            raise ValueError(f"{self.node.path}: estate_name {self.prefix!r} is too long to name the {APPROVER} role "
                             f"{persona_role_name(self.prefix, APPROVER)!r} (IAM allows 64 characters)")
        for persona in PERSONAS:
            role = iam.Role(
                self,
                _camel(persona),
                role_name=persona_role_name(self.prefix, persona) if approves and persona == APPROVER else None,
                assumed_by=iam.ServicePrincipal(
                    "sagemaker.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
                ),
                description=f"{self.prefix} estate: SageMaker execution role of the {persona.replace('_', ' ')} persona",
                permissions_boundary=permissions_boundary,
            )
            allow_source_identity(role)  # a Studio execution role: its sessions carry the user profile name
            if persona != "auditor":  # jobs and pipelines run as the persona that starts them, never as another
                add_to_principal_policy(role, iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ))
            self.roles[persona] = role
        self.policies: dict[str, iam.ManagedPolicy] = {}
        builders = {
            "ReadAssets": self._read_assets,
            "DataAccess": self._data_access,
            "RunWorkloads": self._run_workloads,
            "BuildAssets": self._build_assets,
            "Administer": self._administer,
            "Audit": self._audit,
        }
        for activity, personas in ACTIVITIES.items():
            self._activity(activity, personas, builders[activity]())
        # The domain's default space role: what code in a shared space runs as, whoever opened the space.
        self.shared_space_role = iam.Role(
            self,
            "SharedSpace",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description=f"{self.prefix} estate: SageMaker execution role of Studio shared spaces (read estate metadata only)",
            permissions_boundary=permissions_boundary,
        )
        allow_source_identity(self.shared_space_role)
        self.policies["ReadAssets"].attach_to_role(self.shared_space_role)
        self.sign_in_policy: iam.ManagedPolicy | None = None

    # ----------------------------------------------------------------------------------------- public API
    def role(self, persona: str) -> iam.Role:
        try:
            return self.roles[persona]  # type: ignore[index]
        except KeyError:
            raise ValueError(f"{self.node.path}: unknown persona {persona!r}; choose one of {', '.join(PERSONAS)}") from None

    def use_domain(self, domain: StudioDomain) -> None:
        """Let every persona run its Studio apps and spaces in ``domain``, and create the sign-in policy."""
        arn = self._sm_arn
        domain_id = domain.domain_id
        spaces, apps = arn("space", f"{domain_id}/*"), arn("app", f"{domain_id}/*")
        self._activity(
            "Studio",
            PERSONAS,
            [
                *self._space_grants(domain, "Private"),
                (
                    iam.PolicyStatement(
                        sid="TagStudioResourcesOnCreate",
                        actions=["sagemaker:AddTags"],
                        resources=[apps, spaces],
                        conditions={"Null": {"sagemaker:TaggingAction": "false"}},
                    ),
                    "Studio tags the spaces and apps it creates; tagging only as part of a create call.",
                ),
                (
                    iam.PolicyStatement(
                        actions=["sagemaker:DescribeDomain", "sagemaker:DescribeUserProfile", "sagemaker:DescribeSpace",
                                 "sagemaker:DescribeApp"],
                        resources=[domain.domain_arn, arn("user-profile", f"{domain_id}/*"), spaces, apps],
                    ),
                    "Studio reads the profiles, spaces and apps of its own domain to show them; scoped to this domain.",
                ),
                *[(st, SHARING_REASON) for st in domain.sharing_statements()],
                (
                    iam.PolicyStatement(
                        sid="SpaceVolumesWithTheStudioKey",
                        actions=["kms:CreateGrant"],
                        resources=[domain.key.key_arn],
                        conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                    ),
                    None,
                ),
                (
                    iam.PolicyStatement(
                        actions=["sagemaker:ListApps", "sagemaker:ListSpaces", "sagemaker:ListUserProfiles",
                                 "sagemaker:ListDomains", "sagemaker:ListTags"],
                        resources=["*"],
                    ),
                    "SageMaker List actions support no resource-level permissions; they return names, not data.",
                ),
            ],
        )
        run_workloads = self.policies["RunWorkloads"]
        for statement, reason in self._space_grants(domain, "Shared"):
            run_workloads.add_statements(statement)
            acknowledge_wildcards(run_workloads, statement, reason)
        # Shared spaces are used by several people at once: they read shared notebooks, each person shares their own
        # from their private spaces.
        sharing = domain.sharing_statements(read_only=True)
        space_policy = iam.ManagedPolicy(
            self,
            "SharedSpaceStudio",
            description=f"{self.prefix} estate: what code in a Studio shared space may do besides reading estate metadata",
            statements=sharing,
            roles=[self.shared_space_role],
        )
        for statement in sharing:
            acknowledge_wildcards(space_policy, statement, SHARING_READ_REASON)
        self.policies["SharedSpaceStudio"] = space_policy
        sign_in = iam.ManagedPolicy(
            self,
            "StudioSignIn",
            managed_policy_name=f"{self.prefix}-studio-sign-in",
            description=(
                f"{self.prefix} estate: attach to the identity-provider role or Identity Center permission set of "
                f"Studio users; a session tagged {SIGN_IN_TAG}=<user profile name> may open that profile only"
            ),
            statements=[
                iam.PolicyStatement(
                    actions=["sagemaker:CreatePresignedDomainUrl"],
                    resources=[arn("user-profile", f"{domain_id}/${{aws:PrincipalTag/{SIGN_IN_TAG}}}")],
                ),
                iam.PolicyStatement(actions=["sagemaker:DescribeDomain"], resources=[domain.domain_arn]),
            ],
        )
        self.sign_in_policy = sign_in

    def add_user_profiles(self, domain: StudioDomain, users: Iterable[UserConfig]) -> dict[str, sagemaker.CfnUserProfile]:
        """One Studio user profile per user, running with the execution role of the user's persona."""
        users = list(users)
        problems = [
            f"users[{i}].persona: {u.persona!r} is not a persona; choose one of {', '.join(PERSONAS)}"
            for i, u in enumerate(users)
            if u.persona not in self.roles
        ]
        if problems:
            raise ConfigError(self.node.path, problems)
        return domain.add_user_profiles({u.name: self.roles[u.persona] for u in users})

    def _space_grants(self, domain: StudioDomain, sharing: str) -> list[tuple[iam.PolicyStatement, str]]:
        """Create, update and delete the ``sharing`` ("Private" or "Shared") spaces the caller owns, and start and
        stop apps in them: in the caller's own private spaces, in any shared space (members share its apps).

        The owner is ``${sagemaker:UserProfileName}`` of the Studio session; a request without an owner (or from a
        shared space, where the key is absent) matches no ``ArnLike``, so it is not allowed here.
        """
        owner = self._sm_arn("user-profile", f"{domain.domain_id}/${{sagemaker:UserProfileName}}")
        kind = {"StringEquals": {"sagemaker:SpaceSharingType": sharing}}
        owned = {"ArnLike": {"sagemaker:OwnerUserProfileArn": owner}, **kind}
        private = sharing == "Private"
        scope = "this estate's Studio domain"
        return [
            (
                iam.PolicyStatement(
                    sid=f"Own{sharing}Spaces",
                    actions=["sagemaker:CreateSpace", "sagemaker:UpdateSpace", "sagemaker:DeleteSpace"],
                    resources=[self._sm_arn("space", f"{domain.domain_id}/*")],
                    conditions=owned,
                ),
                f"Users name their own {sharing.lower()} spaces; only spaces they own, in {scope}.",
            ),
            (
                iam.PolicyStatement(
                    sid="AppsInOwnPrivateSpaces" if private else "AppsInSharedSpaces",
                    actions=["sagemaker:CreateApp", "sagemaker:DeleteApp"],
                    resources=[self._sm_arn("app", f"{domain.domain_id}/*")],
                    conditions=owned if private else kind,
                ),
                f"Studio names apps per space and app type at run time; only in the user's own private spaces or in shared "
                f"spaces (whose members start and stop its apps, never its storage), in {scope}.",
            ),
        ]

    # ---------------------------------------------------------------------------------------- activities
    def _activity(
        self, name: str, personas: Sequence[Persona], statements: list[tuple[iam.PolicyStatement, str | None]]
    ) -> iam.ManagedPolicy:
        policy = iam.ManagedPolicy(
            self,
            name,
            description=f"{self.prefix} estate: {name} activity of the {', '.join(personas)} persona(s)",
            statements=[s for s, _ in statements],
            roles=[self.roles[p] for p in personas],
        )
        for statement, reason in statements:
            if reason:
                acknowledge_wildcards(policy, statement, reason)
        self.policies[name] = policy
        return policy

    def _sm_arn(self, resource: str, name: str, account: str | None = None) -> str:
        return self._stack.format_arn(
            service="sagemaker", resource=resource, resource_name=name, account=account,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    def _registry_accounts(self) -> list[str | None]:
        other = self.resources.registry_account
        return [None] if other in (None, self._stack.account) else [None, other]

    def _pipelines(self) -> list[str]:
        return [self._sm_arn("pipeline", f"{self.prefix}-*"), self._sm_arn("pipeline", f"{self.prefix}-*/execution/*")]

    def _registry(self) -> list[str]:
        arns = []
        for account in self._registry_accounts():
            arns.append(self._sm_arn("model-package-group", f"{self.prefix}-*", account))
            arns.append(self._sm_arn("model-package", f"{self.prefix}-*/*", account))
        return arns

    def _feature_groups(self) -> list[str]:
        names = [f"{self.prefix}-*", *sorted(set(self.resources.feature_groups))]
        return [self._sm_arn("feature-group", name) for name in names]

    def _jobs(self, *types: str) -> list[str]:
        return [self._sm_arn(t, "*") for t in types or JOB_TYPES]

    def _read_assets(self) -> list[tuple[iam.PolicyStatement, str | None]]:
        named = f"Scoped to the estate's own name prefix '{self.prefix}-'; pipelines, registry and feature groups are named from config."
        return [
            (
                iam.PolicyStatement(
                    actions=["sagemaker:DescribePipeline", "sagemaker:DescribePipelineExecution",
                             "sagemaker:DescribePipelineDefinitionForExecution", "sagemaker:ListPipelineExecutions",
                             "sagemaker:ListPipelineExecutionSteps", "sagemaker:ListPipelineParametersForExecution",
                             "sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage",
                             "sagemaker:DescribeFeatureGroup", "sagemaker:DescribeFeatureMetadata"],
                    resources=self._pipelines() + self._registry() + self._feature_groups(),
                ),
                named,
            ),
            (
                iam.PolicyStatement(
                    actions=["sagemaker:DescribeTrainingJob", "sagemaker:DescribeProcessingJob",
                             "sagemaker:DescribeTransformJob", "sagemaker:DescribeHyperParameterTuningJob"],
                    resources=self._jobs(),
                ),
                "Pipelines name their jobs with generated ids; read-only, scoped to this account and region.",
            ),
            (
                iam.PolicyStatement(
                    actions=["sagemaker:ListPipelines", "sagemaker:ListModelPackageGroups", "sagemaker:ListModelPackages",
                             "sagemaker:ListFeatureGroups", "sagemaker:ListTrainingJobs", "sagemaker:ListProcessingJobs",
                             "sagemaker:ListTransformJobs", "sagemaker:ListHyperParameterTuningJobs", "sagemaker:Search"],
                    resources=["*"],
                ),
                "SageMaker List and Search actions support no resource-level permissions; they return metadata only.",
            ),
        ]

    def _data_access(self) -> list[tuple[iam.PolicyStatement, str | None]]:
        data, artifacts = self.resources.data_bucket, self.resources.artifacts_bucket
        return [
            (
                iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[data.bucket.arn_for_objects("*")]),
                "Read access to the objects of the estate's data bucket only (object keys are data-set paths).",
            ),
            (
                iam.PolicyStatement(
                    actions=["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject",
                             "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                    resources=[artifacts.bucket.arn_for_objects("*")],
                ),
                "Jobs write model artifacts under generated keys; scoped to the estate's artifact bucket only.",
            ),
            (
                iam.PolicyStatement(actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[data.bucket_arn, artifacts.bucket_arn]),
                None,
            ),
            (iam.PolicyStatement(actions=["kms:Decrypt", "kms:DescribeKey"], resources=[data.key.key_arn]), None),
            (
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[artifacts.key.key_arn],
                ),
                None,
            ),
        ]

    def _run_workloads(self) -> list[tuple[iam.PolicyStatement, str | None]]:
        placement = self.resources.placement
        key_ids = [v for k in self.resources.job_keys for v in (k.key_arn, k.key_id)]
        jobs = "SageMaker names jobs at run time (pipelines add generated ids); scoped to this account and region."
        return [
            (
                iam.PolicyStatement(
                    sid="JobsOnlyInTheEstateVpcWithEstateKeys",
                    actions=["sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob", "sagemaker:CreateHyperParameterTuningJob"],
                    resources=self._jobs("training-job", "processing-job", "hyper-parameter-tuning-job"),
                    conditions={
                        "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
                        "ForAllValues:StringEquals": {
                            "sagemaker:VpcSubnets": list(placement.subnet_ids),
                            "sagemaker:VpcSecurityGroupIds": placement.security_group_ids,
                        },
                        "StringEquals": {"sagemaker:VolumeKmsKey": key_ids},
                    },
                ),
                jobs,
            ),
            (
                iam.PolicyStatement(
                    sid="TransformJobsWithEstateKeys",
                    actions=["sagemaker:CreateTransformJob"],
                    resources=self._jobs("transform-job"),
                    conditions={"StringEquals": {"sagemaker:VolumeKmsKey": key_ids}},
                ),
                jobs,
            ),
            (
                iam.PolicyStatement(
                    actions=["sagemaker:StopTrainingJob", "sagemaker:StopProcessingJob", "sagemaker:StopTransformJob",
                             "sagemaker:StopHyperParameterTuningJob", "sagemaker:AddTags"],
                    resources=self._jobs(),
                ),
                jobs,
            ),
            (
                iam.PolicyStatement(
                    actions=["sagemaker:StartPipelineExecution", "sagemaker:StopPipelineExecution",
                             "sagemaker:RetryPipelineExecution", "sagemaker:GetRecord", "sagemaker:BatchGetRecord"],
                    resources=self._pipelines() + self._feature_groups(),
                ),
                f"Scoped to the estate's pipelines and feature groups (name prefix '{self.prefix}-').",
            ),
            (
                iam.PolicyStatement(
                    actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                             "logs:DescribeLogStreams", "logs:GetLogEvents"],
                    resources=[
                        self._stack.format_arn(service="logs", resource="log-group", resource_name="/aws/sagemaker/*",
                                               arn_format=ArnFormat.COLON_RESOURCE_NAME),
                        self._stack.format_arn(service="logs", resource="log-group",
                                               resource_name="/aws/sagemaker/*:log-stream:*",
                                               arn_format=ArnFormat.COLON_RESOURCE_NAME),
                    ],
                ),
                "SageMaker writes one log group per job type and one stream per instance under /aws/sagemaker/.",
            ),
            (
                iam.PolicyStatement(
                    actions=["cloudwatch:PutMetricData", "ecr:GetAuthorizationToken", "ec2:DescribeNetworkInterfaces",
                             "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeDhcpOptions"],
                    resources=["*"],
                ),
                "PutMetricData, GetAuthorizationToken and EC2 Describe actions support no resource-level permissions.",
            ),
            (
                iam.PolicyStatement(
                    actions=["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                             "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"],
                    resources=["*"],
                    conditions={"ArnEquals": {"ec2:Vpc": placement.vpc.vpc_arn}},
                ),
                "VPC jobs attach ENIs that SageMaker creates with generated ids; the condition pins them to the estate VPC.",
            ),
            (
                iam.PolicyStatement(
                    actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                    resources=[
                        self._stack.format_arn(service="ecr", resource="repository", resource_name=f"{self.prefix}-*", account=a)
                        for a in self._registry_accounts()
                    ],
                ),
                f"Custom images come from the estate's repositories (name prefix '{self.prefix}-'), pull only.",
            ),
            (
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                             "kms:GenerateDataKeyWithoutPlaintext"],
                    resources=[k.key_arn for k in self.resources.job_keys],
                ),
                None,
            ),
            (
                iam.PolicyStatement(
                    sid="JobVolumesWithTheJobKeys",
                    actions=["kms:CreateGrant"],
                    resources=[k.key_arn for k in self.resources.job_keys],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                ),
                None,
            ),
        ]

    def _build_assets(self) -> list[tuple[iam.PolicyStatement, str | None]]:
        named = f"Scoped to the estate's own name prefix '{self.prefix}-'; resources are named from config."
        return [
            (
                iam.PolicyStatement(
                    actions=["sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:DeletePipeline",
                             "sagemaker:CreateFeatureGroup", "sagemaker:UpdateFeatureGroup", "sagemaker:DeleteFeatureGroup",
                             "sagemaker:UpdateFeatureMetadata", "sagemaker:PutRecord", "sagemaker:DeleteRecord",
                             "sagemaker:CreateModelPackageGroup", "sagemaker:CreateModelPackage", "sagemaker:AddTags"],
                    resources=self._pipelines() + self._feature_groups() + self._registry(),
                ),
                named,
            ),
            (
                iam.PolicyStatement(
                    sid="UpdateModelsButNeverApprove",
                    actions=["sagemaker:UpdateModelPackage"],
                    resources=self._registry(),
                    conditions={"StringNotEquals": {"sagemaker:ModelApprovalStatus": "Approved"}},
                ),
                named,
            ),
        ]

    def _administer(self) -> list[tuple[iam.PolicyStatement, str | None]]:
        statements: list[tuple[iam.PolicyStatement, str | None]] = [
            (
                iam.PolicyStatement(
                    sid="RetireModels",
                    actions=["sagemaker:DeleteModelPackage", "sagemaker:DeleteModelPackageGroup"],
                    resources=self._registry(),
                ),
                f"Retiring applies to any version of the estate's model package groups (name prefix '{self.prefix}-').",
            ),
        ]
        approver = self.resources.model_approver_role_arn
        if approver is not None:
            # The one way to approve: this exact role, whose trust requires the person's source identity (which the
            # Studio session carries over; setting it needs sts:SetSourceIdentity on both sides).
            statements.append((
                iam.PolicyStatement(sid="ApproveModelsAsTheModelApprover", actions=["sts:AssumeRole", "sts:SetSourceIdentity"],
                                    resources=[approver]),
                None,
            ))
        return statements

    def _audit(self) -> list[tuple[iam.PolicyStatement, str | None]]:
        buckets = [self.resources.data_bucket, self.resources.artifacts_bucket]
        keys = {k.key_arn: k for k in [*(b.key for b in buckets), *self.resources.job_keys]}
        return [
            (
                iam.PolicyStatement(
                    actions=["s3:GetBucketPolicy", "s3:GetBucketVersioning", "s3:GetEncryptionConfiguration",
                             "s3:GetBucketPublicAccessBlock", "s3:GetBucketLogging", "s3:GetLifecycleConfiguration",
                             "s3:GetBucketOwnershipControls", "s3:GetBucketTagging"],
                    resources=[b.bucket_arn for b in buckets],
                ),
                None,
            ),
            (iam.PolicyStatement(actions=["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus"], resources=list(keys)), None),
            (
                iam.PolicyStatement(actions=["cloudtrail:LookupEvents", "sagemaker:ListMlflowTrackingServers"], resources=["*"]),
                "LookupEvents and List actions support no resource-level permissions; read-only audit trail.",
            ),
        ]
