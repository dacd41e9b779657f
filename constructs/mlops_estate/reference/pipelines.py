"""The reference pipelines of a configured model: build (preprocess -> train -> evaluate -> gate -> register)
and, for models configured for batch inference, batch scoring (create model -> transform).

Where things come from and go:

- **Images**: ``build.training_image`` (your ECR image) or the SageMaker built-in XGBoost image of the
  estate's region (`mlops_estate.pipeline.builtin_images`). The same image runs the preprocess and evaluate scripts (the
  XGBoost image ships Python with pandas, scikit-learn and xgboost).
- **Scripts**: ``build.preprocess_script`` / ``build.evaluate_script`` S3 URIs, by default
  ``s3://<ML dev artifacts bucket>/code/<model>/preprocess.py`` and ``.../evaluate.py``, uploaded by your CI.
  Reference versions ship with the library (`reference_script`): stdlib-only CSV splitting, and evaluation
  of a built-in XGBoost model with every metric of the problem type.
  ``evaluate.py`` writes ``evaluation.json`` as ``{"metrics": {"<metric>": {"value": <number>}}}``.
- **Data**: the ``InputDataUrl`` parameter, by default ``s3://<ML dev data bucket>/<model>/input/``.
- **Intermediate data** (splits, checkpoints, Debugger tensors and profiler data with their rule reports)
  stays in the ML dev artifacts bucket under ``pipelines/<model>/<execution>/``.
- **The model and its evaluation** go straight to the registry's artifacts bucket in shared services
  (``models/<model>/``, encrypted with the shared ``models`` key) so staging and prod can read what they deploy;
  the evaluation report under ``models/<model>/evaluation/<execution>/``, where the registry's `ModelApprover` reads it.
- **The drift baseline** (models monitored with the ``processing`` engine): a Baseline step profiles the training
  split with ``drift.py baseline`` (``build.baseline_script``, by default ``.../code/<model>/drift.py``) into
  ``models/<model>/baseline/<execution>/baseline.json``, registered with the version as its data-quality statistics,
  so each version carries the baseline it was trained with and `DriftMonitor` compares the served version's traffic
  with it.
- **The version** is registered as ``PendingManualApproval``, always: a person decides (`TrainingPipeline` lets
  no build pipeline register it otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_estate.config.estate import ERROR_METRICS, ModelConfig
from mlops_estate.core.validation import Problems
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.pipeline.builtin_images import xgboost_image
from mlops_estate.pipeline.conditions import Condition, ConditionGreaterThanOrEqualTo, ConditionLessThanOrEqualTo
from mlops_estate.pipeline.debugger import Debugger, Profiler
from mlops_estate.pipeline.definition import PipelineDefinition
from mlops_estate.pipeline.expressions import (
    ExecutionVariables,
    Join,
    Parameter,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    PropertyFile,
)
from mlops_estate.pipeline.steps import (
    CacheConfig,
    ConditionStep,
    CreateModelStep,
    FailStep,
    JobEnvironment,
    MetricsSource,
    ModelMetrics,
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    RegisterModelStep,
    SpotTraining,
    TrainingInput,
    TrainingStep,
    TransformStep,
)
from mlops_estate.pipeline.training_pipeline import CrossAccountStore, PipelineSchedule, PipelineStorage, TrainingPipeline
from mlops_estate.lifecycle.registry import ARTIFACTS_PREFIX, EVALUATION_DIR, RegistryLocation
from mlops_estate.security.storage import SecureBucket

DEFAULT_HYPERPARAMETERS: dict[str, dict[str, str]] = {
    "BinaryClassification": {"objective": "binary:logistic", "eval_metric": "auc", "num_round": "200", "max_depth": "5",
                             "eta": "0.2", "subsample": "0.8"},
    "MulticlassClassification": {"objective": "multi:softprob", "eval_metric": "mlogloss", "num_round": "200", "max_depth": "5",
                                 "eta": "0.2", "subsample": "0.8"},
    "Regression": {"objective": "reg:squarederror", "eval_metric": "rmse", "num_round": "200", "max_depth": "6", "eta": "0.1",
                   "subsample": "0.8"},
}
EVALUATION_FILE = "evaluation.json"
BASELINE_FILE = "baseline.json"
BASELINE_DIR = "baseline"


SCRIPTS = Path(__file__).resolve().parent / "scripts"


def reference_script(name: str) -> Path:
    """A reference script shipped with the library (``preprocess.py`` or ``evaluate.py``): upload it to the
    pipeline's script location, or start your own from it."""
    path = SCRIPTS / name
    if not path.is_file():
        raise ValueError(f"no reference script {name!r}; shipped: {', '.join(sorted(p.name for p in SCRIPTS.glob('*.py')))}")
    return path


