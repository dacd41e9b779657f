"""Monitoring schedules: the only cron shapes SageMaker Model Monitor accepts, and how often each runs.

A schedule's cadence sizes what depends on it: the period of the alarms on the metrics a run publishes, and the
longest a run may take before the next one starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlops_estate.core.validation import Problems

HOURLY = "cron(0 * ? * * *)"
DAILY = "cron(0 0 ? * * *)"
# SageMaker Model Monitor accepts only these shapes (ScheduleConfig.ScheduleExpression):
#   cron(0 * ? * * *)            hourly
#   cron(0 H ? * * *)            daily at hour H (0-23)
#   cron(0 H/N ? * * *)          every N hours (1-24) starting at hour H
CRON = re.compile(r"^cron\(0 (?:(?P<hourly>\*)|(?P<start>\d{1,2})(?:/(?P<every>\d{1,2}))?) \? \* \* \*\)$")
CRON_HELP = "use cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at hour H, 0-23) or cron(0 H/N ? * * *) (every N hours, N 1-24)"


@dataclass(frozen=True)
class Cadence:
    """A valid monitoring schedule and how often it runs.

    Attributes:
        expression: the cron expression, as SageMaker takes it.
        interval_hours: hours between two runs (24 for daily).
    """

    expression: str
    interval_hours: int


def parse_schedule(expression: str) -> Cadence | None:
    """The cadence of a SageMaker monitoring cron expression, or None when SageMaker would reject it."""
    match = CRON.match(expression)
    if match is None:
        return None
    if match["hourly"]:
        return Cadence(expression, 1)
    start = int(match["start"])
    if not 0 <= start <= 23:
        return None
    if match["every"] is None:
        return Cadence(expression, 24)
    every = int(match["every"])
    if not 1 <= every <= 24:
        return None
    return Cadence(expression, every)


def check_schedule(path: str, value: str, problems: Problems) -> None:
    """Report ``value`` at ``path`` unless it is a recurring schedule SageMaker Model Monitor accepts."""
    if value.strip().upper() == "NOW":
        problems.add(path, f"{value!r} runs once; a monitoring schedule must recur: {CRON_HELP}")
    elif parse_schedule(value) is None:
        problems.add(path, f"{value!r} is not a cron expression SageMaker Model Monitor accepts; {CRON_HELP}")
