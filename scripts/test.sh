#!/usr/bin/env bash
# The whole test suite, with all set-up, on a fresh machine: native unit and integration tests, the wasm build
# and its size budget, then the end-to-end suite against the built worker in the real workerd with real clients.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
t0=$(date +%s)
bash scripts/setup.sh --test
. scripts/env.sh

echo "== native tests (cargo test)"
cargo test --workspace --quiet 2>&1 | grep -vE '^\s*$'

echo "== wasm build"
b0=$(date +%s)
bash scripts/build.sh
echo "build: worker built in $(( $(date +%s) - b0 )) s"
bash scripts/size.sh

echo "== end-to-end (workerd + real MCP clients)"
e0=$(date +%s)
.venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider "$@"
echo "e2e: suite took $(( $(date +%s) - e0 )) s"
echo "total: $(( $(date +%s) - t0 )) s"
