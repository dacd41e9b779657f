"""Service control policies that keep SageMaker in the ML accounts encrypted, private and affordable.

`guardrail_rules` turns typed options into deny statements, each with a ``Sid`` that names what it
protects; `pack_policies` splits them into as few SCPs as fit the 5,120-character quota; and
`SageMakerGuardrails` deploys those as ``AWS::Organizations::Policy`` resources attached to the ML OUs.

Every action / condition-key pair used here is one that the IAM Service Authorization Reference
documents for that action (an SCP with a wrong key silently never matches); the test suite checks the
generated policies against a table taken from the reference. How absent keys are treated:

- a value that must be given (KMS key, subnets): ``Null: {key: "true"}`` denies when the key is absent;
- a flag that must be on (network isolation, ``VpcOnly``, root access ``Disabled``) on *create*:
  ``<Operator>IfExists`` on the wrong value, which also denies when the key is absent, because the
  service default is the insecure value;
- the same flag on *update*: the plain operator, since an update that leaves it out changes nothing.

Clarify, which runs explainability monitoring, creates a temporary shadow endpoint of the model whose
endpoint config is named ``sm-clarify-*`` and carries no ``KmsKeyId``; it does so with the credentials of
the monitoring job's role. When the estate config enables explainability on a served model, endpoint
configs without a key are therefore denied by two statements: one for every principal except the estate's
monitor roles (``aws:PrincipalArn`` under `monitor_role_path`), one for every name except ``sm-clarify-*``
(``NotResource``). Only a monitor role creating a Clarify shadow config passes both.

Monitoring schedules may carry their job inline or name a job definition; only an inline job has
instance types in the request, so the schedule rules also require ``Null: {sagemaker:InstanceTypes:
"false"}`` and the named job definitions are covered by their own ``Create*JobDefinition`` rules.

No estate account may leave the organisation (``deny_leave_organization``): a member account that leaves takes
itself out of every guardrail. The management account is never affected by SCPs, and service-linked roles are
not either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import aws_organizations as organizations
from constructs import Construct

from mlops_estate.governance.stack_set import STACK_SET_EXECUTION_ROLE
from mlops_estate.core.patterns import ACCOUNT_ID, OU_ID, ROLE_NAME, ROOT_ID
from mlops_estate.core.validation import Problems, join

# Partition of every region the estate config accepts (its REGION pattern admits commercial regions only).
PARTITION = "aws"
# Instance "type" of Studio's system apps (the JupyterServer / default space app); never billed as compute.
STUDIO_SYSTEM_INSTANCE = "system"
SCP_MAX_CHARS = 5120
TARGET_ID = re.compile("|".join(p.pattern for p in (OU_ID, ROOT_ID, ACCOUNT_ID)))


def _sm(*names: str) -> tuple[str, ...]:
    return tuple(f"sagemaker:{n}" for n in names)


MONITORING_JOB_DEFINITIONS = _sm(
    "CreateDataQualityJobDefinition",
    "CreateModelQualityJobDefinition",
    "CreateModelBiasJobDefinition",
    "CreateModelExplainabilityJobDefinition",
)
INLINE_MONITORING = _sm("CreateMonitoringSchedule", "UpdateMonitoringSchedule")
TRAINING_AND_PROCESSING = _sm("CreateTrainingJob", "CreateHyperParameterTuningJob", "CreateProcessingJob")
AUTOML = _sm("CreateAutoMLJob", "CreateAutoMLJobV2")

VOLUME_KMS_ACTIONS = (
    TRAINING_AND_PROCESSING + AUTOML + MONITORING_JOB_DEFINITIONS
    + _sm("CreateTransformJob", "CreateLabelingJob", "CreateNotebookInstance", "CreateDomain")
)
ENDPOINT_CONFIG_ACTIONS = _sm("CreateEndpointConfig")
# Clarify's explainability shadow endpoint configs: sm-clarify-<random>.
CLARIFY_ENDPOINT_CONFIGS = f"arn:{PARTITION}:sagemaker:*:*:endpoint-config/sm-clarify-*"
OUTPUT_KMS_ACTIONS = TRAINING_AND_PROCESSING + AUTOML + MONITORING_JOB_DEFINITIONS + _sm("CreateTransformJob", "CreateLabelingJob")
VPC_ACTIONS = TRAINING_AND_PROCESSING + AUTOML + MONITORING_JOB_DEFINITIONS + _sm("CreateNotebookInstance", "CreateDomain", "CreateCluster")
# Not explainability: its Clarify job creates a shadow endpoint of the model, which needs the SageMaker API.
NETWORK_ISOLATION_ACTIONS = TRAINING_AND_PROCESSING + tuple(
    a for a in MONITORING_JOB_DEFINITIONS if a != "sagemaker:CreateModelExplainabilityJobDefinition"
)
ICE_ACTIONS = TRAINING_AND_PROCESSING + AUTOML + MONITORING_JOB_DEFINITIONS
FEATURE_GROUP_ACTIONS = _sm("CreateFeatureGroup")
MODEL_ACTIONS = _sm("CreateModel")
INSTANCE_TYPE_ACTIONS = (
    TRAINING_AND_PROCESSING + MONITORING_JOB_DEFINITIONS + INLINE_MONITORING
    + _sm(
        "CreateTransformJob", "CreateEndpointConfig", "CreateNotebookInstance", "UpdateNotebookInstance",
        "CreateApp", "CreateSpace", "UpdateSpace", "CreateDomain", "UpdateDomain", "CreateUserProfile",
        "UpdateUserProfile", "CreateCluster", "UpdateCluster",
    )
)

PROTECTED_KMS_ACTIONS = (
    "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DisableKeyRotation", "kms:PutKeyPolicy",
    "kms:UntagResource",
)
PROTECTED_ALIAS_ACTIONS = ("kms:DeleteAlias", "kms:UpdateAlias")
# What would let a principal forge a `stacksets-exec-*` role (the name the protections exempt) or re-policy one.
# StackSets creates and manages those roles through its service-linked role, which SCPs do not affect.
ROLE_FORGING_ACTIONS = (
    "iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
)
PROTECTED_CONFIG_ACTIONS = (
    "config:StopConfigurationRecorder", "config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel",
    "config:DeleteConfigRule", "config:DeleteEvaluationResults",
)


@dataclass(frozen=True)
class GuardrailRules:
    """Which SageMaker guardrails the SCPs enforce (and the synth-time `GuardrailCheck` mirrors).

    Attributes:
        require_kms: deny SageMaker jobs, endpoint configs, notebooks and domains created without a volume/output
            KMS key.
        require_vpc: deny training, processing, monitoring, AutoML jobs, notebooks, domains and clusters outside a
            VPC (no subnets or security groups).
        require_network_isolation: deny training, processing and monitoring jobs without network isolation.
        require_inter_container_encryption: deny distributed training and processing without inter-container
            traffic encryption.
        studio_vpc_only: deny Studio domains with direct internet access (``AppNetworkAccessType`` other than VpcOnly).
        notebook_lockdown: deny notebook instances with direct internet access or root access.
        models_in_vpc: deny models (CreateModel) outside a VPC or without network isolation; off by default, since
            serverless endpoints support neither and an SCP cannot tell how a model will be served.
        protect_audit: deny stopping or deleting CloudTrail, AWS Config and the estate's keys to everyone but the
            deployment roles.
        deny_leave_organization: deny ``organizations:LeaveOrganization``: an account that leaves takes itself
            out of every guardrail.
        exempt_role_names: IAM role names (in any estate account) exempt from the SageMaker rules: break-glass
            or migration roles; 1-64 of letters, digits and ``+=,.@_-``.
        max_policy_chars: the size each generated SCP is packed to (1024 up to AWS's quota of 5,120 characters).
        max_policies: how many SCPs the rules may take (1-4: an OU takes 5, one being FullAWSAccess).
    """

    require_kms: bool = True
    require_vpc: bool = True
    require_network_isolation: bool = True
    require_inter_container_encryption: bool = True
    studio_vpc_only: bool = True
    notebook_lockdown: bool = True
    # Models (CreateModel) in a VPC with network isolation. Off by default: serverless endpoints
    # support neither, and an SCP cannot tell which endpoint type a model will be deployed to.
    models_in_vpc: bool = False
    protect_audit: bool = True
    # No estate account may leave the organisation (it would take itself out of every guardrail).
    deny_leave_organization: bool = True
    # Roles (by name, in any ML account) exempt from the SageMaker rules: break-glass or migration roles.
    exempt_role_names: tuple[str, ...] = ()
    max_policy_chars: int = SCP_MAX_CHARS
    # An OU takes at most 5 SCPs, and FullAWSAccess (or your own allow policy) is one of them.
    max_policies: int = 4

    def check(self, path: str, problems: Problems) -> None:
        for i, name in enumerate(self.exempt_role_names):
            if not ROLE_NAME.match(name):
                problems.add(join(join(path, "exempt_role_names"), i), f"{name!r} is not an IAM role name (1-64 of letters, digits and +=,.@_-)")
        if not 1024 <= self.max_policy_chars <= SCP_MAX_CHARS:
            problems.add(join(path, "max_policy_chars"), f"{self.max_policy_chars} is outside 1024..{SCP_MAX_CHARS} (the SCP size quota)")
        if not 1 <= self.max_policies <= 4:
            problems.add(join(path, "max_policies"), f"{self.max_policies} is outside 1..4 (an OU takes 5 SCPs, one being FullAWSAccess)")



@dataclass(frozen=True)
class GuardrailRule:
    """One deny statement of the guardrail SCPs.

    Attributes:
        sid: the statement id (letters and digits), also the name a synth-time finding reports.
        denies: what it denies, in words (used in synth-time errors and the docs).
        actions: the IAM actions denied.
        condition: the IAM condition block under which they are denied (empty: always).
        resources: the resources it applies to (``*`` by default).
        not_resources: when given, the statement applies to every resource but these (``NotResource``).
    """

    sid: str
    denies: str  # what it denies, in words: used in synth-time errors and the README
    actions: tuple[str, ...]
    condition: Mapping[str, Mapping[str, Any]]
    resources: tuple[str, ...] = ("*",)
    not_resources: tuple[str, ...] = ()  # when given, the statement applies to every resource but these

    def statement(self) -> dict[str, Any]:
        element, targets = ("NotResource", self.not_resources) if self.not_resources else ("Resource", self.resources)
        return {
            "Sid": self.sid,
            "Effect": "Deny",
            "Action": list(self.actions) if len(self.actions) > 1 else self.actions[0],
            element: list(targets) if len(targets) > 1 else targets[0],
            **({"Condition": {op: dict(kv) for op, kv in self.condition.items()}} if self.condition else {}),
        }


@dataclass(frozen=True)
class GuardrailOptions:
    """Everything the guardrail statements depend on: the rules plus where the estate lives.

    Attributes:
        estate_name: the estate's name; it prefixes the SCP names and the protected keys, roles and Config rules.
        deployment_role_name: the role CloudFormation deploys the estate with (CDK's ``cdk-<qualifier>-cfn-exec-role``
            or your own); exempt from the protection rules so the estate can manage itself.
        monitor_role_path: the IAM path of the roles that run Model Monitor jobs (e.g. ``/acme/model-monitor/``);
            Clarify creates its explainability shadow endpoint config (``sm-clarify-*``, no KMS key) as that role,
            and only such configs made by roles under this path are exempt from the endpoint-config KMS rule.
        rules: which guardrails apply (`GuardrailRules`; the estate's `GuardrailsConfig` is one).
        other_deployment_role_names: further roles that deploy the estate's keys and Config rules (the StackSet
            execution role of the baseline rollout).
        instance_types_by_account: account id -> allowed instance-type patterns (IAM StringLike); an account not
            listed is not restricted.
        clarify_shadow_endpoints: whether any monitor runs explainability (turns on the Clarify exemption above).
    """

    estate_name: str
    deployment_role_name: str
    monitor_role_path: str
    rules: GuardrailRules = field(default_factory=GuardrailRules)
    other_deployment_role_names: tuple[str, ...] = ()
    instance_types_by_account: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    clarify_shadow_endpoints: bool = False

    def check(self, path: str, problems: Problems) -> None:
        if not ROLE_NAME.match(self.deployment_role_name) and "*" not in self.deployment_role_name:
            problems.add(join(path, "deployment_role_name"), f"{self.deployment_role_name!r} is not an IAM role name")
        if not (self.monitor_role_path.startswith("/") and self.monitor_role_path.endswith("/")):
            problems.add(join(path, "monitor_role_path"), f"{self.monitor_role_path!r} is not an IAM path (/.../)")
        self.rules.check(join(path, "rules"), problems)
        for account, patterns in self.instance_types_by_account.items():
            if not ACCOUNT_ID.match(account):
                problems.add(join(join(path, "instance_types_by_account"), account), f"{account!r} is not an AWS account id")
            if not patterns:
                problems.add(join(join(path, "instance_types_by_account"), account),
                             "is empty; list at least one instance type, or leave the account out to leave it unrestricted")

    @property
    def monitor_role_pattern(self) -> str:
        """``aws:PrincipalArn`` of the estate's Model Monitor roles, in any account of the estate."""
        return f"arn:{PARTITION}:iam::*:role{self.monitor_role_path}*"

    def allowed_instance_types(self, account: str) -> tuple[str, ...] | None:
        """The allow-list an account runs under, or None when it is not restricted."""
        return self.instance_types_by_account.get(account)

    def role_patterns(self, names: Sequence[str]) -> list[str]:
        # CDK's bootstrap role is named <name>-<account>-<region>; other deployers use the exact name.
        out: list[str] = []
        for name in names:
            out += [f"arn:{PARTITION}:iam::*:role/{name}", f"arn:{PARTITION}:iam::*:role/{name}-*"]
        return out


def _with_exemptions(condition: dict[str, dict[str, Any]], patterns: list[str]) -> dict[str, dict[str, Any]]:
    if patterns:
        condition = {**condition, "ArnNotLike": {"aws:PrincipalArn": patterns if len(patterns) > 1 else patterns[0]}}
    return condition


def guardrail_rules(options: GuardrailOptions) -> list[GuardrailRule]:
    """The deny statements the options ask for, in a stable order."""
    r = options.rules
    exempt = options.role_patterns(r.exempt_role_names)
    inline = {"sagemaker:InstanceTypes": "false"}  # an inline monitoring job: see the module docstring
    rules: list[GuardrailRule] = []

    def add(sid: str, denies: str, actions: tuple[str, ...], condition: dict[str, dict[str, Any]],
            inline_monitoring: bool = False) -> None:
        rules.append(GuardrailRule(sid, denies, actions, _with_exemptions(condition, exempt)))
        if inline_monitoring:
            merged = {op: dict(kv) for op, kv in condition.items()}
            merged.setdefault("Null", {}).update(inline)
            rules.append(GuardrailRule(f"{sid}InlineMonitoring", f"{denies} (inline monitoring jobs)", INLINE_MONITORING,
                                       _with_exemptions(merged, exempt)))

    if r.require_kms:
        add("DenySageMakerWithoutVolumeKmsKey", "a storage volume without a customer-managed KMS key",
            VOLUME_KMS_ACTIONS, {"Null": {"sagemaker:VolumeKmsKey": "true"}}, inline_monitoring=True)
        rules.extend(_endpoint_config_rules(options, exempt))
        add("DenySageMakerWithoutOutputKmsKey", "job output without a customer-managed KMS key",
            OUTPUT_KMS_ACTIONS, {"Null": {"sagemaker:OutputKmsKey": "true"}}, inline_monitoring=True)
        add("DenyFeatureGroupWithoutKmsKey", "a feature group whose stores name no customer-managed KMS key",
            FEATURE_GROUP_ACTIONS,
            {"Null": {"sagemaker:FeatureGroupOfflineStoreKmsKey": "true", "sagemaker:FeatureGroupOnlineStoreKmsKey": "true"}})
    if r.require_vpc:
        add("DenySageMakerWithoutVpcSubnets", "a workload outside the estate's VPC subnets",
            VPC_ACTIONS, {"Null": {"sagemaker:VpcSubnets": "true"}}, inline_monitoring=True)
        add("DenySageMakerWithoutVpcSecurityGroups", "a workload without VPC security groups",
            VPC_ACTIONS, {"Null": {"sagemaker:VpcSecurityGroupIds": "true"}}, inline_monitoring=True)
    if r.require_network_isolation:
        add("DenySageMakerWithoutNetworkIsolation", "a training, processing or monitoring job without network isolation",
            NETWORK_ISOLATION_ACTIONS, {"BoolIfExists": {"sagemaker:NetworkIsolation": "false"}}, inline_monitoring=True)
    if r.require_inter_container_encryption:
        add("DenySageMakerWithoutInterContainerEncryption", "a distributed job without inter-container traffic encryption",
            ICE_ACTIONS, {"BoolIfExists": {"sagemaker:InterContainerTrafficEncryption": "false"}}, inline_monitoring=True)
    if r.models_in_vpc:
        add("DenyModelWithoutVpc", "a model outside the estate's VPC", MODEL_ACTIONS, {"Null": {"sagemaker:VpcSubnets": "true"}})
        add("DenyModelWithoutNetworkIsolation", "a model without network isolation", MODEL_ACTIONS,
            {"BoolIfExists": {"sagemaker:NetworkIsolation": "false"}})
    if r.studio_vpc_only:
        add("DenyStudioDomainWithInternet", "a Studio domain that is not VpcOnly", _sm("CreateDomain"),
            {"StringNotEqualsIfExists": {"sagemaker:AppNetworkAccessType": "VpcOnly"}})
        add("DenyStudioDomainSwitchToInternet", "switching a Studio domain to PublicInternetOnly", _sm("UpdateDomain"),
            {"StringEquals": {"sagemaker:AppNetworkAccessType": "PublicInternetOnly"}})
    if r.notebook_lockdown:
        add("DenyNotebookRootAccess", "a notebook instance with root access", _sm("CreateNotebookInstance"),
            {"StringNotEqualsIfExists": {"sagemaker:RootAccess": "Disabled"}})
        add("DenyNotebookEnableRootAccess", "turning on root access of a notebook instance", _sm("UpdateNotebookInstance"),
            {"StringEquals": {"sagemaker:RootAccess": "Enabled"}})
        add("DenyNotebookDirectInternet", "a notebook instance with direct internet access", _sm("CreateNotebookInstance"),
            {"StringNotEqualsIfExists": {"sagemaker:DirectInternetAccess": "Disabled"}})
    for account, patterns in sorted(options.instance_types_by_account.items()):
        add(f"DenyInstanceTypesOutsideAllowList{account}", f"instance types outside the allow-list of account {account}",
            INSTANCE_TYPE_ACTIONS, {
                "StringEquals": {"aws:PrincipalAccount": account},
                "ForAnyValue:StringNotLike": {"sagemaker:InstanceTypes": [*patterns, STUDIO_SYSTEM_INSTANCE]},
            })
    if r.protect_audit:
        rules.extend(_protect_rules(options))
    if r.deny_leave_organization:
        # Leaving takes a member account out of every SCP; nobody in it may (the deployment roles neither).
        rules.append(GuardrailRule(LEAVE_ORGANIZATION, "an estate account leaving the organisation",
                                   ("organizations:LeaveOrganization",), {}))
    return rules


ENDPOINT_CONFIG_KMS = "DenyEndpointConfigWithoutKmsKey"
LEAVE_ORGANIZATION = "DenyLeavingTheOrganization"
ENDPOINT_CONFIG_KMS_OUTSIDE_CLARIFY = "DenyEndpointConfigWithoutKmsKeyOutsideClarify"


def _endpoint_config_rules(options: GuardrailOptions, exempt: list[str]) -> list[GuardrailRule]:
    """Endpoint configs need a KMS key; with explainability monitoring, except Clarify's shadow configs
    (``sm-clarify-*``) created by the estate's monitor roles (see the module docstring)."""
    keyless = {"Null": {"sagemaker:VolumeKmsKey": "true"}}
    if not options.clarify_shadow_endpoints:
        return [GuardrailRule(ENDPOINT_CONFIG_KMS, "an endpoint config without a customer-managed KMS key", ENDPOINT_CONFIG_ACTIONS,
                              _with_exemptions(keyless, exempt))]
    return [
        GuardrailRule(ENDPOINT_CONFIG_KMS, "an endpoint config without a customer-managed KMS key (except by the estate's monitor roles)",
                      ENDPOINT_CONFIG_ACTIONS, _with_exemptions(keyless, [*exempt, options.monitor_role_pattern])),
        GuardrailRule(ENDPOINT_CONFIG_KMS_OUTSIDE_CLARIFY,
                      "an endpoint config without a customer-managed KMS key not named like Clarify's shadow configs (sm-clarify-*)",
                      ENDPOINT_CONFIG_ACTIONS, _with_exemptions(keyless, exempt), not_resources=(CLARIFY_ENDPOINT_CONFIGS,)),
    ]


def _protect_rules(options: GuardrailOptions) -> list[GuardrailRule]:
    """Deny turning off the estate's own keys and AWS Config, except by the deployment role.

    An exemption by role name is only as strong as control over who may hold that name: the StackSet execution
    role's name (``stacksets-exec-*``) is reserved for StackSets here, for every principal of the member accounts.
    The CDK execution role (``cdk-<qualifier>-cfn-exec-role-*``) is not: admins create it with ``cdk bootstrap``,
    so an admin could create one of that name (the README's guardrails section records this residual risk).

    No rule for the organisation trail: it lives in the management account, where SCPs never apply, and
    member accounts cannot stop, change or delete an organisation trail anyway. It relies on the
    management account's IAM.
    """
    name = options.estate_name
    deployers = [options.deployment_role_name, *options.other_deployment_role_names]
    deployer = {"ArnNotLike": {"aws:PrincipalArn": options.role_patterns(deployers)}}
    rules = [
        GuardrailRule("ProtectEstateKmsKeys", "disabling, deleting or re-policing the estate's KMS keys", PROTECTED_KMS_ACTIONS,
                      {"ForAnyValue:StringLike": {"kms:ResourceAliases": f"alias/{name}/*"}, **deployer}),
        GuardrailRule("ProtectEstateKmsAliases", "moving or deleting the estate's KMS aliases", PROTECTED_ALIAS_ACTIONS,
                      deployer, resources=(f"arn:{PARTITION}:kms:*:*:alias/{name}/*",)),
        GuardrailRule("ProtectAwsConfig", "stopping AWS Config or deleting its rules and results", PROTECTED_CONFIG_ACTIONS, deployer),
    ]
    if STACK_SET_EXECUTION_ROLE in options.other_deployment_role_names:
        rules.append(GuardrailRule("ProtectStackSetsExecutionRoles", "creating or re-policing roles named like the StackSet execution role",
                                   ROLE_FORGING_ACTIONS, {}, resources=tuple(options.role_patterns([STACK_SET_EXECUTION_ROLE]))))
    return rules


def policy_json(statements: Sequence[Mapping[str, Any]]) -> str:
    """The policy document exactly as deployed: minified, since the SCP quota counts every character."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, separators=(",", ":"))


def pack_policies(rules: Sequence[GuardrailRule], max_chars: int = SCP_MAX_CHARS) -> list[str]:
    """Split statements, in order, into as few policy documents of at most ``max_chars`` as first-fit allows."""
    documents: list[list[dict[str, Any]]] = []
    for rule in rules:
        statement = rule.statement()
        if len(policy_json([statement])) > max_chars:
            raise ValueError(
                f"guardrail statement {rule.sid} alone is {len(policy_json([statement]))} characters, over the "
                f"{max_chars}-character SCP quota; shorten its instance-type list or exempt roles"
            )
        for doc in documents:
            if len(policy_json([*doc, statement])) <= max_chars:
                doc.append(statement)
                break
        else:
            documents.append([statement])
    return [policy_json(doc) for doc in documents]


class SageMakerGuardrails(Construct):
    """The guardrail SCPs, attached to ``target_ids`` (OU ids, the root id, or account ids).

    The statements are generated from ``options`` and packed into as few SCPs as the size quota allows; the same
    options drive the synth-time `GuardrailCheck`, so a resource the SCPs would deny fails synthesis instead.
    ``policies`` are the ``AWS::Organizations::Policy`` resources, ``documents`` their JSON text,
    ``rules`` the statements in order. Deploy it in the organisation's management account.

    Args:
        scope: the parent construct (a stack of the management account).
        id: the construct id.
        options: the rules and where the estate lives (`GuardrailOptions`).
        target_ids: the OU ids (``ou-...``), root id (``r-...``) or account ids the SCPs attach to; at least one.
    """

    def __init__(self, scope: Construct, id: str, *, options: GuardrailOptions, target_ids: Sequence[str]) -> None:
        super().__init__(scope, id)
        self.options = options
        problems = Problems()
        options.check("options", problems)
        problems.raise_if_any(self.node.path)
        self.rules = guardrail_rules(options)
        if not target_ids:
            problems.add("target_ids", "is empty; name at least one OU, root or account id to attach the guardrails to")
        for i, target in enumerate(target_ids):
            if not TARGET_ID.match(target):
                problems.add(join("target_ids", i), f"{target!r} is not an OU id (ou-...), root id (r-...) or account id")
        if not self.rules:
            problems.add("options.rules", "turn every guardrail off; there is no policy to attach")
        self.documents = pack_policies(self.rules, options.rules.max_policy_chars) if self.rules else []
        if len(self.documents) > options.rules.max_policies:
            problems.add(
                "options.rules.max_policies",
                f"the guardrails need {len(self.documents)} SCPs but max_policies is {options.rules.max_policies} "
                "(an OU takes 5 SCPs, one being FullAWSAccess); shorten instance-type lists or exempt roles",
            )
        problems.raise_if_any(self.node.path)
        self.policies: list[organizations.CfnPolicy] = []
        for i, document in enumerate(self.documents, start=1):
            sids = [s["Sid"] for s in json.loads(document)["Statement"]]
            self.policies.append(
                organizations.CfnPolicy(
                    self,
                    f"Policy{i}",
                    name=f"{options.estate_name}-sagemaker-guardrails-{i}",
                    type="SERVICE_CONTROL_POLICY",
                    description=f"{options.estate_name} estate SageMaker guardrails {i}/{len(self.documents)}: {len(sids)} statements",
                    # CloudFormation sends the object as compact JSON: the measured, minified size.
                    content=json.loads(document),
                    target_ids=list(target_ids),
                )
            )
