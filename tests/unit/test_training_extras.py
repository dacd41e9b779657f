"""Training extras of the pipeline builder: distributed training, warm pools, Debugger and profiler.

Every definition is validated against the pipeline schema (with its documented lag patches); every kind of
bad input is rejected with a message naming the field, the value and what is allowed. One synthesized
stack checks that the roles let the pipeline and its jobs do what the extras need, and no more.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from aws_cdk import aws_sagemaker as sm

from mlops_estate.security.encryption import DataClass, EstateKeys
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.pipeline import (
    DEBUGGER_RULE_REGISTRIES,
    Debugger,
    DebuggerRule,
    DebuggerSettings,
    Distribution,
    ExecutionVariables,
    JobEnvironment,
    Join,
    ParameterInteger,
    ParameterString,
    PipelineDefinition,
    Profiler,
    ProfilerRule,
    ProfilerSettings,
    RuleJob,
    SpotTraining,
    StepError,
    TrainingInput,
    TrainingStep,
    debugger_rules_image,
)
from mlops_estate.pipeline.training_pipeline import PipelineStorage, TrainingPipeline
from mlops_estate.security.storage import SecureBucket
from tests.helpers import TEST_AZS, make_stack, policy_statements, template_of
from tests.pipeline_schema import raw_schema, validate
from tests.unit.test_guardrail_check import DEV, synth_errors
from tests.unit.test_pipeline_builder import JOBS

PYTORCH = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.3.0-gpu-py311"
XGBOOST = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
WORK = "s3://work/pipelines/churn"
RULES_IMAGE = "929884845733.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-debugger-rules:latest"


def train(name: str = "Train", *, image: str = PYTORCH, instance_type: Any = "ml.p3.16xlarge", instance_count: Any = 2,
          channel: TrainingInput | None = None, spot: SpotTraining | None = None, **extras: Any) -> TrainingStep:
    return TrainingStep(
        name, job=JOBS, image_uri=image, instance_type=instance_type, instance_count=instance_count,
        inputs={"train": channel or TrainingInput(f"{WORK}/train")}, output_path=f"{WORK}/model", spot=spot, **extras,
    )


def arguments(step: TrainingStep, *parameters: Any) -> dict[str, Any]:
    body = PipelineDefinition("extras", parameters=list(parameters), steps=[step]).to_dict()
    validate(body)
    return body["Steps"][0]["Arguments"]  # type: ignore[no-any-return]


# -- distributed training -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("distribution", "instance_type", "expected"), [
    (Distribution("parameter_server"), "ml.c5.4xlarge", {"sagemaker_parameter_server_enabled": "true"}),
    (Distribution("mpi", processes_per_host=8, custom_mpi_options="-x NCCL_DEBUG=INFO"), "ml.p3.16xlarge",
     {"sagemaker_mpi_enabled": "true", "sagemaker_mpi_num_of_processes_per_host": "8",
      "sagemaker_mpi_custom_mpi_options": '"-x NCCL_DEBUG=INFO"'}),
    (Distribution("smdistributed_dataparallel"), "ml.p3.16xlarge",
     {"sagemaker_distributed_dataparallel_enabled": "true", "sagemaker_instance_type": '"ml.p3.16xlarge"',
      "sagemaker_distributed_dataparallel_custom_mpi_options": '""'}),
    (Distribution("pytorchddp"), "ml.p3.8xlarge", {"sagemaker_pytorch_ddp_enabled": "true", "sagemaker_instance_type": '"ml.p3.8xlarge"'}),
    (Distribution("torch_distributed"), "ml.p3.16xlarge",
     {"sagemaker_torch_distributed_enabled": "true", "sagemaker_instance_type": '"ml.p3.16xlarge"'}),
])
def test_framework_launchers_emit_the_sdk_hyperparameters(distribution, instance_type, expected):
    args = arguments(train(instance_type=instance_type, distribution=distribution, hyperparameters={"epochs": 3}))
    assert args["HyperParameters"] == {"epochs": "3", **expected}
    assert args["ResourceConfig"]["InstanceCount"] == 2
    # Nodes talk to each other: that traffic is encrypted, and the job stays isolated in the VPC.
    assert args["EnableInterContainerTrafficEncryption"] is True and args["EnableNetworkIsolation"] is True


def test_an_instance_type_parameter_passes_through_to_the_launcher():
    itype = ParameterString("TrainingInstanceType", "ml.p3.16xlarge")
    args = arguments(train(instance_type=itype, distribution=Distribution("smdistributed_dataparallel")), itype)
    assert args["HyperParameters"]["sagemaker_instance_type"] == {"Get": "Parameters.TrainingInstanceType"}


def test_builtin_algorithms_distribute_by_sharding_the_channel():
    args = arguments(train(image=XGBOOST, instance_type="ml.m5.2xlarge", instance_count=4,
                           channel=TrainingInput(f"{WORK}/train", "text/csv", distribution="ShardedByS3Key")))
    assert args["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert "HyperParameters" not in args


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"instance_count": 1, "instance_type": "ml.c5.xlarge", "distribution": Distribution("parameter_server")},
     "distribution: strategy 'parameter_server' with instance_count 1: a parameter server needs at least 2 instances"),
    ({"instance_count": ParameterInteger("Count", 1), "instance_type": "ml.c5.xlarge", "distribution": Distribution("parameter_server")},
     "a parameter server needs at least 2 instances"),  # a parameter's default is what a run without overrides uses
    ({"instance_count": 1, "distribution": Distribution("mpi")},
     "distribution: strategy 'mpi' with instance_count 1 and one process per host starts a single process"),
    ({"instance_count": 1, "instance_type": "ml.p3.2xlarge", "distribution": Distribution("pytorchddp")},
     "distribution: strategy 'pytorchddp' with instance_count 1 on the single-GPU instance_type 'ml.p3.2xlarge' starts one worker"),
    ({"instance_type": "ml.p3.8xlarge", "distribution": Distribution("smdistributed_dataparallel")},
     "distribution: strategy 'smdistributed_dataparallel' does not run on instance_type 'ml.p3.8xlarge'; SMDDP supports "
     "ml.p3.16xlarge, ml.p3dn.24xlarge, ml.p4d.24xlarge, ml.p4de.24xlarge"),
    ({"instance_type": "ml.c5.18xlarge", "distribution": Distribution("torch_distributed")},
     "distribution: strategy 'torch_distributed' needs a GPU (ml.p*, ml.g*) or Trainium (ml.trn*) instance_type, not 'ml.c5.18xlarge'"),
    ({"instance_type": "ml.trn1.32xlarge", "distribution": Distribution("mpi", processes_per_host=16)},
     "distribution: strategy 'mpi' is not supported on Trainium instance_type 'ml.trn1.32xlarge'; use 'torch_distributed'"),
    ({"distribution": Distribution("pytorchddp", processes_per_host=8)},
     "distribution: processes_per_host is for the 'mpi' strategy only, not 'pytorchddp'"),
    ({"distribution": Distribution("mpi", processes_per_host=0)}, "distribution: processes_per_host 0 must lie in [1, 64]"),
    ({"distribution": Distribution("torch_distributed", custom_mpi_options="-v")},
     "distribution: custom_mpi_options is for the 'mpi' and 'smdistributed_dataparallel' strategies, not 'torch_distributed'"),
    ({"distribution": Distribution("horovod")},  # type: ignore[arg-type]
     "distribution: strategy 'horovod' is not allowed; use one of parameter_server, mpi, smdistributed_dataparallel, pytorchddp, torch_distributed"),
    ({"distribution": Distribution("pytorchddp"), "hyperparameters": {"sagemaker_pytorch_ddp_enabled": "false"}},
     "hyperparameters: ['sagemaker_pytorch_ddp_enabled'] are set by distribution; remove them"),
    ({"instance_count": 1, "channel": TrainingInput(f"{WORK}/train", distribution="ShardedByS3Key")},
     "inputs[train].distribution: ShardedByS3Key with instance_count 1 shards across one instance; use FullyReplicated, or instance_count > 1"),
    ({"channel": TrainingInput(f"{WORK}/train", distribution="Sharded")},  # type: ignore[arg-type]
     "inputs[train].distribution: 'Sharded' is not allowed; use FullyReplicated or ShardedByS3Key"),
])
def test_bad_distribution_is_rejected(kwargs, message):
    with pytest.raises(StepError, match=re.escape(message)):
        train(**kwargs)


# -- warm pools -------------------------------------------------------------------------------------------------


def test_warm_pool_keeps_the_cluster_alive_after_the_job():
    args = arguments(train(keep_alive_seconds=1800))
    assert args["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 1800
    assert "EnableManagedSpotTraining" not in args
    assert "KeepAlivePeriodInSeconds" not in arguments(train())["ResourceConfig"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"keep_alive_seconds": 3601}, "keep_alive_seconds: 3601 is out of range; a warm pool is kept 0 to 3600 seconds"),
    ({"keep_alive_seconds": -1}, "keep_alive_seconds: -1 is out of range; a warm pool is kept 0 to 3600 seconds"),
    ({"keep_alive_seconds": 600, "spot": SpotTraining(f"{WORK}/checkpoints", 7200)},
     "keep_alive_seconds: 600 asks for a SageMaker managed warm pool, which cannot be used with managed spot training"),
])
def test_bad_warm_pool_is_rejected(kwargs, message):
    with pytest.raises(StepError, match=re.escape(message)):
        train(**kwargs)


# -- Debugger and profiler ------------------------------------------------------------------------------------


def debugger(region: str = "eu-west-1", **settings: Any) -> Debugger:
    rules = settings.pop("rules", (DebuggerRule("VanishingGradient"), DebuggerRule("Overfit", {"patience": "5"}),
                                   DebuggerRule("LossNotDecreasing", job=RuleJob("ml.m5.xlarge", 50))))
    return Debugger(region, Join([WORK, ExecutionVariables.PIPELINE_EXECUTION_ID, "debugger"], on="/"),
                    DebuggerSettings(rules=rules, **settings))


def profiler(region: str = "eu-west-1", **settings: Any) -> Profiler:
    return Profiler(region, f"{WORK}/profiler", ProfilerSettings(**settings))


def test_debugger_hook_and_rules():
    args = arguments(train(debugger=debugger(collections=("weights",)), profiler=profiler(interval_ms=1000)))
    hook = args["DebugHookConfig"]
    where = [WORK, {"Get": "Execution.PipelineExecutionId"}, "debugger"]
    assert hook["S3OutputPath"] == {"Std:Join": {"On": "/", "Values": where}}
    # The collections the rules read (and the extra one asked for) are saved.
    assert [(c["CollectionName"], c["CollectionParameters"]) for c in hook["CollectionConfigurations"]] == [
        ("gradients", {"save_interval": "500"}), ("losses", {"save_interval": "500"}), ("weights", {"save_interval": "500"})]
    rules = {r["RuleConfigurationName"]: r for r in args["DebugRuleConfigurations"]}
    assert sorted(rules) == ["LossNotDecreasing", "Overfit", "VanishingGradient"]
    assert {r["RuleEvaluatorImage"] for r in rules.values()} == {RULES_IMAGE}
    assert rules["Overfit"]["RuleParameters"] == {"rule_to_invoke": "Overfit", "patience": "5"}
    assert rules["LossNotDecreasing"]["InstanceType"] == "ml.m5.xlarge" and rules["LossNotDecreasing"]["VolumeSizeInGB"] == 50
    assert "InstanceType" not in rules["Overfit"]  # the service's choice unless given
    # Rule reports stay under the hook's prefix (the estate bucket), never the service default next to the model.
    assert rules["Overfit"]["S3OutputPath"] == {"Std:Join": {"On": "/", "Values": [*where, "rule-output", "Overfit"]}}
    assert args["ProfilerConfig"] == {"S3OutputPath": f"{WORK}/profiler", "ProfilingIntervalInMilliseconds": 1000}
    (report,) = args["ProfilerRuleConfigurations"]
    assert report == {"RuleConfigurationName": "ProfilerReport", "RuleEvaluatorImage": RULES_IMAGE,
                      "RuleParameters": {"rule_to_invoke": "ProfilerReport"}, "S3OutputPath": f"{WORK}/profiler/rule-output/ProfilerReport"}


def test_without_a_profiler_profiling_is_explicitly_off():
    args = arguments(train())
    assert args["ProfilerConfig"] == {"DisableProfiler": True}
    assert "ProfilerRuleConfigurations" not in args and "DebugHookConfig" not in args and "DebugRuleConfigurations" not in args


def test_rule_images_come_from_the_regions_registry():
    assert debugger_rules_image("us-east-1") == "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest"
    assert debugger_rules_image("us-west-2") == "895741380848.dkr.ecr.us-west-2.amazonaws.com/sagemaker-debugger-rules:latest"
    assert all(re.fullmatch(r"\d{12}", a) for a in DEBUGGER_RULE_REGISTRIES.values())
    with pytest.raises(ValueError, match=r"no SageMaker Debugger rule evaluator image is known for region 'xx-east-9' \(known: af-south-1"):
        debugger_rules_image("xx-east-9")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"debugger": debugger("eu-central-2")}, "debugger: region 'eu-central-2' has no known rule evaluator image; known: af-south-1"),
    ({"profiler": profiler("me-central-1")}, "profiler: region 'me-central-1' has no known rule evaluator image"),
    ({"debugger": debugger(rules=(DebuggerRule("Overfit"), DebuggerRule("Overfit")))},
     "debugger: rules: 'Overfit' is given twice; a rule configuration name must be unique"),
    ({"debugger": debugger(rules=(DebuggerRule("Overfit", {"rule_to_invoke": "Other"}),))},
     "debugger: rules[0].parameters: rule_to_invoke is set from the rule name; remove it"),
    ({"debugger": debugger(rules=(DebuggerRule("Bogus"),))},  # type: ignore[arg-type]
     "debugger: rules[0].name 'Bogus' is not a built-in rule here; use one of VanishingGradient, Overfit, LossNotDecreasing"),
    ({"profiler": profiler(rules=(ProfilerRule("Overfit"),))},  # type: ignore[arg-type]
     "profiler: rules[0].name 'Overfit' is not a built-in rule here; use one of ProfilerReport"),
    ({"debugger": debugger(rules=(DebuggerRule("Overfit", job=RuleJob("m5.xlarge", 0)),))},
     "debugger: rules[0].job.instance_type 'm5.xlarge' is not a SageMaker instance type; expected ml.<family>.<size>, e.g. ml.m5.large"),
    ({"debugger": debugger(rules=(DebuggerRule("Overfit", job=RuleJob(volume_size_gb=0)),))},
     "debugger: rules[0].job.volume_size_gb 0 must lie in [1, 16384]"),
    ({"debugger": debugger(save_interval=0)}, "debugger: save_interval 0 must lie in [1, 1000000]"),
    ({"profiler": profiler(interval_ms=250)}, "profiler: interval_ms 250 is not allowed; use one of 100, 200, 500, 1000, 5000, 60000"),
    ({"profiler": Profiler("eu-west-1", "work/profiler")}, "profiler.s3_output_path: 'work/profiler' is not an S3 URI; expected s3://bucket/prefix"),
    ({"instance_type": "ml.c5.xlarge", "distribution": Distribution("parameter_server"), "debugger": debugger(rules=())},
     "debugger: SageMaker Debugger does not support parameter-server distributed training"),
    ({"distribution": Distribution("pytorchddp"), "spot": SpotTraining(f"{WORK}/checkpoints", 7200), "debugger": debugger(rules=())},
     "debugger: SageMaker Debugger is not available for distributed training ('pytorchddp') with SageMaker checkpoints"),
])
def test_bad_debugger_and_profiler_settings_are_rejected(kwargs, message):
    with pytest.raises(StepError, match=re.escape(message)):
        train(**kwargs)


def test_every_problem_of_the_extras_is_reported_at_once():
    with pytest.raises(StepError) as failure:
        train(instance_count=1, distribution=Distribution("parameter_server"), keep_alive_seconds=4000,
              profiler=profiler(interval_ms=3))
    assert len(failure.value.problems) == 3


def test_the_unpatched_schema_lacks_exactly_the_documented_training_extras():
    hook = Debugger("eu-west-1", f"{WORK}/debugger", DebuggerSettings(rules=(DebuggerRule("Overfit"),)))
    step = train(keep_alive_seconds=60, debugger=hook, profiler=profiler(), retry_policies=())
    body = PipelineDefinition("extras", steps=[step]).to_dict()
    assert list(jsonschema.Draft7Validator(raw_schema()).iter_errors(body)), "the schema accepts these now: drop patch 8"
    # Without the three patched fields the published schema accepts the step: DebugHookConfig and
    # DebugRuleConfigurations are in it already, and nothing else was relaxed.
    args = body["Steps"][0]["Arguments"]
    del args["ResourceConfig"]["KeepAlivePeriodInSeconds"], args["ProfilerConfig"], args["ProfilerRuleConfigurations"]
    assert list(jsonschema.Draft7Validator(raw_schema()).iter_errors(body)) == []


# -- the roles: what the extras need, and no more --------------------------------------------------------------


class Built:
    def __init__(self) -> None:
        self.stack = make_stack()
        keys = EstateKeys(self.stack, "Keys", estate_name="team", classes=[DataClass.MODELS, DataClass.LOGS])
        network = PrivateNetwork(self.stack, "Network", cidr="10.50.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs)
        self.artifacts = SecureBucket(self.stack, "Artifacts", key=keys.models)
        work = f"s3://{self.artifacts.bucket_name}/pipelines/churn"
        storage = PipelineStorage(key=keys.models, buckets=(self.artifacts.bucket,))

        def definition(jobs: JobEnvironment) -> PipelineDefinition:
            step = TrainingStep(
                "Train", job=jobs, image_uri=PYTORCH, instance_type="ml.p3.16xlarge", instance_count=2,
                inputs={"train": TrainingInput(f"{work}/train")}, output_path=f"{work}/model", spot=None,
                distribution=Distribution("smdistributed_dataparallel"), keep_alive_seconds=900,
                debugger=Debugger("eu-west-1", f"{work}/debugger", DebuggerSettings(rules=(DebuggerRule("VanishingGradient"),))),
                profiler=Profiler("eu-west-1", f"{work}/profiler"),
            )
            return PipelineDefinition("team-extras", steps=[step])

        def plain(jobs: JobEnvironment) -> PipelineDefinition:
            return PipelineDefinition("team-plain", steps=[TrainingStep(
                "Train", job=jobs, image_uri=PYTORCH, instance_type="ml.p3.2xlarge", inputs={"train": TrainingInput(f"{work}/train")},
                output_path=f"{work}/model", spot=None)])

        TrainingPipeline(self.stack, "Extras", pipeline_name="team-extras", definition=definition, placement=network.placement,
                         storage=storage)
        TrainingPipeline(self.stack, "Plain", pipeline_name="team-plain", definition=plain, placement=network.placement,
                         storage=storage)
        self.template: dict[str, Any] = template_of(self.stack).to_json()

    def statements(self, prefix: str) -> list[dict[str, Any]]:
        return policy_statements(self.template, prefix)


@pytest.fixture(scope="module")
def built() -> Built:
    return Built()


def _create_training(statements: list[dict[str, Any]]) -> dict[str, Any]:
    (statement,) = [s for s in statements if s["Action"] == "sagemaker:CreateTrainingJob"]
    return statement


def test_pipeline_role_allows_warm_pools_only_as_long_as_the_definition_asks(built):
    extras = _create_training(built.statements("ExtrasPipelineRole"))
    assert extras["Condition"]["NumericLessThanEqualsIfExists"] == {"sagemaker:KeepAlivePeriod": "900"}
    # Distributed jobs are still created isolated, encrypted between nodes, in this VPC.
    assert extras["Condition"]["Bool"] == {"sagemaker:NetworkIsolation": "true", "sagemaker:InterContainerTrafficEncryption": "true"}
    plain = _create_training(built.statements("PlainPipelineRole"))
    assert plain["Condition"]["NumericLessThanEqualsIfExists"] == {"sagemaker:KeepAlivePeriod": "0"}


def _partition_free(value: Any) -> str:
    return json.dumps(value).replace('{"Ref": "AWS::Partition"}', "aws")


def test_job_role_pulls_exactly_the_rule_image_and_writes_the_debug_prefix(built):
    statements = built.statements("ExtrasJobRole")
    pulls = [s for s in statements if "ecr:BatchGetImage" in s["Action"]]
    text = _partition_free(pulls)
    assert "repository/sagemaker-debugger-rules" in text and ":929884845733:" in text
    assert "repository/pytorch-training" in text
    plain = _partition_free([s for s in built.statements("PlainJobRole") if "ecr:BatchGetImage" in s["Action"]])
    assert "sagemaker-debugger-rules" not in plain
    # The hook, profiler and rule jobs write under the artifacts bucket, which the job role may write (and no other).
    writes = [s for s in statements if "s3:PutObject" in s["Action"]]
    assert writes and all("Artifacts" in json.dumps(s["Resource"]) for s in writes)


def test_rule_job_instance_types_are_held_to_the_guardrail_allow_list():
    """The SCP's instance-type rule covers every instance type of a CreateTrainingJob request, rule jobs included;
    the synth-time guardrail check reads them from the pipeline definition and fails the synth first."""
    def pipeline(stack: Any) -> None:
        step = train(image=XGBOOST, instance_type="ml.m5.xlarge", debugger=debugger(
            rules=(DebuggerRule("Overfit", job=RuleJob("ml.g4dn.xlarge")), DebuggerRule("LossNotDecreasing", job=RuleJob("ml.m5.xlarge")))))
        body = PipelineDefinition("p", steps=[step]).to_dict()
        sm.CfnPipeline(stack, "Pipeline", pipeline_name="p", role_arn="arn:aws:iam::444444444444:role/p",
                       pipeline_definition={"PipelineDefinitionBody": json.dumps(body)})

    errors = synth_errors(pipeline)
    assert f"DenyInstanceTypesOutsideAllowList{DEV}: instance type 'ml.g4dn.xlarge'" in errors
    assert "'ml.m5.xlarge'" not in errors  # the training job's and the other rule's type are allowed
