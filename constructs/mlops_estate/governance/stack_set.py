"""Service-managed CloudFormation StackSets: one template, deployed by AWS Organizations to every account of some OUs.

`StackSetTemplate` is a `Stack` written as a template only: a child of the stack that deploys the StackSet, it is
synthesized into the same cloud assembly (so aspects, cdk-nag and the other validation plugins see its constructs)
but is not a deployable artifact of its own. Its template becomes a file asset of the parent stack, and the
StackSet reads it by ``TemplateURL`` from the parent account's CDK asset bucket (StackSets copy the template at
create or update time; target accounts never read that bucket). The template itself must hold no assets:
stack instances in other accounts cannot read the management account's asset bucket, so Lambda code, custom
resources with code, or Docker images fail synthesis with the construct path that added them.

`ServiceManagedStackSet` is the ``AWS::CloudFormation::StackSet`` (permission model SERVICE_MANAGED) for such a
template: automatic deployment to accounts that join the OUs, stacks retained when an account leaves, managed
execution, typed deployment targets and operation preferences.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, get_args

import jsii
from aws_cdk import (
    DockerImageAssetLocation,
    DockerImageAssetSource,
    FileAssetLocation,
    FileAssetPackaging,
    FileAssetSource,
    IResolveContext,
    IStringProducer,
    IStackSynthesizer,
    ISynthesisSession,
    Lazy,
    Stack,
    Token,
    StackSynthesizer,
)
from aws_cdk import aws_cloudformation as cloudformation
from constructs import Construct

from mlops_estate.core.patterns import ACCOUNT_ID, OU_ID, REGION, ROOT_ID
from mlops_estate.core.validation import Problems, join

# An IPAM pool id. CloudFormation StackSet names: a letter, then letters, digits and hyphens, 128 at most.
IPAM_POOL_ID = re.compile(r"^ipam-pool-[0-9a-f]{17}$")
STACK_SET_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,127}$")
# CloudFormation caps template and StackSet descriptions at 1024 characters.
MAX_DESCRIPTION = 1024

# Service-managed StackSets deploy with this role (``stacksets-exec-<id>``) in each target account; the guardrail
# SCP lets it manage the estate's keys and Config rules like the CDK deployment role.
STACK_SET_EXECUTION_ROLE = "stacksets-exec"

RegionConcurrency = Literal["SEQUENTIAL", "PARALLEL"]
ConcurrencyMode = Literal["STRICT_FAILURE_TOLERANCE", "SOFT_FAILURE_TOLERANCE"]


@dataclass(frozen=True)
class RolloutOperationConfig:
    """How fast a StackSet operation moves through the target accounts, as percentages of the accounts per
    region (they scale with the OU, counts would not), and how many failures stop it.

    Attributes:
        max_concurrent_percentage: the share of a region's target accounts deployed at once, 1-100 percent;
            default 25.
        failure_tolerance_percentage: the share of a region's target accounts that may fail before
            CloudFormation stops the operation in that region and the regions after it, 0-100 percent;
            default 10.
        region_concurrency: ``"SEQUENTIAL"`` (default: one region after another, in the order given) or
            ``"PARALLEL"``.
        concurrency_mode: ``"STRICT_FAILURE_TOLERANCE"`` (default: concurrency drops as failures happen, so they
            never exceed the tolerance) or ``"SOFT_FAILURE_TOLERANCE"`` (concurrency stays, failures may exceed
            the tolerance by up to the concurrency).
    """

    max_concurrent_percentage: int = 25
    failure_tolerance_percentage: int = 10
    region_concurrency: RegionConcurrency = "SEQUENTIAL"
    concurrency_mode: ConcurrencyMode = "STRICT_FAILURE_TOLERANCE"

    def check(self, path: str, problems: Problems) -> None:
        if not 1 <= self.max_concurrent_percentage <= 100:
            problems.add(join(path, "max_concurrent_percentage"),
                         f"{self.max_concurrent_percentage} is outside 1..100 (percent of the target accounts per region)")
        if not 0 <= self.failure_tolerance_percentage <= 100:
            problems.add(join(path, "failure_tolerance_percentage"),
                         f"{self.failure_tolerance_percentage} is outside 0..100 (percent of the target accounts per region)")


def check_stack_set_name(name: str, path: str, problems: Problems) -> None:
    if not Token.is_unresolved(name) and not STACK_SET_NAME.match(name):
        problems.add(path, f"{name!r} is not a StackSet name (a letter, then up to 127 letters, digits or hyphens)")


def check_targets(ou_ids: Sequence[str], regions: Sequence[str], exclude_accounts: Sequence[str], path: str, problems: Problems) -> None:
    """The ids and regions of a StackSet's deployment targets are well-formed (`ServiceManagedStackSet` and the estate
    config); tokens are accepted."""
    for i, ou in enumerate(ou_ids):
        if not (Token.is_unresolved(ou) or OU_ID.match(ou) or ROOT_ID.match(ou)):
            problems.add(join(join(path, "ou_ids"), i), f"{ou!r} is not an OU id (ou-xxxx-xxxxxxxx) or root id (r-xxxx)")
    for i, region in enumerate(regions):
        if not (Token.is_unresolved(region) or REGION.match(region)):
            problems.add(join(join(path, "regions"), i), f"{region!r} is not an AWS region name like eu-west-1")
    for i, account in enumerate(exclude_accounts):
        if not (Token.is_unresolved(account) or ACCOUNT_ID.match(account)):
            problems.add(join(join(path, "exclude_accounts"), i), f"{account!r} is not an AWS account id (exactly 12 digits)")


CallAs = Literal["SELF", "DELEGATED_ADMIN"]
Capability = Literal["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
NO_ASSETS = ("stack instances in the target accounts cannot read the deploying account's asset bucket; "
             "build it without code assets (no Lambda code, no custom resources with a handler, no Docker images)")


class _TemplateSynthesizer(StackSynthesizer):
    """Writes the template into the assembly and registers it as a file asset of the parent stack; refuses assets."""

    def __init__(self) -> None:
        super().__init__()
        self.template_url: str | None = None

    # jsii hands an override the asset source struct as one positional argument, not as the keywords of the stub.
    def add_file_asset(self, asset: FileAssetSource) -> FileAssetLocation:  # type: ignore[override]
        raise ValueError(f"{self._bound().node.path}: adds the file asset {asset.file_name or asset.executable!r}; {NO_ASSETS}")

    def add_docker_image_asset(self, asset: DockerImageAssetSource) -> DockerImageAssetLocation:  # type: ignore[override]
        raise ValueError(f"{self._bound().node.path}: adds the Docker image asset {asset.directory_name!r}; {NO_ASSETS}")

    def synthesize(self, session: ISynthesisSession) -> None:
        stack = self._bound()
        # Children synthesize before their parent, so the parent's template sees the URL set here.
        self._synthesize_template(session)
        template = Path(session.assembly.outdir) / stack.template_file
        assert stack.node.scope is not None  # StackSetTemplate sits in its parent stack
        location = Stack.of(stack.node.scope).synthesizer.add_file_asset(
            packaging=FileAssetPackaging.FILE,
            file_name=stack.template_file,
            source_hash=hashlib.sha256(template.read_bytes()).hexdigest(),
        )
        self.template_url = location.http_url

    def _bound(self) -> Stack:
        return self._bound_stack


@jsii.implements(IStringProducer)
class _TemplateUrl:
    def __init__(self, synthesizer: _TemplateSynthesizer) -> None:
        self._synthesizer = synthesizer

    def produce(self, context: IResolveContext) -> str | None:
        # None while the app prepares (reference resolution runs before any template is written); the child
        # stack synthesizes before its parent, so the parent's template gets the URL.
        return self._synthesizer.template_url


class StackSetTemplate(Stack):
    """A stack synthesized only as a StackSet's template: environment-agnostic (accounts and regions come from
    pseudo-parameters), without bootstrap version rule or CDK metadata, without assets.

    Create it as a child of the stack that deploys the `ServiceManagedStackSet`. Reference nothing of other stacks
    (their outputs live in the deploying account, the instances in others): give what differs as config.

    Args:
        scope: the stack that deploys the StackSet (never an App or a Stage).
        id: the construct id (it names the template file).
        description: the template's description, at most 1024 characters; the StackSet's too unless it
            gives its own.
    """

    def __init__(self, scope: Construct, id: str, *, description: str) -> None:
        problems = Problems()
        if not isinstance(scope, Stack):
            problems.add("scope", f"a {type(scope).__name__} is not allowed; expected the stack that deploys the StackSet (its "
                                  "template becomes an asset of that stack)")
        if len(description) > MAX_DESCRIPTION:
            problems.add("description", f"{description[:40] + '...'!r} has {len(description)} characters; expected at most {MAX_DESCRIPTION}")
        problems.raise_if_any(f"{scope.node.path}/{id}".lstrip("/"))
        self._template_synthesizer = _TemplateSynthesizer()
        super().__init__(scope, id, synthesizer=cast(IStackSynthesizer, self._template_synthesizer), analytics_reporting=False,
                         description=description)
        self.parent_stack = scope

    @property
    def template_url(self) -> str:
        """The HTTPS URL of the template in the parent stack's asset bucket (a token until synthesis)."""
        return Lazy.uncached_string(_TemplateUrl(self._template_synthesizer))


