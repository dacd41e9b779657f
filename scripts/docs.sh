#!/usr/bin/env bash
# Sets everything up, then builds the documentation site into site/ (git ignores it): topic pages from docs/, the
# API reference from the docstrings, the estate schema. Strict: a broken link, anchor, page or cross-reference fails.
# Open site/index.html afterwards, or run `./scripts/docs.sh serve` for a live-reloading server on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" NO_MKDOCS_2_WARNING=1
if [ "${1:-}" = serve ]; then
  shift
  exec mkdocs serve --strict "$@"
fi
mkdocs build --strict "$@"
