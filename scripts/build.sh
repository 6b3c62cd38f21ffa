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
# worker-build's own wasm-opt pass is off (Cargo.toml): it keeps the wasm name section for readable stack traces,
# ~55 KB gzipped, and a panic here is reported by our own log lines, so the shipped binary is optimised without it
# (and without the producers section) in one pass.
bash scripts/wasm-opt.sh build/index_bg.wasm build/index_bg.wasm >&2