class ServiceManagedStackSet(Construct):
    """A SERVICE_MANAGED StackSet of ``template`` on every account of ``ou_ids`` (but ``exclude_accounts``) in
    ``regions``, so that every account of those OUs gets the same baseline without per-account deploys: accounts
    that join an OU get a stack instance automatically, accounts that leave keep theirs
    (``retain_stacks_on_account_removal``: the baseline holds keys and logs). Managed execution is on
    (non-conflicting operations run concurrently, conflicting ones queue).

    Deploy it from the management account (``call_as="SELF"``) or from a delegated administrator account of
    CloudFormation StackSets (``call_as="DELEGATED_ADMIN"``); trusted access for StackSets must be on either way.

    Args:
        scope: the parent construct, in the stack that ``template`` is a child of.
        id: the construct id.
        template: the `StackSetTemplate` to deploy (a child of this construct's stack).
        stack_set_name: the physical name operators find the StackSet and its instances by: a letter, then up
            to 127 letters, digits or hyphens.
        ou_ids: the organisational units (``ou-xxxx-xxxxxxxx``) or the root (``r-xxxx``) whose accounts get
            instances; at least one.
        regions: the regions of the instances (``eu-west-1``), each once; at least one. With
            ``SEQUENTIAL`` region concurrency they deploy in this order.
        exclude_accounts: 12-digit ids of accounts in those OUs that get no instance; default none.
        operation: concurrency and failure tolerance of each operation; default `RolloutOperationConfig()`.
        call_as: ``"SELF"`` (default, from the management account) or ``"DELEGATED_ADMIN"``.
        capabilities: what the template may do: ``CAPABILITY_IAM`` (default: create IAM resources),
            ``CAPABILITY_NAMED_IAM`` (with custom names), ``CAPABILITY_AUTO_EXPAND`` (macros, nested stacks).
        retain_stacks_on_account_removal: keep an account's stack instance when it leaves the OUs (default),
            rather than deleting it with the keys and logs it holds.
        description: the StackSet's description, at most 1024 characters; default the template's.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        template: StackSetTemplate,
        stack_set_name: str,
        ou_ids: Sequence[str],
        regions: Sequence[str],
        exclude_accounts: Sequence[str] = (),
        operation: RolloutOperationConfig = RolloutOperationConfig(),
        call_as: CallAs = "SELF",
        capabilities: Sequence[Capability] = ("CAPABILITY_IAM",),
        retain_stacks_on_account_removal: bool = True,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems()
        if template.parent_stack is not Stack.of(self):
            problems.add("template", f"{template.node.path!r} is not a child of this construct's stack {Stack.of(self).node.path!r}; "
                                     "expected a StackSetTemplate created in that stack (its template is an asset of it)")
        check_stack_set_name(stack_set_name, "stack_set_name", problems)
        if not ou_ids:
            problems.add("ou_ids", f"{list(ou_ids)!r} is empty; expected at least one OU (or root) id")
        if not regions:
            problems.add("regions", f"{list(regions)!r} is empty; expected at least one region")
        if len(set(regions)) != len(regions):
            problems.add("regions", f"{list(regions)!r} lists a region twice; expected each region once")
        check_targets(ou_ids, regions, exclude_accounts, "", problems)
        operation.check("operation", problems)
        for field, value, allowed in (("region_concurrency", operation.region_concurrency, get_args(RegionConcurrency)),
                                      ("concurrency_mode", operation.concurrency_mode, get_args(ConcurrencyMode))):
            if value not in allowed:
                problems.add(f"operation.{field}", f"{value!r} is not allowed; expected {' or '.join(map(repr, allowed))}")
        if call_as not in get_args(CallAs):
            problems.add("call_as", f"{call_as!r} is not allowed; expected 'SELF' or 'DELEGATED_ADMIN'")
        for i, capability in enumerate(capabilities):
            if capability not in get_args(Capability):
                problems.add(f"capabilities[{i}]", f"{capability!r} is not a CloudFormation capability; expected one of "
                                                   f"{', '.join(get_args(Capability))}")
        if description is not None and len(description) > MAX_DESCRIPTION:
            problems.add("description", f"{description[:40] + '...'!r} has {len(description)} characters; expected at most {MAX_DESCRIPTION}")
        problems.raise_if_any(self.node.path)
        self.template = template
        self.stack_set_name = stack_set_name
        targets = cloudformation.CfnStackSet.DeploymentTargetsProperty(
            organizational_unit_ids=list(ou_ids),
            account_filter_type="DIFFERENCE" if exclude_accounts else None,
            accounts=sorted(set(exclude_accounts)) or None,
        )
        self.resource = cloudformation.CfnStackSet(
            self,
            "StackSet",
            stack_set_name=stack_set_name,
            description=description or template.template_options.description,
            permission_model="SERVICE_MANAGED",
            call_as=call_as,
            auto_deployment=cloudformation.CfnStackSet.AutoDeploymentProperty(
                enabled=True, retain_stacks_on_account_removal=retain_stacks_on_account_removal),
            managed_execution={"Active": True},
            capabilities=list(capabilities),
            operation_preferences=cloudformation.CfnStackSet.OperationPreferencesProperty(
                max_concurrent_percentage=operation.max_concurrent_percentage,
                failure_tolerance_percentage=operation.failure_tolerance_percentage,
                region_concurrency_type=operation.region_concurrency,
                region_order=list(regions) if operation.region_concurrency == "SEQUENTIAL" and len(regions) > 1 else None,
                concurrency_mode=operation.concurrency_mode,
            ),
            stack_instances_group=[cloudformation.CfnStackSet.StackInstancesProperty(
                deployment_targets=targets, regions=list(regions))],
            template_url=template.template_url,
        )
        self.stack_set_id = self.resource.attr_stack_set_id
