"""AWS's prebuilt SageMaker images that need nothing built or pushed: the built-in XGBoost algorithm (the reference
build pipelines) and the scikit-learn processing image (Python with numpy, pandas and scikit-learn: the portable
drift engine's jobs).
"""

from __future__ import annotations

# Accounts that publish the SageMaker built-in XGBoost (1.x) and scikit-learn images, per region: the same account in
# each region for both. Source: the SageMaker Python SDK, src/sagemaker/image_uri_config/xgboost.json
# ("sagemaker-xgboost") and sklearn.json ("sagemaker-scikit-learn"), also listed in the SageMaker developer guide
# under "Docker Registry Paths and Example Code".
BUILTIN_REGISTRIES: dict[str, str] = {
    "af-south-1": "510948584623",
    "ap-east-1": "651117190479",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941",
    "ca-central-1": "341280168497",
    "eu-central-1": "492215442770",
    "eu-central-2": "680994064768",
    "eu-north-1": "662702820516",
    "eu-south-1": "978288397137",
    "eu-south-2": "104374241257",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "801668240914",
    "sa-east-1": "737474898029",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}
# The scikit-learn image the drift jobs run on (the framework version is part of the tag).
SKLEARN_VERSION = "1.2-1"


def _registry(region: str, what: str, instead: str) -> str:
    try:
        return BUILTIN_REGISTRIES[region]
    except KeyError:
        raise ValueError(f"no {what} image is known for region {region!r} (known: {', '.join(sorted(BUILTIN_REGISTRIES))}); "
                         f"{instead}") from None


def xgboost_image(region: str, version: str) -> str:
    """The built-in XGBoost image URI of a region."""
    account = _registry(region, "built-in XGBoost", "set build.training_image to an ECR image of your own")
    return f"{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-xgboost:{version}"


def sklearn_processing_image(region: str, version: str = SKLEARN_VERSION) -> str:
    """AWS's prebuilt scikit-learn processing image URI of a region (CPU, Python 3)."""
    account = _registry(region, "scikit-learn processing", "give the drift monitor an image_uri of your own in that region")
    return f"{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:{version}-cpu-py3"
