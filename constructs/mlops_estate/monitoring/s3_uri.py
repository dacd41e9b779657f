"""S3 URIs of baselines, ground truth and analysis configs, literal or built from a bucket the app holds.

A URI may name its bucket literally (``s3://my-baselines/churn/constraints.json``) or through a token, as
``bucket.s3_url_for_object(key)`` or ``CmkBucket.s3_uri(key)`` give it (``s3://${Token[...]}/churn/...``): the
bucket name then resolves at deployment. A literal bucket name is checked; a token one is taken as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlops_estate.core.patterns import S3_URI
from mlops_estate.core.validation import Problems

# Any bucket part (a token's text holds no '/'); used only when that part is unresolved.
_TOKEN_BUCKET_URI = re.compile(r"^s3://(?P<bucket>[^/]+)/(?P<key>.*)$")
# How the CDK writes an unresolved string into text (aws-cdk-lib's string token marker).
_STRING_TOKEN = "${Token["


def is_unresolved(value: str) -> bool:
    """Whether ``value`` holds a CDK token (imports aws_cdk only then, so config parsing stays CDK-free)."""
    if _STRING_TOKEN not in value:
        return False
    from aws_cdk import Token

    return bool(Token.is_unresolved(value))


@dataclass(frozen=True)
class S3Uri:
    """A parsed ``s3://<bucket>/<key>``.

    Attributes:
        bucket: the bucket name (may be a token).
        key: the object key or prefix (may be empty or a token).
    """

    bucket: str
    key: str

    @staticmethod
    def parse(uri: str) -> S3Uri | None:
        """The bucket and key of ``uri``, or None when it is not an S3 URI (see the module docstring)."""
        match = S3_URI.match(uri)
        if match is None:
            match = _TOKEN_BUCKET_URI.match(uri)
            if match is None or not is_unresolved(match["bucket"]):
                return None
        return S3Uri(match["bucket"], match["key"])

    def bucket_arn(self, partition: str) -> str:
        return f"arn:{partition}:s3:::{self.bucket}"

    def object_arn(self, partition: str, key: str | None = None) -> str:
        """The ARN of this URI's object, or of ``key`` in its bucket."""
        return f"{self.bucket_arn(partition)}/{self.key if key is None else key}"


def check_s3_uri(path: str, value: str, problems: Problems, *, what: str) -> None:
    """Report ``value`` at ``path`` unless it is an S3 URI (a bucket token allowed)."""
    if S3Uri.parse(value) is None:
        problems.add(path, f"{value!r} is not an S3 URI like s3://bucket/prefix/{what}")