def model_image(model: ModelConfig, region: str) -> str:
    return model.build.training_image or xgboost_image(region, model.build.xgboost_version)


def quality_condition(model: ModelConfig, evaluate: ProcessingStep, report: PropertyFile, threshold: Parameter) -> Condition:
    """metric >= threshold, or metric <= threshold for error metrics (rmse, mse, mae): lower is better there."""
    metric = evaluate.json_get(report, f"metrics.{model.quality_gate.metric}.value")
    if model.quality_gate.metric in ERROR_METRICS:
        return ConditionLessThanOrEqualTo(metric, threshold)
    return ConditionGreaterThanOrEqualTo(metric, threshold)


@dataclass(frozen=True)
class BuildLocations:
    """Where a model's reference pipelines run and keep things (bucket names may be CDK tokens).

    Attributes:
        region: the build account's region (the built-in image's registry, the Debugger rule image).
        artifacts_bucket: the ML dev artifacts bucket (scripts, intermediate data, batch output).
        data_bucket: the ML dev data bucket (training and batch input).
        registry: where the shared registry keeps groups, artifacts and keys (`RegistryLocation`).
    """

    region: str
    artifacts_bucket: str
    data_bucket: str
    registry: RegistryLocation


def baseline_step(model: ModelConfig, jobs: JobEnvironment, image: str, instance_type: Parameter, preprocess: ProcessingStep,
                  published: str, artifacts_bucket: str, output_key: str, runtime: int, cache: CacheConfig) -> ProcessingStep | None:
    """Profile the training split into the drift baseline the version registers (portable drift engine only)."""
    monitoring = model.monitoring
    if monitoring is None or monitoring.engine != "processing":
        return None
    # The reference preprocessing writes headerless CSV, label first, then the features in request order.
    columns = ",".join([monitoring.label, *monitoring.features])
    return ProcessingStep(
        "Baseline",
        job=jobs,
        image_uri=image,
        instance_type=instance_type,
        code=model.build.baseline_script or f"s3://{artifacts_bucket}/code/{model.name}/drift.py",
        arguments=["baseline", "--data", "/opt/ml/processing/input/data", "--output", "/opt/ml/processing/baseline",
                   "--columns", columns, "--label", monitoring.label, "--problem-type", model.problem_type],
        inputs=[ProcessingInput("train", preprocess.output_uri("train"), "/opt/ml/processing/input/data")],
        outputs=[ProcessingOutput("baseline", "/opt/ml/processing/baseline",
                                  Join([published, BASELINE_DIR, ExecutionVariables.PIPELINE_EXECUTION_ID], on="/"))],
        output_kms_key_id=output_key,
        max_runtime_seconds=runtime,
        cache=cache,
        description=f"Profile the {model.name} training data into the drift baseline registered with the version",
    )


