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
# The Worker's entry (wrangler.toml's `main`). worker-build's shim.mjs re-exports index.js, whose default export is an
# entrypoint class behind a Proxy: the runtime constructs it, and the Proxy wraps it and its `fetch` again, on every
# request (~45 µs of CPU per request in local workerd, measured with bench/compare.py). This entry exports the same
# handlers as a plain module object instead, called with the same `env` and `ctx`; the Durable Object classes are
# re-exported as worker-build made them. A wasm trap still re-instantiates the module on the next call: the
# wasm-bindgen glue in index.js does it in every export.
cat > build/worker/shim.mjs <<'JS'
// Written by scripts/build.sh over worker-build's re-export of ../index.js.
import Entrypoint from "../index.js";
export * from "../index.js";
const { fetch, scheduled } = Entrypoint.prototype;
export default {
  fetch(request, env, ctx) {
    return fetch.call({ env, ctx }, request);
  },
  scheduled(controller, env, ctx) {
    return scheduled.call({ env, ctx }, controller);
  },
};
JS
