"""The typed estate configuration: what accounts exist, where they run, which models they serve.

`EstateConfig.from_dict` parses plain JSON (the ``estate`` context of cdk.json, a user's file, ``-c``
overrides) and raises one `ConfigError` that lists every problem with its path. Nothing is built
from a config that did not validate.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

# Per-model build and governance settings (model_build_config.py); patterns shared with the pipelines.
from mlops_estate.config.model_build import BuildConfig, GovernanceConfig
from mlops_estate.core.patterns import ACCOUNT_ID, OU_ID, QUALIFIER, REGION, ROOT_ID

from mlops_estate.config.ci import EXEC_ROLE, CiConfig
from mlops_estate.config.baseline_rollout import BaselineRolloutConfig
from mlops_estate.core.validation import ConfigError, Problems, join
from mlops_estate.config.parsing import parse_dataclass, is_missing
from mlops_estate.config.data_lake import DataLakeConfig
from mlops_estate.features.definition import FeatureGroupDefinition, check_feature_groups
from mlops_estate.config.governance import AuditConfig, BudgetsConfig, GuardrailsConfig
from mlops_estate.serving.serving_config import ServingConfig
from mlops_estate.config.monitoring import MonitoringConfig
from mlops_estate.monitoring.quality import ProblemType
from mlops_estate.config.projects import ProjectsConfig
from mlops_estate.config.workspace import WorkspaceConfig
from mlops_estate.workspace.personas import Persona, UserConfig
from mlops_estate.config.retraining import PromotionConfig, RetrainingConfig, check_data_prefixes

# `cdk bootstrap`'s default qualifier (DefaultStackSynthesizer.DEFAULT_QUALIFIER; config.py does not import aws_cdk).
DEFAULT_QUALIFIER = "hnb659fds"
# Name used as a prefix of physical names (pipelines, endpoints, buses): lowercase so it fits S3 and SageMaker.
ESTATE_NAME = re.compile(r"^[a-z][a-z0-9-]{1,19}$")
# SageMaker resource names: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$; we keep room for suffixes.
MODEL_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,31}$")
TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{1,256}$")

Role = Literal["shared_services", "data_lake", "ml_dev", "staging", "prod"]
ServingEnv = Literal["staging", "prod"]

# Metrics whose value is a ratio; their thresholds must lie in [0, 1]. Regression errors must be >= 0.
RATIO_METRICS = {"accuracy", "auc", "f1", "precision", "recall", "balanced_accuracy", "r2"}
ERROR_METRICS = {"rmse", "mse", "mae"}
METRICS_BY_PROBLEM = {
    "BinaryClassification": {"accuracy", "auc", "f1", "precision", "recall", "balanced_accuracy"},
    "MulticlassClassification": {"accuracy", "f1", "precision", "recall", "balanced_accuracy"},
    "Regression": {"rmse", "mse", "mae", "r2"},
}


def _account(path: str, value: str, problems: Problems) -> None:
    if not ACCOUNT_ID.match(value):
        problems.add(path, f"{value!r} is not an AWS account id (exactly 12 digits)")


@dataclass(frozen=True)
class OrganizationConfig:
    """The management account and the organizational units that hold the ML accounts."""

    management_account: str
    ml_ou_ids: tuple[str, ...]
    # The role CloudFormation deploys with; guardrails exempt it so the estate can manage itself.
    # Default: the execution role of the estate's bootstrap, `cdk-<bootstrap_qualifier>-cfn-exec-role`.
    deployment_role_name: str | None = None
    # The account baseline rolled out to whole OUs with a StackSet (baseline_rollout_config.py).
    baseline_rollout: BaselineRolloutConfig = field(default_factory=BaselineRolloutConfig)

    def check(self, path: str, problems: Problems) -> None:
        _account(join(path, "management_account"), self.management_account, problems)
        if not self.ml_ou_ids:
            problems.add(join(path, "ml_ou_ids"), "needs at least one OU id (or the root id r-...)")
        for i, ou in enumerate(self.ml_ou_ids):
            if not (OU_ID.match(ou) or ROOT_ID.match(ou)):
                problems.add(join(join(path, "ml_ou_ids"), i), f"{ou!r} is not an OU id (ou-xxxx-xxxxxxxx) or root id (r-xxxx)")


@dataclass(frozen=True)
class AccountsConfig:
    """The account id of every role. The same id may serve several roles (sandbox mode)."""

    shared_services: str
    data_lake: str
    ml_dev: str
    staging: str
    prod: str

    def check(self, path: str, problems: Problems) -> None:
        for f in dataclasses.fields(self):
            _account(join(path, f.name), getattr(self, f.name), problems)

    def of(self, role: Role) -> str:
        return str(getattr(self, role))


@dataclass(frozen=True)
class NetworkConfig:
    """One private VPC per workload account; CIDRs must not overlap (they may be peered later)."""

    ml_dev_cidr: str = "10.10.0.0/16"
    staging_cidr: str = "10.20.0.0/16"
    prod_cidr: str = "10.30.0.0/16"

    def check(self, path: str, problems: Problems) -> None:
        nets: list[tuple[str, ipaddress.IPv4Network]] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            try:
                net = ipaddress.IPv4Network(value)
            except ValueError:
                problems.add(join(path, f.name), f"{value!r} is not an IPv4 CIDR block like 10.10.0.0/16")
                continue
            if not 16 <= net.prefixlen <= 22:
                problems.add(join(path, f.name), f"{value!r} has prefix /{net.prefixlen}; use /16 to /22 so every AZ gets a subnet")
                continue
            for other_name, other in nets:
                if net.overlaps(other):
                    problems.add(join(path, f.name), f"{value!r} overlaps {other_name} {str(other)!r}")
            nets.append((f.name, net))


@dataclass(frozen=True)
class QualityGateConfig:
    """The evaluation metric that decides whether a trained model may be registered."""

    metric: str
    threshold: float

    def check_for(self, problem_type: str, path: str, problems: Problems) -> None:
        allowed = METRICS_BY_PROBLEM[problem_type]
        if self.metric not in allowed:
            problems.add(join(path, "metric"), f"{self.metric!r} does not apply to {problem_type}; use one of {', '.join(sorted(allowed))}")
        elif self.metric in RATIO_METRICS and not 0.0 <= self.threshold <= 1.0:
            problems.add(join(path, "threshold"), f"{self.threshold} is out of range for {self.metric}; it must lie in [0, 1]")
        elif self.metric in ERROR_METRICS and self.threshold < 0:
            problems.add(join(path, "threshold"), f"{self.threshold} is out of range for {self.metric}; it must be >= 0")


def _default_serving() -> Mapping[ServingEnv, ServingConfig]:
    return {"staging": ServingConfig(), "prod": ServingConfig(min_instances=2, max_instances=4)}


@dataclass(frozen=True)
class ModelConfig:
    """A model the estate builds, registers, serves and monitors."""

    name: str
    problem_type: ProblemType
    quality_gate: QualityGateConfig
    serving: Mapping[ServingEnv, ServingConfig] = field(default_factory=_default_serving)
    description: str = ""
    monitoring: MonitoringConfig | None = None
    build: BuildConfig = field(default_factory=BuildConfig)
    governance: GovernanceConfig = field(default_factory=GovernanceConfig)
    retraining: RetrainingConfig = field(default_factory=RetrainingConfig)

    def check(self, path: str, problems: Problems) -> None:
        if not MODEL_NAME.match(self.name):
            problems.add(join(path, "name"), f"{self.name!r} is not a valid model name (lowercase letters, digits, single hyphens, up to 32)")
        self.quality_gate.check_for(self.problem_type, join(path, "quality_gate"), problems)
        prod = self.serving.get("prod")
        if isinstance(prod, ServingConfig) and prod.mode == "realtime" and prod.min_instances < 2:  # unparsed: reported already
            problems.add(join(path, "serving.prod.min_instances"), f"{prod.min_instances} is below 2; prod real-time endpoints run 2+ instances so SageMaker spreads them over zones")
        if self.monitoring is not None:
            self.monitoring.check_for(self.problem_type, self.quality_gate.metric, join(path, "monitoring"), problems)


@dataclass(frozen=True)
class TagsConfig:
    """Cost allocation tags applied to every taggable resource of the estate."""

    project: str
    team: str
    cost_center: str

    def check(self, path: str, problems: Problems) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not TAG_VALUE.match(value):
                problems.add(join(path, f.name), f"{value!r} is not a valid tag value (1-256 letters, digits, spaces and _.:/=+-@)")


@dataclass(frozen=True)
class EstateConfig:
    """The whole estate."""

    name: str
    region: str
    availability_zones: tuple[str, ...]
    organization: OrganizationConfig
    accounts: AccountsConfig
    tags: TagsConfig
    network: NetworkConfig = field(default_factory=NetworkConfig)
    users: tuple[UserConfig, ...] = ()
    models: tuple[ModelConfig, ...] = ()
    # Feature groups of the ML dev account (feature_store_config.py); data-arrival events (data_lake_config.py).
    feature_groups: tuple[FeatureGroupDefinition, ...] = ()
    data_lake: DataLakeConfig = field(default_factory=DataLakeConfig)
    guardrails: GuardrailsConfig = field(default_factory=GuardrailsConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    budgets: BudgetsConfig = field(default_factory=BudgetsConfig)
    # Studio, persona roles and MLflow of the ML dev account (workspace_config.py).
    workspace: WorkspaceConfig = field(default_factory=WorkspaceConfig)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    # GitHub Actions OIDC deploy roles, one per account (ci_config.py); none when unset.
    ci: CiConfig | None = None
    # SageMaker Projects templates (Service Catalog) in the ML dev account (projects_config.py).
    projects: ProjectsConfig = field(default_factory=ProjectsConfig)
    # The CDK bootstrap qualifier of every account (`cdk bootstrap --qualifier`): the stacks deploy through its roles,
    # the CI deploy roles and the promotion pipeline assume them, the guardrails exempt its execution role.
    bootstrap_qualifier: str = DEFAULT_QUALIFIER

    def check(self, path: str, problems: Problems) -> None:
        if not ESTATE_NAME.match(self.name):
            problems.add(join(path, "name"), f"{self.name!r} must be 2-20 lowercase letters, digits or hyphens, starting with a letter")
        if not REGION.match(self.region):
            problems.add(join(path, "region"), f"{self.region!r} is not an AWS region name like eu-west-1")
        azs = join(path, "availability_zones")
        if not 2 <= len(self.availability_zones) <= 3:
            problems.add(azs, f"needs 2 or 3 zones, got {len(self.availability_zones)}")
        for i, az in enumerate(self.availability_zones):
            if not re.fullmatch(re.escape(self.region) + r"[a-z]", az):
                problems.add(join(azs, i), f"{az!r} is not a zone of region {self.region!r} (like {self.region}a)")
        if len(set(self.availability_zones)) != len(self.availability_zones):
            problems.add(azs, "lists a zone twice")
        # Items that failed to parse are MISSING (their problems are already reported).
        _duplicates([u.name for u in self.users if not is_missing(u)], join(path, "users"), "user name", problems)
        _duplicates([m.name for m in self.models if not is_missing(m)], join(path, "models"), "model name", problems)
        check_feature_groups(self.feature_groups, join(path, "feature_groups"), problems)
        self.guardrails.check_models(self.models, join(path, "guardrails"), problems)
        check_data_prefixes([m for m in self.models if not is_missing(m)], self.data_lake.arrival_prefix, join(path, "models"), problems)
        self._check_bootstrap(path, problems)
        if self.ci is not None:
            self.ci.check_rollouts(self.models, join(path, "ci"), problems)
        self.organization.baseline_rollout.check_estate(self, join(path, "organization.baseline_rollout"), problems)
        self.projects.check_models([m.name for m in self.models if not is_missing(m)], join(path, "projects"), problems)

    def _check_bootstrap(self, path: str, problems: Problems) -> None:
        if not QUALIFIER.match(self.bootstrap_qualifier):
            problems.add(join(path, "bootstrap_qualifier"),
                         f"{self.bootstrap_qualifier!r} is not a CDK bootstrap qualifier (1-10 lowercase letters and digits)")
        # The guardrails exempt the deployment role: a CDK execution role of another bootstrap would be denied.
        match = EXEC_ROLE.match(self.organization.deployment_role_name or "")
        if match and match.group("qualifier") != self.bootstrap_qualifier:
            problems.add(join(path, "organization.deployment_role_name"),
                         f"{self.organization.deployment_role_name!r} is the execution role of bootstrap qualifier "
                         f"{match.group('qualifier')!r}, but the estate deploys through bootstrap_qualifier {self.bootstrap_qualifier!r}; "
                         "leave deployment_role_name out (it follows bootstrap_qualifier) or name the same qualifier")

    @property
    def deployment_role_name(self) -> str:
        """The role the guardrails exempt: ``organization.deployment_role_name`` or the bootstrap's execution role."""
        return self.organization.deployment_role_name or f"cdk-{self.bootstrap_qualifier}-cfn-exec-role"

    @property
    def sandbox(self) -> bool:
        """True when every role lives in one account (a cheap single-account trial)."""
        ids = {getattr(self.accounts, f.name) for f in dataclasses.fields(self.accounts)}
        return len(ids) == 1

    @classmethod
    def from_dict(cls, data: Any, source: str = "estate config") -> EstateConfig:
        problems = Problems()
        config = parse_dataclass(cls, data, "", problems)
        if problems or is_missing(config):
            raise ConfigError(source, problems.items)
        return config