def training_definition(model: ModelConfig, jobs: JobEnvironment, *, pipeline_name: str, where: BuildLocations) -> PipelineDefinition:
    """preprocess -> train -> evaluate -> quality gate -> register (PendingManualApproval) | fail."""
    region, artifacts_bucket, data_bucket, registry = where.region, where.artifacts_bucket, where.data_bucket, where.registry
    build = model.build
    if model.problem_type == "MulticlassClassification" and not build.training_image and "num_class" not in build.hyperparameters:
        raise ValueError(f"model {model.name}: the built-in XGBoost multiclass objective needs build.hyperparameters.num_class")
    image = model_image(model, region)
    execution = ExecutionVariables.PIPELINE_EXECUTION_ID
    work = f"s3://{artifacts_bucket}/pipelines/{model.name}"
    published = registry.artifacts_uri(model.name)
    gate = model.quality_gate

    input_data = ParameterString("InputDataUrl", f"s3://{data_bucket}/{model.name}/input/", "S3 prefix of the raw training data")
    processing_type = ParameterString("ProcessingInstanceType", build.processing_instance_type)
    training_type = ParameterString("TrainingInstanceType", build.training_instance_type)
    # A distribution is checked against the configured count only, so there the count is fixed; elsewhere a run may
    # override it, and a sharded train channel gets as many shards as the run has instances (a Join of the parameter).
    training_count: int | Parameter = build.training_instance_count if build.distribution else ParameterInteger(
        "TrainingInstanceCount", build.training_instance_count, "Training instances (with a sharded train channel, preprocessing writes this many shards)")
    shards = Join([training_count], on="") if isinstance(training_count, Parameter) else str(training_count)
    threshold = ParameterFloat("MetricThreshold", gate.threshold,
                               f"{gate.metric} the candidate must reach ({'at most' if gate.metric in ERROR_METRICS else 'at least'})")
    cache = CacheConfig("P30D")
    runtime = build.max_runtime_minutes * 60

    preprocess = ProcessingStep(
        "Preprocess",
        job=jobs,
        image_uri=image,
        instance_type=processing_type,
        code=build.preprocess_script or f"s3://{artifacts_bucket}/code/{model.name}/preprocess.py",
        inputs=[ProcessingInput("raw", input_data, "/opt/ml/processing/input/data")],
        outputs=[
            ProcessingOutput(split, f"/opt/ml/processing/{split}", Join([work, execution, split], on="/"))
            for split in ("train", "validation", "test")
        ],
        environment={"TRAIN_SHARDS": shards} if build.training_data_distribution == "ShardedByS3Key" else None,
        max_runtime_seconds=runtime,
        cache=cache,
        description=f"Clean and split the {model.name} data into train, validation and test sets",
    )
    hyperparameters = {} if build.training_image else dict(DEFAULT_HYPERPARAMETERS[model.problem_type])
    hyperparameters.update(build.hyperparameters)
    train = TrainingStep(
        "Train",
        job=jobs,
        image_uri=image,
        instance_type=training_type,
        instance_count=training_count,
        inputs={
            "train": TrainingInput(preprocess.output_uri("train"), "text/csv", distribution=build.training_data_distribution),
            "validation": TrainingInput(preprocess.output_uri("validation"), "text/csv"),
        },
        output_path=f"{published}/training",
        output_kms_key_id=registry.models_key_alias_arn,
        spot=SpotTraining(Join([work, execution, "checkpoints"], on="/"), build.max_wait_minutes * 60) if build.spot else None,
        hyperparameters=hyperparameters,
        max_runtime_seconds=runtime,
        distribution=build.distribution,
        keep_alive_seconds=build.warm_pool_seconds or None,
        debugger=(Debugger(region, Join([work, execution, "debugger"], on="/"), build.debugger, builtin_xgboost=not build.training_image)
                  if build.debugger else None),
        profiler=Profiler(region, Join([work, execution, "profiler"], on="/"), build.profiler) if build.profiler else None,
        cache=cache,
        description=f"Train the {model.name} model",
    )
    report = PropertyFile("EvaluationReport", "evaluation", EVALUATION_FILE)
    evaluate = ProcessingStep(
        "Evaluate",
        job=jobs,
        image_uri=image,
        instance_type=processing_type,
        code=build.evaluate_script or f"s3://{artifacts_bucket}/code/{model.name}/evaluate.py",
        inputs=[
            ProcessingInput("model", train.model_artifacts, "/opt/ml/processing/model"),
            ProcessingInput("test", preprocess.output_uri("test"), "/opt/ml/processing/test"),
        ],
        outputs=[ProcessingOutput("evaluation", "/opt/ml/processing/evaluation", Join([published, EVALUATION_DIR, execution], on="/"))],
        property_files=[report],
        environment={"METRIC": gate.metric, "PROBLEM_TYPE": model.problem_type},
        output_kms_key_id=registry.models_key_alias_arn,
        max_runtime_seconds=runtime,
        cache=cache,
        description=f"Score the candidate on the held-out test set ({gate.metric})",
    )
    baseline = baseline_step(model, jobs, image, processing_type, preprocess, published, artifacts_bucket,
                             registry.models_key_alias_arn, runtime, cache)
    serving = model.serving
    register = RegisterModelStep(
        "Register",
        model_package_group=registry.group_arn(model.name),
        image_uri=image,
        model_data=train.model_artifacts,
        realtime_instance_types=sorted({s.instance_type for s in serving.values()}),
        transform_instance_types=[build.batch_instance_type],
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(Join([evaluate.output_uri("evaluation"), EVALUATION_FILE], on="/")),
            data_statistics=MetricsSource(Join([baseline.output_uri("baseline"), BASELINE_FILE], on="/")) if baseline else None,
        ),
        package_description=f"{model.name} candidate from {pipeline_name}",
        description="Register the candidate in the shared registry; a human approves it for deployment",
    )
    fail = FailStep(
        "QualityGateFailed",
        error_message=Join([f"The candidate's {gate.metric} missed the quality gate (threshold", threshold, ")"], on=" "),
    )
    gate_step = ConditionStep(
        "QualityGate",
        conditions=[quality_condition(model, evaluate, report, threshold)],
        if_steps=[register],
        else_steps=[fail],
        description=f"{gate.metric} {'<=' if gate.metric in ERROR_METRICS else '>='} MetricThreshold",
    )
    return PipelineDefinition(
        pipeline_name,
        parameters=[p for p in (input_data, processing_type, training_type, training_count, threshold) if isinstance(p, Parameter)],
        steps=[preprocess, train, evaluate, *([baseline] if baseline else []), gate_step],
    )


