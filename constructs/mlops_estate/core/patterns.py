"""Patterns shared by the pipeline constructs and the config that feeds them (no CDK imports here)."""

from __future__ import annotations

import re

# SageMaker instance types: ml.<family>.<size>.
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+[a-z0-9-]*\.(?:[0-9]*x?large|medium|small|xlarge|[0-9]+xlarge)$")
# An ECR image by tag or digest (China regions end in .amazonaws.com.cn); the groups give the repository's account,
# region and name.
ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repository>[a-z0-9][a-z0-9._/-]{1,255})"
    r"(?::[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$"
)
# EventBridge Scheduler expressions.
SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\)|at\(\S+\))$")
# SageMaker resource names (endpoints, variants, models, model package groups, model cards, domains, ...).
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# A model package: a version of a group (``.../model-package/<group>/<version>``) or an unversioned package.
MODEL_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[a-zA-Z0-9-]{1,63}(/\d+)?$")
# An S3 URI; the groups give the bucket and the key (or prefix, possibly empty).
S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>\S*)$")
# An AWS account id.
ACCOUNT_ID = re.compile(r"^\d{12}$")
