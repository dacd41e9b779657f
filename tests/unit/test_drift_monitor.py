"""DriftMonitor, the portable drift engine: its pipeline (against AWS's pipeline schema), schedules, alarms, roles and
functions on a stand-in endpoint, synthesized once with every nag pack; and its own validation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, AspectPriority, Aspects, CfnParameter, Stack, Token
from aws_cdk.assertions import Template
from aws_cdk import aws_sagemaker as sagemaker

from mlops_estate.core.nag import apply_nag_packs
from mlops_estate.core.validation import ConfigError
from mlops_estate.lifecycle.retraining_triggers import DriftAlarmTrigger
from mlops_estate.monitoring.drift_monitor import DriftBaselines, DriftFunctions, DriftMonitor
from mlops_estate.monitoring.monitored_endpoint import MonitoredEndpoint
from mlops_estate.monitoring.props import BiasMonitorProps, DataQualityMonitorProps, FacetProps, ModelQualityMonitorProps, MonitoringProps
from mlops_estate.monitoring.quality import QualityTarget
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.security.storage import SecureBucket
from tests.cfn_lint import lint_template
from tests.helpers import TEST_REGION, cdk_context, make_stack, resources_of_type
from tests.pipeline_schema import from_template, validate

ENDPOINT = "mlops-prod-churn"
PREFIX = "mlops-churn-prd"
REGISTRY = "111111111111"
LABELS = "222222222222"
PROPS = MonitoringProps(
    features=("tenure_months", "monthly_charges", "contract_type"),
    label="churned",
    ground_truth_uri="s3://mlops-ground-truth/churn/",
    data_quality=DataQualityMonitorProps(drift_features=("tenure_months", "monthly_charges"), drift_threshold=0.15,
                                         psi_threshold=0.25),
    model_quality=ModelQualityMonitorProps(probability_attribute="0", probability_threshold=0.5, schedule="cron(0 2 ? * * *)"),
)


def _endpoint(stack: Stack) -> tuple[MonitoredEndpoint, EstateKeys]:
    keys = EstateKeys(stack, "Keys", estate_name="mlops", classes=[DataClass.DATA, DataClass.MONITORING, DataClass.LOGS])
    placement = PrivateNetwork.from_existing(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", subnet_ids=["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
        availability_zones=[f"{stack.region}a", f"{stack.region}b"], security_group_id="sg-0123456789abcdef0")
    endpoint = sagemaker.CfnEndpoint(stack, "Endpoint", endpoint_config_name="config", endpoint_name=ENDPOINT)
    watched = MonitoredEndpoint(endpoint_name=ENDPOINT, data_capture=SecureBucket(stack, "Capture", key=keys.data),
                                data_capture_prefix="data-capture", placement=placement, endpoint=endpoint)
    return watched, keys


def _monitor(stack: Stack, **overrides: Any) -> DriftMonitor:
    watched, keys = _endpoint(stack)
    kwargs: dict[str, Any] = dict(
        endpoint=watched, props=PROPS, name_prefix=PREFIX, problem_type="BinaryClassification",
        quality_target=QualityTarget("auc", 0.8), key=keys.monitoring, logs_key=keys.logs,
        baselines=DriftBaselines("mlops-registry-artifacts", "models/churn", account=REGISTRY), ground_truth_account=LABELS,
    )
    kwargs.update(overrides)
    return DriftMonitor(stack, "Drift", **kwargs)


@dataclasses.dataclass
class Built:
    monitor: DriftMonitor
    template: dict[str, Any]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    outdir = tmp_path_factory.mktemp("drift")
    app = App(context={**cdk_context(), "@aws-cdk/core:validationReportJson": True}, outdir=str(outdir))
    stack = make_stack(app)
    Aspects.of(app).add(ManagedPoliciesOnly(), priority=AspectPriority.MUTATING)
    monitor = _monitor(stack)
    apply_nag_packs(app)
    assembly = app.synth()  # fails on any unacknowledged nag finding
    return Built(monitor, json.loads(Path(assembly.get_stack_by_name(stack.stack_name).template_full_path).read_text()))


def _definition(template: dict[str, Any]) -> dict[str, Any]:
    (pipeline,) = resources_of_type(template, "AWS::SageMaker::Pipeline").values()
    assert pipeline["Properties"]["PipelineName"] == f"{PREFIX}-drift-check"
    return from_template(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"])


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()}


def test_no_model_monitor_resource_is_created(built: Built) -> None:
    types = {r["Type"] for r in built.template["Resources"].values()}
    assert not {t for t in types if "Monitoring" in t or "JobDefinition" in t}


def test_the_pipeline_resolves_checks_on_the_sklearn_image_in_isolation_and_publishes(built: Built) -> None:
    definition = _definition(built.template)
    validate(definition)
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert [s["Type"] for s in definition["Steps"]] == ["Lambda", "Processing", "Lambda"]
    assert {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]} == {
        "Monitor": f"{PREFIX}-dq", "WindowHours": 1, "EndOffsetHours": 0, "UseGroundTruth": "false"}
    resolve = steps["Resolve"]["Arguments"]
    assert resolve["endpoint_name"] == ENDPOINT and resolve["baseline_uri"] == ""  # read from the served version
    assert resolve["use_ground_truth"] == {"Get": "Parameters.UseGroundTruth"}
    check = steps["Check"]["Arguments"]
    assert check["AppSpecification"]["ImageUri"] == f"141502667606.dkr.ecr.{TEST_REGION}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    assert check["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert check["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"]  # the monitoring key
    inputs = {i["InputName"]: i["S3Input"] for i in check["ProcessingInputs"]}
    assert inputs["capture"]["S3DataType"] == inputs["ground_truth"]["S3DataType"] == "ManifestFile"
    assert inputs["capture"]["S3Uri"] == {"Get": "Steps.Resolve.OutputParameters['capture_manifest_uri']"}
    assert inputs["baseline"]["S3Uri"] == {"Get": "Steps.Resolve.OutputParameters['baseline_uri']"}
    assert check["AppSpecification"]["ContainerArguments"][:1] == ["check"]
    assert check["Environment"]["KS_THRESHOLD"] == "0.15" and check["Environment"]["PSI_THRESHOLD"] == "0.25"
    assert check["Environment"]["PROBLEM_TYPE"] == "BinaryClassification"
    assert steps["Publish"]["Arguments"]["monitor_name"] == {"Get": "Parameters.Monitor"}


def test_data_quality_and_model_quality_run_on_their_own_schedules(built: Built) -> None:
    schedules = {s["Properties"]["ScheduleExpression"]: s["Properties"] for s in resources_of_type(built.template, "AWS::Scheduler::Schedule").values()}
    assert set(schedules) == {"cron(0 * ? * * *)", "cron(0 2 ? * * *)"}

    def parameters(expression: str) -> dict[str, str]:
        listed = schedules[expression]["Target"]["SageMakerPipelineParameters"]["PipelineParameterList"]
        return {p["Name"]: p["Value"] for p in listed}

    assert parameters("cron(0 * ? * * *)") == {"Monitor": f"{PREFIX}-dq"}
    # Model quality: the ground-truth window -P2D .. -P1D
    assert parameters("cron(0 2 ? * * *)") == {"Monitor": f"{PREFIX}-mq", "WindowHours": "24", "EndOffsetHours": "24",
                                               "UseGroundTruth": "true"}


def test_the_alarm_set_matches_model_monitors_names_and_a_missing_run_is_an_alarm(built: Built) -> None:
    alarms = _alarms(built.template)
    assert set(alarms) == {f"{PREFIX}-drift-tenure_months", f"{PREFIX}-drift-monthly_charges", f"{PREFIX}-quality-auc",
                           f"{PREFIX}-violations", f"{PREFIX}-failed", f"{PREFIX}-mq-failed"}
    drift = alarms[f"{PREFIX}-drift-tenure_months"]
    assert drift["Namespace"] == "MLOpsEstate/Drift" and drift["MetricName"] == "feature_drift"
    assert {d["Name"]: d["Value"] for d in drift["Dimensions"]} == {"Endpoint": ENDPOINT, "Monitor": f"{PREFIX}-dq", "Feature": "tenure_months"}
    failed = alarms[f"{PREFIX}-failed"]
    assert (failed["MetricName"], failed["ComparisonOperator"], failed["Threshold"]) == ("run_status", "LessThanThreshold", 1)
    assert failed["TreatMissingData"] == "breaching" and failed["EvaluationPeriods"] == 2 and failed["Period"] == 3600
    assert alarms[f"{PREFIX}-mq-failed"]["Period"] == 86400 and alarms[f"{PREFIX}-mq-failed"]["EvaluationPeriods"] == 1
    quality = alarms[f"{PREFIX}-quality-auc"]
    assert (quality["Threshold"], quality["ComparisonOperator"]) == (0.8, "LessThanThreshold")
    (composite,) = resources_of_type(built.template, "AWS::CloudWatch::CompositeAlarm").values()
    assert composite["Properties"]["AlarmName"] == f"{PREFIX}-drift"
    assert DriftAlarmTrigger.of(built.monitor).pattern()["detail"]["alarmName"] == [f"{PREFIX}-drift"]


def test_both_functions_hold_the_estate_lambda_baseline(built: Built) -> None:
    functions = resources_of_type(built.template, "AWS::Lambda::Function")
    assert len(functions) == 2
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"].startswith("python3") and props["ReservedConcurrentExecutions"] == 2
        assert "TargetArn" in props["DeadLetterConfig"] and props["VpcConfig"]["SubnetIds"]


def _statements(template: dict[str, Any], sid: str) -> list[dict[str, Any]]:
    found = []
    for policy in [*resources_of_type(template, "AWS::IAM::ManagedPolicy").values(), *resources_of_type(template, "AWS::IAM::Policy").values()]:
        found += [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == sid]
    return found


def test_the_job_reads_baselines_and_labels_only_in_their_owners_accounts(built: Built) -> None:
    (baselines,) = _statements(built.template, "ReadRegisteredBaselines")
    assert baselines["Condition"] == {"StringEquals": {"s3:ResourceAccount": REGISTRY}}
    (labels,) = _statements(built.template, "ReadGroundTruth")
    assert labels["Condition"] == {"StringEquals": {"s3:ResourceAccount": LABELS}}
    (describe,) = _statements(built.template, "DescribeServedVersion")
    assert describe["Action"] == "sagemaker:DescribeModelPackage" and f":{REGISTRY}:model-package/*" in json.dumps(describe["Resource"])
    # The job writes reports only under this monitor's prefix of a (possibly shared) reports bucket.
    (job_policy,) = [p for k, p in resources_of_type(built.template, "AWS::IAM::ManagedPolicy").items() if k.startswith("DriftPipelineJobRole")]
    writes = [st for st in job_policy["Properties"]["PolicyDocument"]["Statement"] if "s3:PutObject" in st["Action"]]
    objects = [json.dumps(r) for st in writes for r in st["Resource"] if json.dumps(r).endswith('/*"]]}')]
    assert objects and all(o.endswith(f'"/{PREFIX}/*"]]}}') for o in objects), objects
    (publish,) = _statements(built.template, "PublishDriftMetrics")
    assert publish["Condition"] == {"StringEquals": {"cloudwatch:namespace": "MLOpsEstate/Drift"}}


def test_template_is_cfn_lint_clean(built: Built) -> None:
    matches = lint_template(built.template, TEST_REGION)
    assert not matches, "\n".join(str(m) for m in matches)


def _problems(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as failure:
        _monitor(make_stack(), **overrides)
    return str(failure.value)


def test_bias_and_explainability_are_refused_with_what_to_do() -> None:
    props = dataclasses.replace(PROPS, bias=BiasMonitorProps(constraints_uri="s3://b/c.json", facets=(FacetProps("contract_type"),)))
    assert ("props.bias: needs SageMaker Clarify inside Model Monitor, which the portable engine does not use; monitor it "
            "with ModelMonitor (engine model_monitor) or remove it") in _problems(props=props)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"baselines": None}, "baseline_uri: give exactly one of baseline_uri (a fixed baseline.json) and baselines"),
    ({"baseline_uri": "s3://b/churn/base.json", "baselines": None}, "baseline_uri: 's3://b/churn/base.json' is not the S3 URI of a baseline.json"),
    ({"quality_target": QualityTarget("f2", 0.8)}, "quality_target.metric: 'f2' is not a BinaryClassification metric the portable engine computes; use one of accuracy, auc, f1, precision, recall"),
    ({"name_prefix": "x" * 51}, "is not a name prefix of up to 50 letters, digits and hyphens"),
    ({"metric_namespace": "AWS/SageMaker"}, "metric_namespace: 'AWS/SageMaker' is not a custom CloudWatch namespace"),
    ({"ground_truth_account": "12345"}, "ground_truth_account: '12345' is not an AWS account id (12 digits)"),
    ({"script_uri": "drift.py"}, "script_uri: 'drift.py' is not the S3 URI of a copy of drift.py"),
    ({"props": dataclasses.replace(PROPS, data_quality=None)}, "props.data_quality: is None; the portable engine always checks data quality"),
    ({"props": dataclasses.replace(PROPS, ground_truth_start_offset="-PT1H", ground_truth_end_offset="-P1D")},
     "props.ground_truth_start_offset: '-PT1H' does not start before ground_truth_end_offset '-P1D'"),
    ({"props": dataclasses.replace(PROPS, data_quality=dataclasses.replace(PROPS.data_quality, psi_threshold=0.0))},  # type: ignore[arg-type]
     "props.data_quality.psi_threshold: 0.0 is not a population stability index in (0, 10]"),
])
def test_bad_props_name_the_path_and_value(overrides: dict[str, Any], expected: str) -> None:
    assert expected in _problems(**overrides)


def test_a_deploy_time_prefix_with_shared_functions_and_script_names_everything_at_deploy_time() -> None:
    """A SageMaker project's validation endpoint: its name is a template parameter, the functions and the script are
    the estate's (a project template may carry no file asset)."""
    stack = make_stack()
    prefix = CfnParameter(stack, "Prefix").value_as_string
    watched, keys = _endpoint(stack)
    shared = DriftFunctions(stack, "Shared", placement=watched.placement, queue_key=keys.monitoring, logs_key=keys.logs,
                            endpoints="mlops-project-*", capture=watched.data_capture, capture_keys="data-capture/mlops-project-*",
                            reports=watched.data_capture, reports_prefix="mlops-project-*", model_package_account=REGISTRY)
    monitor = DriftMonitor(stack, "Drift", endpoint=watched, props=dataclasses.replace(PROPS, model_quality=None), name_prefix=prefix,
                           key=keys.monitoring, logs_key=keys.logs, reports=watched.data_capture, functions=shared.refs,
                           script_uri="s3://mlops-artifacts/code/drift.py",
                           baselines=DriftBaselines("mlops-registry-artifacts", "models/churn", account=REGISTRY))
    template = Template.from_stack(stack).to_json()
    assert len(resources_of_type(template, "AWS::Lambda::Function")) == 2  # the shared ones only
    assert not [k for k in resources_of_type(template, "AWS::S3::Bucket") if "Drift" in k]  # no reports bucket of its own
    (pipeline,) = resources_of_type(template, "AWS::SageMaker::Pipeline").values()
    body = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    assert "s3://mlops-artifacts/code/drift.py" in json.dumps(body) and "cdk-" not in json.dumps(body)  # no file asset
    assert Token.is_unresolved(monitor.drift_alarm_name)
    (script,) = _statements(template, "ReadDriftScript")
    assert script["Resource"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::mlops-artifacts/code/drift.py"]]}


def test_shared_functions_validate_themselves_and_must_publish_where_the_alarms_watch() -> None:
    stack = make_stack()
    watched, keys = _endpoint(stack)
    with pytest.raises(ConfigError) as failure:
        DriftFunctions(stack, "Bad", placement=watched.placement, queue_key=keys.monitoring, logs_key=keys.logs, endpoints=" ",
                       capture=watched.data_capture, capture_keys="data-capture/*", reports=watched.data_capture,
                       reports_prefix="p", model_package_account="1234", metric_namespace="AWS/Drift")
    message = str(failure.value)
    assert "endpoints: ' ' is empty" in message and "model_package_account: '1234' is not an AWS account id" in message
    assert "metric_namespace: 'AWS/Drift' is not a custom CloudWatch namespace" in message
    shared = DriftFunctions(stack, "Shared", placement=watched.placement, queue_key=keys.monitoring, logs_key=keys.logs,
                            endpoints="mlops-*", capture=watched.data_capture, capture_keys="data-capture/*",
                            reports=watched.data_capture, reports_prefix="mlops-*", metric_namespace="Team/Drift")
    with pytest.raises(ConfigError, match=r"functions: publish to 'Team/Drift', not to metric_namespace 'MLOpsEstate/Drift'"):
        DriftMonitor(stack, "Drift", endpoint=watched, props=dataclasses.replace(PROPS, model_quality=None), key=keys.monitoring,
                     logs_key=keys.logs, functions=shared.refs, baseline_uri="s3://b/baseline.json")
