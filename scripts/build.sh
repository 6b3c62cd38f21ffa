#!/usr/bin/env bash
# Builds the Worker: Rust -> wasm (release, size-optimised) -> wasm-bindgen -> wasm-opt -> build/worker/shim.mjs.
# wrangler runs this as its build command; it assumes scripts/setup.sh has run. The test suite builds once and
# then starts several local workers with SKILLPORT_PREBUILT=1, which reuses that build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
if [ "${SKILLPORT_PREBUILT:-}" = 1 ] && [ -f build/worker/shim.mjs ]; then
  exit 0
fi
. scripts/env.sh
worker-build --release >&2
