"""SageMaker Debugger and profiler settings of a training job: DebugHookConfig, DebugRuleConfigurations,
ProfilerConfig and ProfilerRuleConfigurations.

Built-in rules run as processing jobs that SageMaker starts next to the training job, with the training
job's role, from the region's ``sagemaker-debugger-rules`` image (`debugger_rules_image`; the registry
accounts per region are kept in `DEBUGGER_RULE_REGISTRIES`, and nowhere else). Their API takes no VPC,
network-isolation or volume-KMS settings: the rule jobs read the tensors and profiler data that the
training job uploaded to S3 and write their reports there. Every S3 path is set explicitly (the service
defaults would put them next to the model output, which for the reference pipelines is another account).

Note: AWS closed SageMaker Debugger to new customers on 2026-07-30 (existing customers keep using it);
an account that never used Debugger gets its training jobs rejected when they carry these settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from mlops_estate.core.validation import Problems
from mlops_estate.pipeline.distribution import Distribution
from mlops_estate.pipeline.expressions import Expression, Join, Value
from mlops_estate.core.patterns import INSTANCE_TYPE, INSTANCE_TYPE_FORM

# Accounts that publish the built-in rule evaluator image (repository sagemaker-debugger-rules, tag latest) per
# commercial region. Source: the SageMaker Python SDK, src/sagemaker/image_uri_config/debugger.json, and the
# developer guide's "Amazon SageMaker Debugger Registry URLs for Built-in Rule Evaluators" (same accounts).
# The estate's config admits commercial regions only, so the China and GovCloud entries are left out.
DEBUGGER_RULE_REGISTRIES: dict[str, str] = {
    "af-south-1": "314341159256",
    "ap-east-1": "199566480951",
    "ap-northeast-1": "430734990657",
    "ap-northeast-2": "578805364391",
    "ap-northeast-3": "364406365360",
    "ap-south-1": "904829902805",
    "ap-southeast-1": "972752614525",
    "ap-southeast-2": "184798709955",
    "ca-central-1": "519511493484",
    "eu-central-1": "482524230118",
    "eu-north-1": "314864569078",
    "eu-south-1": "563282790590",
    "eu-west-1": "929884845733",
    "eu-west-2": "250201462417",
    "eu-west-3": "447278800020",
    "me-south-1": "986000313247",
    "sa-east-1": "818342061345",
    "us-east-1": "503895931360",
    "us-east-2": "915447279597",
    "us-west-1": "685455198987",
    "us-west-2": "895741380848",
}
RULES_REPOSITORY = "sagemaker-debugger-rules"

DebuggerRuleName = Literal[
    "VanishingGradient", "Overfit", "LossNotDecreasing", "Overtraining", "ExplodingTensor", "WeightUpdateRatio",
    "AllZero", "ClassImbalance", "Confusion", "TreeDepth", "FeatureImportanceOverweight",
]
DEBUGGER_RULES: tuple[str, ...] = (
    "VanishingGradient", "Overfit", "LossNotDecreasing", "Overtraining", "ExplodingTensor", "WeightUpdateRatio",
    "AllZero", "ClassImbalance", "Confusion", "TreeDepth", "FeatureImportanceOverweight",
)
# The tensor collection each rule reads, which the hook must save (smdebug_rulesconfig's ruleConfigs.json).
RULE_COLLECTIONS: dict[str, str] = {
    "VanishingGradient": "gradients", "LossNotDecreasing": "losses", "WeightUpdateRatio": "weights",
    "FeatureImportanceOverweight": "feature_importance",
}
# The built-in XGBoost image's hook has no `losses` collection: it saves its evaluation metrics as `metrics`
# (AWS's XGBoost Debugger examples point LossNotDecreasing there with ``collection_names: metrics``).
XGBOOST_RULE_COLLECTIONS: dict[str, str] = {**RULE_COLLECTIONS, "LossNotDecreasing": "metrics"}
# Rules the developer guide marks "not available for the XGBoost algorithm" (they read neural-network tensors).
DEEP_LEARNING_ONLY: frozenset[str] = frozenset({"VanishingGradient", "ExplodingTensor", "WeightUpdateRatio"})

ProfilerRuleName = Literal[
    "ProfilerReport", "CPUBottleneck", "GPUMemoryIncrease", "IOBottleneck", "LowGPUUtilization", "OverallSystemUsage",
    "BatchSize", "LoadBalancing", "StepOutlier", "MaxInitializationTime",
]
PROFILER_RULES: tuple[str, ...] = (
    "ProfilerReport", "CPUBottleneck", "GPUMemoryIncrease", "IOBottleneck", "LowGPUUtilization", "OverallSystemUsage",
    "BatchSize", "LoadBalancing", "StepOutlier", "MaxInitializationTime",
)
# ProfilerConfig.ProfilingIntervalInMilliseconds: the values the API accepts.
PROFILING_INTERVALS: tuple[int, ...] = (100, 200, 500, 1000, 5000, 60000)
DEFAULT_SAVE_INTERVAL = 500


def debugger_rules_image(region: str) -> str:
    """The built-in Debugger / profiler rule evaluator image of a region."""
    try:
        account = DEBUGGER_RULE_REGISTRIES[region]
    except KeyError:
        raise ValueError(
            f"no SageMaker Debugger rule evaluator image is known for region {region!r} "
            f"(known: {', '.join(sorted(DEBUGGER_RULE_REGISTRIES))})"
        ) from None
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{RULES_REPOSITORY}:latest"


def _under(prefix: Value, *parts: str) -> Value:
    """``prefix/parts`` for a literal S3 prefix or one resolved at run time (a Join on "/" is extended, not nested)."""
    if isinstance(prefix, Join) and prefix.on == "/":
        return Join([*prefix.values, *parts], on="/")
    if isinstance(prefix, Expression):
        return Join([prefix, *parts], on="/")
    return "/".join([str(prefix).rstrip("/"), *parts])


@dataclass(frozen=True)
class RuleJob:
    """Where a rule evaluation job runs (None: the service's choice).

    Attributes:
        instance_type: the rule job's instance type (``ml.<family>.<size>``).
        volume_size_gb: its volume size, 1 to 16384 GB.
    """

    instance_type: str | None = None
    volume_size_gb: int | None = None

    def problems(self, where: str) -> list[str]:
        out = []
        if self.instance_type is not None and not INSTANCE_TYPE.match(self.instance_type):
            out.append(f"{where}.instance_type {self.instance_type!r} is not a SageMaker instance type; expected {INSTANCE_TYPE_FORM}")
        if self.volume_size_gb is not None and not 1 <= self.volume_size_gb <= 16384:
            out.append(f"{where}.volume_size_gb {self.volume_size_gb} must lie in [1, 16384]")
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.instance_type is not None:
            out["InstanceType"] = self.instance_type
        if self.volume_size_gb is not None:
            out["VolumeSizeInGB"] = self.volume_size_gb
        return out


@dataclass(frozen=True)
class DebuggerRule:
    """A built-in Debugger rule.

    Attributes:
        name: the built-in rule (``Overfit``, ``LossNotDecreasing``, ...).
        parameters: its ``RuleParameters`` (strings) besides ``rule_to_invoke``, which the name sets.
        job: where its evaluation job runs (`RuleJob`).
    """

    name: DebuggerRuleName
    parameters: Mapping[str, str] = field(default_factory=dict)
    job: RuleJob = RuleJob()


@dataclass(frozen=True)
class ProfilerRule:
    """A built-in profiler rule (``ProfilerReport`` runs them all and writes one report).

    Attributes:
        name: the built-in rule.
        parameters: its ``RuleParameters`` (strings) besides ``rule_to_invoke``, which the name sets.
        job: where its evaluation job runs (`RuleJob`).
    """

    name: ProfilerRuleName = "ProfilerReport"
    parameters: Mapping[str, str] = field(default_factory=dict)
    job: RuleJob = RuleJob()


class _Checked:
    """``check`` for the typed config (models[].build.debugger / .profiler): every problem, under the path."""

    def problems(self, prefix: str = "") -> list[str]:
        raise NotImplementedError

    def check(self, path: str, problems: Problems) -> None:
        for problem in self.problems():
            problems.add(path, problem)


@dataclass(frozen=True)
class DebuggerSettings(_Checked):
    """What the Debugger hook saves and which built-in rules evaluate it.

    Attributes:
        rules: the built-in rules (names unique); the hook saves the collections they read.
        save_interval: save every this many steps, 1 to 1000000.
        collections: further tensor collections to save (names 1-256 characters, unique).
    """

    rules: tuple[DebuggerRule, ...] = ()
    save_interval: int = DEFAULT_SAVE_INTERVAL
    collections: tuple[str, ...] = ()

    def problems(self, prefix: str = "") -> list[str]:
        out = _rule_problems(prefix, self.rules, DEBUGGER_RULES)
        if not 1 <= self.save_interval <= 1_000_000:
            out.append(f"{prefix}save_interval {self.save_interval} must lie in [1, 1000000]")
        for i, name in enumerate(self.collections):
            if not 1 <= len(name) <= 256:
                out.append(f"{prefix}collections[{i}] {name!r} is {len(name)} characters; a CollectionName has 1 to 256")
            elif name in self.collections[:i]:
                out.append(f"{prefix}collections[{i}] {name!r} is given twice")
        return out


@dataclass(frozen=True)
class ProfilerSettings(_Checked):
    """System (and framework) profiling and the built-in profiler rules.

    Attributes:
        interval_ms: the profiling interval: 100, 200, 500, 1000, 5000 or 60000 ms.
        rules: the built-in profiler rules (names unique).
    """

    interval_ms: int = 500
    rules: tuple[ProfilerRule, ...] = (ProfilerRule(),)

    def problems(self, prefix: str = "") -> list[str]:
        out = _rule_problems(prefix, self.rules, PROFILER_RULES)
        if self.interval_ms not in PROFILING_INTERVALS:
            out.append(f"{prefix}interval_ms {self.interval_ms} is not allowed; use one of {', '.join(map(str, PROFILING_INTERVALS))}")
        return out


@dataclass(frozen=True)
class _RuleEvaluation:
    """A hook (Debugger) or profiler of one training job: where it writes, and the rules that read it."""

    region: str
    s3_output_path: Value
    what: ClassVar[str] = ""

    def _settings(self) -> DebuggerSettings | ProfilerSettings:
        raise NotImplementedError

    def problems(self) -> list[str]:
        """Every problem, each naming its field of the hook or profiler (``region``, ``rules[0].name``, ...) first."""
        settings = self._settings()
        return _region_problems(self.region, settings.rules) + settings.problems()

    def rule_configurations(self) -> list[dict[str, Any]]:
        """``DebugRuleConfigurations`` / ``ProfilerRuleConfigurations``: one rule evaluation job per rule, its
        report under ``<s3_output_path>/rule-output/<rule>``."""
        image = debugger_rules_image(self.region)
        return [
            {
                "RuleConfigurationName": rule.name,
                "RuleEvaluatorImage": image,
                "RuleParameters": {"rule_to_invoke": rule.name, **self._default_parameters(rule.name), **dict(rule.parameters)},
                "S3OutputPath": _under(self.s3_output_path, "rule-output", rule.name),
                **rule.job.to_json(),
            }
            for rule in self._settings().rules
        ]

    def _default_parameters(self, rule: str) -> dict[str, str]:
        return {}

    @property
    def image(self) -> str | None:
        return debugger_rules_image(self.region) if self._settings().rules else None


@dataclass(frozen=True)
class Debugger(_RuleEvaluation):
    """The Debugger hook of a training job and its rules.

    Attributes:
        region: the region whose rule evaluator image runs the rules (`DEBUGGER_RULE_REGISTRIES`).
        s3_output_path: where the hook writes tensors and the rules their reports.
        settings: what is saved and evaluated (`DebuggerSettings`).
        builtin_xgboost: the job runs SageMaker's built-in XGBoost image, whose hook saves ``metrics`` where deep
            learning hooks save ``losses``; the rules are pointed there.
    """

    settings: DebuggerSettings = DebuggerSettings()
    builtin_xgboost: bool = False
    what: ClassVar[str] = "debugger"

    def _settings(self) -> DebuggerSettings:
        return self.settings

    @property
    def _rule_collections(self) -> dict[str, str]:
        return XGBOOST_RULE_COLLECTIONS if self.builtin_xgboost else RULE_COLLECTIONS

    def _default_parameters(self, rule: str) -> dict[str, str]:
        # The rule's own default is the `losses` collection; a rule's explicit parameters still win.
        if self.builtin_xgboost and rule == "LossNotDecreasing":
            return {"collection_names": XGBOOST_RULE_COLLECTIONS[rule]}
        return {}

    def hook_config(self) -> dict[str, Any]:
        s = self.settings
        reads = self._rule_collections
        wanted = list(dict.fromkeys([*(reads[r.name] for r in s.rules if r.name in reads), *s.collections]))
        out: dict[str, Any] = {"S3OutputPath": self.s3_output_path}
        if wanted:
            out["CollectionConfigurations"] = [
                {"CollectionName": c, "CollectionParameters": {"save_interval": str(s.save_interval)}} for c in wanted
            ]
        return out


@dataclass(frozen=True)
class Profiler(_RuleEvaluation):
    """Profiling of a training job and its rules.

    Attributes:
        region: the region whose rule evaluator image runs the rules.
        s3_output_path: where profiling data and rule reports go.
        settings: the interval and rules (`ProfilerSettings`).
    """

    settings: ProfilerSettings = ProfilerSettings()
    what: ClassVar[str] = "profiler"

    def _settings(self) -> ProfilerSettings:
        return self.settings

    def config(self) -> dict[str, Any]:
        return {"S3OutputPath": self.s3_output_path, "ProfilingIntervalInMilliseconds": self.settings.interval_ms}


def distributed_debugging_problems(distribution: Distribution | None, checkpointing: bool) -> list[str]:
    """Where the Debugger hook cannot run ("Considerations for Amazon SageMaker Debugger"): parameter-server
    training, and a framework launcher together with SageMaker checkpoints (spot training checkpoints)."""
    if distribution is None:
        return []
    if distribution.strategy == "parameter_server":
        return ["SageMaker Debugger does not support parameter-server distributed training; drop debugger or "
                "use another distribution strategy"]
    if checkpointing:
        return [f"SageMaker Debugger is not available for distributed training ({distribution.strategy!r}) with SageMaker "
                "checkpoints, which spot training uses; turn spot off (and checkpoint in the script) or drop debugger"]
    return []


def _region_problems(region: str, rules: Sequence[DebuggerRule | ProfilerRule]) -> list[str]:
    if rules and region not in DEBUGGER_RULE_REGISTRIES:
        return [f"region {region!r} has no known rule evaluator image; known: {', '.join(sorted(DEBUGGER_RULE_REGISTRIES))}"]
    return []


def _rule_problems(prefix: str, rules: Sequence[DebuggerRule | ProfilerRule], allowed: Sequence[str]) -> list[str]:
    out: list[str] = []
    names = [r.name for r in rules]
    for i, rule in enumerate(rules):
        if rule.name not in allowed:
            out.append(f"{prefix}rules[{i}].name {rule.name!r} is not a built-in rule here; use one of {', '.join(allowed)}")
        if "rule_to_invoke" in rule.parameters:
            out.append(f"{prefix}rules[{i}].parameters: rule_to_invoke is set from the rule name; remove it")
        out.extend(rule.job.problems(f"{prefix}rules[{i}].job"))
    for name in sorted({n for n in names if names.count(n) > 1}):
        out.append(f"{prefix}rules: {name!r} is given twice; a rule configuration name must be unique")
    return out

__all__ = [
    "DEBUGGER_RULES", "DEBUGGER_RULE_REGISTRIES", "DEEP_LEARNING_ONLY", "Debugger", "DebuggerRule", "DebuggerRuleName",
    "DebuggerSettings", "PROFILER_RULES", "PROFILING_INTERVALS", "Profiler", "ProfilerRule", "ProfilerRuleName", "ProfilerSettings",
    "RuleJob", "debugger_rules_image", "distributed_debugging_problems",
]
