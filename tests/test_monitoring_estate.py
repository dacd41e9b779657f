"""Drift monitoring wired for every monitored model in staging and prod: the portable engine in the default estate
(no Model Monitor resource anywhere), and Model Monitor for an estate that chooses the model_monitor engine."""

from __future__ import annotations

import json

import pytest

from tests.helpers import resources_of_type
from tests.pipeline_schema import from_template, validate

MODEL_MONITOR_TYPES = ("AWS::SageMaker::MonitoringSchedule", "AWS::SageMaker::DataQualityJobDefinition",
                       "AWS::SageMaker::ModelQualityJobDefinition", "AWS::SageMaker::ModelBiasJobDefinition",
                       "AWS::SageMaker::ModelExplainabilityJobDefinition")


def test_the_default_estate_creates_no_model_monitor_resource(default_estate):
    """A new AWS account cannot create Model Monitor schedules: the default estate (and its project templates) needs none."""
    found = {(name, r["Type"]) for name, t in default_estate.templates.items() for r in t["Resources"].values()
             if r["Type"] in MODEL_MONITOR_TYPES or r["Type"] == "Custom::CDKBucketDeployment"}
    assert found == set()
    product_templates = list(default_estate.outdir.rglob("*DeployTemplatechurn*.product.template.json"))
    assert product_templates, "the churn deploy project template"
    for path in product_templates:
        types = {r["Type"] for r in json.loads(path.read_text())["Resources"].values()}
        assert not types & set(MODEL_MONITOR_TYPES) and "AWS::SageMaker::Pipeline" in types


