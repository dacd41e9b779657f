#!/usr/bin/env python3
"""A whole model lifecycle in one account, composed from the library's constructs without the estate config.

Keys, a private network and buckets; a training pipeline that registers its model in a model package group; an
endpoint serving the model with autoscaling, data capture and a canary rollout; a drift monitor (the portable
engine) whose drift alarm starts the pipeline again; a feature group; and a Studio domain with one user.

Run from anywhere once the library is installed:  python examples/single_account_app.py [outdir]  (default ./cdk.out)
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from aws_cdk import App, Aspects, Environment, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_estate.core.nag import apply_nag_packs
from mlops_estate.features.definition import FeatureDefinition, FeatureGroupDefinition
from mlops_estate.features.feature_store import FeatureGroup
from mlops_estate.lifecycle.model_package_group import ModelPackageGroup
from mlops_estate.lifecycle.retraining import RetrainingTrigger
from mlops_estate.lifecycle.retraining_triggers import DriftAlarmTrigger
from mlops_estate.monitoring.drift_monitor import DriftMonitor
from mlops_estate.monitoring.props import DataQualityMonitorProps, MonitoringProps
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.pipeline import (
    ConditionGreaterThanOrEqualTo,
    ConditionStep,
    FailStep,
    JobEnvironment,
    ParameterFloat,
    ParameterString,
    PipelineDefinition,
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    PropertyFile,
    RegisterModelStep,
    SpotTraining,
    TrainingInput,
    TrainingStep,
)
from mlops_estate.pipeline.training_pipeline import PipelineStorage, TrainingPipeline
from mlops_estate.security.encryption import EstateKeys
from mlops_estate.security.managed_policies import ManagedPoliciesOnly
from mlops_estate.security.storage import SecureBucket
from mlops_estate.serving.endpoint import ModelEndpoint, ModelEndpointProps
from mlops_estate.serving.model_source import ModelSource
from mlops_estate.serving.serving_config import AlarmsConfig, DataCaptureConfig, RolloutConfig, ScalingConfig, ServingConfig
from mlops_estate.workspace.studio import StudioDomain

ACCOUNT, REGION, ZONES = "123456789012", "eu-west-1", ["eu-west-1a", "eu-west-1b"]
# AWS's built-in XGBoost image of the region: it trains, evaluates and serves.
XGBOOST = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
MODEL = "churn"
FEATURES = ("tenure", "monthly_spend", "support_calls")


def churn_pipeline(data: SecureBucket, work: SecureBucket, group: ModelPackageGroup) -> Callable[[JobEnvironment], PipelineDefinition]:
    """The pipeline's definition: prepare, train, evaluate, and register the model when its AUC is good enough."""

    def define(jobs: JobEnvironment) -> PipelineDefinition:
        input_data = ParameterString("InputDataUrl", data.s3_uri("raw/"))  # what RetrainingTrigger sets on new data
        min_auc = ParameterFloat("MinAuc", 0.8)
        report = PropertyFile("Evaluation", "evaluation", "evaluation.json")
        prep = ProcessingStep("Prep", job=jobs, image_uri=XGBOOST, instance_type="ml.m5.large", code=work.s3_uri("code/prep.py"),
                              inputs=[ProcessingInput("raw", input_data, "/opt/ml/processing/input")],
                              outputs=[ProcessingOutput("train", "/opt/ml/processing/train", work.s3_uri("train"))])
        train = TrainingStep("Train", job=jobs, image_uri=XGBOOST, instance_type="ml.m5.xlarge",
                             inputs={"train": TrainingInput(prep.output_uri("train"), "text/csv")}, output_path=work.s3_uri("models"),
                             spot=SpotTraining(work.s3_uri("checkpoints"), max_wait_seconds=7200))
        evaluate = ProcessingStep("Evaluate", job=jobs, image_uri=XGBOOST, instance_type="ml.m5.large",
                                  code=work.s3_uri("code/evaluate.py"),
                                  inputs=[ProcessingInput("model", train.model_artifacts, "/opt/ml/processing/model")],
                                  outputs=[ProcessingOutput("evaluation", "/opt/ml/processing/evaluation", work.s3_uri("evaluation"))],
                                  property_files=[report])
        register = RegisterModelStep("Register", model_package_group=group.model_package_group_name, image_uri=XGBOOST,
                                     model_data=train.model_artifacts)
        gate = ConditionStep("Gate", conditions=[ConditionGreaterThanOrEqualTo(evaluate.json_get(report, "metrics.auc.value"), min_auc)],
                             if_steps=[register], else_steps=[FailStep("TooWeak", error_message="AUC below MinAuc")])
        return PipelineDefinition(f"{MODEL}-build", parameters=[input_data, min_auc], steps=[prep, train, evaluate, gate])

    return define


class ChurnStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, env=Environment(account=ACCOUNT, region=REGION))
        # Explicit zones: no AZ lookup, so synth needs no credentials.
        self.node.set_context(f"availability-zones:account={ACCOUNT}:region={REGION}", ZONES)

        # Foundations: a key per data class, a VPC without internet access, CMK buckets.
        keys = EstateKeys(self, "Keys", estate_name="team-a")
        network = PrivateNetwork(self, "Network", cidr="10.50.0.0/16", availability_zones=ZONES, logs_key=keys.logs)
        data = SecureBucket(self, "Data", key=keys.data)  # raw data, captures, baselines, offline features
        work = SecureBucket(self, "Work", key=keys.models)  # code, pipeline outputs, model artifacts

        # Build: the pipeline registers each good-enough model, for a person to approve.
        group = ModelPackageGroup(self, "Models", model_package_group_name=MODEL, description="Churn classifier")
        pipeline = TrainingPipeline(self, "Build", pipeline_name=f"{MODEL}-build", definition=churn_pipeline(data, work, group),
                                    placement=network.placement, storage=PipelineStorage(key=keys.models, buckets=(work.bucket, data.bucket)))

        # Serve: the model data in our bucket, two to four instances, 20 % canary rolled back by the endpoint's alarms.
        endpoint = ModelEndpoint(self, "Endpoint", props=ModelEndpointProps(
            endpoint_name=MODEL,
            model=ModelSource.from_image(XGBOOST, model_data_bucket=work.bucket, model_data_object_key="models/churn/model.tar.gz"),
            placement=network.placement,
            keys=keys,
            serving=ServingConfig(
                instance_type="ml.m5.large", min_instances=2, max_instances=4,
                scaling=ScalingConfig(metric="invocations", target=200),
                data_capture=DataCaptureConfig(sampling_percentage=20),
                rollout=RolloutConfig(strategy="canary", size_percent=20, wait_minutes=10),
                alarms=AlarmsConfig(latency_p99_ms=500, errors_5xx=5, model_errors=5),
            ),
            data_capture_bucket=data,
        ))

        # Watch: hourly drift against the training data's baseline (the portable engine: no Model Monitor needed);
        # drift restarts the pipeline.
        monitor = DriftMonitor(self, "Drift", endpoint=endpoint, baseline_uri=data.s3_uri("baselines/churn/baseline.json"),
                               props=MonitoringProps(features=FEATURES, data_quality=DataQualityMonitorProps(
                                   drift_features=("tenure", "monthly_spend"))))
        RetrainingTrigger(self, "Retraining", pipeline=pipeline, triggers=[DriftAlarmTrigger.of(monitor)],
                          queue_key=keys.data, logs_key=keys.logs, placement=network.placement)

        # Features: an online store for lookups at inference time.
        FeatureGroup(self, "CustomerFeatures", online_key=keys.data, definition=FeatureGroupDefinition(
            name="customer-features", record_identifier="customer_id", event_time="event_time", offline_store=None,
            features=(FeatureDefinition("customer_id", "String"), FeatureDefinition("event_time", "String"),
                      *(FeatureDefinition(name, "Fractional") for name in FEATURES)),
        ))

        # Work: a Studio domain in the VPC, and one person's profile.
        scientist = iam.Role(self, "ScientistRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
        studio = StudioDomain(self, "Studio", domain_name="team-a", placement=network.placement, key=keys.studio,
                              execution_role=scientist)
        studio.add_user_profile("alex", execution_role=scientist)


def main(outdir: str | None = None) -> App:
    app = App(outdir=outdir)
    stack = ChurnStack(app, "ChurnMl")
    Aspects.of(stack).add(ManagedPoliciesOnly())
    apply_nag_packs(app)
    app.synth()
    return app


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
