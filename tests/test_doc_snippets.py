"""Every code block of README.md and docs/ is checked as a reader meets it.

- The ``python`` blocks of a page run as written, in order, in one fresh namespace (a page's later blocks continue
  its earlier ones, like a notebook), in an empty temporary folder of its own, so an app's ``cdk.out`` lands there.
  The pages share one fresh interpreter (run once, by a module fixture; a test per page reads its outcome): a new
  interpreter per page cost ~4 s each for nothing but importing the CDK and starting its Node process again. Each
  page gets the environment, ``sys.path`` and working folder it started with.
- Every ``json`` block is an estate-file snippet (``<!-- estate-config[: path] -->``): merged into the default estate
  at its path, it validates against the estate schema and parses.
- A block that is deliberately not checked says why (``<!-- not-run: reason -->``). See tests/doc_blocks.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mlops_estate.config.estate import ConfigError, EstateConfig
from mlops_estate.config.schema import estate_schema
from tests.doc_blocks import ROOT, Block, blocks, doc_files
from tests.helpers import default_estate_dict

ALL = [block for path in doc_files() for block in blocks(path)]
PYTHON_PAGES = sorted({b.file for b in ALL if b.language == "python" and b.marker != "not-run"})
CONFIGS = [b for b in ALL if b.language == "json" and b.marker == "estate-config"]

RUNNER = """
import json, os, sys, traceback
pages, outcomes = json.load(open(sys.argv[1], encoding="utf-8")), {}
environ, path = dict(os.environ), list(sys.path)
for page in pages:
    os.chdir(page["work"])
    namespace = {"__name__": "__main__"}
    try:
        for block in page["blocks"]:
            # Padded so a traceback names the Markdown file and its own line numbers.
            exec(compile("\\n" * (block["line"] - 1) + block["code"], block["file"], "exec"), namespace)
        outcomes[page["page"]] = None
    except BaseException:
        outcomes[page["page"]] = traceback.format_exc()
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:] = path
json.dump(outcomes, open(sys.argv[2], "w", encoding="utf-8"))
"""


def test_blocks_are_found():
    assert ROOT / "README.md" in PYTHON_PAGES
    assert CONFIGS, "the docs show estate-file snippets"


def test_every_fence_names_its_language():
    unnamed = [b.where for b in ALL if not b.language]
    assert not unnamed, f"code blocks without a language (use text for output): {unnamed}"


def test_every_unchecked_block_says_why():
    for block in ALL:
        if block.marker == "not-run":
            assert block.marker_value, f"{block.where}: <!-- not-run: ... --> needs a reason"
        if block.marker == "estate-config":
            assert block.language == "json", f"{block.where}: estate-config marks a json block"


def test_every_json_block_is_an_estate_snippet_or_says_why():
    unmarked = [b.where for b in ALL if b.language == "json" and b.marker is None]
    assert not unmarked, f"mark these json blocks <!-- estate-config[: path] --> or <!-- not-run: reason -->: {unmarked}"


@pytest.fixture(scope="module")
def page_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Each page's traceback (None: it ran), every page run once in one interpreter."""
    folder = tmp_path_factory.mktemp("doc-pages")
    pages = []
    for page in PYTHON_PAGES:
        work = folder / str(page.relative_to(ROOT)).replace("/", "_")
        work.mkdir()
        pages.append({"page": str(page), "work": str(work), "blocks": [
            {"file": str(b.file), "line": b.line, "code": b.code}
            for b in blocks(page) if b.language == "python" and b.marker != "not-run"]})
    (folder / "pages.json").write_text(json.dumps(pages))
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run([sys.executable, "-c", RUNNER, str(folder / "pages.json"), str(folder / "outcomes.json")],
                            cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"the page runner itself failed:\n{result.stderr[-6000:]}"
    outcomes: dict[str, str | None] = json.loads((folder / "outcomes.json").read_text())
    return outcomes


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run_as_written(page: Path, page_outcomes: dict[str, str | None]):
    failure = page_outcomes[str(page)]
    assert failure is None, f"a python block of {page.relative_to(ROOT)} fails as written:\n{failure[-6000:]}"


def test_a_failing_block_fails_its_page_only(tmp_path: Path):
    """The shared runner reports a page's exception against that page, and the next page still runs (in its own
    folder, with the environment restored)."""
    pages = [{"page": "bad.md", "work": str(tmp_path), "blocks": [
                 {"file": "bad.md", "line": 3, "code": "import os\nos.environ['LEAK'] = '1'\nraise ValueError('boom')"}]},
             {"page": "good.md", "work": str(tmp_path), "blocks": [
                 {"file": "good.md", "line": 1, "code": "import os\nassert 'LEAK' not in os.environ"}]}]
    (tmp_path / "pages.json").write_text(json.dumps(pages))
    subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "pages.json"), str(tmp_path / "out.json")],
                   check=True, capture_output=True, text=True, timeout=60)
    outcomes = json.loads((tmp_path / "out.json").read_text())
    assert outcomes["good.md"] is None
    assert 'File "bad.md", line 5' in outcomes["bad.md"] and "ValueError: boom" in outcomes["bad.md"]


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        return {**base, **{k: _merge(base.get(k), v) if k in base else v for k, v in patch.items()}}
    return patch


def _at(path: str, fragment: dict[str, Any]) -> dict[str, Any]:
    """The fragment placed at ``path`` of the default estate (``models[0].serving``, ``organization``, or the root)."""
    data = default_estate_dict()
    parts = [p for p in re.split(r"\.|\[(\d+)\]", path) if p]
    if not parts:
        return _merge(data, fragment)
    node: Any = data
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    node[last] = _merge(node[last] if (isinstance(node, list) or last in node) else {}, fragment)
    return data


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(estate_schema())


@pytest.mark.parametrize("block", CONFIGS, ids=lambda b: b.where)
def test_estate_snippets_validate(block: Block, validator: jsonschema.Draft202012Validator):
    try:
        fragment = json.loads(block.code)
    except json.JSONDecodeError as error:
        pytest.fail(f"{block.where}: not JSON ({error}); an estate snippet is a JSON object")
    assert isinstance(fragment, dict), f"{block.where}: an estate snippet is a JSON object"
    data = _at(block.marker_value, fragment)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors, f"{block.where}: the snippet does not validate against the estate schema: {errors}"
    try:
        EstateConfig.from_dict(data, block.where)
    except ConfigError as error:
        pytest.fail(str(error))
