"""SageMaker Projects templates: the estate's model-build and model-deploy compositions as AWS Service Catalog products.

Where things live (all in the ML dev account, where Studio runs and where SageMaker provisions a project):

- **`ProjectTemplates`**: a Service Catalog portfolio, two products per configured model (a `ModelBuildProduct` and a
  `ModelDeployProduct` template, tagged ``sagemaker:studio-visibility=true`` so Studio lists them), a launch constraint per product with
  one least-privilege launch role (assumable only by Service Catalog of this account), the permissions boundary
  every role a project creates must carry, the SSM parameters through which a template finds the estate, and the
  Studio-side policy that lets the chosen personas see and launch exactly these products.
- **`ModelBuildProduct`**: the template. It reuses the estate's reference build definition
  (`pipeline.reference.training_definition`) and `TrainingPipeline`, in the estate's VPC, with the estate's
  buckets and models key (read from SSM at launch: the template has no literal resource ids and no file assets),
  and registers candidates in the model's own package group of the shared registry, so a project's candidates go
  through the same approval and promotion as the reference pipeline's. Optionally (``RetrainOnDrift``) the
  model's drift alarms and violating monitor executions, forwarded to the estate bus, restart it.
- **`ModelDeployProduct`** (model_deploy_product.py): one registered version on a validation endpoint in ML dev,
  with data capture and a data-quality monitor; approval in the shared registry promotes it.

Names: what a template names starts with ``<estate>-project-``: the build pipeline continues with the project name
(``<estate>-project-<SageMakerProjectName>-build``), everything the deploy template names with the project id
(``<estate>-project-<SageMakerProjectId>``: its endpoint, model, endpoint config, dashboard, monitoring schedule, job
definition and monitor alarms; its log group is ``/aws/sagemaker/Endpoints/<estate>-project-<SageMakerProjectId>``);
every other resource is named by CloudFormation after the Service Catalog stack (``SC-<account>-pp-...``). The launch
role's permissions are scoped to exactly those prefixes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Aws, CfnCondition, CfnParameter, CfnResource, Fn, Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicecatalog as servicecatalog
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_estate.config.estate import EstateConfig, ModelConfig
from mlops_estate.security.encryption import EstateKeys
from mlops_estate.events.event_bus import estate_bus_name
from mlops_estate.projects.model_deploy import ModelDeployProduct
from mlops_estate.monitoring.drift_monitor import DriftFunctions
from mlops_estate.core.patterns import S3_URI
from mlops_estate.monitoring.naming import monitor_role_path
from mlops_estate.core.nag import acknowledge, nag_text, wildcard_findings
from mlops_estate.core.validation import Problems
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.reference.pipelines import BuildLocations, training_definition
from mlops_estate.pipeline.training_pipeline import CrossAccountStore, PipelineStorage, TrainingPipeline
from mlops_estate.config.registry import registry_location
from mlops_estate.config.retraining import retraining_triggers
from mlops_estate.lifecycle.registry import ARTIFACTS_PREFIX
from mlops_estate.lifecycle.retraining_triggers import DriftAlarmTrigger, MonitoringViolationTrigger
from mlops_estate.projects.product import (
    PROJECT_NAME_PATTERN,
    STUDIO_VISIBILITY_TAG,
    ProjectProduct,
    handles_prefix,
    project_prefix,
    provisioned_stack_prefix,
    subnet_handles,
)
from mlops_estate.security.sagemaker_workload import SAGEMAKER_METRIC_NAMESPACES, workload_statements
from mlops_estate.security.storage import SecureBucket

__all__ = ["PROJECT_NAME_PATTERN", "EstateHandles", "ModelBuildProduct", "ModelDeployProduct", "ProjectTemplates"]

# What the roles a project creates publish metrics to: jobs and endpoints SageMaker's namespaces (and the endpoint
# invocation metrics' AWS/SageMaker), Model Monitor aws/sagemaker/Endpoints/... .
PROJECT_METRIC_NAMESPACES = (*SAGEMAKER_METRIC_NAMESPACES, "AWS/SageMaker", "aws/sagemaker/*")
# The SSM parameters (under /<estate>/projects/) a build template reads at launch, by key (and one per subnet).
BUILD_HANDLES = ("vpc-id", "security-group-id", "artifacts-bucket", "data-bucket", "models-key-arn", "boundary-arn")


class EstateHandles(Construct):
    """SSM parameters naming the estate resources a project template uses: written here, read at launch.

    Args:
        scope: the parent construct.
        id: the construct id.
        estate_name: the estate's name (the parameters live under ``/<estate>/projects/``).
        placement: the ML dev VPC placement (VPC, subnets, security group).
        artifacts: the ML dev artifacts bucket.
        data: the ML dev data bucket.
        keys: the estate's keys (models, data, monitoring, logs).
        boundary: the permissions boundary every project role carries.
        extra: more handles by key (e.g. the shared drift functions' ARNs and script URI).
    """

    def __init__(self, scope: Construct, id: str, *, estate_name: str, placement: NetworkPlacement, artifacts: SecureBucket,
                 data: SecureBucket, keys: EstateKeys, boundary: iam.IManagedPolicy, extra: Mapping[str, str] | None = None) -> None:
        super().__init__(scope, id)
        self.prefix = handles_prefix(estate_name)
        values: dict[str, str] = {
            "vpc-id": placement.vpc.vpc_id,
            "security-group-id": placement.security_group.security_group_id,
            "artifacts-bucket": artifacts.bucket_name,
            "data-bucket": data.bucket_name,
            "models-key-arn": keys.models.key_arn,
            "boundary-arn": boundary.managed_policy_arn,
            "data-key-arn": keys.data.key_arn,
            "monitoring-key-arn": keys.monitoring.key_arn,
            "logs-key-arn": keys.logs.key_arn,
        }
        values.update(extra or {})
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


class ModelBuildProduct(ProjectProduct):
    """The model-build project template of one configured model (see the module docstring).

    Args:
        scope: the parent construct.
        id: the construct id.
        config: the estate configuration (estate glue).
        model: the model whose reference build the template runs.
        subnet_count: how many subnet handles the template reads.
    """

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, model: ModelConfig, subnet_count: int) -> None:
        super().__init__(scope, id, description=f"{config.name} estate: SageMaker project template, {model.name} model build")
        handle = self._handles(config.name, (*BUILD_HANDLES, *subnet_handles(subnet_count)))
        project = self.project
        self._govern(handle["boundary-arn"])
        placement = self._placement(config, handle, subnet_count)
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
        pipeline_name = f"{project_prefix(config.name)}{project}-build"
        self.pipeline = TrainingPipeline(
            self, "Build", pipeline_name=pipeline_name,
            definition=lambda jobs: training_definition(model, jobs, pipeline_name=pipeline_name, where=where),
            placement=placement, storage=storage,
            description=f"SageMaker project build of the {model.name} model: registers candidates in the shared registry",
        )
        self.retraining_rules = self._retraining(config, model)

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
    """The portfolio of SageMaker project templates of the ML dev account (see the module docstring).

    Args:
        scope: the parent construct.
        id: the construct id.
        config: the estate configuration (estate glue: which models get templates, names, version).
        placement: the ML dev VPC placement the templates' jobs and endpoints use.
        artifacts: the ML dev artifacts bucket.
        data: the ML dev data bucket.
        keys: the estate's keys.
        creators: the Studio execution roles (by persona) that may create projects from the templates.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EstateConfig,
        placement: NetworkPlacement,
        artifacts: SecureBucket,
        data: SecureBucket,
        keys: EstateKeys,
        creators: Mapping[str, iam.IRole],
    ) -> None:
        super().__init__(scope, id)
        settings = config.projects
        names = settings.template_models([m.name for m in config.models])
        problems = Problems()
        if not creators:
            problems.add("creators", f"{dict(creators)!r} is empty; expected the Studio execution roles that may create projects")
        if not names:
            problems.add("config.projects", "selects no model; nothing to publish (enable projects or configure a model)")
        problems.raise_if_any(self.node.path)
        stack = Stack.of(self)
        self.estate_name = config.name
        self.version = settings.version
        self.team = config.tags.team
        by_name = {m.name: m for m in config.models}
        models = [by_name[name] for name in names]
        self.drift_functions = self._drift(config, placement, data, keys, models)
        self.boundary = self._boundary(stack, config, placement.vpc.vpc_id, artifacts, data, keys, models)
        drift = {"drift-resolver-arn": self.drift_functions.resolver.function_arn,
                 "drift-publisher-arn": self.drift_functions.publisher.function_arn} if self.drift_functions else {}
        self.handles = EstateHandles(self, "Handles", estate_name=config.name, placement=placement, artifacts=artifacts,
                                     data=data, keys=keys, boundary=self.boundary, extra=drift)
        self.portfolio = servicecatalog.Portfolio(
            self, "Portfolio", display_name=f"{config.name} SageMaker project templates", provider_name=config.tags.team,
            description=f"Model-build and model-deploy templates of the {config.name} estate for SageMaker Studio projects")
        self.launch_role = self._launch_role(stack, config, keys, names)
        self.products: dict[str, servicecatalog.CloudFormationProduct] = {}
        self.templates: dict[str, ModelBuildProduct] = {}
        self.deploy_products: dict[str, servicecatalog.CloudFormationProduct] = {}
        self.deploy_templates: dict[str, ModelDeployProduct] = {}
        for model in models:
            name = model.name
            self.templates[name] = ModelBuildProduct(self, f"Template-{name}", config=config, model=model,
                                                     subnet_count=self.handles.subnet_count)
            self.products[name] = self._publish(
                f"Product-{name}", self.templates[name], product_name=f"{config.name} {name} model build",
                description=f"A SageMaker pipeline that builds, evaluates and registers the {name} model in the shared "
                            "registry, in the estate's private network with its keys")
            deploy = self.deploy_templates[name] = ModelDeployProduct(self, f"DeployTemplate-{name}", config=config, model=model,
                                                                      subnet_count=self.handles.subnet_count)
            monitored = " and data-quality monitoring" if deploy.monitor is not None else ""
            self.deploy_products[name] = self._publish(
                f"DeployProduct-{name}", deploy, product_name=f"{config.name} {name} model deploy",
                description=f"A validation endpoint in ML dev for one registered version of the {name} model, with data "
                            f"capture{monitored}; approving the version in the shared registry promotes it")
        for persona in sorted(creators):
            self.portfolio.give_access_to_role(creators[persona])
        self.creator_policy = self._creator_policy(stack, list(creators.values()))

    @property
    def all_templates(self) -> dict[str, ProjectProduct]:
        """Every product template, as ``<model>-build`` and ``<model>-deploy``."""
        return {**{f"{n}-build": t for n, t in self.templates.items()},
                **{f"{n}-deploy": t for n, t in self.deploy_templates.items()}}

    def _publish(self, id: str, template: ProjectProduct, *, product_name: str, description: str) -> servicecatalog.CloudFormationProduct:
        """A product in the portfolio, listed in Studio, launched with the launch role."""
        product = servicecatalog.CloudFormationProduct(
            self, id, product_name=product_name, owner=self.team, description=description,
            product_versions=[servicecatalog.CloudFormationProductVersion(
                product_version_name=self.version,
                cloud_formation_template=servicecatalog.CloudFormationTemplate.from_product_stack(template),
                validate_template=True,
            )],
        )
        Tags.of(product).add(*STUDIO_VISIBILITY_TAG)
        self.portfolio.add_product(product)
        self.portfolio.set_launch_role(product, self.launch_role,
                                       description="Launch with the estate's bounded project launch role")
        return product

    def _drift(self, config: EstateConfig, placement: NetworkPlacement, data: SecureBucket, keys: EstateKeys,
               models: Sequence[ModelConfig]) -> DriftFunctions | None:
        """The portable drift engine's functions, shared by every deploy project of a model on that engine (a project
        template cannot carry their code assets itself): endpoints, captures and reports by the project prefix."""
        if not any(m.monitoring is not None and m.monitoring.engine == "processing" and m.monitoring.data_quality for m in models):
            return None
        named = project_prefix(config.name)
        return DriftFunctions(
            self, "DriftFunctions", placement=placement, queue_key=keys.monitoring, logs_key=keys.logs, endpoints=f"{named}*",
            capture=data, capture_keys=f"data-capture/{named}*", reports=data, reports_prefix=f"{named}*",
            model_package_account=registry_location(config).account,
        )

    # -- the launch role and the boundary of what it creates -----------------------------------------------------

    def _launch_role(self, stack: Stack, config: EstateConfig, keys: EstateKeys, models: Sequence[str]) -> iam.Role:
        account, region, partition = stack.account, stack.region, stack.partition
        prefix = provisioned_stack_prefix(account)
        named = project_prefix(config.name)
        role = iam.Role(
            self, "LaunchRole",
            assumed_by=iam.ServicePrincipal("servicecatalog.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": account}}),
            description=f"{config.name}: Service Catalog provisions SageMaker project templates with this role",
        )
        # Model Monitor roles live under the estate's monitor path (see monitoring_config.monitor_role_path).
        role_arns = [f"arn:{partition}:iam::{account}:role/{prefix}*",
                     f"arn:{partition}:iam::{account}:role{monitor_role_path(config.name)}{prefix}*"]
        policy_arns = f"arn:{partition}:iam::{account}:policy/{prefix}*"
        stacks = f"arn:{partition}:cloudformation:{region}:{account}:stack/{prefix}*/*"
        pipelines = f"arn:{partition}:sagemaker:{region}:{account}:pipeline/{project_prefix(config.name)}*"
        rules = [f"arn:{partition}:events:{region}:{account}:rule/{estate_bus_name(config.name, 'ml_dev')}/{prefix}*",
                 f"arn:{partition}:events:{region}:{account}:rule/{prefix}*"]
        sagemaker_arn = f"arn:{partition}:sagemaker:{region}:{account}"
        serving = [f"{sagemaker_arn}:{kind}/{named}*"
                   for kind in ("model", "endpoint-config", "endpoint", "monitoring-schedule", "data-quality-job-definition")]
        registry = registry_location(config)
        log_groups = f"arn:{partition}:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/{named}*"
        all_log_groups = f"arn:{partition}:logs:{region}:{account}:log-group:*"
        dashboards = f"arn:{partition}:cloudwatch::{account}:dashboard/{named}*"
        alarms = [f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{p}*" for p in (named, prefix)]
        topics = f"arn:{partition}:sns:{region}:{account}:{prefix}*"
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
            iam.PolicyStatement(sid="CreateBoundedRoles", resources=role_arns, conditions=bounded,
                                actions=["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:AttachRolePolicy",
                                         "iam:DetachRolePolicy"]),
            iam.PolicyStatement(sid="ManageProjectRoles", resources=role_arns, actions=[
                "iam:DeleteRole", "iam:GetRole", "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags",
                "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
                "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:ListInstanceProfilesForRole"]),
            iam.PolicyStatement(sid="PassProjectRoles", resources=role_arns, actions=["iam:PassRole"], conditions={
                "StringEquals": {"iam:PassedToService": ["sagemaker.amazonaws.com", "events.amazonaws.com",
                                                         "scheduler.amazonaws.com"]}}),
            iam.PolicyStatement(sid="ProjectPolicies", resources=[policy_arns], actions=[
                "iam:CreatePolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion",
                "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:ListEntitiesForPolicy",
                "iam:TagPolicy", "iam:UntagPolicy"]),
            iam.PolicyStatement(sid="ProjectPipelines", resources=[pipelines], actions=[
                "sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:DeletePipeline", "sagemaker:DescribePipeline",
                "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags"]),
            # The deploy templates' drift pipelines run on EventBridge Scheduler schedules named after the stack.
            iam.PolicyStatement(sid="ProjectSchedules", resources=[f"arn:{partition}:scheduler:{region}:{account}:schedule/default/{prefix}*"],
                                actions=["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule",
                                         "scheduler:GetSchedule"]),
            iam.PolicyStatement(sid="ProjectRules", resources=rules, actions=[
                "events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:PutTargets", "events:RemoveTargets",
                "events:ListTargetsByRule",
                "events:TagResource", "events:UntagResource", "events:ListTagsForResource"]),
            # The deploy templates: a validation endpoint, its model and config, and a data-quality monitor.
            iam.PolicyStatement(sid="ProjectEndpoints", resources=serving, actions=[
                "sagemaker:CreateModel", "sagemaker:DeleteModel", "sagemaker:DescribeModel",
                "sagemaker:CreateEndpointConfig", "sagemaker:DeleteEndpointConfig", "sagemaker:DescribeEndpointConfig",
                "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DeleteEndpoint", "sagemaker:DescribeEndpoint",
                "sagemaker:CreateMonitoringSchedule", "sagemaker:UpdateMonitoringSchedule",
                "sagemaker:DeleteMonitoringSchedule", "sagemaker:DescribeMonitoringSchedule",
                "sagemaker:CreateDataQualityJobDefinition", "sagemaker:DeleteDataQualityJobDefinition",
                "sagemaker:DescribeDataQualityJobDefinition",
                "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags"]),
            # CreateModel reads the registered version it deploys (the registry's group policy admits this account).
            iam.PolicyStatement(sid="RegisteredVersions", resources=[registry.packages_arn(m) for m in models],
                                actions=["sagemaker:DescribeModelPackage"]),
            # SageMaker encrypts the endpoint's volumes, captures and monitoring jobs through grants of the caller.
            iam.PolicyStatement(sid="EstateKeyGrants", resources=[keys.models.key_arn, keys.data.key_arn, keys.monitoring.key_arn],
                                actions=["kms:CreateGrant"], conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}}),
            iam.PolicyStatement(sid="DescribeEstateKeys", actions=["kms:DescribeKey"],
                                resources=[keys.models.key_arn, keys.data.key_arn, keys.monitoring.key_arn]),
            iam.PolicyStatement(sid="EndpointLogGroups", resources=[log_groups], actions=[
                "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
                "logs:AssociateKmsKey", "logs:DisassociateKmsKey", "logs:TagResource", "logs:UntagResource",
                "logs:ListTagsForResource", "logs:TagLogGroup", "logs:UntagLogGroup", "logs:ListTagsLogGroup",
                # The log-group handler reads (and on delete removes) the group's data protection and index policies.
                "logs:GetDataProtectionPolicy", "logs:DeleteDataProtectionPolicy", "logs:DescribeIndexPolicies"]),
            iam.PolicyStatement(sid="DescribeLogGroups", resources=[all_log_groups], actions=["logs:DescribeLogGroups"]),
            # The log-group handler lists the account's log resource policies; the action has no resource type.
            iam.PolicyStatement(sid="DescribeLogResourcePolicies", resources=["*"], actions=["logs:DescribeResourcePolicies"]),
            # The dashboard is tagged (template and Service Catalog tags): its handler tags on create, reads tags back
            # and retags on update.
            iam.PolicyStatement(sid="EndpointDashboards", resources=[dashboards], actions=[
                "cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards",
                "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"]),
            iam.PolicyStatement(sid="ProjectAlarms", resources=alarms, actions=[
                "cloudwatch:PutMetricAlarm", "cloudwatch:PutCompositeAlarm", "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource",
                "cloudwatch:ListTagsForResource"]),
            iam.PolicyStatement(sid="AlarmTopics", resources=[topics], actions=[
                "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
                "sns:TagResource", "sns:UntagResource", "sns:ListTagsForResource",
                "sns:GetDataProtectionPolicy", "sns:ListSubscriptionsByTopic"]),
        ]
        # IAM caps a managed policy at 6,144 characters: the launch permissions are split into what every template
        # provisions, what the deploy templates serve with, and the registered versions (one ARN per template model).
        split = next(i for i, st in enumerate(statements) if st.sid == "ProjectEndpoints")
        parts = {
            "LaunchPolicy": ("", statements[:split]),
            "LaunchServingPolicy": (" (deploy templates: endpoints, monitors, logs, dashboards, alarms, topics)",
                                    [st for st in statements[split:] if st.sid != "RegisteredVersions"]),
            "LaunchVersionsPolicy": (" (deploy templates: the registered versions they deploy)",
                                     [st for st in statements if st.sid == "RegisteredVersions"]),
        }
        self.launch_policies: list[iam.ManagedPolicy] = []
        for policy_id, (what, part) in parts.items():
            policy = iam.ManagedPolicy(
                self, policy_id, statements=part, roles=[role],
                description=f"{config.name}: what the SageMaker project templates create, and nothing else{what}")
            self.launch_policies.append(policy)
            findings = {f for statement in part for f in wildcard_findings(policy, statement)}
            scoped = sorted(findings - {"AwsSolutions-IAM5[Resource::*]"})
            if scoped:
                acknowledge(
                    policy,
                    "Service Catalog names each provisioned stack SC-<account>-pp-<id>, and CloudFormation names the roles, "
                    "policies, rules, topics and alarms a template creates after that stack; everything a template names "
                    "itself (pipelines, endpoints, models, endpoint configs, monitoring schedules and job definitions, "
                    "dashboards, log groups, alarms) starts with <estate>-project-<project>, and deployable versions are "
                    "those of the template models' registry groups. The launch role is scoped to exactly those prefixes, "
                    "its roles to the project permissions boundary, and it reads only Service Catalog's template copies and "
                    "the estate's /projects SSM parameters; DescribeLogGroups takes log-group:* (it lists).",
                    *scoped,
                )
            if "AwsSolutions-IAM5[Resource::*]" in findings:
                acknowledge(policy, "cloudformation:GetTemplateSummary and ValidateTemplate act on a template, not a "
                                    "resource, and have no resource-level permissions, nor has logs:DescribeResourcePolicies "
                                    "(it lists the account's CloudWatch Logs resource policies, read-only, for the log-group "
                                    "handler); s3:GetObject reads only objects Service Catalog tagged "
                                    "servicecatalog:provisioning=true (its template copies), in a bucket it owns.",
                            "AwsSolutions-IAM5[Resource::*]")
        return role

    def _boundary(self, stack: Stack, config: EstateConfig, vpc_id: str, artifacts: SecureBucket, data: SecureBucket,
                  keys: EstateKeys, models: Sequence[ModelConfig]) -> iam.ManagedPolicy:
        """The most any role a project creates may ever do, whatever its own policies say."""
        account, region, partition = stack.account, stack.region, stack.partition
        registry = registry_location(config)
        sagemaker_arn = f"arn:{partition}:sagemaker:{region}:{account}"
        job_resources = [f"{sagemaker_arn}:processing-job/pipelines-*", f"{sagemaker_arn}:training-job/pipelines-*"]
        # A deploy template's alarms: named <estate>-project-<id>-..., or after the provisioned stack when unnamed.
        alarms = [f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{p}*"
                  for p in (project_prefix(config.name), provisioned_stack_prefix(account))]
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
                                resources=[f"{sagemaker_arn}:pipeline/{project_prefix(config.name)}*"]),
            iam.PolicyStatement(sid="EstateBuckets", actions=[
                "s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:PutObject*", "s3:DeleteObject*", "s3:Abort*"],
                resources=[artifacts.bucket_arn, f"{artifacts.bucket_arn}/*", data.bucket_arn, f"{data.bucket_arn}/*",
                           registry.artifacts_bucket_arn, shared_objects]),
            iam.PolicyStatement(sid="EstateKeys", actions=[
                "kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"],
                resources=[keys.models.key_arn, keys.data.key_arn, keys.monitoring.key_arn, shared_key]),
            iam.PolicyStatement(sid="PullImages", actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                                           "ecr:BatchCheckLayerAvailability"],
                                resources=[f"arn:{partition}:ecr:{region}:*:repository/*"]),
            # Logs, metrics, the ECR login and network interfaces in the estate's VPC: what every VPC SageMaker
            # workload needs, capped at the namespaces the project roles publish to.
            *workload_statements(stack, vpc_id=vpc_id, metric_namespaces=PROJECT_METRIC_NAMESPACES).all,
            # Deployment guardrails read an endpoint's auto-rollback alarms with its execution role (ModelEndpoint).
            iam.PolicyStatement(sid="RollbackAlarms", actions=["cloudwatch:DescribeAlarms"], resources=alarms),
            iam.PolicyStatement(sid="PassProjectRolesToSageMaker", actions=["iam:PassRole"],
                                resources=[f"arn:{partition}:iam::{account}:role/{provisioned_stack_prefix(account)}*"],
                                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
        ]
        if self.drift_functions is not None:
            # The deploy templates' drift pipelines invoke the shared functions.
            statements.append(iam.PolicyStatement(sid="InvokeDriftFunctions", actions=["lambda:InvokeFunction"], resources=[
                self.drift_functions.resolver.function_arn, self.drift_functions.publisher.function_arn]))
        baselines = _data_quality_baselines(models)
        if baselines:
            # The deploy templates' data-quality monitors read the model's training baseline.
            statements.append(iam.PolicyStatement(sid="MonitorBaselines", actions=["s3:GetObject"], resources=baselines))
        boundary = iam.ManagedPolicy(self, "ProjectBoundary", statements=statements,
                                     description=f"{config.name}: permissions boundary of every role a SageMaker project creates")
        acknowledge(
            boundary,
            "A permissions boundary grants nothing: it caps every project role at the job types, buckets, keys, registry "
            "groups, project pipelines and alarms of the estate; each role's own least-privilege policy (TrainingPipeline, "
            "ModelEndpoint, ModelMonitor) names the exact resources. Job names, log streams, captured and report objects, "
            "project role names and unnamed alarms are generated, hence the prefixes; ECR login, EC2 describe and "
            "metric calls have no resource-level permissions.",
            *sorted({f for statement in statements for f in wildcard_findings(boundary, statement)}),
        )
        return boundary

    # -- Studio side: the personas that create projects ----------------------------------------------------------

    def _creator_policy(self, stack: Stack, roles: Sequence[iam.IRole]) -> iam.ManagedPolicy:
        account, region, partition = stack.account, stack.region, stack.partition
        projects = f"arn:{partition}:sagemaker:{region}:{account}:project/*"
        products = [p.product_arn for p in (*self.products.values(), *self.deploy_products.values())]
        endpoints = f"arn:{partition}:sagemaker:{region}:{account}:endpoint/{project_prefix(self.estate_name)}*"
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
            # What a deploy project is for: sending test requests to its validation endpoint.
            iam.PolicyStatement(sid="ValidateProjectEndpoints", resources=[endpoints], actions=[
                "sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint"]),
        ]
        policy = iam.ManagedPolicy(self, "CreatorPolicy", statements=statements, roles=list(roles),
                                   description=f"{self.estate_name}: create SageMaker projects from the estate's templates only")
        acknowledge(
            policy,
            "Project names are chosen by users at creation, so CreateProject and its companions take project/* of this "
            "account; SageMaker provisions only products of the portfolio these roles are associated with, and the "
            "launch itself is limited to the estate's template products by ARN.",
            f"AwsSolutions-IAM5[Resource::{nag_text(self, projects)}]",
        )
        acknowledge(
            policy,
            "Deploy projects name their validation endpoint <estate>-project-<project>, chosen at launch; invoking is "
            "limited to those endpoints of this account.",
            f"AwsSolutions-IAM5[Resource::{nag_text(self, endpoints)}]",
        )
        acknowledge(
            policy,
            "ListProjects and SearchProducts have no resource-level permissions; the provisioned-product calls are "
            "limited to products this role provisioned (servicecatalog:roleLevel = self).",
            "AwsSolutions-IAM5[Resource::*]",
        )
        return policy


def _data_quality_baselines(models: Sequence[ModelConfig]) -> list[str]:
    """The S3 objects of the Model Monitor data-quality baselines (constraints and statistics) of the models that use
    that engine."""
    uris = {uri for m in models if m.monitoring is not None and m.monitoring.engine == "model_monitor"
            and m.monitoring.data_quality is not None
            for uri in (m.monitoring.data_quality.constraints_uri, m.monitoring.data_quality.statistics_uri)}
    arns = []
    for uri in sorted(uris):
        match = S3_URI.match(uri)
        assert match is not None, uri  # validated by MonitoringConfig
        arns.append(f"arn:{Aws.PARTITION}:s3:::{match['bucket']}/{match['key']}")
    return arns

