"""What an endpoint variant serves: an approved model package, or a container image with model data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Token

from mlops_estate.core.validation import Problems

MODEL_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[a-zA-Z0-9-]{1,63}(/\d+)?$")
ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([a-z0-9._/-]+)(?::[\w.-]+|@sha256:[0-9a-f]{64})$")
S3_URL = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.*)$")


@dataclass(frozen=True)
class ModelSource:
    """What a variant serves: an approved model package (possibly in another account's registry), or a
    container image with model data. ``artifact_account`` owns the S3 artifacts, their KMS key and the
    ECR images of a model package (default: the package's account)."""

    model_package_arn: str | None = None
    image_uri: str | None = None
    model_data_url: str | None = None
    artifact_account: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_model_package(cls, model_package_arn: str, *, artifact_account: str | None = None) -> ModelSource:
        return cls(model_package_arn=model_package_arn, artifact_account=artifact_account)

    @classmethod
    def from_image(cls, image_uri: str, *, model_data_url: str | None = None, environment: Mapping[str, str] | None = None) -> ModelSource:
        return cls(image_uri=image_uri, model_data_url=model_data_url, environment=dict(environment or {}))

    def check(self, path: str, problems: Problems, *, multi_model: bool) -> None:
        if (self.model_package_arn is None) == (self.image_uri is None):
            problems.add(path, "give exactly one of model_package_arn or image_uri")
            return
        arn = self.model_package_arn
        if arn is not None:
            if not Token.is_unresolved(arn) and not MODEL_PACKAGE_ARN.match(arn):
                problems.add(f"{path}.model_package_arn", f"{arn!r} is not a model package ARN like arn:aws:sagemaker:eu-west-1:123456789012:model-package/group/1")
            if self.model_data_url is not None:
                problems.add(f"{path}.model_data_url", "comes from the model package; leave it unset with model_package_arn")
            if multi_model:
                problems.add(f"{path}.model_package_arn", "multi-model endpoints load many artifacts from an S3 prefix; use image_uri with model_data_url")
            if self.artifact_account is None and Token.is_unresolved(arn):
                problems.add(f"{path}.artifact_account", "is required when model_package_arn is a deploy-time value (its account is unknown at synth)")
        else:
            url = self.model_data_url
            if multi_model and url is None:
                problems.add(f"{path}.model_data_url", "is required for a multi-model endpoint (the S3 prefix that holds the models)")
            if url is not None and not Token.is_unresolved(url):
                if not S3_URL.match(url):
                    problems.add(f"{path}.model_data_url", f"{url!r} is not an S3 URL like s3://bucket/model.tar.gz")
                elif multi_model and not url.endswith("/"):
                    problems.add(f"{path}.model_data_url", f"{url!r} must be a prefix ending in '/' for a multi-model endpoint")

    @property
    def owner_account(self) -> str | None:
        """The account holding the artifacts: as given, else the package's or the image registry's account."""
        if self.artifact_account is not None:
            return self.artifact_account
        arn, image = self.model_package_arn, self.image_uri
        if arn is not None and not Token.is_unresolved(arn) and MODEL_PACKAGE_ARN.match(arn):
            return arn.split(":")[4]
        registry = ECR_IMAGE.match(image) if image is not None and not Token.is_unresolved(image) else None
        return registry.group(1) if registry else None
