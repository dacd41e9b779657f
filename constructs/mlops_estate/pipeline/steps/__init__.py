"""The steps of a SageMaker model building pipeline, emitted as the JSON the service accepts: one module per step
family, each step declaring what the pipeline around it needs (`base`, `permissions`) and checking its own fields
(`fields`). Every module's public names are re-exported here and from `mlops_estate.pipeline`; a new step family is
one module plus its three lines here (module import, star import, __all__)."""

from mlops_estate.pipeline.steps import (
    base, checks, condition, lambda_callback, model, permissions, processing, register, training, transform, tuning,
)
from mlops_estate.pipeline.steps.base import *  # noqa: F403
from mlops_estate.pipeline.steps.checks import *  # noqa: F403
from mlops_estate.pipeline.steps.condition import *  # noqa: F403
from mlops_estate.pipeline.steps.lambda_callback import *  # noqa: F403
from mlops_estate.pipeline.steps.model import *  # noqa: F403
from mlops_estate.pipeline.steps.permissions import *  # noqa: F403
from mlops_estate.pipeline.steps.processing import *  # noqa: F403
from mlops_estate.pipeline.steps.register import *  # noqa: F403
from mlops_estate.pipeline.steps.training import *  # noqa: F403
from mlops_estate.pipeline.steps.transform import *  # noqa: F403
from mlops_estate.pipeline.steps.tuning import *  # noqa: F403

__all__: list[str] = []
__all__ += base.__all__
__all__ += checks.__all__
__all__ += condition.__all__
__all__ += lambda_callback.__all__
__all__ += model.__all__
__all__ += permissions.__all__
__all__ += processing.__all__
__all__ += register.__all__
__all__ += training.__all__
__all__ += transform.__all__
__all__ += tuning.__all__
