"""SageMaker Projects templates: the estate's model-build composition as AWS Service Catalog products.

Where things live (all in the ML dev account, where Studio runs and where SageMaker provisions a project):

- **`ProjectTemplates`**: a Service Catalog portfolio, one product per configured model (a `ModelBuildProduct`
  template, tagged ``sagemaker:studio-visibility=true`` so Studio lists it), a launch constraint per product with
  one least-privilege launch role (assumable only by Service Catalog of this account), the permissions boundary
  every role a project creates must carry, the SSM parameters through which a template finds the estate, and the
  Studio-side policy that lets the chosen personas see and launch exactly these products.
- **`ModelBuildProduct`**: the template. It reuses the estate's reference build definition
  (`pipeline.reference.training_definition`) and `TrainingPipeline`, in the estate's VPC, with the estate's
  buckets and models key (read from SSM at launch: the template has no literal resource ids and no file assets),
  and registers candidates in the model's own package group of the shared registry, so a project's candidates go
  through the same approval and promotion as the reference pipeline's. Optionally (``RetrainOnDrift``) the
  model's drift alarms and violating monitor executions, forwarded to the estate bus, restart it.

Names: a project's pipeline is ``<estate>-project-<SageMakerProjectName>-build``; every other resource is named
by CloudFormation after the Service Catalog stack (``SC-<account>-pp-...``), which is what the launch role's
IAM, policy, rule and stack permissions are scoped to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import AspectPriority, Aspects, Aws, CfnCondition, CfnParameter, CfnResource, Fn, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicecatalog as servicecatalog
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_estate.config import EstateConfig, ModelConfig
from mlops_estate.event_bus import estate_bus_name
from mlops_estate.managed_policies import ManagedPoliciesOnly
from mlops_estate.nag import acknowledge
from mlops_estate.network import NetworkPlacement
from mlops_estate.pipeline.reference import BuildLocations, training_definition
from mlops_estate.pipeline.training_pipeline import CrossAccountStore, PipelineStorage, TrainingPipeline
from mlops_estate.registry import ARTIFACTS_PREFIX, registry_location
from mlops_estate.retraining import DriftAlarmTrigger, MonitoringViolationTrigger, retraining_triggers
from mlops_estate.storage import SecureBucket

# What SageMaker requires of a project template (SageMaker developer guide, "Create custom project templates"):
# the two parameters it fills in, and the product tag that makes Studio list the product.
PROJECT_NAME_PARAMETER = "SageMakerProjectName"
PROJECT_ID_PARAMETER = "SageMakerProjectId"
PROJECT_NAME_PATTERN = r"^[a-zA-Z](-*[a-zA-Z0-9])*"
PROJECT_ID_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*"
STUDIO_VISIBILITY_TAG = ("sagemaker:studio-visibility", "true")
# Tags SageMaker uses to attach resources to a project in Studio.
PROJECT_NAME_TAG = "sagemaker:project-name"
PROJECT_ID_TAG = "sagemaker:project-id"

# The SSM parameters (under /<estate>/projects/) a template reads at launch, by key.
HANDLE_KEYS = ("vpc-id", "security-group-id", "artifacts-bucket", "data-bucket", "models-key-arn", "boundary-arn")


def handles_prefix(estate_name: str) -> str:
    return f"/{estate_name}/projects"


def project_pipeline_prefix(estate_name: str) -> str:
    """Every project pipeline's name starts with this (the persona policies admit ``<estate>-*``)."""
    return f"{estate_name}-project-"


def provisioned_stack_prefix(account: str) -> str:
    """Service Catalog names a provisioned product's stack ``SC-<account>-pp-<id>``; CloudFormation names the
    roles, policies and rules it creates without a name after the stack."""
    return f"SC-{account}-pp-"


