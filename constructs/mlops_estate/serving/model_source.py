"""What an endpoint variant serves: an approved model package, or a container image with model data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Token
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from mlops_estate.core.patterns import ACCOUNT_ID, ECR_IMAGE, MODEL_PACKAGE_ARN, S3_URI
from mlops_estate.core.validation import Problems, join

# SageMaker CreateModel: container environment variables.
ENVIRONMENT_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$")
MAX_ENVIRONMENT = 100
MAX_ENVIRONMENT_VALUE = 1024


@dataclass(frozen=True)
class ModelSource:
    """What a variant serves: an approved model package (possibly in another account's registry), or a container
    image with model data. Build one with `from_model_package` or `from_image`.

    The artifact account owns the model's S3 artifacts and their KMS key (and a package's ECR images): the
    endpoint's role may read objects and use keys of that account only. It is ``artifact_account`` when given,
    else the model package's account, else the account of ``model_data_bucket``, else the endpoint's own account;
    never the registry of an image (AWS's built-in images live in AWS's accounts, the model data in yours).

    Attributes:
        model_package_arn: the model package (version) to serve; its containers name their images and artifacts.
        image_uri: an ECR image to serve (``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`` or
            ``@sha256:<digest>``), with ``model_data_*`` or none.
        model_data_url: the model data as an S3 URL: ``s3://bucket/model.tar.gz``, or a prefix ending in ``/``
            for a multi-model endpoint.
        model_data_bucket: the bucket of the model data, when it is a construct you hold (instead of
            ``model_data_url``): the endpoint then reads exactly ``model_data_object_key`` of it and decrypts with
            its encryption key.
        model_data_object_key: the object key (or the prefix ending in ``/``) in ``model_data_bucket``.
        model_data_kms_key: the KMS key the model data is encrypted with; default: ``model_data_bucket``'s key.
            Without either, the role may decrypt with keys of the artifact account, through S3 only.
        artifact_account: the account that owns the artifacts (12 digits), when not the default above; required
            for a model package ARN known only at deploy time.
        environment: environment variables of the container (at most 100).
    """

    model_package_arn: str | None = None
    image_uri: str | None = None
    model_data_url: str | None = None
    model_data_bucket: s3.IBucket | None = None
    model_data_object_key: str | None = None
    model_data_kms_key: kms.IKey | None = None
    artifact_account: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_model_package(cls, model_package_arn: str, *, artifact_account: str | None = None) -> ModelSource:
        """Serve a model package (a version of a model package group).

        Args:
            model_package_arn: the package's ARN (a deploy-time value, e.g. a parameter, is allowed).
            artifact_account: the account owning the package's artifacts and images; default: the package's account.
        """
        return cls(model_package_arn=model_package_arn, artifact_account=artifact_account)

    @classmethod
    def from_image(
        cls,
        image_uri: str,
        *,
        model_data_url: str | None = None,
        model_data_bucket: s3.IBucket | None = None,
        model_data_object_key: str | None = None,
        model_data_kms_key: kms.IKey | None = None,
        artifact_account: str | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> ModelSource:
        """Serve a container image, with model data from S3 (by URL, or by bucket and object key) or none.

        Args:
            image_uri: the ECR image; an AWS built-in image or one of yours.
            model_data_url: the model data's S3 URL (a prefix ending in ``/`` for a multi-model endpoint).
            model_data_bucket: the model data's bucket, instead of ``model_data_url``.
            model_data_object_key: the object key (or prefix) in ``model_data_bucket``.
            model_data_kms_key: the model data's KMS key; default: ``model_data_bucket``'s encryption key.
            artifact_account: the account owning the model data and its key; default: ``model_data_bucket``'s
                account, else the endpoint's own (never the image registry's).
            environment: environment variables of the container.
        """
        return cls(image_uri=image_uri, model_data_url=model_data_url, model_data_bucket=model_data_bucket,
                   model_data_object_key=model_data_object_key, model_data_kms_key=model_data_kms_key,
                   artifact_account=artifact_account, environment=dict(environment or {}))

    @property
    def model_data_location(self) -> str | None:
        """The model data's S3 URL as the container gets it (from ``model_data_url`` or the bucket and object key)."""
        if self.model_data_bucket is not None and self.model_data_object_key is not None:
            return f"s3://{self.model_data_bucket.bucket_name}/{self.model_data_object_key}"
        return self.model_data_url

    @property
    def data_kms_key(self) -> kms.IKey | None:
        """The model data's key, when known: ``model_data_kms_key``, else the bucket's encryption key."""
        if self.model_data_kms_key is not None:
            return self.model_data_kms_key
        return self.model_data_bucket.encryption_key if self.model_data_bucket is not None else None

    @property
    def owner_account(self) -> str | None:
        """The artifact account (see the class docstring); ``None`` means the endpoint's own account."""
        if self.artifact_account is not None:
            return self.artifact_account
        arn = self.model_package_arn
        if arn is not None and not Token.is_unresolved(arn) and MODEL_PACKAGE_ARN.match(arn):
            return arn.split(":")[4]
        if self.model_data_bucket is not None:
            return self.model_data_bucket.env.account
        return None

    def check(self, path: str, problems: Problems, *, multi_model: bool) -> None:
        """Add every problem of this source, under ``path``, to ``problems``."""
        if (self.model_package_arn is None) == (self.image_uri is None):
            problems.add(path, "give exactly one of model_package_arn or image_uri")
            return
        account = self.artifact_account
        if account is not None and not Token.is_unresolved(account) and not ACCOUNT_ID.match(account):
            problems.add(join(path, "artifact_account"), f"{account!r} is not an AWS account id (exactly 12 digits)")
        self._check_environment(path, problems)
        arn = self.model_package_arn
        if arn is not None:
            if not Token.is_unresolved(arn) and not MODEL_PACKAGE_ARN.match(arn):
                problems.add(join(path, "model_package_arn"), f"{arn!r} is not a model package ARN like arn:aws:sagemaker:eu-west-1:123456789012:model-package/group/1")
            for name in ("model_data_url", "model_data_bucket", "model_data_object_key", "model_data_kms_key"):
                if getattr(self, name) is not None:
                    problems.add(join(path, name), "comes from the model package; leave it unset with model_package_arn")
            if multi_model:
                problems.add(join(path, "model_package_arn"), "multi-model endpoints load many artifacts from an S3 prefix; use image_uri with model_data_url")
            if account is None and Token.is_unresolved(arn):
                problems.add(join(path, "artifact_account"), "is required when model_package_arn is a deploy-time value (its account is unknown at synth)")
            return
        image = self.image_uri
        if image is not None and not Token.is_unresolved(image) and not ECR_IMAGE.match(image):
            problems.add(join(path, "image_uri"), f"{image!r} is not an ECR image like 123456789012.dkr.ecr.eu-west-1.amazonaws.com/repository:tag "
                                                  "(or @sha256:<digest>)")
        self._check_model_data(path, problems, multi_model=multi_model)

    def _check_model_data(self, path: str, problems: Problems, *, multi_model: bool) -> None:
        url, bucket, key = self.model_data_url, self.model_data_bucket, self.model_data_object_key
        if url is not None and bucket is not None:
            problems.add(join(path, "model_data_bucket"), "give model_data_url or model_data_bucket with model_data_object_key, not both")
        if bucket is not None and key is None:
            problems.add(join(path, "model_data_object_key"), "is required with model_data_bucket (the model.tar.gz object, or a prefix ending in '/')")
        if key is not None and bucket is None:
            problems.add(join(path, "model_data_object_key"), "is only used with model_data_bucket")
        if self.model_data_kms_key is not None and url is None and bucket is None:
            problems.add(join(path, "model_data_kms_key"), "is only used with model data (model_data_url or model_data_bucket)")
        if multi_model and url is None and bucket is None:
            problems.add(join(path, "model_data_url"), "is required for a multi-model endpoint (the S3 prefix that holds the models)")
        if url is not None and not Token.is_unresolved(url):
            if not S3_URI.match(url):
                problems.add(join(path, "model_data_url"), f"{url!r} is not an S3 URL like s3://bucket/model.tar.gz")
            elif multi_model and not url.endswith("/"):
                problems.add(join(path, "model_data_url"), f"{url!r} must be a prefix ending in '/' for a multi-model endpoint")
        if key is not None and bucket is not None and not Token.is_unresolved(key):
            if multi_model and key and not key.endswith("/"):
                problems.add(join(path, "model_data_object_key"), f"{key!r} must be a prefix ending in '/' (or '') for a multi-model endpoint")
            elif not multi_model and (not key or key.endswith("/")):
                problems.add(join(path, "model_data_object_key"), f"{key!r} is not an object key like models/model.tar.gz")

    def _check_environment(self, path: str, problems: Problems) -> None:
        if len(self.environment) > MAX_ENVIRONMENT:
            problems.add(join(path, "environment"), f"has {len(self.environment)} variables; SageMaker takes at most {MAX_ENVIRONMENT}")
        for name, value in self.environment.items():
            if not ENVIRONMENT_KEY.match(name):
                problems.add(join(join(path, "environment"), name), f"{name!r} is not an environment variable name (a letter or _, then letters, digits, _)")
            if not Token.is_unresolved(value) and len(value) > MAX_ENVIRONMENT_VALUE:
                problems.add(join(join(path, "environment"), name), f"is {len(value)} characters long; at most {MAX_ENVIRONMENT_VALUE}")
