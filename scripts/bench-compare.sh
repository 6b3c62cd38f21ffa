#!/usr/bin/env bash
# Comparison benchmark: Skillport against two peers built the usual TypeScript ways (bench/peer: agents McpAgent +
# MCP TypeScript SDK v1 + workers-oauth-provider; bench/peer-stateless: agents createMcpHandler + SDK v2 server per
# request + workers-oauth-provider) and a hello-world Worker (bench/hello), all under `wrangler dev` in local workerd.
# Sizes, startup, memory, and throughput/latency under 50 connections (wrk). Writes bench/results/compare-<date>.md
# (and .json). Arguments go to bench/compare.py (--quick for a smoke run); with --cold-start first, the rest go to
# bench/cold-start.py instead (fresh-isolate first requests; bench/results/cold-start-<date>.md); with --scale first,
# to bench/scale.py (Skillport alone at 1,000 and 10,000 plugins against the free plan's limits;
# bench/results/scale-<date>.md).
#   bash scripts/bench-compare.sh [--duration S] [--rounds N] [--connections C] [--modes wrangler,direct] [--quick]
#   bash scripts/bench-compare.sh --cold-start [--starts N] [--servers skillport,peer,stateless,hello] [--kv kept|empty]
#   bash scripts/bench-compare.sh --scale [--plugins 1000,10000] [--duration S] [--rounds N]
# SKILLPORT_PREBUILT=1 reuses build/ when it exists. Registries only: npm (peers), Debian (wrk), as set up below.
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

# Each peer's npm dependencies, pinned in its package-lock.json.
for peer in bench/peer bench/peer-stateless; do
  stamp=$peer/node_modules/.skillport-stamp
  want=$(sha256sum $peer/package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing the npm dependencies of $peer (npm ci)"
    (cd $peer && npm ci --no-audit --no-fund >&2)
    echo "$want" > "$stamp"
  fi
done

bash scripts/build.sh   # a no-op with SKILLPORT_PREBUILT=1 and an existing build
. scripts/env.sh
if [ "${1:-}" = --cold-start ]; then
  shift
  exec .venv/bin/python bench/cold-start.py "$@"
fi
if [ "${1:-}" = --scale ]; then
  shift
  exec .venv/bin/python bench/scale.py "$@"
fi
exec .venv/bin/python bench/compare.py "$@"
