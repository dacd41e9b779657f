"""The synth-time mirror of the guardrail SCP: non-compliant SageMaker resources fail synth, naming path and Sid."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from aws_cdk import Aspects
from aws_cdk import aws_sagemaker as sm

from mlops_estate.config.governance import GuardrailsConfig, guardrail_options
from mlops_estate.governance.guardrail_check import GuardrailCheck
from mlops_estate.governance.guardrails import GuardrailOptions
from tests.helpers import default_config, make_app, make_stack, model_monitor_config

DEV = "444444444444"
KEY = "arn:aws:kms:eu-west-1:444444444444:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VPC = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]}


def options(**rules: object) -> GuardrailOptions:
    base = guardrail_options(default_config())
    return replace(base, rules=replace(base.rules, **rules)) if rules else base


def variant(instance_type: str = "ml.m5.large") -> sm.CfnEndpointConfig.ProductionVariantProperty:
    return sm.CfnEndpointConfig.ProductionVariantProperty(variant_name="a", model_name="m", instance_type=instance_type,
                                                          initial_instance_count=1)


def monitoring_job(**network: object) -> dict[str, object]:
    return dict(
        job_resources={"clusterConfig": {"instanceCount": 1, "instanceType": "ml.m5.large", "volumeSizeInGb": 20}},
        role_arn="arn:aws:iam::444444444444:role/monitor",
        network_config=network or None,
    )


def synth_errors(build, opts: GuardrailOptions | None = None, account: str = DEV) -> str:
    app = make_app()
    stack = make_stack(app, account=account)
    build(stack)
    Aspects.of(stack).add(GuardrailCheck(opts or options()))
    try:
        app.synth()
    except Exception as error:  # jsii surfaces the CDK validation error as a RuntimeError
        return str(error)
    return ""


def non_compliant(stack) -> None:
    sm.CfnEndpointConfig(stack, "EndpointConfig", production_variants=[variant("ml.p4d.24xlarge")])
    sm.CfnNotebookInstance(stack, "Notebook", instance_type="ml.t3.medium", role_arn="arn:aws:iam::444444444444:role/n")
    sm.CfnDomain(stack, "Domain", auth_mode="IAM", domain_name="d", vpc_id="vpc-0123456789abcdef0", subnet_ids=["subnet-0123456789abcdef0"],
                 default_user_settings=sm.CfnDomain.UserSettingsProperty(execution_role="arn:aws:iam::444444444444:role/s"))
    sm.CfnFeatureGroup(stack, "Features", feature_group_name="f", record_identifier_feature_name="id", event_time_feature_name="t",
                       feature_definitions=[sm.CfnFeatureGroup.FeatureDefinitionProperty(feature_name="id", feature_type="String")],
                       online_store_config={"EnableOnlineStore": True})
    sm.CfnDataQualityJobDefinition(
        stack, "DataQuality",
        data_quality_app_specification={"imageUri": "i"},
        data_quality_job_input={"endpointInput": {"endpointName": "e", "localPath": "/opt/ml/processing/input"}},
        data_quality_job_output_config={"monitoringOutputs": [{"s3Output": {"localPath": "/o", "s3Uri": "s3://b/o"}}]},
        **monitoring_job(),
    )
    sm.CfnMonitoringSchedule(stack, "InlineSchedule", monitoring_schedule_name="s", monitoring_schedule_config={
        "monitoringJobDefinition": {
            "monitoringAppSpecification": {"imageUri": "i"},
            "monitoringInputs": [{"endpointInput": {"endpointName": "e", "localPath": "/i"}}],
            "monitoringOutputConfig": {"monitoringOutputs": [{"s3Output": {"localPath": "/o", "s3Uri": "s3://b/o"}}]},
            "monitoringResources": {"clusterConfig": {"instanceCount": 1, "instanceType": "ml.m5.large", "volumeSizeInGb": 20}},
            "roleArn": "arn:aws:iam::444444444444:role/monitor",
        }})
    sm.CfnPipeline(stack, "Pipeline", pipeline_name="p", role_arn="arn:aws:iam::444444444444:role/p", pipeline_definition={
        "PipelineDefinitionBody": json.dumps({"Version": "2020-12-01", "Steps": [{
            "Name": "Train", "Type": "Training",
            "Arguments": {"ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
                          "OutputDataConfig": {"S3OutputPath": "s3://b/m"}, "AlgorithmSpecification": {}},
        }, {
            "Name": "Tune", "Type": "Tuning",
            "Arguments": {"HyperParameterTuningJobConfig": {}, "TrainingJobDefinition": {
                "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30, "VolumeKmsKeyId": KEY},
                "OutputDataConfig": {"S3OutputPath": "s3://b/m", "KmsKeyId": KEY}, "VpcConfig": VPC,
                "EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": False}},
        }]})})


@pytest.fixture(scope="module")
def errors() -> str:
    return synth_errors(non_compliant)


@pytest.mark.parametrize(
    ("path", "sid", "detail"),
    [
        ("Test/EndpointConfig", "DenyEndpointConfigWithoutKmsKey", "the endpoint config has no KmsKeyId"),
        ("Test/EndpointConfig", f"DenyInstanceTypesOutsideAllowList{DEV}", "instance type 'ml.p4d.24xlarge' is not on the allow-list"),
        ("Test/Notebook", "DenyNotebookRootAccess", "RootAccess must be 'Disabled'"),
        ("Test/Notebook", "DenyNotebookDirectInternet", "DirectInternetAccess must be 'Disabled'"),
        ("Test/Notebook", "DenySageMakerWithoutVpcSubnets", "the notebook instance has no SubnetId"),
        ("Test/Notebook", "DenySageMakerWithoutVolumeKmsKey", "the notebook instance has no KmsKeyId"),
        ("Test/Domain", "DenyStudioDomainWithInternet", "AppNetworkAccessType must be 'VpcOnly'"),
        ("Test/Domain", "DenySageMakerWithoutVolumeKmsKey", "the Studio domain has no KmsKeyId"),
        ("Test/Features", "DenyFeatureGroupWithoutKmsKey", "the online store has no SecurityConfig.KmsKeyId"),
        ("Test/DataQuality", "DenySageMakerWithoutVpcSubnets", "the monitoring job definition has no VpcConfig.Subnets"),
        ("Test/DataQuality", "DenySageMakerWithoutNetworkIsolation", "the monitoring job definition does not set EnableNetworkIsolation"),
        ("Test/DataQuality", "DenySageMakerWithoutOutputKmsKey", "the monitoring job definition has no output KMS key"),
        ("Test/InlineSchedule", "DenySageMakerWithoutVolumeKmsKeyInlineMonitoring", "the inline monitoring job has no volume KMS key"),
        ("Test/Pipeline", "DenySageMakerWithoutVpcSubnets", "pipeline step 'Train' has no VpcConfig.Subnets"),
        ("Test/Pipeline", "DenySageMakerWithoutInterContainerEncryption", "pipeline step 'Train' does not set EnableInterContainerTrafficEncryption"),
        ("Test/Pipeline", "DenySageMakerWithoutInterContainerEncryption", "pipeline step 'Tune' does not set EnableInterContainerTrafficEncryption"),
    ],
)
def test_non_compliant_resource_fails_synth_naming_path_and_rule(errors, path, sid, detail):
    assert f"[{path}] denied by guardrail SCP statement {sid}: {detail}" in errors


def test_a_model_is_checked_only_when_models_must_be_in_a_vpc():
    def model(stack):
        sm.CfnModel(stack, "Model", execution_role_arn="arn:aws:iam::444444444444:role/m",
                    primary_container=sm.CfnModel.ContainerDefinitionProperty(image="i"))
    assert synth_errors(model) == ""
    errors = synth_errors(model, options(models_in_vpc=True))
    assert "[Test/Model] denied by guardrail SCP statement DenyModelWithoutVpc" in errors
    assert "[Test/Model] denied by guardrail SCP statement DenyModelWithoutNetworkIsolation" in errors


def test_a_rule_switched_off_in_config_is_not_checked():
    def notebook(stack):
        sm.CfnNotebookInstance(stack, "Notebook", instance_type="ml.t3.medium", role_arn="arn:aws:iam::444444444444:role/n",
                               kms_key_id=KEY, subnet_id="subnet-0123456789abcdef0", security_group_ids=["sg-0123456789abcdef0"])
    assert "DenyNotebookRootAccess" in synth_errors(notebook)
    assert synth_errors(notebook, options(notebook_lockdown=False)) == ""


def test_compliant_resources_synthesize():
    def compliant(stack):
        sm.CfnEndpointConfig(stack, "EndpointConfig", production_variants=[variant("ml.m5.large")], kms_key_id=KEY)
        sm.CfnNotebookInstance(stack, "Notebook", instance_type="ml.t3.medium", role_arn="arn:aws:iam::444444444444:role/n",
                               kms_key_id=KEY, subnet_id="subnet-0123456789abcdef0", security_group_ids=["sg-0123456789abcdef0"], root_access="Disabled",
                               direct_internet_access="Disabled")
        sm.CfnDataQualityJobDefinition(
            stack, "DataQuality",
            data_quality_app_specification={"imageUri": "i"},
            data_quality_job_input={"endpointInput": {"endpointName": "e", "localPath": "/opt/ml/processing/input"}},
            data_quality_job_output_config={"kmsKeyId": KEY, "monitoringOutputs": [{"s3Output": {"localPath": "/o", "s3Uri": "s3://b/o"}}]},
            job_resources={"clusterConfig": {"instanceCount": 1, "instanceType": "ml.m5.large", "volumeSizeInGb": 20, "volumeKmsKeyId": KEY}},
            role_arn="arn:aws:iam::444444444444:role/monitor",
            network_config={"enableNetworkIsolation": True, "enableInterContainerTrafficEncryption": True,
                            "vpcConfig": {"securityGroupIds": ["sg-0123456789abcdef0"], "subnets": ["subnet-0123456789abcdef0"]}},
        )
        sm.CfnMonitoringSchedule(stack, "NamedSchedule", monitoring_schedule_name="s", monitoring_schedule_config={
            "monitoringJobDefinitionName": "dq", "monitoringType": "DataQuality"})
    assert synth_errors(compliant) == ""


def test_every_finding_is_reported_at_once(errors):
    assert errors.count("denied by guardrail SCP statement") >= 15


def test_a_pipeline_definition_built_with_tokens_is_still_checked():
    from aws_cdk import aws_iam as iam

    def pipeline(stack):
        role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
        body = stack.to_json_string({"Version": "2020-12-01", "Steps": [{
            "Name": "Prep", "Type": "Processing",
            "Arguments": {"RoleArn": role.role_arn,
                          "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.p5.48xlarge", "InstanceCount": 1,
                                                                    "VolumeSizeInGB": 30, "VolumeKmsKeyId": KEY}}},
        }]})
        sm.CfnPipeline(stack, "Pipeline", pipeline_name="p", role_arn=role.role_arn,
                       pipeline_definition={"PipelineDefinitionBody": body})
    errors = synth_errors(pipeline)
    assert "[Test/Pipeline] denied by guardrail SCP statement DenySageMakerWithoutOutputKmsKey: pipeline step 'Prep'" in errors
    assert f"[Test/Pipeline] denied by guardrail SCP statement DenyInstanceTypesOutsideAllowList{DEV}: instance type 'ml.p5.48xlarge'" in errors
    assert "DenySageMakerWithoutVolumeKmsKey" not in errors


def test_a_compliant_setting_is_not_reported(errors):
    # The tuning step sets everything but inter-container encryption: that is its only finding.
    assert errors.count("pipeline step 'Tune'") == 1


def studio_and_cluster(stack) -> None:
    """Resources the SCP governs by instance type (and the cluster and domain by VPC), with parameters."""
    from aws_cdk import CfnParameter

    big = CfnParameter(stack, "ServingType", default="ml.p4d.24xlarge", allowed_values=["ml.p4d.24xlarge", "ml.m5.large", "ml.p5.48xlarge"])
    sm.CfnEndpointConfig(stack, "ParamEndpointConfig", production_variants=[variant(big.value_as_string)], kms_key_id=KEY)
    lab = {"defaultResourceSpec": {"instanceType": "ml.p5.48xlarge"}}
    sm.CfnDomain(stack, "OpenDomain", auth_mode="IAM", domain_name="o", vpc_id="vpc-0123456789abcdef0", kms_key_id=KEY,
                 app_network_access_type="VpcOnly",
                 default_user_settings=sm.CfnDomain.UserSettingsProperty(execution_role="arn:aws:iam::444444444444:role/s"))
    sm.CfnUserProfile(stack, "Profile", domain_id="d-1", user_profile_name="u",
                      user_settings={"jupyterLabAppSettings": lab})
    sm.CfnSpace(stack, "Space", domain_id="d-1", space_name="s",
                space_settings=sm.CfnSpace.SpaceSettingsProperty(jupyter_lab_app_settings={"defaultResourceSpec": {"instanceType": "ml.p3.8xlarge"}}))
    sm.CfnApp(stack, "App", app_name="a", app_type="JupyterLab", domain_id="d-1", user_profile_name="u",
              resource_spec=sm.CfnApp.ResourceSpecProperty(instance_type="ml.p3.16xlarge"))
    sm.CfnCluster(stack, "Cluster", cluster_name="c", instance_groups=[sm.CfnCluster.ClusterInstanceGroupProperty(
        execution_role="arn:aws:iam::444444444444:role/c", instance_count=1, instance_group_name="g", instance_type="ml.trn1.32xlarge")])
    sm.CfnPipeline(stack, "ParamPipeline", pipeline_name="pp", role_arn="arn:aws:iam::444444444444:role/p", pipeline_definition={
        "PipelineDefinitionBody": json.dumps({"Version": "2020-12-01", "Parameters": [
            {"Name": "TrainType", "Type": "String", "DefaultValue": "ml.p4de.24xlarge"},
            {"Name": "Epochs", "Type": "Integer", "DefaultValue": 3}], "Steps": [{
            "Name": "Train", "Type": "Training",
            "Arguments": {"ResourceConfig": {"InstanceType": {"Get": "Parameters.TrainType"}, "InstanceCount": 1,
                                             "VolumeSizeInGB": 30, "VolumeKmsKeyId": KEY},
                          "OutputDataConfig": {"S3OutputPath": "s3://b/m", "KmsKeyId": KEY}, "VpcConfig": VPC,
                          "EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True}}]})})


@pytest.fixture(scope="module")
def studio_errors() -> str:
    return synth_errors(studio_and_cluster)


ALLOW_LIST = f"DenyInstanceTypesOutsideAllowList{DEV}"


@pytest.mark.parametrize(
    ("path", "sid", "detail"),
    [
        ("Test/Domain", "DenySageMakerWithoutVpcSecurityGroups", "the Studio domain has no DefaultUserSettings.SecurityGroups"),
        ("Test/Cluster", "DenySageMakerWithoutVpcSubnets", "the HyperPod cluster has no VpcConfig.Subnets"),
        ("Test/Cluster", "DenySageMakerWithoutVpcSecurityGroups", "the HyperPod cluster has no VpcConfig.SecurityGroupIds"),
        ("Test/Cluster", ALLOW_LIST, "instance type 'ml.trn1.32xlarge' is not on the allow-list"),
        ("Test/Profile", ALLOW_LIST, "instance type 'ml.p5.48xlarge' is not on the allow-list"),
        ("Test/Space", ALLOW_LIST, "instance type 'ml.p3.8xlarge' is not on the allow-list"),
        ("Test/App", ALLOW_LIST, "instance type 'ml.p3.16xlarge' is not on the allow-list"),
        ("Test/ParamEndpointConfig", ALLOW_LIST, "instance type 'ml.p4d.24xlarge' (CloudFormation parameter 'ServingType') is not on"),
        ("Test/ParamEndpointConfig", ALLOW_LIST, "instance type 'ml.p5.48xlarge' (CloudFormation parameter 'ServingType') is not on"),
        ("Test/ParamPipeline", ALLOW_LIST, "instance type 'ml.p4de.24xlarge' (default of pipeline parameter 'TrainType') is not on"),
    ],
)
def test_studio_cluster_and_parameter_findings(errors, studio_errors, path, sid, detail):
    assert f"[{path}] denied by guardrail SCP statement {sid}: {detail}" in errors + studio_errors


def test_a_domain_without_subnets_is_denied(studio_errors):
    assert ("[Test/OpenDomain] denied by guardrail SCP statement DenySageMakerWithoutVpcSubnets: "
            "the Studio domain has no SubnetIds") in studio_errors
    assert "[Test/OpenDomain] denied by guardrail SCP statement DenySageMakerWithoutVpcSecurityGroups" in studio_errors


def test_allowed_parameter_values_are_not_reported(studio_errors):
    assert "'ml.m5.large' (CloudFormation parameter" not in studio_errors
    assert "[Test/ParamPipeline] denied by guardrail SCP statement DenySageMaker" not in studio_errors


# ----- Clarify's explainability shadow endpoint config (sm-clarify-*, no KMS key, created as the job's role) -----

def explainability_job(role_path: str | None = None, role_arn: str | None = None):
    from aws_cdk import aws_iam as iam

    def build(stack):
        arn = role_arn
        if arn is None:
            role = iam.Role(stack, "MonitorRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"), path=role_path)
            arn = role.role_arn
        sm.CfnModelExplainabilityJobDefinition(
            stack, "Explainability",
            model_explainability_app_specification={"imageUri": "i", "configUri": "s3://b/analysis_config.json"},
            model_explainability_job_input={"endpointInput": {"endpointName": "e", "localPath": "/opt/ml/processing/input"}},
            model_explainability_job_output_config={"kmsKeyId": KEY, "monitoringOutputs": [{"s3Output": {"localPath": "/o", "s3Uri": "s3://b/o"}}]},
            job_resources={"clusterConfig": {"instanceCount": 1, "instanceType": "ml.m5.large", "volumeSizeInGb": 20, "volumeKmsKeyId": KEY}},
            role_arn=arn,
            network_config={"enableInterContainerTrafficEncryption": True,
                            "vpcConfig": {"securityGroupIds": ["sg-0123456789abcdef0"], "subnets": ["subnet-0123456789abcdef0"]}},
        )
    return build


def clarify_options() -> GuardrailOptions:
    """An estate that monitors churn's explainability (model_monitor engine): the Clarify exemption is on."""
    return guardrail_options(model_monitor_config())


