"""Our `constructs/` folder must never shadow the `constructs` library aws-cdk-lib depends on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_constructs_is_the_real_library_from_the_repo_root():
    code = "import constructs, sys; print(constructs.Construct.__module__); print(constructs.__file__ or '')"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == "constructs"
    assert "site-packages" in out.splitlines()[1]


def test_no_init_in_constructs_folder():
    assert not (ROOT / "constructs" / "__init__.py").exists(), "constructs/__init__.py would shadow the constructs library"


def test_source_paths_mirror_import_paths():
    """Every library module is found at constructs/<its import path>.py, so path-based tools can follow imports."""
    import importlib

    package = ROOT / "constructs"
    modules = sorted(package.rglob("*.py"))
    assert len(modules) > 40
    for path in modules:
        if "scripts" in path.parts:  # job scripts ship as package data; they are no modules of the library
            continue
        name = ".".join(path.relative_to(package).with_suffix("").parts).removesuffix(".__init__")
        module = importlib.import_module(name)
        assert Path(module.__file__).resolve().parts[-len(path.relative_to(package).parts):] == path.relative_to(package).parts, name
