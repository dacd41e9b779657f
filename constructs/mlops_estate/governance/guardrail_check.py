"""The guardrail SCP, checked at synth: a resource the SCP would deny fails `cdk synth`, not the deploy.

`GuardrailCheck` is an aspect; on every SageMaker L1 it visits it adds a construct validation that
runs when the app synthesizes, after every other aspect, on the final properties. Each finding names
the resource path (CDK prefixes it), the SCP statement ``Sid`` that would deny the request, and what
to change. Which rules apply comes from the same `GuardrailOptions` that generate the SCP, so a rule
switched off in config is switched off in both places.

The checks read CloudFormation properties (PascalCase, tokens resolved to intrinsics), which is what
CloudFormation sends to the SageMaker API on the deploying role's behalf. Pipeline steps are checked
in the pipeline definition (each step type says where its job's settings sit: `Step.job_security`);
a definition held in S3 (or one whose JSON a token replaces as a whole) cannot be read at synth
and is skipped. Studio user profiles, spaces and apps and HyperPod clusters are checked for their
instance types (clusters and domains also for their VPC subnets and security groups).

Instance types are checked where they are literals, and where they reference a parameter: a
CloudFormation parameter by its default and allowed values, a pipeline parameter by its
``DefaultValue`` (what a run without overrides uses). Any other token is unknown at synth and skipped.
Each stack is checked against its own account's allow-list, in every account that has one (shared services
and the data lake included).

The statements protecting the estate's keys and AWS Config and the one denying ``LeaveOrganization`` govern API
calls that no CloudFormation resource of the estate makes: they are enabled here with the rest, and find nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import jsii
from aws_cdk import CfnParameter, CfnResource, IAspect, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import IConstruct, IValidation

from mlops_estate.core.instance_types import string_like
from mlops_estate.governance.guardrails import ENDPOINT_CONFIG_KMS, STUDIO_SYSTEM_INSTANCE, GuardrailOptions, guardrail_rules
from mlops_estate.pipeline.steps import step_class

Finding = tuple[str, str]  # (Sid, what is wrong and how to fix it)
Props = dict[str, Any]

VOLUME_KMS = "DenySageMakerWithoutVolumeKmsKey"
OUTPUT_KMS = "DenySageMakerWithoutOutputKmsKey"
SUBNETS = "DenySageMakerWithoutVpcSubnets"
SECURITY_GROUPS = "DenySageMakerWithoutVpcSecurityGroups"
ISOLATION = "DenySageMakerWithoutNetworkIsolation"
ICE = "DenySageMakerWithoutInterContainerEncryption"
INLINE = "InlineMonitoring"


def _get(props: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(props, dict):
            return None
        props = props.get(key)
    return props


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _job(*, volume_key: Any, output_key: Any, network: Any, where: str, isolation: bool = True,
         in_vpc: bool = True) -> Iterator[Finding]:
    """The KMS, VPC, isolation and encryption rules of one job (training, processing, monitoring); ``in_vpc``
    False: a job without network settings of its own (a transform job runs in its model's), only KMS applies."""
    if volume_key is None:
        yield VOLUME_KMS, f"{where} has no volume KMS key (VolumeKmsKeyId); give the estate's CMK"
    if output_key is None:
        yield OUTPUT_KMS, f"{where} has no output KMS key (KmsKeyId of the output config); give the estate's CMK"
    if not in_vpc:
        return
    vpc = _get(network, "VpcConfig")
    if not _get(vpc, "Subnets"):
        yield SUBNETS, f"{where} has no VpcConfig.Subnets; place it with NetworkPlacement.subnet_ids"
    if not _get(vpc, "SecurityGroupIds"):
        yield SECURITY_GROUPS, f"{where} has no VpcConfig.SecurityGroupIds; use NetworkPlacement.security_group_ids"
    if isolation and not _is_true(_get(network, "EnableNetworkIsolation")):
        yield ISOLATION, f"{where} does not set EnableNetworkIsolation to true"
    if not _is_true(_get(network, "EnableInterContainerTrafficEncryption")):
        yield ICE, f"{where} does not set EnableInterContainerTrafficEncryption to true"


def _endpoint_config(props: Props) -> Iterator[Finding]:
    # CloudFormation creates it as the deploying role, which is never a monitor role: no Clarify exemption.
    if props.get("KmsKeyId") is None:
        yield ENDPOINT_CONFIG_KMS, "the endpoint config has no KmsKeyId; give the estate's CMK"


def _notebook(props: Props) -> Iterator[Finding]:
    if props.get("KmsKeyId") is None:
        yield VOLUME_KMS, "the notebook instance has no KmsKeyId; give the estate's CMK"
    if props.get("SubnetId") is None:
        yield SUBNETS, "the notebook instance has no SubnetId; place it in the estate's VPC"
    if not props.get("SecurityGroupIds"):
        yield SECURITY_GROUPS, "the notebook instance has no SecurityGroupIds"
    if props.get("RootAccess") != "Disabled":
        yield "DenyNotebookRootAccess", "RootAccess must be 'Disabled' (the service default is 'Enabled')"
    if props.get("DirectInternetAccess") != "Disabled":
        yield "DenyNotebookDirectInternet", "DirectInternetAccess must be 'Disabled' (the service default is 'Enabled')"


def _domain(props: Props) -> Iterator[Finding]:
    if props.get("KmsKeyId") is None:
        yield VOLUME_KMS, "the Studio domain has no KmsKeyId for its EFS volume; give the estate's CMK"
    # CreateDomain's sagemaker:VpcSubnets is SubnetIds, sagemaker:VpcSecurityGroupIds the default user settings' groups.
    if not props.get("SubnetIds"):
        yield SUBNETS, "the Studio domain has no SubnetIds; place it with NetworkPlacement.subnet_ids"
    if not _get(props, "DefaultUserSettings", "SecurityGroups"):
        yield SECURITY_GROUPS, "the Studio domain has no DefaultUserSettings.SecurityGroups; use NetworkPlacement.security_group_ids"
    if props.get("AppNetworkAccessType") != "VpcOnly":
        yield "DenyStudioDomainWithInternet", "AppNetworkAccessType must be 'VpcOnly' (the service default is 'PublicInternetOnly')"


def _cluster(props: Props) -> Iterator[Finding]:
    if not _get(props, "VpcConfig", "Subnets"):
        yield SUBNETS, "the HyperPod cluster has no VpcConfig.Subnets; place it with NetworkPlacement.subnet_ids"
    if not _get(props, "VpcConfig", "SecurityGroupIds"):
        yield SECURITY_GROUPS, "the HyperPod cluster has no VpcConfig.SecurityGroupIds; use NetworkPlacement.security_group_ids"


def _instance_types_only(props: Props) -> Iterator[Finding]:
    """User profiles, spaces and apps: the SCP governs only their instance types (checked for every resource)."""
    return iter(())


def _feature_group(props: Props) -> Iterator[Finding]:
    offline, online = props.get("OfflineStoreConfig"), props.get("OnlineStoreConfig")
    if offline is not None and _get(offline, "S3StorageConfig", "KmsKeyId") is None:
        yield "DenyFeatureGroupWithoutKmsKey", "the offline store has no S3StorageConfig.KmsKeyId; give the estate's CMK"
    if online is not None and _get(online, "SecurityConfig", "KmsKeyId") is None:
        yield "DenyFeatureGroupWithoutKmsKey", "the online store has no SecurityConfig.KmsKeyId; give the estate's CMK"


def _model(props: Props) -> Iterator[Finding]:
    if not _get(props, "VpcConfig", "Subnets"):
        yield "DenyModelWithoutVpc", "the model has no VpcConfig; place it with NetworkPlacement"
    if not _is_true(props.get("EnableNetworkIsolation")):
        yield "DenyModelWithoutNetworkIsolation", "the model does not set EnableNetworkIsolation to true"


def _job_definition(output_property: str, isolation: bool = True) -> Callable[[Props], Iterator[Finding]]:
    def check(props: Props) -> Iterator[Finding]:
        yield from _job(volume_key=_get(props, "JobResources", "ClusterConfig", "VolumeKmsKeyId"),
                        output_key=_get(props, output_property, "KmsKeyId"), network=props.get("NetworkConfig"),
                        where="the monitoring job definition", isolation=isolation)
    return check


def _monitoring_schedule(props: Props) -> Iterator[Finding]:
    job = _get(props, "MonitoringScheduleConfig", "MonitoringJobDefinition")
    if job is None:
        return  # it names a job definition, which is checked on its own
    for sid, message in _job(volume_key=_get(job, "MonitoringResources", "ClusterConfig", "VolumeKmsKeyId"),
                             output_key=_get(job, "MonitoringOutputConfig", "KmsKeyId"), network=job.get("NetworkConfig"),
                             where="the inline monitoring job"):
        yield sid + INLINE, message


def _pipeline_steps(steps: list[Any]) -> Iterator[Finding]:
    """The rules of every job a pipeline's steps create, wherever each step type keeps its job's settings (the
    step class says so: `Step.job_security`)."""
    for step in steps:
        if not isinstance(step, dict):
            continue
        name, kind, args = step.get("Name", "?"), step.get("Type"), step.get("Arguments") or {}
        step_type = step_class(kind) if isinstance(kind, str) else None
        security = step_type.job_security(args) if step_type is not None and isinstance(args, dict) else None
        if security is not None:
            yield from _job(volume_key=security.volume_kms_key, output_key=security.output_kms_key, network=security.network,
                            where=f"pipeline step {name!r}", in_vpc=security.network is not None)
        for nested in ("IfSteps", "ElseSteps"):
            if isinstance(_get(step, "Arguments", nested), list):
                yield from _pipeline_steps(step["Arguments"][nested])


InstanceValue = Callable[[Any], Iterator[tuple[str, str]]]


def _instance_types(props: Any, values: InstanceValue) -> Iterator[tuple[str, str]]:
    """Every instance type in a resource's properties or a pipeline's step arguments, as (type, where it comes from).

    ``values`` turns one ``InstanceType`` value into the types it may take: a literal is itself, a reference to a
    CloudFormation or pipeline parameter is the parameter's default (and a CloudFormation parameter's allowed values).
    """
    if isinstance(props, dict):
        for key, value in props.items():
            if key == "InstanceType":
                yield from values(value)
            if isinstance(value, (dict, list)):
                yield from _instance_types(value, values)
    elif isinstance(props, list):
        for item in props:
            yield from _instance_types(item, values)


def _literal(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str) and not Token.is_unresolved(value):
        yield value, ""


def _cfn_parameter_values(stack: Stack) -> InstanceValue:
    """Literals, and ``{"Ref": <CfnParameter>}`` as the parameter's default and allowed values.

    The stack's parameters are looked up (two jsii calls each) only when a ``Ref`` needs them: most instance types
    are literals."""
    parameters: dict[Any, CfnParameter] = {}

    def parameter_of(ref: Any) -> CfnParameter | None:
        if not parameters:
            parameters.update({stack.resolve(p.logical_id): p for p in stack.node.find_all() if isinstance(p, CfnParameter)})
        return parameters.get(ref)

    def values(value: Any) -> Iterator[tuple[str, str]]:
        yield from _literal(value)
        parameter = parameter_of(value.get("Ref")) if isinstance(value, dict) and len(value) == 1 else None
        if parameter is not None:
            where = f" (CloudFormation parameter {stack.resolve(parameter.logical_id)!r})"
            for candidate in [parameter.default, *(parameter.allowed_values or [])]:
                for literal, _ in _literal(candidate):
                    yield literal, where
    return values


def _pipeline_parameter_values(definition: Props) -> InstanceValue:
    """Literals, and ``{"Get": "Parameters.<name>"}`` as the pipeline parameter's DefaultValue (what a run without
    overrides uses, and what the SCP then sees)."""
    defaults = {p.get("Name"): p.get("DefaultValue") for p in definition.get("Parameters") or [] if isinstance(p, dict)}

    def values(value: Any) -> Iterator[tuple[str, str]]:
        yield from _literal(value)
        ref = value.get("Get") if isinstance(value, dict) and len(value) == 1 else None
        if isinstance(ref, str) and ref.startswith("Parameters.") and ref[len("Parameters."):] in defaults:
            name = ref[len("Parameters."):]
            for literal, _ in _literal(defaults[name]):
                yield literal, f" (default of pipeline parameter {name!r})"
    return values


CHECKS: dict[type, Callable[[Props], Iterator[Finding]]] = {
    sagemaker.CfnEndpointConfig: _endpoint_config,
    sagemaker.CfnNotebookInstance: _notebook,
    sagemaker.CfnDomain: _domain,
    sagemaker.CfnFeatureGroup: _feature_group,
    sagemaker.CfnModel: _model,
    sagemaker.CfnDataQualityJobDefinition: _job_definition("DataQualityJobOutputConfig"),
    sagemaker.CfnModelQualityJobDefinition: _job_definition("ModelQualityJobOutputConfig"),
    sagemaker.CfnModelBiasJobDefinition: _job_definition("ModelBiasJobOutputConfig"),
    # Explainability runs the model on a Clarify shadow endpoint, which an isolated container cannot create.
    sagemaker.CfnModelExplainabilityJobDefinition: _job_definition("ModelExplainabilityJobOutputConfig", isolation=False),
    sagemaker.CfnMonitoringSchedule: _monitoring_schedule,
    sagemaker.CfnCluster: _cluster,
    sagemaker.CfnUserProfile: _instance_types_only,
    sagemaker.CfnSpace: _instance_types_only,
    sagemaker.CfnApp: _instance_types_only,
}


def _pipeline_definition(node: sagemaker.CfnPipeline) -> Props | None:
    """The pipeline definition as JSON, or None when it lives in S3 or cannot be read at synth.

    A body built with tokens resolves to an ``Fn::Join``; the tokens (ARNs, names) sit inside JSON strings,
    so joining the literal parts around a placeholder gives parseable JSON with every step intact.
    """
    props = Stack.of(node).resolve(node._render_properties(node._cfn_properties))
    body = _get(props, "PipelineDefinition", "PipelineDefinitionBody")
    if isinstance(body, dict) and isinstance(body.get("Fn::Join"), list):
        separator, parts = body["Fn::Join"]
        body = separator.join(p if isinstance(p, str) else "token" for p in parts)
    if not isinstance(body, str):
        return None
    try:
        parsed = json.loads(body)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


@jsii.implements(IValidation)
class _ResourceValidation:
    def __init__(self, check: GuardrailCheck, node: IConstruct) -> None:
        self._check = check
        self._node = node

    def validate(self) -> list[str]:
        return self._check.findings(self._node)


@jsii.implements(IAspect)
class GuardrailCheck:
    """Fail synth on SageMaker resources the guardrail SCP would deny. Apply with ``Aspects.of(stage).add(...)``."""

    def __init__(self, options: GuardrailOptions) -> None:
        self.options = options
        self.enabled = {rule.sid for rule in guardrail_rules(options)}

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, (sagemaker.CfnPipeline, *CHECKS)):
            node.node.add_validation(_ResourceValidation(self, node))

    def findings(self, node: IConstruct) -> list[str]:
        stack = Stack.of(node)
        if isinstance(node, sagemaker.CfnPipeline):
            definition = _pipeline_definition(node)
            if definition is None:
                return []
            found = list(_pipeline_steps(definition.get("Steps") or []))
            found += self._instance_findings(stack.account, _instance_types(definition.get("Steps") or [],
                                                                            _pipeline_parameter_values(definition)))
        else:
            assert isinstance(node, CfnResource)
            props = stack.resolve(node._render_properties(node._cfn_properties))
            found = [f for kind, check in CHECKS.items() if isinstance(node, kind) for f in check(props)]
            if isinstance(node, sagemaker.CfnModelExplainabilityJobDefinition):
                found += self._clarify_findings(stack, props.get("RoleArn"))
            found += self._instance_findings(stack.account, _instance_types(props, _cfn_parameter_values(stack)))
        return [f"denied by guardrail SCP statement {sid}: {message}" for sid, message in found if sid in self.enabled]

    def _clarify_findings(self, stack: Stack, role_arn: Any) -> list[Finding]:
        """Clarify creates the explainability shadow endpoint config (``sm-clarify-*``, no KMS key) as the job's
        role: the SCP lets it only when the options exempt those configs and the role is a monitor role.

        The role is known when its ARN is a literal or a ``GetAtt`` of a role in the same stack; any other
        reference cannot be resolved at synth and is not reported."""
        options = self.options
        if not options.clarify_shadow_endpoints:
            return [(ENDPOINT_CONFIG_KMS, "Clarify creates the explainability shadow endpoint config (sm-clarify-*) without "
                     "a KMS key, and the guardrails exempt no role from that rule: enable explainability in the "
                     "estate config (models[].monitoring.explainability) so the SCP exempts the estate's monitor roles")]
        arn = role_arn if isinstance(role_arn, str) and not Token.is_unresolved(role_arn) else self._role_arn_in(stack, role_arn)
        if arn is None or string_like(arn, options.monitor_role_pattern):
            return []
        return [(ENDPOINT_CONFIG_KMS, f"Clarify creates the explainability shadow endpoint config (sm-clarify-*) without a "
                 f"KMS key as the job's role {arn}, and the guardrail exempts only the estate's monitor roles "
                 f"({options.monitor_role_pattern}); create the role with that path")]

    @staticmethod
    def _role_arn_in(stack: Stack, role_arn: Any) -> str | None:
        """The ARN a ``{"Fn::GetAtt": [<role>, "Arn"]}`` of a role in ``stack`` stands for, with an account placeholder."""
        target = role_arn.get("Fn::GetAtt") if isinstance(role_arn, dict) and len(role_arn) == 1 else None
        if not (isinstance(target, list) and len(target) == 2 and target[1] == "Arn"):
            return None
        for node in stack.node.find_all():
            if isinstance(node, iam.CfnRole) and stack.resolve(node.logical_id) == target[0]:
                path = node.path if isinstance(node.path, str) and not Token.is_unresolved(node.path) else "/"
                name = node.role_name if isinstance(node.role_name, str) and not Token.is_unresolved(node.role_name) else f"<{target[0]}>"
                account = "<account>" if Token.is_unresolved(stack.account) else stack.account
                return f"arn:aws:iam::{account}:role{path}{name}"
        return None

    def _instance_findings(self, account: str, types: Iterator[tuple[str, str]]) -> list[Finding]:
        allowed = self.options.allowed_instance_types(account) if not Token.is_unresolved(account) else None
        if allowed is None:
            return []
        patterns = (*allowed, STUDIO_SYSTEM_INSTANCE)
        return [
            (f"DenyInstanceTypesOutsideAllowList{account}",
             f"instance type {t!r}{where} is not on the allow-list of account {account} ({', '.join(allowed)})")
            for t, where in sorted(set(types)) if not any(string_like(t, p) for p in patterns)
        ]