def _duplicates(names: list[str], path: str, what: str, problems: Problems) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            problems.add(join(path, i), f"duplicate {what} {name!r} (first at index {seen[name]})")
        else:
            seen[name] = i


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``estate.a.b=value`` style overrides (from ``cdk synth -c estate.region=eu-west-1``).

    Where the setting is a string the value is taken as given; elsewhere values that parse as JSON are used
    as JSON (numbers, lists, objects, booleans), anything else as a string.
    List items are addressed by index: ``estate.models.0.name``.
    """
    result: dict[str, Any] = json.loads(json.dumps(data))
    for dotted, raw in sorted(overrides.items()):
        keys = dotted.split(".")
        node: Any = result
        for i, key in enumerate(keys[:-1]):
            step: Any = int(key) if isinstance(node, list) and key.isdigit() else key
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError) as exc:
                where = ".".join(keys[: i + 1])
                raise ConfigError("-c overrides", [f"estate.{dotted}: cannot override, {where!r} does not exist"]) from exc
        last: Any = int(keys[-1]) if isinstance(node, list) and keys[-1].isdigit() else keys[-1]
        current = node[last] if isinstance(node, dict) and last in node else None
        value = raw
        if isinstance(raw, str):
            # A string setting takes the text as given, so account ids stay strings (a quoted JSON string is
            # unquoted); other settings parse as JSON.
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError:
                parsed = raw
            if not isinstance(current, str) or isinstance(parsed, str):
                value = parsed
        node[last] = value
    return result


def _paths(data: Any, prefix: str = "") -> list[str]:
    """Every dotted path into ``data`` (objects and list items), the ones ``-c estate.<path>=`` may override."""
    out: list[str] = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        out.append(path)
        out.extend(_paths(value, path))
    return out


def load_estate(get_context: Callable[[str], Any], default_file: Path | None = None,
                context_keys: Iterable[str] | None = None) -> EstateConfig:
    """Build the config the same way for the CDK CLI, a bare ``python app.py`` and tests.

    ``get_context`` is ``app.node.try_get_context``. Precedence: ``estate_file`` context (a JSON file)
    > ``estate`` context (cdk.json) > ``default_file``'s ``context.estate``; then each
    ``estate.<path>`` context value (``-c estate.region=eu-central-1``) overrides that path. ``context_keys``
    (every context key the app has) lets an override add a setting the file leaves out; a misspelt one then fails
    parsing as an unknown key instead of being ignored. Given, only its ``estate.`` keys are read as overrides (one
    context read each); without it, every path of the config is looked up (one read per path: ~70 per model).
    """
    source: str
    estate_file = get_context("estate_file")
    if estate_file:
        path = Path(str(estate_file))
        if not path.is_file():
            raise ConfigError("estate_file", [f"{str(path)!r} does not exist"])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(str(path), [f"line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}"]) from exc
        source = str(path)
    elif get_context("estate") is not None:
        data, source = get_context("estate"), "cdk.json context 'estate'"
    elif default_file is not None:
        data, source = json.loads(default_file.read_text(encoding="utf-8"))["context"]["estate"], str(default_file)
    else:
        raise ConfigError("estate config", ["no 'estate' context and no estate_file given"])
    if context_keys is None:
        paths = set(_paths(data))
    else:
        paths = {key.removeprefix("estate.") for key in context_keys if key.startswith("estate.")}
    overrides = {p: v for p in sorted(paths) if (v := get_context(f"estate.{p}")) is not None}
    if overrides:
        data = apply_overrides(data, overrides)
        source += " with -c overrides"
    return EstateConfig.from_dict(data, source)