@pytest.mark.parametrize(("stack", "env"), [("Staging/Serving", "stg"), ("Prod/Serving", "prd")])
def test_the_portable_engine_checks_churn_on_both_schedules_with_the_alarm_set(default_estate, stack, env):
    template = default_estate.templates[stack]
    (pipeline,) = resources_of_type(template, "AWS::SageMaker::Pipeline").values()
    assert pipeline["Properties"]["PipelineName"] == f"mlops-churn-{env}-drift-check"
    definition = from_template(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"])
    validate(definition)
    assert [s["Name"] for s in definition["Steps"]] == ["Resolve", "Check", "Publish"]
    schedules = {s["Properties"]["ScheduleExpression"] for s in resources_of_type(template, "AWS::Scheduler::Schedule").values()}
    assert schedules == {"cron(0 * ? * * *)", "cron(0 2 ? * * *)"}
    alarms = {a["Properties"].get("AlarmName") for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()}
    prefix = f"mlops-churn-{env}"
    assert {f"{prefix}-drift-tenure_months", f"{prefix}-drift-monthly_charges", f"{prefix}-drift-support_calls",
            f"{prefix}-quality-auc", f"{prefix}-violations", f"{prefix}-failed", f"{prefix}-mq-failed"} <= alarms
    composites = {a["Properties"].get("AlarmName") for a in resources_of_type(template, "AWS::CloudWatch::CompositeAlarm").values()}
    assert f"{prefix}-drift" in composites
    # The served version's registered baseline, read from the registry in shared services.
    check = next(s for s in definition["Steps"] if s["Name"] == "Check")
    assert check["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"] is True


def test_drift_and_violation_alarms_of_both_serving_accounts_restart_the_build(default_estate):
    """The serving accounts forward the alarms to the build account, whose retraining rule listens to them."""
    names = set()
    for stack in ("Staging/Serving", "Prod/Serving"):
        rules = resources_of_type(default_estate.templates[stack], "AWS::Events::Rule").values()
        names |= {n for r in rules for n in r["Properties"]["EventPattern"].get("detail", {}).get("alarmName", [])}
    assert {"mlops-churn-stg-drift", "mlops-churn-prd-drift"} <= names
    rules = resources_of_type(default_estate.templates["MlDev/Workspace"], "AWS::Events::Rule")
    (drift,) = [r for k, r in rules.items() if k.startswith("RetrainchurnDriftAlarm")]
    assert set(drift["Properties"]["EventPattern"]["detail"]["alarmName"]) >= {"mlops-churn-stg-drift", "mlops-churn-prd-drift"}


def test_the_build_pipeline_registers_the_drift_baseline_with_each_version(default_estate):
    template = default_estate.templates["MlDev/Workspace"]
    (pipeline,) = [p for k, p in resources_of_type(template, "AWS::SageMaker::Pipeline").items() if k.startswith("PipelineschurnBuild")]
    definition = from_template(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"])
    validate(definition)
    baseline = next(s for s in definition["Steps"] if s["Name"] == "Baseline")
    arguments = baseline["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[:1] == ["baseline"] and arguments[arguments.index("--columns") + 1] == (
        "churned,tenure_months,monthly_charges,total_charges,contract_type,support_calls,age_band")
    register = json.dumps(definition)
    assert '"ModelDataQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": {"Std:Join"' in register
    assert "Steps.Baseline.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri" in register

JOB_TYPES = (
    "AWS::SageMaker::DataQualityJobDefinition",
    "AWS::SageMaker::ModelQualityJobDefinition",
    "AWS::SageMaker::ModelBiasJobDefinition",
    "AWS::SageMaker::ModelExplainabilityJobDefinition",
)


@pytest.mark.parametrize("stack", ["Staging/Serving", "Prod/Serving"])
def test_all_four_monitors_with_schedules_on_churn_with_the_model_monitor_engine(model_monitor_estate, stack):
    template = model_monitor_estate.templates[stack]
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


def test_explainability_config_is_written_at_deploy_time_into_the_reports_bucket(model_monitor_estate):
    template = model_monitor_estate.templates["Prod/Serving"]
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
    the explainability analysis config of the model_monitor engine, which names the model, is written at deploy time."""
    template = default_estate.templates[stack]
    models = resources_of_type(template, "AWS::SageMaker::Model")
    assert models
    for model in models.values():
        assert "ModelName" not in model["Properties"]
        assert "Ref" in model["Properties"]["PrimaryContainer"]["ModelPackageName"]  # the deploy-time parameter


@pytest.mark.parametrize("stack", ["Staging/Serving", "Prod/Serving"])
def test_the_analysis_config_writer_keeps_failed_requests_and_reserves_concurrency(model_monitor_estate, stack):
    template = model_monitor_estate.templates[stack]
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


@pytest.mark.parametrize("estate", ["default_estate", "model_monitor_estate"])
def test_monitors_of_either_engine_expose_the_drift_alarm(estate, request):
    monitor = request.getfixturevalue(estate).estate.prod.monitors["churn"]
    assert monitor.drift_alarm_name == "mlops-churn-prd-drift"
    assert len(monitor.alarms) >= 4


@pytest.mark.parametrize("stack", ["Staging/Serving", "Prod/Serving"])
def test_explainability_runs_as_a_role_the_guardrail_exempts_for_clarify(model_monitor_estate, stack):
    # Clarify creates its keyless sm-clarify-* shadow endpoint config as this role; the guardrail SCP exempts
    # exactly roles under the estate's monitor path (the synth-time GuardrailCheck passed on this estate too).
    template = model_monitor_estate.templates[stack]
    (job,) = resources_of_type(template, "AWS::SageMaker::ModelExplainabilityJobDefinition").values()
    role_id, attribute = job["Properties"]["RoleArn"]["Fn::GetAtt"]
    role = template["Resources"][role_id]
    assert (role["Type"], attribute, role["Properties"]["Path"]) == ("AWS::IAM::Role", "Arn", "/mlops/model-monitor/")
    statements = [s for t in model_monitor_estate.templates.values() for p in resources_of_type(t, "AWS::Organizations::Policy").values()
                  for s in p["Properties"]["Content"]["Statement"]]
    exempt = next(s for s in statements if s["Sid"] == "DenyEndpointConfigWithoutKmsKey")["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert exempt == "arn:aws:iam::*:role/mlops/model-monitor/*"
