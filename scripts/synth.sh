#!/usr/bin/env bash
# Sets everything up, then synthesizes the whole estate (every stage, every stack) into cdk.out.
# Needs no AWS credentials: account ids, region and zones all come from the estate config.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
npx cdk synth '**' --quiet "$@"
