#!/usr/bin/env bash
# Runs the connector locally in workerd on http://localhost:8787 with the embedded default configuration
# (the example marketplace in examples/marketplace, loopback-only local sign-in). All set-up included.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/setup.sh
. scripts/env.sh
PORT=${PORT:-8787}
# Worker vars come from wrangler, not from this shell: pass through every SKILLPORT_* variable set here (e.g.
# `SKILLPORT_AUTH__OPEN=true bash scripts/dev.sh`), and point the public URL at the port actually used.
VARS=(--var "SKILLPORT_SERVER__PUBLIC_URL:${SKILLPORT_SERVER__PUBLIC_URL:-http://localhost:$PORT}")
while IFS='=' read -r name value; do
  [[ $name == SKILLPORT_* && $name != SKILLPORT_SERVER__PUBLIC_URL && $name != SKILLPORT_PREBUILT ]] && VARS+=(--var "$name:$value")
done < <(env)
exec wrangler dev --ip 127.0.0.1 --port "$PORT" --show-interactive-dev-session=false "${VARS[@]}" "$@"
