"""AWS name and id patterns, and values AWS accepts, shared by constructs and the estate config (no CDK imports)."""

from __future__ import annotations

import re

# SageMaker instance types: ml.<family>.<size>.
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+[a-z0-9-]*\.(?:[0-9]*x?large|medium|small|xlarge|[0-9]+xlarge)$")
# How a message names what INSTANCE_TYPE accepts.
INSTANCE_TYPE_FORM = "ml.<family>.<size>, e.g. ml.m5.large"
# An ECR image by tag or digest (China regions end in .amazonaws.com.cn); the groups give the repository's account,
# region and name.
ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repository>[a-z0-9][a-z0-9._/-]{1,255})"
    r"(?::[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$"
)
# EventBridge Scheduler expressions.
SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\)|at\(\S+\))$")
# AWS account, organization and region ids.
ACCOUNT_ID = re.compile(r"^\d{12}$")
OU_ID = re.compile(r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")
ROOT_ID = re.compile(r"^r-[0-9a-z]{4,32}$")
REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)-(north|south|east|west|central|northeast|southeast|northwest|southwest)-\d$")
# An availability zone name: its region and a letter (eu-west-1a).
AVAILABILITY_ZONE = re.compile(REGION.pattern.removesuffix("$") + "[a-z]$")
# EC2 resource ids (8 or 17 hex digits) and a managed prefix list id.
VPC_ID = re.compile(r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
SUBNET_ID = re.compile(r"^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
SECURITY_GROUP_ID = re.compile(r"^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
PREFIX_LIST_ID = re.compile(r"^pl-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
# A KMS key ARN (not an alias ARN): arn:<partition>:kms:<region>:<account>:key/<key id or mrk-...>.
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[a-zA-Z0-9-]{1,128}$")
# IAM role names (without path).
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
# An e-mail address as subscriptions take it (a sanity check, not RFC 5322).
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
# SageMaker resource names (endpoints, variants, models, model package groups and cards, job definitions, schedules).
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# SageMaker pipeline names: the same alphabet, up to 256 characters.
PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
# GitHub: owner 1-39 letters, digits or single hyphens (no leading/trailing hyphen); repository 1-100 of
# letters, digits, '.', '_' and '-' (not "." or ".."). Environment names may hold more, but they end up in the
# OIDC subject claim matched with StringEquals: we allow the characters that need no escaping anywhere (letters,
# digits, '.', '_', '-'), up to 255. CDK bootstrap qualifiers: up to 10 lower-case letters and digits.
GITHUB_REPOSITORY = re.compile(r"^(?P<owner>[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38})/(?P<repo>[A-Za-z0-9._-]{1,100})$")
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
QUALIFIER = re.compile(r"^[a-z0-9]{1,10}$")
# A model package: a version of a group (``.../model-package/<group>/<version>``) or an unversioned package.
MODEL_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[a-zA-Z0-9-]{1,63}(/\d+)?$")
# An S3 URI; the groups give the bucket and the key (or prefix, possibly empty).
S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>\S*)$")
# S3 bucket names (general purpose buckets).
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# ECR repository names: runs of lowercase letters and digits joined by . _ - and /, 2-256 characters.
ECR_REPOSITORY_NAME = re.compile(r"^(?=.{2,256}$)[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
# CloudTrail trail names: 3-128 letters and digits, single '.', '_' or '-' between them.
TRAIL_NAME = re.compile(r"^(?=.{3,128}$)[A-Za-z0-9](?:[._-]?[A-Za-z0-9])*$")
# The part of a KMS alias after "alias/": '/'-separated runs of letters, digits, '_' and '-', up to 250 characters;
# "aws/" is AWS's own.
KMS_ALIAS_NAME = re.compile(r"^(?!aws/)(?=.{1,250}$)[a-zA-Z0-9_-]+(?:/[a-zA-Z0-9_-]+)*$")
# AWS Budgets names: 1-100 characters without ':' or '\\', and not containing "/action/".
BUDGET_NAME = re.compile(r"^(?!.*/action/)[^:\\]{1,100}$")
# EventBridge custom event bus names ("default" is the account's own bus, "aws." names are partner buses).
EVENT_BUS_NAME = re.compile(r"^(?!aws\.)(?!default$)[A-Za-z0-9._-]{1,256}$")
# IAM managed policy ARNs (customer or AWS managed).
MANAGED_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]{1,512}$")
# Characters S3 key prefixes may use in event patterns and policies.
S3_KEY_PREFIX = re.compile(r"^[a-zA-Z0-9!_.*'()/-]{1,1024}$")


def s3_key_prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` is not usable as an S3 key prefix in an event pattern, or None."""
    if not S3_KEY_PREFIX.match(prefix) or prefix.startswith("/"):
        return f"{prefix!r} is not an S3 key prefix (1-1024 letters, digits and !_.*'()/-, no leading '/')"
    return None
