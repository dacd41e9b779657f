"""Typed settings of the SageMaker Projects templates (Service Catalog), hung on `EstateConfig.projects`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mlops_estate.core.validation import Problems, join

# Personas are the Studio execution roles of `personas.py`; the auditor changes nothing, so it never launches.
LAUNCHING_PERSONAS = ("data_scientist", "ml_engineer", "mlops_admin")
# A Service Catalog provisioning artifact name (the product version users see in Studio).
VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Each template model gets a model-build and a model-deploy product.
PRODUCTS_PER_MODEL = 2
# The personas' CreatorPolicy names every product by ARN, and a managed policy holds at most 6,144 characters: with
# the longest product ARNs that admits about 60 products (tests/unit/test_projects.py measures it); 50 leaves room for
# the policy to grow. The portfolio stack's 3 resources per product stay far below CloudFormation's 500.
MAX_TEMPLATE_PRODUCTS = 50


@dataclass(frozen=True)
class ProjectsConfig:
    """SageMaker Projects templates in the ML dev account: which personas may create projects, and from which models.

    ``models`` names the configured models that get a model-build template (all of them when empty).
    ``version`` names the products' provisioning artifact (the version Studio shows); give a changed template a new
    name so the change is visible, and update launched projects to it from Studio or Service Catalog.
    """

    enabled: bool = True
    personas: tuple[str, ...] = ("data_scientist", "ml_engineer")
    models: tuple[str, ...] = ()
    version: str = "v1"

    def check(self, path: str, problems: Problems) -> None:
        personas = join(path, "personas")
        if self.enabled and not self.personas:
            problems.add(personas, "is empty; name at least one persona that may create projects, or set enabled to false")
        for i, persona in enumerate(self.personas):
            if persona not in LAUNCHING_PERSONAS:
                problems.add(join(personas, i), f"{persona!r} may not create projects; choose from {', '.join(LAUNCHING_PERSONAS)}")
        if len(set(self.personas)) != len(self.personas):
            problems.add(personas, "lists a persona twice")
        if len(set(self.models)) != len(self.models):
            problems.add(join(path, "models"), "lists a model twice")
        if not VERSION_NAME.match(self.version):
            problems.add(join(path, "version"), f"{self.version!r} is not a product version name (1-100 letters, digits, '.', '_', '-')")

    def check_models(self, model_names: Sequence[str], path: str, problems: Problems) -> None:
        """Every model named under ``projects.models`` must be a configured model."""
        for i, name in enumerate(self.models):
            if name not in model_names:
                known = ", ".join(model_names) or "none configured"
                problems.add(join(join(path, "models"), i), f"{name!r} is not a configured model (models: {known})")
        selected = self.template_models(model_names)
        limit = MAX_TEMPLATE_PRODUCTS // PRODUCTS_PER_MODEL
        if len(selected) > limit:
            which = "lists" if self.models else "is empty, so it selects all"
            problems.add(join(path, "models"),
                         f"{which} {len(selected)} models: {len(selected) * PRODUCTS_PER_MODEL} template products, more than "
                         f"the {MAX_TEMPLATE_PRODUCTS} one portfolio and its creator policy hold; list at most {limit} "
                         "models that need self-service projects")

    def template_models(self, model_names: Sequence[str]) -> tuple[str, ...]:
        """The models that get a template, in config order."""
        if not self.enabled:
            return ()
        return tuple(n for n in model_names if not self.models or n in self.models)

