"""The composite drift alarm both engines raise (`ModelMonitor`, `DriftMonitor`): retraining listens to it."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_estate.monitoring.naming import drift_alarm_name


def composite_drift_alarm(scope: Construct, *, name_prefix: str, endpoint_name: str, signals: Sequence[cloudwatch.IAlarm],
                          violations: str, topic: sns.ITopic) -> cloudwatch.CompositeAlarm:
    """``<prefix>-drift`` (construct id ``DriftAlarm``): in ALARM while any of ``signals`` is (feature drift, model
    quality, violations); notifies ``topic``. ``violations`` says what raised the violations signal."""
    alarm = cloudwatch.CompositeAlarm(
        scope,
        "DriftAlarm",
        composite_alarm_name=drift_alarm_name(name_prefix),
        alarm_description=(
            f"Model drift on {endpoint_name}: a feature drifted, model quality dropped below its threshold, "
            f"or {violations}. Retraining listens to this alarm."
        ),
        alarm_rule=cloudwatch.AlarmRule.any_of(*(cloudwatch.AlarmRule.from_alarm(a, cloudwatch.AlarmState.ALARM) for a in signals)),
    )
    alarm.add_alarm_action(cw_actions.SnsAction(topic))
    return alarm