def test_the_default_estate_needs_no_clarify_exemption():
    assert not options().clarify_shadow_endpoints  # the portable engine: no Clarify shadow endpoints
    assert clarify_options().clarify_shadow_endpoints


def test_an_explainability_job_of_a_monitor_role_synthesizes():
    assert synth_errors(explainability_job("/mlops/model-monitor/"), clarify_options()) == ""
    assert synth_errors(explainability_job(role_arn="arn:aws:iam::444444444444:role/mlops/model-monitor/m"), clarify_options()) == ""


def test_an_explainability_job_of_another_role_is_denied_its_shadow_endpoint_config():
    errors = synth_errors(explainability_job(), clarify_options())
    assert ("[Test/Explainability] denied by guardrail SCP statement DenyEndpointConfigWithoutKmsKey: Clarify creates the "
            "explainability shadow endpoint config (sm-clarify-*) without a KMS key as the job's role "
            "arn:aws:iam::444444444444:role/<MonitorRole") in errors
    assert "exempts only the estate's monitor roles (arn:aws:iam::*:role/mlops/model-monitor/*)" in errors
    literal = synth_errors(explainability_job(role_arn="arn:aws:iam::444444444444:role/team/monitor"), clarify_options())
    assert "as the job's role arn:aws:iam::444444444444:role/team/monitor" in literal


