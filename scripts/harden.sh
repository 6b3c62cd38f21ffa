#!/usr/bin/env bash
# The hardening suite, against the built worker in local workerd (wrangler dev):
#   load (mixed MCP calls and OAuth token refreshes; zero errors, a latency bound, flat memory), upstream faults
#   during load (GitHub stand-in failing in every way), protocol abuse, attack cases on every endpoint, answers kept
#   apart between users, property-based testing of the OAuth endpoints from tests/openapi/oauth.yaml, and
#   scripts/dev.sh surviving refused bodies. See tests/hardening/README.md.
#
#   bash scripts/harden.sh [--short|--long] [pytest args...]
#     --short (default)  5,000 requests at 25 connections, one round of faults; ~5 minutes; run by scripts/test.sh
#     --long             100,000 requests at 100 connections after 40,000 warm-up, four rounds of faults
#
# Results: tests/hardening/results/<date>-<mode>.md. Set-up and build first (scripts/setup.sh --test, then
# scripts/build.sh), unless SKILLPORT_PREBUILT=1 and build/ already holds a worker.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=short
if [ "${1:-}" = "--short" ] || [ "${1:-}" = "--long" ]; then
  mode=${1#--}
  shift
fi
t0=$(date +%s)
if [ "${SKILLPORT_PREBUILT:-}" = 1 ] && [ -f build/worker/shim.mjs ]; then
  echo "harden: reusing the existing build (SKILLPORT_PREBUILT=1)"
else
  bash scripts/setup.sh --test
  bash scripts/build.sh
fi
# wrangler and the tools as scripts/dev.sh and scripts/test.sh run them (node_modules/.bin first on PATH).
. scripts/env.sh
echo "== hardening ($mode)"
HARDEN_MODE=$mode .venv/bin/python -m pytest tests/hardening -q -p no:cacheprovider -rxXs "$@"
echo "harden: $mode run took $(( $(date +%s) - t0 )) s"
