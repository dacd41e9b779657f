"""Session fixtures: the default estate is synthesized once (with every policy gate on) and shared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import Stage  # noqa: E402

from mlops_estate.core.nag import apply_nag_packs  # noqa: E402
from mlops_estate.governance.stack_set import StackSetTemplate  # noqa: E402
from mlops_estate.stacks.estate import Estate, build_estate, estate_app  # noqa: E402

from tests.helpers import CDK_JSON, ROOT, model_monitor_estate_dict  # noqa: E402
# The hooks that spread the suite over pytest-xdist workers (./scripts/test.sh): see tests/xdist_groups.py.
from tests.xdist_groups import (  # noqa: E402,F401
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_unconfigure,
    pytest_xdist_make_scheduler,
)


@dataclass
class SynthesizedEstate:
    estate: Estate
    outdir: Path
    # "MlDev/Workspace" -> template JSON
    templates: dict[str, dict[str, Any]]


def synthesize_estate(outdir: Path, context: dict[str, Any] | None = None, nag: bool = True,
                      builtin_validation: bool = True) -> SynthesizedEstate:
    app, config = estate_app(CDK_JSON, outdir=str(outdir), context=context, builtin_validation=builtin_validation)
    estate = build_estate(app, config)
    if nag:
        apply_nag_packs(app)
    assembly = app.synth()
    templates: dict[str, dict[str, Any]] = {}
    for stage in assembly.nested_assemblies:
        for stack in stage.nested_assembly.stacks:
            templates[stack.hierarchical_id] = json.loads(Path(stack.template_full_path).read_text())
    # StackSet templates are no deployable stacks of their own (stack_set.py): found by construct, by path.
    for template in (c for c in app.node.find_all() if isinstance(c, StackSetTemplate)):
        stage = Stage.of(template)
        assert stage is not None and stage.outdir is not None
        templates[template.node.path] = json.loads((Path(stage.outdir) / template.template_file).read_text())
    return SynthesizedEstate(estate=estate, outdir=outdir, templates=templates)


@pytest.fixture(scope="session")
def default_estate(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedEstate:
    """The default estate from cdk.json, synthesized once per session with every nag pack on. CDK's built-in
    CloudFormation validation is off for this variant only: cfn-lint lints every one of its templates (stacks, StackSet
    and product templates: tests/gates/test_cfn_lint.py, test_project_templates.py), which refuses everything the
    built-in validation refuses and more (test_cfn_lint.py shows one template both refuse), so running both would run
    one gate twice. The other estate variants keep it: it is their CloudFormation gate."""
    return synthesize_estate(tmp_path_factory.mktemp("estate"), builtin_validation=False)


@pytest.fixture(scope="session")
def model_monitor_estate(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedEstate:
    """The default estate with churn on the model_monitor engine (all four monitors), synthesized once with every
    nag pack on: what an existing Model Monitor customer deploys."""
    folder = tmp_path_factory.mktemp("model-monitor")
    (folder / "estate.json").write_text(json.dumps(model_monitor_estate_dict()))
    return synthesize_estate(folder / "out", context={"estate_file": str(folder / "estate.json")})


SANDBOX_ACCOUNT = "123456789012"
# A sandbox account is often shared with other CDK apps, so the sandbox estate also has its own bootstrap qualifier
# (tests/test_bootstrap_qualifier.py checks every bootstrap reference against it).
SANDBOX_QUALIFIER = "team1"


@pytest.fixture(scope="session")
def sandbox_estate(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedEstate:
    """Sandbox mode (every role and the management account in one account), given as `-c` overrides the way
    the CLI passes them (JSON values: an account id is a quoted string), with its own bootstrap qualifier;
    synthesized once with every nag pack on."""
    same = {f"estate.accounts.{role}": f'"{SANDBOX_ACCOUNT}"' for role in ("shared_services", "data_lake", "ml_dev", "staging", "prod")}
    return synthesize_estate(tmp_path_factory.mktemp("sandbox"),
                             context={**same, "estate.organization.management_account": f'"{SANDBOX_ACCOUNT}"',
                                      "estate.bootstrap_qualifier": f'"{SANDBOX_QUALIFIER}"'})


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The library's wheel, built once (tests/test_wheel.py, tests/test_example_app.py)."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    (path,) = dist.glob("sagemaker_mlops_estate-*.whl")
    return path
