"""What a monitor needs to know about the endpoint it watches; `ModelEndpoint` adapts to it, any endpoint can."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import IConstruct

from mlops_estate.core.validation import Problems
from mlops_estate.network.private_network import NetworkPlacement
from mlops_estate.security.storage import CmkBucket
from mlops_estate.serving.endpoint import ModelEndpoint


@dataclass(frozen=True)
class MonitoredEndpoint:
    """An endpoint as `ModelMonitor` sees it: every monitor reads what the endpoint captures.

    Attributes:
        endpoint_name: the SageMaker endpoint's name.
        data_capture: the bucket (and its CMK) the endpoint captures requests and responses to.
        data_capture_prefix: the key prefix of the captures in that bucket ("" for the whole bucket).
        placement: the VPC subnets and security group the monitoring jobs run in.
        endpoint: the construct that creates the endpoint (the monitors are created after it), or None.
        model_name: the SageMaker model behind the endpoint (explainability runs it on a temporary shadow
            endpoint), or None.
    """

    endpoint_name: str
    data_capture: CmkBucket
    data_capture_prefix: str
    placement: NetworkPlacement
    endpoint: IConstruct | None = None
    model_name: str | None = None

    @classmethod
    def of(cls, endpoint: ModelEndpoint) -> MonitoredEndpoint:
        """Adapt a `ModelEndpoint`; monitors read what it captures, so it must capture data."""
        problems = Problems()
        if problem := capture_problem(endpoint):
            problems.add("data_capture", problem)
        problems.raise_if_any(endpoint.node.path)
        assert endpoint.data_capture_bucket is not None and endpoint.data_capture_prefix is not None  # checked above
        primary = next(iter(endpoint.models.values()), None)
        return cls(
            endpoint_name=endpoint.endpoint_name,
            data_capture=endpoint.data_capture_bucket,
            data_capture_prefix=endpoint.data_capture_prefix,
            placement=endpoint.placement,
            endpoint=endpoint.endpoint,
            model_name=primary.attr_model_name if primary is not None else None,
        )

    @property
    def data_capture_keys(self) -> str:
        """The object key pattern of everything the endpoint captures (the whole bucket without a prefix)."""
        prefix = self.data_capture_prefix.strip("/")
        return f"{prefix}/*" if prefix else "*"


def capture_problem(endpoint: ModelEndpoint) -> str | None:
    """Why ``endpoint`` cannot be monitored, if it cannot: Model Monitor reads captured requests."""
    if endpoint.data_capture_bucket is not None and endpoint.data_capture_prefix is not None:
        return None
    return (f"endpoint {endpoint.endpoint_name!r} captures no data (mode {endpoint.mode!r}); Model Monitor reads "
            "captured requests: enable data capture on the endpoint (ModelEndpointProps.serving.data_capture)")
