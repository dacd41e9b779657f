"""MkDocs hook: the API reference pages and the estate schema are generated at build time, never committed twice.

- ``api/<domain>.md``: one page per domain package of `mlops_estate`, listing its public modules (found on disk, so a
  new module appears without editing the docs) and rendering each with mkdocstrings.
- ``estate.schema.json``: the schema shipped as package data, served beside the configuration reference.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "constructs" / "mlops_estate"
SCHEMA = PACKAGE / "config" / "estate.schema.json"
# Every domain package gets a page; mkdocs.yml's nav lists them (a new domain missing there fails the strict build).
DOMAINS = sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py"))


def public_modules(domain: str) -> list[str]:
    """Dotted names of the public modules of a domain package, subpackages included, in path order."""
    base = PACKAGE / domain
    names = []
    for path in sorted(base.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if path.name == "__init__.py":
            parts = parts[:-1]
            if path.parent == base:
                continue  # the domain itself heads the page
        if any(part.startswith("_") for part in parts) or not (path.parent / "__init__.py").is_file():
            continue  # private, or plain files shipped as data (reference/scripts)
        names.append(".".join(parts))
    return names


def summary(module: str) -> str:
    """First paragraph of a module's docstring, on one line (read from source: the hook imports nothing)."""
    path = PACKAGE.parent.joinpath(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def api_page(domain: str) -> str:
    package = f"mlops_estate.{domain}"
    modules = public_modules(domain)
    lines = [f"# `{package}`", "", f"::: {package}", "    options:", "      show_root_heading: false", "      members: false", ""]
    lines += ["| module | what it holds |", "|---|---|"]
    for module in modules:
        text = summary(module).replace("|", "\\|")
        lines.append(f"| [`{module.removeprefix(package + '.')}`][{module}] | {text} |")
    for module in modules:
        lines += ["", f"::: {module}"]
    return "\n".join(lines) + "\n"


def on_files(files: Files, config: Any) -> Files:
    for domain in DOMAINS:
        files.append(File.generated(config, f"api/{domain}.md", content=api_page(domain)))
    files.append(File.generated(config, "estate.schema.json", abs_src_path=str(SCHEMA)))
    return files
