"""Monitoring and retraining document every constructor parameter (``Args:``) and props field (``Attributes:``)."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest

from mlops_estate.lifecycle.retraining import RetrainingTrigger
from mlops_estate.lifecycle.retraining_triggers import DataArrivalTrigger, DriftAlarmTrigger, MonitoringViolationTrigger
from mlops_estate.monitoring.images import MonitorImages
from mlops_estate.monitoring.model_monitor import ModelMonitor
from mlops_estate.monitoring.monitored_endpoint import MonitoredEndpoint
from mlops_estate.monitoring.props import (
    BiasMonitorProps,
    DataQualityMonitorProps,
    ExplainabilityMonitorProps,
    FacetProps,
    ModelQualityMonitorProps,
    MonitoringProps,
)
from mlops_estate.monitoring.quality import QualityTarget
from mlops_estate.monitoring.schedule import Cadence
from mlops_estate.config.monitoring import MonitoringConfig


def _documented(docstring: str, section: str) -> set[str]:
    """The names a Google-style section lists (``name:`` or ``a / b:`` at the section's indentation)."""
    text = docstring.split(f"{section}:", 1)[1] if f"{section}:" in docstring else ""
    text = re.split(r"\n\s*(?:Args|Attributes|Returns|Raises):", text)[0]
    names: set[str] = set()
    for match in re.finditer(r"^ {4,8}(\w+(?: / \w+)*):", text, re.MULTILINE):
        names.update(n.strip() for n in match[1].split("/"))
    return names


@pytest.mark.parametrize("construct", [ModelMonitor, RetrainingTrigger])
def test_every_constructor_parameter_is_documented(construct: type) -> None:
    parameters = [p for p in inspect.signature(construct.__init__).parameters if p != "self"]
    missing = set(parameters) - _documented(construct.__doc__ or "", "Args")
    assert not missing, f"{construct.__name__} documents no {sorted(missing)} under Args:"


@pytest.mark.parametrize("props", [
    MonitoringProps, DataQualityMonitorProps, ModelQualityMonitorProps, BiasMonitorProps, FacetProps, ExplainabilityMonitorProps,
    MonitoringConfig, QualityTarget, MonitoredEndpoint, MonitorImages, Cadence, DriftAlarmTrigger, MonitoringViolationTrigger,
    DataArrivalTrigger,
])
def test_every_props_field_is_documented(props: type) -> None:
    own = {f.name for f in dataclasses.fields(props)} - {f.name for base in props.__bases__ if dataclasses.is_dataclass(base)
                                                            for f in dataclasses.fields(base)}
    missing = own - _documented(props.__doc__ or "", "Attributes")
    assert not missing, f"{props.__name__} documents no {sorted(missing)} under Attributes:"


def test_the_check_can_fail() -> None:
    assert _documented("Args:\n    a: one.\n    b / c: two.\n", "Args") == {"a", "b", "c"}
    assert _documented("Nothing here.", "Args") == set()
