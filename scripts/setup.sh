#!/usr/bin/env bash
# Sets up everything the estate needs, idempotently: a Python virtualenv with the pinned packages
# (constraints.txt) and the pinned CDK CLI (package-lock.json). Needs Python 3.11+ and Node 20+.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required, found " + sys.version.split()[0])'
node -e 'const m = +process.versions.node.split(".")[0]; if (m < 20) { console.error("Node 20 or newer is required, found " + process.version); process.exit(1) }'

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt \
  --config-settings editable_mode=strict -e '.[dev,docs]'  # strict: a real link tree, so mypy sees mlops_estate
npm ci --no-audit --no-fund --loglevel=error
