#!/usr/bin/env bash
# Comparison benchmark (issue 7): Skillport against a peer built the usual TypeScript way (bench/peer: agents
# McpAgent + MCP TypeScript SDK + workers-oauth-provider) and a hello-world Worker (bench/hello), all under
# `wrangler dev` in local workerd. Sizes, startup, memory, and throughput/latency under 50 connections (wrk).
# Writes bench/results/compare-<date>.md (and .json). Arguments go to bench/compare.py (--quick for a smoke run).
#   bash scripts/bench-compare.sh [--duration S] [--rounds N] [--connections C] [--modes wrangler,direct] [--quick]
# SKILLPORT_PREBUILT=1 reuses build/ when it exists. Registries only: npm (peer), Debian (wrk), as set up below.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { printf '[bench-compare] %s\n' "$*" >&2; }

bash scripts/setup.sh --test

# wrk from Debian, once.
if ! command -v wrk >/dev/null 2>&1; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  log "installing wrk (Debian)"
  $SUDO apt-get install -y wrk >&2 || { $SUDO apt-get update >&2 && $SUDO apt-get install -y wrk >&2; }
fi

# The peer's npm dependencies, pinned in bench/peer/package-lock.json.
stamp=bench/peer/node_modules/.skillport-stamp
want=$(sha256sum bench/peer/package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing the peer's npm dependencies (npm ci in bench/peer)"
  (cd bench/peer && npm ci --no-audit --no-fund >&2)
  echo "$want" > "$stamp"
fi

bash scripts/build.sh   # a no-op with SKILLPORT_PREBUILT=1 and an existing build
. scripts/env.sh
exec .venv/bin/python bench/compare.py "$@"