def test_an_explainability_job_is_denied_when_the_config_enables_no_exemption():
    errors = synth_errors(explainability_job("/mlops/model-monitor/"), replace(clarify_options(), clarify_shadow_endpoints=False))
    assert "[Test/Explainability] denied by guardrail SCP statement DenyEndpointConfigWithoutKmsKey" in errors
    assert "the guardrails exempt no role from that rule" in errors
    assert synth_errors(explainability_job(), options(require_kms=False)) == ""


@pytest.mark.parametrize("account", ["222222222222", "333333333333"], ids=["shared_services", "data_lake"])
def test_accounts_without_workloads_are_checked_against_their_cap(account):
    """The mirror follows the SCP: shared services and the data lake now have an allow-list, checked at synth too."""
    def endpoint(instance_type: str):
        def build(stack):
            sm.CfnEndpointConfig(stack, "EndpointConfig", production_variants=[variant(instance_type)], kms_key_id=KEY)
        return build

    errors = synth_errors(endpoint("ml.c5.xlarge"), account=account)
    assert (f"[Test/EndpointConfig] denied by guardrail SCP statement DenyInstanceTypesOutsideAllowList{account}: instance type "
            f"'ml.c5.xlarge' is not on the allow-list of account {account} (ml.t3.*, ml.m5.large, ml.m5.xlarge)") in errors
    assert synth_errors(endpoint("ml.m5.large"), account=account) == ""


def test_the_check_mirrors_every_rule_the_options_turn_on():
    """The check enables exactly the SCP's statements; leaving the organisation is an API call no CloudFormation
    resource makes, so it is enabled but has nothing to find at synth."""
    check = GuardrailCheck(options())
    assert {"DenyLeavingTheOrganization", "DenyInstanceTypesOutsideAllowList222222222222",
            "DenyInstanceTypesOutsideAllowList333333333333"} <= check.enabled
    assert "DenyLeavingTheOrganization" not in GuardrailCheck(options(deny_leave_organization=False)).enabled
