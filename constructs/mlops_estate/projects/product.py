"""What every SageMaker project template of the estate shares (`ModelBuildProduct`, `ModelDeployProduct`).

A template is a Service Catalog product stack. SageMaker fills in two parameters (the project's name and id) and
lists only products tagged ``sagemaker:studio-visibility=true``. The template finds the estate through
SSM-typed parameters (`EstateHandles` writes them under ``/<estate>/projects/``), so it holds no literal
resource id and no file asset (Service Catalog cannot publish assets); every role it creates carries the
project permissions boundary and has managed policies only.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import AspectPriority, Aspects, Aws, CfnParameter, Stage, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_servicecatalog as servicecatalog
from constructs import Construct

from mlops_estate.config.estate import EstateConfig
from mlops_estate.core.walked_aspects import WalkedAspectsStage
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.network.private_network import NetworkPlacement

# What SageMaker requires of a project template (SageMaker developer guide, "Create custom project templates"):
# the two parameters it fills in, and the product tag that makes Studio list the product.
PROJECT_NAME_PARAMETER = "SageMakerProjectName"
PROJECT_ID_PARAMETER = "SageMakerProjectId"
PROJECT_NAME_PATTERN = r"^[a-zA-Z](-*[a-zA-Z0-9])*"
PROJECT_ID_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*"
# SageMaker's own limits on project names and ids.
PROJECT_NAME_MAX_LENGTH = 32
PROJECT_ID_MAX_LENGTH = 20
STUDIO_VISIBILITY_TAG = ("sagemaker:studio-visibility", "true")
# Tags SageMaker uses to attach resources to a project in Studio.
PROJECT_NAME_TAG = "sagemaker:project-name"
PROJECT_ID_TAG = "sagemaker:project-id"


def handles_prefix(estate_name: str) -> str:
    return f"/{estate_name}/projects"


def project_prefix(estate_name: str) -> str:
    """Every name a project template gives starts with this, then the project's name (build) or id (deploy); the
    persona policies admit ``<estate>-*``, and the launch role and the boundary are scoped to it."""
    return f"{estate_name}-project-"


def provisioned_stack_prefix(account: str) -> str:
    """Service Catalog names a provisioned product's stack ``SC-<account>-pp-<id>``; CloudFormation names the
    roles, policies, rules, topics and alarms it creates without a name after the stack."""
    return f"SC-{account}-pp-"


class ProjectProduct(servicecatalog.ProductStack):
    """A project template: the SageMaker parameters and tags, the estate handles, the boundary and placement.

    Args:
        scope: the parent construct.
        id: the construct id.
        description: the template's description.
        project_id_max_length: the longest project id the template admits (names built from it must fit).
    """

    def __init__(self, scope: Construct, id: str, *, description: str,
                 project_id_max_length: int = PROJECT_ID_MAX_LENGTH) -> None:
        super().__init__(scope, id, description=description)
        self.project_name = CfnParameter(
            self, PROJECT_NAME_PARAMETER, type="String", min_length=1, max_length=PROJECT_NAME_MAX_LENGTH,
            allowed_pattern=PROJECT_NAME_PATTERN, description="Name of the project (SageMaker fills it in)")
        self.project_id = CfnParameter(
            self, PROJECT_ID_PARAMETER, type="String", min_length=1, max_length=project_id_max_length,
            allowed_pattern=PROJECT_ID_PATTERN,
            description="Service generated Id of the project (SageMaker fills it in)")
        self.project = self.project_name.value_as_string

    def _handles(self, estate_name: str, keys: Sequence[str]) -> dict[str, str]:
        """One SSM-typed parameter per estate handle: CloudFormation resolves them at launch, so the template holds
        no resource id. Each admits only its own parameter name."""
        out: dict[str, str] = {}
        for key in keys:
            name = f"{handles_prefix(estate_name)}/{key}"
            logical = "Estate" + "".join(part.capitalize() for part in key.split("-"))
            out[key] = CfnParameter(self, logical, type="AWS::SSM::Parameter::Value<String>", default=name,
                                    allowed_values=[name], description=f"SSM parameter naming the estate's {key} (keep)").value_as_string
        return out

    def _govern(self, boundary_arn: str) -> None:
        """Tag everything with the project; every role is bounded and has managed policies only (what the launch
        role may create)."""
        Tags.of(self).add(PROJECT_NAME_TAG, self.project)
        Tags.of(self).add(PROJECT_ID_TAG, self.project_id.value_as_string)
        # In an estate stage that already walks ManagedPoliciesOnly over its whole tree (product stacks included), a
        # second, Node-side aspect would only cost a callback per construct.
        stage = Stage.of(self)
        walked = isinstance(stage, WalkedAspectsStage) and any(isinstance(a, ManagedPoliciesOnly) for a in stage.walked_aspects)
        if not walked:
            Aspects.of(self).add(ManagedPoliciesOnly(), priority=AspectPriority.MUTATING)
        iam.PermissionsBoundary.of(self).apply(iam.ManagedPolicy.from_managed_policy_arn(self, "Boundary", boundary_arn))

    def _placement(self, config: EstateConfig, handle: dict[str, str], subnet_count: int) -> NetworkPlacement:
        """The estate's VPC, subnets and security group by id (jobs and models name subnets by id: no subnet objects).
        The VPC is only ever used by id (network-interface conditions); a template that reads no ``vpc-id`` handle
        uses none (an unused parameter fails cfn-lint)."""
        return NetworkPlacement(
            vpc=ec2.Vpc.from_vpc_attributes(self, "EstateVpc", vpc_id=handle.get("vpc-id", Aws.NO_VALUE),
                                            availability_zones=list(config.availability_zones)[:subnet_count]),
            subnet_ids=tuple(handle[f"subnet-{i}"] for i in range(subnet_count)),
            security_group=ec2.SecurityGroup.from_security_group_id(self, "EstateSecurityGroup", handle["security-group-id"],
                                                                   mutable=False),
        )


def subnet_handles(subnet_count: int) -> tuple[str, ...]:
    return tuple(f"subnet-{i}" for i in range(subnet_count))