def batch_definition(model: ModelConfig, jobs: JobEnvironment, *, pipeline_name: str, where: BuildLocations) -> PipelineDefinition:
    """create model (from an approved version's artifact) -> batch transform."""
    region, artifacts_bucket, data_bucket = where.region, where.artifacts_bucket, where.data_bucket
    image = model_image(model, region)
    model_data = ParameterString("ModelDataUrl", description="ModelDataUrl of the approved model package version to score with")
    batch_input = ParameterString("BatchInputUrl", f"s3://{data_bucket}/{model.name}/batch/input/", "S3 prefix of the records to score")
    instance_type = ParameterString("TransformInstanceType", model.build.batch_instance_type)
    create = CreateModelStep("CreateModel", job=jobs, image_uri=image, model_data=model_data,
                             description="A network-isolated, VPC-bound model from the approved artifact")
    score = TransformStep(
        "Score",
        job=jobs,
        model_name=create.model_name,
        instance_type=instance_type,
        input_s3_uri=batch_input,
        output_path=Join([f"s3://{artifacts_bucket}/batch/{model.name}", ExecutionVariables.PIPELINE_EXECUTION_ID], on="/"),
        cache=CacheConfig("P1D"),
        description=f"Score every record with the {model.name} model",
    )
    return PipelineDefinition(pipeline_name, parameters=[model_data, batch_input, instance_type], steps=[create, score])


class ModelBuildPipelines(Construct):
    """The reference pipelines of one configured model, in the build account.

    ``training`` always; ``batch`` when ``build.batch_inference`` is set. Names: ``<estate>-<model>-build`` and
    ``<estate>-<model>-batch``. ``build.schedule`` starts the build pipeline on a schedule. Estate glue: it reads
    the model's estate config and builds `TrainingPipeline` props from it.

    Args:
        scope: the parent construct.
        id: the construct id.
        estate_name: the estate's name (the pipelines' name prefix).
        region: the build account's region.
        model: the model's estate configuration.
        placement: the ML dev VPC placement of every job.
        key: the key of every job volume and output.
        artifacts: the ML dev artifacts bucket.
        data: the ML dev data bucket.
        registry: where the shared registry lives (`RegistryLocation`).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        estate_name: str,
        region: str,
        model: ModelConfig,
        placement: NetworkPlacement,
        key: kms.IKey,
        artifacts: SecureBucket,
        data: SecureBucket,
        registry: RegistryLocation,
    ) -> None:
        super().__init__(scope, id)
        image = model_image(model, region)
        problems = Problems()
        if model.build.training_image and f".dkr.ecr.{region}." not in image:
            problems.add("model.build.training_image", f"{image!r} is not in the estate's region {region!r}; expected an ECR "
                         "image of that region (SageMaker pulls images from the job's own region)")
        problems.raise_if_any(self.node.path)
        storage = PipelineStorage(
            key=key,
            buckets=(artifacts.bucket, data.bucket),
            cross_account=(
                CrossAccountStore(registry.artifacts_bucket_name, f"{ARTIFACTS_PREFIX}/{model.name}", registry.account, registry.region),
            ),
        )
        where = BuildLocations(region, artifacts.bucket_name, data.bucket_name, registry)
        build_name = f"{estate_name}-{model.name}-build"
        self.training = TrainingPipeline(
            self,
            "Build",
            pipeline_name=build_name,
            definition=lambda jobs: training_definition(model, jobs, pipeline_name=build_name, where=where),
            placement=placement,
            storage=storage,
            schedule=PipelineSchedule(model.build.schedule, model.build.schedule_parameters) if model.build.schedule else None,
            description=f"Builds, evaluates and registers the {model.name} model",
        )
        self.batch: TrainingPipeline | None = None
        if model.build.batch_inference:
            batch_name = f"{estate_name}-{model.name}-batch"
            self.batch = TrainingPipeline(
                self,
                "Batch",
                pipeline_name=batch_name,
                definition=lambda jobs: batch_definition(model, jobs, pipeline_name=batch_name, where=where),
                placement=placement,
                storage=storage,
                description=f"Scores batches of records with an approved {model.name} model",
            )
