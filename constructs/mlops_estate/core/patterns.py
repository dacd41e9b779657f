"""Patterns shared by the pipeline constructs and the config that feeds them (no CDK imports here)."""

from __future__ import annotations

import re

# SageMaker instance types: ml.<family>.<size>.
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+[a-z0-9-]*\.(?:[0-9]*x?large|medium|small|xlarge|[0-9]+xlarge)$")
# How a message names what INSTANCE_TYPE accepts.
INSTANCE_TYPE_FORM = "ml.<family>.<size>, e.g. ml.m5.large"
# SageMaker resource names (endpoints, models, model package groups, ...): up to 63 letters, digits and single hyphens.
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# SageMaker pipeline names: the same alphabet, up to 256 characters.
PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
# An ECR image by tag or digest; the groups give the repository's account, region and name.
ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repository>[a-z0-9][a-z0-9._/-]{1,255})"
    r"(?::[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$"
)
# EventBridge Scheduler expressions.
SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\)|at\(\S+\))$")
