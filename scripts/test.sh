#!/usr/bin/env bash
# The whole test suite, with all set-up, on a fresh machine: native unit and integration tests, the wasm build
# and its size budget, the end-to-end suite against the built worker in the real workerd with real clients, then
# the short runs of the hardening suite and of the fuzz targets (their long runs are their own commands).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
t0=$(date +%s)
bash scripts/setup.sh --test
. scripts/env.sh

echo "== native tests (cargo test)"
cargo test --workspace --quiet 2>&1 | grep -vE '^\s*$'

# On Workers, ID-token signatures are checked by WebCrypto (providers/src/jws.rs): the same vectors under Node's.
echo "== wasm tests (WebCrypto signature checks, under Node)"
PATH="$ROOT/tests/peers/node_modules/.bin:$PATH" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p skillport-providers --target wasm32-unknown-unknown --test jws 2>&1 | grep -vE '^\s*$'

echo "== wasm build"
b0=$(date +%s)
bash scripts/build.sh
echo "build: worker built in $(( $(date +%s) - b0 )) s"
bash scripts/size.sh

echo "== end-to-end (workerd + real MCP clients)"
e0=$(date +%s)
.venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider "$@"
echo "e2e: suite took $(( $(date +%s) - e0 )) s"

echo "== differential against Claude Code (tests/claude)"
d0=$(date +%s)
.venv/bin/python -m pytest tests/claude -q -s -p no:cacheprovider
echo "differential: took $(( $(date +%s) - d0 )) s"

echo "== hardening, short run (load, upstream faults, protocol abuse)"
h0=$(date +%s)
SKILLPORT_PREBUILT=1 bash scripts/harden.sh --short
echo "hardening: took $(( $(date +%s) - h0 )) s"

echo "== fuzzing, short run (each target 20 s, after replaying past crashes)"
f0=$(date +%s)
bash scripts/fuzz.sh --short
echo "fuzzing: took $(( $(date +%s) - f0 )) s"
echo "total: $(( $(date +%s) - t0 )) s"
