"""The physical names of a monitor's schedules and alarms, in one place.

`ModelMonitor` names its resources with these rules, and whatever listens to a monitor from elsewhere (the
retraining trigger in another account, a forwarding rule, an SCP) derives the same names from the same prefix.
Names are ``<name prefix>-<suffix>``; SageMaker lowercases names in ARNs.
"""

from __future__ import annotations

import re

from mlops_estate.monitoring.props import MonitorType

SUFFIX: dict[MonitorType, str] = {"data_quality": "dq", "model_quality": "mq", "bias": "bias", "explainability": "expl"}
# The longest suffix a monitor adds to its prefix: "-expl" (explainability schedule) before the job definition's hash.
LONGEST_SUFFIX = f"-{SUFFIX['explainability']}"


def schedule_name(name_prefix: str, monitor: MonitorType) -> str:
    """The monitoring schedule of one monitor type (its job definition is this name plus a properties hash)."""
    return f"{name_prefix}-{SUFFIX[monitor]}"


def schedule_arn(name: str, *, partition: str, region: str, account: str) -> str:
    """The ARN of the monitoring schedule ``name`` (a literal name: SageMaker lowercases it in the ARN)."""
    return f"arn:{partition}:sagemaker:{region}:{account}:monitoring-schedule/{name.lower()}"


def drift_alarm_name(name_prefix: str) -> str:
    """The composite drift alarm: any feature drift, quality drop or constraint violation (retraining listens)."""
    return f"{name_prefix}-drift"


def feature_drift_alarm_name(name_prefix: str, feature: str) -> str:
    return f"{name_prefix}-drift-{feature}"


def quality_alarm_name(name_prefix: str, metric: str) -> str:
    return f"{name_prefix}-quality-{metric}"


def executions_alarm_name(name_prefix: str, outcome: str) -> str:
    """The alarm on monitoring executions that ended with ``outcome`` (``failed`` or ``violations``)."""
    return f"{name_prefix}-{outcome}"


def monitor_role_path(namespace: str) -> str:
    """The IAM path of Model Monitor roles (``/<namespace>/model-monitor/``). Clarify creates its explainability
    shadow endpoint config (``sm-clarify-*``, no KMS key) as the monitoring job's role; a guardrail can exempt
    exactly that: configs of that name, created by roles under this path."""
    return f"/{namespace}/model-monitor/"


def pascal_case(text: str) -> str:
    """``monthly_charges`` -> ``MonthlyCharges``: a construct id part from a feature name."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)
