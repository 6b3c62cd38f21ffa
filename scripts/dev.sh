#!/usr/bin/env bash
# Runs the connector locally in workerd on http://localhost:8787 with the embedded default configuration
# (the example marketplace in examples/marketplace, loopback-only local sign-in). All set-up included.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/setup.sh
. scripts/env.sh
PORT=${PORT:-8787}
exec wrangler dev --ip 127.0.0.1 --port "$PORT" --show-interactive-dev-session=false "$@"