class EstateHandles(Construct):
    """SSM parameters naming the estate resources a project template uses: written here, read at launch."""

    def __init__(self, scope: Construct, id: str, *, estate_name: str, placement: NetworkPlacement, artifacts: SecureBucket,
                 data: SecureBucket, models_key: kms.IKey, boundary: iam.IManagedPolicy) -> None:
        super().__init__(scope, id)
        self.prefix = handles_prefix(estate_name)
        values: dict[str, str] = {
            "vpc-id": placement.vpc.vpc_id,
            "security-group-id": placement.security_group.security_group_id,
            "artifacts-bucket": artifacts.bucket_name,
            "data-bucket": data.bucket_name,
            "models-key-arn": models_key.key_arn,
            "boundary-arn": boundary.managed_policy_arn,
        }
        values.update({f"subnet-{i}": subnet for i, subnet in enumerate(placement.subnet_ids)})
        self.subnet_count = len(placement.subnet_ids)
        self.parameters = {
            key: ssm.StringParameter(self, key, parameter_name=f"{self.prefix}/{key}", string_value=value,
                                     description=f"{estate_name} estate: {key} for SageMaker project templates")
            for key, value in values.items()
        }

    @property
    def names(self) -> list[str]:
        return [f"{self.prefix}/{key}" for key in self.parameters]


