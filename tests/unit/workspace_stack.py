"""One test stack with the whole ML workspace (keys, network, buckets, personas, Studio, MLflow), synthesized
once per session and shared by the unit tests of studio, personas and mlflow."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from mlops_estate.workspace.personas import UserConfig
from mlops_estate.security.encryption import EstateKeys
from mlops_estate.workspace.mlflow import MlflowTrackingServer
from mlops_estate.network.private_network import PrivateNetwork
from mlops_estate.workspace.personas import PersonaResources, Personas
from mlops_estate.security.storage import SecureBucket
from mlops_estate.workspace.studio import StudioDomain
from mlops_estate.workspace.mlflow import MlflowConfig
from mlops_estate.workspace.studio import StudioConfig
from tests.helpers import TEST_AZS, make_stack

ESTATE = "team-a"
REGISTRY_ACCOUNT = "222222222222"
APPROVER_ROLE_ARN = f"arn:aws:iam::{REGISTRY_ACCOUNT}:role/{ESTATE}-model-approver"
BOUNDARY_ARN = "arn:aws:iam::123456789012:policy/ml-boundary"
FEATURE_GROUP = "customer-features"  # a configured feature group, named without the estate prefix
USERS = (UserConfig("ana", "data_scientist"), UserConfig("mo", "ml_engineer"),
         UserConfig("sam", "mlops_admin"), UserConfig("kim", "auditor"))


@dataclass
class Workspace:
    stack: Stack
    keys: EstateKeys
    network: PrivateNetwork
    data: SecureBucket
    artifacts: SecureBucket
    personas: Personas
    studio: StudioDomain
    mlflow: MlflowTrackingServer
    mlflow_no_registration: MlflowTrackingServer
    template: Template

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.to_json()["Resources"]  # type: ignore[no-any-return]

    def id_of(self, construct: Any) -> str:
        """The logical id of an L1, or of an L2's default child."""
        node = getattr(construct.node, "default_child", None) or construct
        return str(self.stack.resolve(node.logical_id))

    def of_type(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == type_name}


def new_workspace_parts(stack: Stack) -> tuple[EstateKeys, PrivateNetwork, SecureBucket, SecureBucket, Personas]:
    keys = EstateKeys(stack, "Keys", estate_name=ESTATE)
    network = PrivateNetwork(stack, "Network", cidr="10.50.0.0/16", availability_zones=TEST_AZS, logs_key=keys.logs)
    data = SecureBucket(stack, "Data", key=keys.data)
    artifacts = SecureBucket(stack, "Artifacts", key=keys.models)
    personas = Personas(
        stack, "Personas",
        resources=PersonaResources(estate_name=ESTATE, data_bucket=data, artifacts_bucket=artifacts,
                                   placement=network.placement, job_keys=(keys.data, keys.models),
                                   registry_account=REGISTRY_ACCOUNT, feature_groups=(FEATURE_GROUP,),
                                   model_approver_role_arn=APPROVER_ROLE_ARN),
        permissions_boundary=iam.ManagedPolicy.from_managed_policy_arn(stack, "Boundary", BOUNDARY_ARN),
    )
    return keys, network, data, artifacts, personas


@functools.lru_cache(maxsize=1)
def workspace() -> Workspace:
    stack = make_stack()
    keys, network, data, artifacts, personas = new_workspace_parts(stack)
    studio = StudioDomain(stack, "Studio", domain_name=f"{ESTATE}-studio", placement=network.placement, key=keys.studio,
                          execution_role=personas.role("data_scientist"), space_execution_role=personas.shared_space_role,
                          settings=StudioConfig(idle_timeout_minutes=90, max_idle_timeout_minutes=240, default_ebs_gb=10, max_ebs_gb=50))
    personas.use_domain(studio)
    personas.add_user_profiles(studio, USERS)
    mlflow = MlflowTrackingServer(stack, "Mlflow", tracking_server_name=f"{ESTATE}-mlflow", artifact_bucket=artifacts,
                                  registry_prefix=ESTATE, export_name=f"{ESTATE}-mlflow-arn", network=network,
                                  settings=MlflowConfig(size="Medium", version="2.16.2", maintenance_window="Tue:04:30"))
    for persona, role in personas.roles.items():
        mlflow.grant_access(role, read_only=persona == "auditor")
    quiet = MlflowTrackingServer(stack, "MlflowNoRegistration", tracking_server_name=f"{ESTATE}-mlflow-2", artifact_bucket=artifacts,
                                 registry_prefix=ESTATE, settings=MlflowConfig(automatic_model_registration=False))
    return Workspace(stack, keys, network, data, artifacts, personas, studio, mlflow, quiet, Template.from_stack(stack))


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
