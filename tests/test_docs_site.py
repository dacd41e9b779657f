"""The documentation site builds strictly: a broken link, anchor, page, nav entry or cross-reference fails the suite.

The API reference is generated from the docstrings here too; whether every parameter is documented is
tests/test_docstrings.py's business, not the build's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_estate.config.schema import SCHEMA_FILE
from tests.helpers import ROOT

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    result = mkdocs_build(ROOT / "mkdocs.yml", site)
    log = result.stdout + result.stderr
    warnings = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert result.returncode == 0 and not warnings, f"the docs do not build strictly:\n{log[-6000:]}"
    return site


def test_the_site_builds_strictly(site: Path):
    assert (site / "index.html").is_file()


def test_the_api_reference_covers_every_domain(site: Path):
    domains = sorted(p.parent.name for p in (ROOT / "constructs" / "mlops_estate").glob("*/__init__.py"))
    for domain in domains:
        page = site / "api" / domain / "index.html"
        assert page.is_file(), f"no API page for mlops_estate.{domain}"
    security = (site / "api" / "security" / "index.html").read_text(encoding="utf-8")
    # a construct, its constructor parameters (from Args:) and no private names
    assert 'id="mlops_estate.security.storage.SecureBucket"' in security
    assert "noncurrent_version_days" in security
    assert "mlops_estate.security.storage._" not in security


def test_the_site_serves_the_estate_schema(site: Path):
    assert (site / "estate.schema.json").read_bytes() == SCHEMA_FILE.read_bytes()


def test_the_readme_links_resolve(site: Path):
    """README.md is not part of the site, so the build does not check it: every relative link and anchor here."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [t for t in re.findall(r"\]\(([^)\s]+)\)", readme) if not t.startswith(("http://", "https://"))]
    assert targets
    for target in targets:
        path, _, anchor = target.partition("#")
        if not path:  # a heading of the README itself, as GitHub names it
            headings = [line.lstrip("#").strip() for line in readme.splitlines() if line.startswith("#")]
            slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
            assert anchor in slugs, f"README.md links to #{anchor}: no such heading"
            continue
        assert (ROOT / path).exists(), f"README.md links to {path}, which does not exist"
        if anchor:
            page = path.removeprefix("docs/").removesuffix(".md")
            html = site / ("index.html" if page == "index" else f"{page}/index.html")
            assert f'id="{anchor}"' in html.read_text(encoding="utf-8"), f"README.md links to {target}: no such anchor"


def test_the_readme_stays_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move reference material to docs/"


def test_no_line_of_the_docs_is_over_200_characters():
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
    long = [f"{f.relative_to(ROOT)}:{n}" for f in files for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
            if len(line) > 200]
    assert not long, f"lines over 200 characters: {long}"


def test_a_broken_link_fails_the_build(tmp_path: Path):
    """The validation settings are what makes the build strict: keep them, and prove they bite."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8").replace("!!python/name:", ""))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[gone](missing.md) and [no such heading](#nowhere)\n")
    (docs / "orphan.md").write_text("# Not in the nav\n")
    minimal = {"site_name": "check", "docs_dir": str(docs), "strict": True, "validation": config["validation"],
               "nav": [{"Home": "index.md"}]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(minimal))
    result = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "missing.md" in log and "nowhere" in log and "orphan.md" in log, log
