"""SageMaker Projects templates of the ML dev account: a Service Catalog portfolio of the estate's model-build
compositions, launched from Studio by the chosen personas (`mlops_estate.projects.templates`)."""

from __future__ import annotations

from constructs import Construct

from mlops_estate.config.estate import EstateConfig
from mlops_estate.projects.templates import ProjectTemplates
from mlops_estate.stacks.base import EstateStack
from mlops_estate.stacks.ml_dev import MlDevStack


class ProjectTemplatesStack(EstateStack):
    """The portfolio, products, launch role and project boundary, on the workspace's network, buckets, key and
    persona roles (same-account references to the `Workspace` stack)."""

    def __init__(self, scope: Construct, id: str, *, config: EstateConfig, workspace: MlDevStack) -> None:
        super().__init__(scope, id, config=config, account=config.accounts.ml_dev,
                         description="SageMaker project templates (ML dev account)")
        self.templates = ProjectTemplates(
            self, "ProjectTemplates", config=config, placement=workspace.network.placement, artifacts=workspace.artifacts,
            data=workspace.data, keys=workspace.keys,
            creators={persona: workspace.personas.role(persona) for persona in config.projects.personas},
        )
        self.add_stack_dependency(workspace, "project templates use the workspace's network, buckets, key and persona roles")
