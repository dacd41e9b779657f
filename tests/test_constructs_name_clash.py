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


def test_library_imports_as_mlops_estate():
    import mlops_estate.config
    import mlops_estate.stacks.estate

    assert Path(mlops_estate.config.__file__).parent.name in {"constructs", "mlops_estate"}
