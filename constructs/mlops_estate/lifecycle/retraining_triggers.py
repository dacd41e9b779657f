"""What restarts a model's pipeline: drift alarms, monitoring executions with violations, new data.

Each trigger is an EventBridge event pattern. Build one from the monitor that raises it
(`DriftAlarmTrigger.of(monitor)`, `MonitoringViolationTrigger.of(monitor)`), or from names and accounts when the
monitor lives in another app or account (the names follow `mlops_estate.monitoring.naming`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_estate.monitoring.drift_monitor import DriftMonitor
    from mlops_estate.monitoring.model_monitor import ModelMonitor

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
PROCESSING_JOB_STATE_CHANGE = "SageMaker Processing Job State Change"


@dataclass(frozen=True)
class DriftAlarmTrigger:
    """A drift alarm goes to ALARM (OK and INSUFFICIENT_DATA do not match).

    Attributes:
        alarm_names: the drift alarms (a monitor's composite ``drift_alarm``).
        accounts: the accounts the alarms live in.
    """

    alarm_names: Sequence[str]
    accounts: Sequence[str]

    @classmethod
    def of(cls, *monitors: ModelMonitor | DriftMonitor) -> DriftAlarmTrigger:
        """The composite drift alarms of ``monitors`` (either engine), in their accounts."""
        return cls(alarm_names=[m.drift_alarm_name for m in monitors], accounts=[m.account for m in monitors])

    @classmethod
    def violations_of(cls, *monitors: DriftMonitor) -> DriftAlarmTrigger:
        """The violations alarms of portable-engine monitors (data-quality violations of a run), in their accounts:
        what `MonitoringViolationTrigger` is for Model Monitor schedules."""
        return cls(alarm_names=[m.violations_alarm_name for m in monitors], accounts=[m.account for m in monitors])

    def pattern(self) -> dict[str, Any]:
        return {
            "source": ["aws.cloudwatch"],
            "detail-type": [ALARM_STATE_CHANGE],
            "account": sorted(set(self.accounts)),
            "detail": {"alarmName": sorted(set(self.alarm_names)), "state": {"value": ["ALARM"]}},
        }


@dataclass(frozen=True)
class MonitoringViolationTrigger:
    """A Model Monitor execution (a processing job of one of the schedules) completed with violations.

    Attributes:
        schedule_arns: the monitoring schedules' ARNs (lowercase names, as SageMaker writes them).
        accounts: the accounts the schedules live in.
    """

    schedule_arns: Sequence[str]
    accounts: Sequence[str]

    @classmethod
    def of(cls, *monitors: ModelMonitor) -> MonitoringViolationTrigger:
        """Every monitoring schedule of ``monitors``, in their accounts."""
        return cls(schedule_arns=[arn for m in monitors for arn in m.schedule_arns.values()],
                   accounts=[m.account for m in monitors])

    def pattern(self) -> dict[str, Any]:
        return {
            "source": ["aws.sagemaker"],
            "detail-type": [PROCESSING_JOB_STATE_CHANGE],
            "account": sorted(set(self.accounts)),
            "detail": {
                "ProcessingJobStatus": ["Completed"],
                "ExitMessage": [{"prefix": "CompletedWithViolations"}],
                "MonitoringScheduleArn": sorted(set(self.schedule_arns)),
            },
        }


@dataclass(frozen=True)
class DataArrivalTrigger:
    """Objects created under ``key_prefix`` (S3 EventBridge notifications); the new data's S3 URI becomes the
    pipeline's input parameter.

    Attributes:
        accounts: the accounts of the buckets.
        key_prefix: the key prefix of the model's new data.
        bucket_names: only these buckets (default any bucket of those accounts that sends events).
    """

    accounts: Sequence[str]
    key_prefix: str
    bucket_names: Sequence[str] = ()

    def pattern(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"object": {"key": [{"prefix": self.key_prefix}]}}
        if self.bucket_names:
            detail["bucket"] = {"name": sorted(set(self.bucket_names))}
        return {"source": ["aws.s3"], "detail-type": ["Object Created"], "account": sorted(set(self.accounts)), "detail": detail}


Trigger = DriftAlarmTrigger | MonitoringViolationTrigger | DataArrivalTrigger
