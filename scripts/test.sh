#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: unit, handler, config, snapshot and policy gates.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
python -m mypy
# Every core (pytest-xdist); tests/xdist_groups.py keeps the tests of a shared fixture on one worker. `-n 0`: one process.
python -m pytest -n auto --dist loadgroup "$@"
