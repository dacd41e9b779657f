"""Model Monitor wired for every monitored model in staging and prod of the default estate."""

from __future__ import annotations

import pytest

from tests.helpers import resources_of_type

JOB_TYPES = (
    "AWS::SageMaker::DataQualityJobDefinition",
    "AWS::SageMaker::ModelQualityJobDefinition",
    "AWS::SageMaker::ModelBiasJobDefinition",
    "AWS::SageMaker::ModelExplainabilityJobDefinition",
)


@pytest.mark.parametrize("stack", ["Staging/Serving", "Prod/Serving"])
def test_all_four_monitors_with_schedules_on_churn(default_estate, stack):
    template = default_estate.templates[stack]
    for job_type in JOB_TYPES:
        jobs = resources_of_type(template, job_type)
        assert len(jobs) == 1, job_type
        (job,) = jobs.values()
        assert "JobDefinitionName" in job["Properties"]
        assert any("Endpoint" in d for d in job.get("DependsOn", [])), "monitors start after the endpoint exists"
    schedules = resources_of_type(template, "AWS::SageMaker::MonitoringSchedule")
    assert len(schedules) == 4
    names = sorted(s["Properties"]["MonitoringScheduleName"] for s in schedules.values())
    env = "stg" if stack.startswith("Staging") else "prd"
    assert names == sorted(f"mlops-churn-{env}-{suffix}" for suffix in ("dq", "mq", "bias", "expl"))


def test_explainability_config_is_written_at_deploy_time_into_the_reports_bucket(default_estate):
    template = default_estate.templates["Prod/Serving"]
    (job,) = resources_of_type(template, "AWS::SageMaker::ModelExplainabilityJobDefinition").values()
    config_uri = job["Properties"]["ModelExplainabilityAppSpecification"]["ConfigUri"]
    assert "MonitoringReportsBucket" in str(config_uri)
    deployments = resources_of_type(template, "Custom::CDKBucketDeployment")
    assert len(deployments) == 1
    assert any(d.startswith("ChurnMonitorModelExplainabilityAnalysisConfigDeploymentCustomResource") for d in job["DependsOn"])


@pytest.mark.parametrize("stack", ["Staging/Serving", "Prod/Serving"])
def test_the_served_models_keep_generated_names_so_a_promotion_can_replace_them(default_estate, stack):
    """Promotion changes a model's package ARN at deploy time (an SSM-backed parameter), which replaces the
    SageMaker model. CloudFormation cannot replace a resource with a fixed name, and a name hashed from the template's
    properties would not change with the parameter's value: so the models keep CloudFormation's generated names, and
    the explainability analysis config, which names the model, is written at deploy time."""
    template = default_estate.templates[stack]
    models = resources_of_type(template, "AWS::SageMaker::Model")
    assert models
    for model in models.values():
        assert "ModelName" not in model["Properties"]
        assert "Ref" in model["Properties"]["PrimaryContainer"]["ModelPackageName"]  # the deploy-time parameter


@pytest.mark.parametrize("stack", ["Staging/Serving", "Prod/Serving"])
def test_the_analysis_config_writer_keeps_failed_requests_and_reserves_concurrency(default_estate, stack):
    template = default_estate.templates[stack]
    (handler_id, handler), = [(k, r) for k, r in resources_of_type(template, "AWS::Lambda::Function").items()
                              if k.startswith("CustomCDKBucketDeployment")]
    props = handler["Properties"]
    queue_id = props["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
    queue = template["Resources"][queue_id]
    assert queue["Type"] == "AWS::SQS::Queue" and "KmsMasterKeyId" in queue["Properties"]
    assert props["ReservedConcurrentExecutions"] == 2
    role_id = props["Role"]["Fn::GetAtt"][0]
    statements = [s for p in resources_of_type(template, "AWS::IAM::ManagedPolicy").values()
                  if {"Ref": role_id} in p["Properties"].get("Roles", []) for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert any(s["Action"] == "sqs:SendMessage" and s["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]} for s in statements)


def test_monitors_expose_drift_alarms(default_estate):
    monitor = default_estate.estate.prod.monitors["churn"]
    assert monitor.drift_alarm is not None
    assert len(monitor.alarms) >= 3


@pytest.mark.parametrize("stack", ["Staging/Serving", "Prod/Serving"])
def test_explainability_runs_as_a_role_the_guardrail_exempts_for_clarify(default_estate, stack):
    # Clarify creates its keyless sm-clarify-* shadow endpoint config as this role; the guardrail SCP exempts
    # exactly roles under the estate's monitor path (the synth-time GuardrailCheck passed on this estate too).
    template = default_estate.templates[stack]
    (job,) = resources_of_type(template, "AWS::SageMaker::ModelExplainabilityJobDefinition").values()
    role_id, attribute = job["Properties"]["RoleArn"]["Fn::GetAtt"]
    role = template["Resources"][role_id]
    assert (role["Type"], attribute, role["Properties"]["Path"]) == ("AWS::IAM::Role", "Arn", "/mlops/model-monitor/")
    statements = [s for t in default_estate.templates.values() for p in resources_of_type(t, "AWS::Organizations::Policy").values()
                  for s in p["Properties"]["Content"]["Statement"]]
    exempt = next(s for s in statements if s["Sid"] == "DenyEndpointConfigWithoutKmsKey")["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert exempt == "arn:aws:iam::*:role/mlops/model-monitor/*"