class ModelBuildProduct(servicecatalog.ProductStack):
    """The model-build project template of one configured model (see the module docstring)."""

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, model: ModelConfig, subnet_count: int) -> None:
        super().__init__(scope, id, description=f"{config.name} estate: SageMaker project template, {model.name} model build")
        self.project_name = CfnParameter(
            self, PROJECT_NAME_PARAMETER, type="String", min_length=1, max_length=32, allowed_pattern=PROJECT_NAME_PATTERN,
            description="Name of the project (SageMaker fills it in)")
        self.project_id = CfnParameter(
            self, PROJECT_ID_PARAMETER, type="String", min_length=1, max_length=20, allowed_pattern=PROJECT_ID_PATTERN,
            description="Service generated Id of the project (SageMaker fills it in)")
        handle = self._handles(config.name, subnet_count)
        project = self.project_name.value_as_string
        Tags.of(self).add(PROJECT_NAME_TAG, project)
        Tags.of(self).add(PROJECT_ID_TAG, self.project_id.value_as_string)
        # Every role of the project is bounded and has managed policies only: what the launch role may create.
        Aspects.of(self).add(ManagedPoliciesOnly(), priority=AspectPriority.MUTATING)
        iam.PermissionsBoundary.of(self).apply(iam.ManagedPolicy.from_managed_policy_arn(self, "Boundary", handle["boundary-arn"]))

        # The jobs name the subnets by id; the VPC is only needed by id (ENI conditions), so no subnet objects.
        placement = NetworkPlacement(
            vpc=ec2.Vpc.from_vpc_attributes(self, "EstateVpc", vpc_id=handle["vpc-id"],
                                            availability_zones=list(config.availability_zones)[:subnet_count]),
            subnet_ids=tuple(handle[f"subnet-{i}"] for i in range(subnet_count)),
            security_group=ec2.SecurityGroup.from_security_group_id(self, "EstateSecurityGroup", handle["security-group-id"],
                                                                   mutable=False),
        )
        artifacts = s3.Bucket.from_bucket_name(self, "EstateArtifacts", handle["artifacts-bucket"])
        data = s3.Bucket.from_bucket_name(self, "EstateData", handle["data-bucket"])
        registry = registry_location(config)
        storage = PipelineStorage(
            key=kms.Key.from_key_arn(self, "EstateModelsKey", handle["models-key-arn"]),
            buckets=(artifacts, data),
            cross_account=(CrossAccountStore(registry.artifacts_bucket_name, f"{ARTIFACTS_PREFIX}/{model.name}",
                                             registry.account, registry.region),),
        )
        where = BuildLocations(config.region, artifacts.bucket_name, data.bucket_name, registry)
        pipeline_name = f"{project_pipeline_prefix(config.name)}{project}-build"
        self.pipeline = TrainingPipeline(
            self, "Build", pipeline_name=pipeline_name,
            definition=lambda jobs: training_definition(model, jobs, pipeline_name=pipeline_name, where=where),
            placement=placement, storage=storage,
            description=f"SageMaker project build of the {model.name} model: registers candidates in the shared registry",
        )
        self.retraining_rules = self._retraining(config, model)

    def _handles(self, estate_name: str, subnet_count: int) -> dict[str, str]:
        """One SSM-typed parameter per estate handle: CloudFormation resolves them at launch, so the template holds
        no resource id. Each admits only its own parameter name."""
        out: dict[str, str] = {}
        for key in (*HANDLE_KEYS, *(f"subnet-{i}" for i in range(subnet_count))):
            name = f"{handles_prefix(estate_name)}/{key}"
            logical = "Estate" + "".join(part.capitalize() for part in key.split("-"))
            out[key] = CfnParameter(self, logical, type="AWS::SSM::Parameter::Value<String>", default=name,
                                    allowed_values=[name], description=f"SSM parameter naming the estate's {key} (keep)").value_as_string
        return out

    def _retraining(self, config: EstateConfig, model: ModelConfig) -> list[events.CfnRule]:
        """Drift and violations of the model's monitors restart the project's pipeline when ``RetrainOnDrift`` is
        true (a monitored model only). New data is left to the estate's reference pipeline, which receives the
        data's location from its retraining function."""
        triggers = [t for t in retraining_triggers(config, model) if isinstance(t, (DriftAlarmTrigger, MonitoringViolationTrigger))]
        if not triggers:
            return []
        retrain = CfnParameter(
            self, "RetrainOnDrift", type="String", allowed_values=["false", "true"], default="false",
            description=f"Restart this project's pipeline when the {model.name} model drifts or its monitors find "
                        "violations in staging or prod (the estate's reference pipeline already does)")
        condition = CfnCondition(self, "RetrainOnDriftEnabled", expression=Fn.condition_equals(retrain.value_as_string, "true"))
        role = iam.Role(self, "RetrainRole", assumed_by=iam.ServicePrincipal(
            "events.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}),
            description="EventBridge starts this project's build pipeline on drift")
        self.pipeline.grant_start_execution(role)
        # Only with RetrainOnDrift: the role and its policy exist with the rules (ManagedPoliciesOnly keeps the condition).
        for child in (role.node.default_child, role.node.find_child("DefaultPolicy").node.default_child):
            assert isinstance(child, CfnResource)
            child.cfn_options.condition = condition
        bus_arn = Stack.of(self).format_arn(service="events", resource="event-bus", resource_name=estate_bus_name(config.name, "ml_dev"))
        rules = []
        for trigger in triggers:
            kind = type(trigger).__name__.removesuffix("Trigger")
            rule = events.CfnRule(
                self, f"RetrainOn{kind}", event_bus_name=bus_arn, state="ENABLED",
                description=f"Starts the project's {model.name} build pipeline on {kind}",
                event_pattern=trigger.pattern(),
                targets=[events.CfnRule.TargetProperty(
                    id="BuildPipeline", arn=self.pipeline.pipeline_arn, role_arn=role.role_arn,
                    retry_policy=events.CfnRule.RetryPolicyProperty(maximum_event_age_in_seconds=7200, maximum_retry_attempts=8),
                )],
            )
            rule.cfn_options.condition = condition
            rules.append(rule)
        return rules


class ProjectTemplates(Construct):
    """The portfolio of SageMaker project templates of the ML dev account (see the module docstring)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EstateConfig,
        placement: NetworkPlacement,
        artifacts: SecureBucket,
        data: SecureBucket,
        models_key: kms.IKey,
        creators: Mapping[str, iam.IRole],
    ) -> None:
        super().__init__(scope, id)
        settings = config.projects
        names = settings.template_models([m.name for m in config.models])
        problems = []
        if not creators:
            problems.append("creators is empty; give the Studio execution roles that may create projects")
        if not names:
            problems.append("config.projects selects no model; nothing to publish (enable projects or configure a model)")
        if problems:
            raise ValueError(f"{self.node.path}: " + "; ".join(problems))
        stack = Stack.of(self)
        self.estate_name = config.name
        self.boundary = self._boundary(stack, config, artifacts, data, models_key)
        self.handles = EstateHandles(self, "Handles", estate_name=config.name, placement=placement, artifacts=artifacts,
                                     data=data, models_key=models_key, boundary=self.boundary)
        self.portfolio = servicecatalog.Portfolio(
            self, "Portfolio", display_name=f"{config.name} SageMaker project templates", provider_name=config.tags.team,
            description=f"Model-build templates of the {config.name} estate for SageMaker Studio projects")
        self.launch_role = self._launch_role(stack, config)
        by_name = {m.name: m for m in config.models}
        self.products: dict[str, servicecatalog.CloudFormationProduct] = {}
        self.templates: dict[str, ModelBuildProduct] = {}
        for name in names:
            template = ModelBuildProduct(self, f"Template-{name}", config=config, model=by_name[name],
                                         subnet_count=self.handles.subnet_count)
            product = servicecatalog.CloudFormationProduct(
                self, f"Product-{name}", product_name=f"{config.name} {name} model build", owner=config.tags.team,
                description=f"A SageMaker pipeline that builds, evaluates and registers the {name} model in the shared "
                            "registry, in the estate's private network with its keys",
                product_versions=[servicecatalog.CloudFormationProductVersion(
                    product_version_name=settings.version,
                    cloud_formation_template=servicecatalog.CloudFormationTemplate.from_product_stack(template),
                    validate_template=True,
                )],
            )
            Tags.of(product).add(*STUDIO_VISIBILITY_TAG)
            self.portfolio.add_product(product)
            self.portfolio.set_launch_role(product, self.launch_role,
                                           description="Launch with the estate's bounded project launch role")
            self.templates[name] = template
            self.products[name] = product
        for persona in sorted(creators):
            self.portfolio.give_access_to_role(creators[persona])
        self.creator_policy = self._creator_policy(stack, list(creators.values()))

    # -- the launch role and the boundary of what it creates -----------------------------------------------------

    def _launch_role(self, stack: Stack, config: EstateConfig) -> iam.Role:
        account, region, partition = stack.account, stack.region, stack.partition
        prefix = provisioned_stack_prefix(account)
        role = iam.Role(
            self, "LaunchRole",
            assumed_by=iam.ServicePrincipal("servicecatalog.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": account}}),
            description=f"{config.name}: Service Catalog provisions SageMaker project templates with this role",
        )
        role_arns = f"arn:{partition}:iam::{account}:role/{prefix}*"
        policy_arns = f"arn:{partition}:iam::{account}:policy/{prefix}*"
        stacks = f"arn:{partition}:cloudformation:{region}:{account}:stack/{prefix}*/*"
        pipelines = f"arn:{partition}:sagemaker:{region}:{account}:pipeline/{project_pipeline_prefix(config.name)}*"
        rules = f"arn:{partition}:events:{region}:{account}:rule/{estate_bus_name(config.name, 'ml_dev')}/{prefix}*"
        parameters = f"arn:{partition}:ssm:{region}:{account}:parameter{handles_prefix(config.name)}/*"
        bounded = {"StringEquals": {"iam:PermissionsBoundary": self.boundary.managed_policy_arn}}
        statements = [
            iam.PolicyStatement(sid="ProvisionedStacks", resources=[stacks], actions=[
                "cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack",
                "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:GetTemplate",
                "cloudformation:DescribeStackResource", "cloudformation:DescribeStackResources",
                "cloudformation:ListStackResources",
                "cloudformation:SetStackPolicy", "cloudformation:TagResource", "cloudformation:UntagResource",
                "cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet", "cloudformation:ExecuteChangeSet",
                "cloudformation:DeleteChangeSet"]),
            iam.PolicyStatement(sid="ReadTemplates", resources=["*"],
                                actions=["cloudformation:GetTemplateSummary", "cloudformation:ValidateTemplate"]),
            # Service Catalog keeps a copy of each product template in its own bucket and reads it with the launch
            # role; those objects are tagged servicecatalog:provisioning=true (Service Catalog admin guide, launch roles).
            iam.PolicyStatement(sid="TemplateObjects", resources=["*"], actions=["s3:GetObject"],
                                conditions={"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}}),
            iam.PolicyStatement(sid="EstateHandles", resources=[parameters], actions=["ssm:GetParameters", "ssm:GetParameter"]),
            iam.PolicyStatement(sid="CreateBoundedRoles", resources=[role_arns], conditions=bounded,
                                actions=["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:AttachRolePolicy",
                                         "iam:DetachRolePolicy"]),
            iam.PolicyStatement(sid="ManageProjectRoles", resources=[role_arns], actions=[
                "iam:DeleteRole", "iam:GetRole", "iam:TagRole", "iam:UntagRole", "iam:UpdateRoleDescription",
                "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:ListInstanceProfilesForRole"]),
            iam.PolicyStatement(sid="PassProjectRoles", resources=[role_arns], actions=["iam:PassRole"], conditions={
                "StringEquals": {"iam:PassedToService": ["sagemaker.amazonaws.com", "events.amazonaws.com"]}}),
            iam.PolicyStatement(sid="ProjectPolicies", resources=[policy_arns], actions=[
                "iam:CreatePolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion",
                "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:ListEntitiesForPolicy",
                "iam:TagPolicy", "iam:UntagPolicy"]),
            iam.PolicyStatement(sid="ProjectPipelines", resources=[pipelines], actions=[
                "sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:DeletePipeline", "sagemaker:DescribePipeline",
                "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags"]),
            iam.PolicyStatement(sid="ProjectRules", resources=[rules], actions=[
                "events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:PutTargets", "events:RemoveTargets",
                "events:ListTargetsByRule",
                "events:TagResource", "events:UntagResource"]),
        ]
        policy = iam.ManagedPolicy(self, "LaunchPolicy", statements=statements, roles=[role],
                                   description=f"{config.name}: what the SageMaker project templates create, and nothing else")
        acknowledge(
            policy,
            "Service Catalog names each provisioned stack SC-<account>-pp-<id>, and CloudFormation names the roles, policies "
            "and rules a template creates after that stack; project pipelines are named <estate>-project-<project>-build. "
            "The launch role is scoped to exactly those name prefixes, its roles to the project permissions boundary, "
            "and it reads only Service Catalog's template copies and the estate's /projects SSM parameters.",
            *(f"AwsSolutions-IAM5[Resource::{_nag(stack, r)}]" for r in (stacks, parameters, role_arns, policy_arns, pipelines, rules)),
        )
        acknowledge(policy, "cloudformation:GetTemplateSummary and ValidateTemplate act on a template, not a resource, and "
                            "have no resource-level permissions; s3:GetObject reads only objects Service Catalog tagged "
                            "servicecatalog:provisioning=true (its template copies), in a bucket it owns.",
                    "AwsSolutions-IAM5[Resource::*]")
        return role

    def _boundary(self, stack: Stack, config: EstateConfig, artifacts: SecureBucket, data: SecureBucket,
                  models_key: kms.IKey) -> iam.ManagedPolicy:
        """The most any role a project creates may ever do, whatever its own policies say."""
        account, region, partition = stack.account, stack.region, stack.partition
        registry = registry_location(config)
        sagemaker_arn = f"arn:{partition}:sagemaker:{region}:{account}"
        job_resources = [f"{sagemaker_arn}:processing-job/pipelines-*", f"{sagemaker_arn}:training-job/pipelines-*"]
        shared_key = f"arn:{partition}:kms:{region}:{registry.account}:key/*"
        shared_objects = f"{registry.artifacts_bucket_arn}/{ARTIFACTS_PREFIX}/*"
        statements = [
            iam.PolicyStatement(sid="PipelineJobs", resources=job_resources, actions=[
                "sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob",
                "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:AddTags"]),
            iam.PolicyStatement(sid="RegisterInSharedRegistry", actions=[
                "sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup",
                "sagemaker:AddTags"], resources=[f"arn:{partition}:sagemaker:{region}:{registry.account}:model-package/{config.name}-*/*",
                                                 f"arn:{partition}:sagemaker:{region}:{registry.account}:model-package-group/{config.name}-*"]),
            iam.PolicyStatement(sid="StartProjectPipelines", actions=["sagemaker:StartPipelineExecution"],
                                resources=[f"{sagemaker_arn}:pipeline/{project_pipeline_prefix(config.name)}*"]),
            iam.PolicyStatement(sid="EstateBuckets", actions=[
                "s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:PutObject*", "s3:DeleteObject*", "s3:Abort*"],
                resources=[artifacts.bucket_arn, f"{artifacts.bucket_arn}/*", data.bucket_arn, f"{data.bucket_arn}/*",
                           registry.artifacts_bucket_arn, shared_objects]),
            iam.PolicyStatement(sid="EstateKeys", actions=[
                "kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"],
                resources=[models_key.key_arn, shared_key]),
            iam.PolicyStatement(sid="PullImages", actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                                           "ecr:BatchCheckLayerAvailability"],
                                resources=[f"arn:{partition}:ecr:{region}:*:repository/*"]),
            iam.PolicyStatement(sid="NoResourceLevel", resources=["*"], actions=[
                "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission",
                "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups"]),
            iam.PolicyStatement(sid="JobLogs", actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                                        "logs:DescribeLogStreams"],
                                resources=[f"arn:{partition}:logs:{region}:{account}:log-group:/aws/sagemaker/*"]),
            iam.PolicyStatement(sid="PassProjectRolesToSageMaker", actions=["iam:PassRole"],
                                resources=[f"arn:{partition}:iam::{account}:role/{provisioned_stack_prefix(account)}*"],
                                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
        ]
        boundary = iam.ManagedPolicy(self, "ProjectBoundary", statements=statements,
                                     description=f"{config.name}: permissions boundary of every role a SageMaker project creates")
        wildcard_resources = [*job_resources, *(s for s in statements[1].resources), statements[2].resources[0],
                              f"{artifacts.bucket_arn}/*", f"{data.bucket_arn}/*", shared_objects, shared_key,
                              f"arn:{partition}:ecr:{region}:*:repository/*", "*",
                              f"arn:{partition}:logs:{region}:{account}:log-group:/aws/sagemaker/*",
                              f"arn:{partition}:iam::{account}:role/{provisioned_stack_prefix(account)}*"]
        acknowledge(
            boundary,
            "A permissions boundary grants nothing: it caps every project role at the job types, buckets, keys, registry "
            "groups and project pipelines of the estate; each role's own least-privilege policy (TrainingPipeline) names "
            "the exact resources. Job names, log streams and project role names are generated, hence the prefixes.",
            *sorted({f"AwsSolutions-IAM5[Resource::{_nag(stack, r)}]" for r in wildcard_resources}),
            "AwsSolutions-IAM5[Action::s3:GetObject*]", "AwsSolutions-IAM5[Action::s3:GetBucket*]",
            "AwsSolutions-IAM5[Action::s3:List*]", "AwsSolutions-IAM5[Action::s3:PutObject*]",
            "AwsSolutions-IAM5[Action::s3:DeleteObject*]", "AwsSolutions-IAM5[Action::s3:Abort*]",
            "AwsSolutions-IAM5[Action::kms:ReEncrypt*]", "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        )
        return boundary

    # -- Studio side: the personas that create projects ----------------------------------------------------------

    def _creator_policy(self, stack: Stack, roles: Sequence[iam.IRole]) -> iam.ManagedPolicy:
        account, region, partition = stack.account, stack.region, stack.partition
        projects = f"arn:{partition}:sagemaker:{region}:{account}:project/*"
        products = [p.product_arn for p in self.products.values()]
        statements = [
            iam.PolicyStatement(sid="Projects", resources=[projects], actions=[
                "sagemaker:CreateProject", "sagemaker:DescribeProject", "sagemaker:UpdateProject", "sagemaker:DeleteProject",
                # CreateProject tags the project it creates.
                "sagemaker:AddTags", "sagemaker:ListTags"]),
            iam.PolicyStatement(sid="ListProjects", resources=["*"], actions=["sagemaker:ListProjects"]),
            iam.PolicyStatement(sid="LaunchEstateTemplates", resources=products, actions=[
                "servicecatalog:DescribeProduct", "servicecatalog:DescribeProductView",
                "servicecatalog:DescribeProvisioningParameters", "servicecatalog:ListLaunchPaths",
                "servicecatalog:ProvisionProduct"]),
            iam.PolicyStatement(sid="FindTemplates", resources=["*"], actions=["servicecatalog:SearchProducts"]),
            iam.PolicyStatement(sid="OwnProvisionedProjects", resources=["*"],
                                conditions={"StringEquals": {"servicecatalog:roleLevel": "self"}}, actions=[
                "servicecatalog:DescribeProvisionedProduct", "servicecatalog:DescribeRecord",
                "servicecatalog:ListRecordHistory", "servicecatalog:ScanProvisionedProducts",
                "servicecatalog:SearchProvisionedProducts", "servicecatalog:TerminateProvisionedProduct",
                "servicecatalog:UpdateProvisionedProduct"]),
        ]
        policy = iam.ManagedPolicy(self, "CreatorPolicy", statements=statements, roles=list(roles),
                                   description=f"{self.estate_name}: create SageMaker projects from the estate's templates only")
        acknowledge(
            policy,
            "Project names are chosen by users at creation, so CreateProject and its companions take project/* of this "
            "account; SageMaker provisions only products of the portfolio these roles are associated with, and the "
            "launch itself is limited to the estate's template products by ARN.",
            f"AwsSolutions-IAM5[Resource::{_nag(stack, projects)}]",
        )
        acknowledge(
            policy,
            "ListProjects and SearchProducts have no resource-level permissions; the provisioned-product calls are "
            "limited to products this role provisioned (servicecatalog:roleLevel = self).",
            "AwsSolutions-IAM5[Resource::*]",
        )
        return policy


def _nag(stack: Stack, value: str) -> str:
    from mlops_estate.nag import flatten_reference

    return flatten_reference(stack.resolve(value))
