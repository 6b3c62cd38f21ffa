# Sourced by the build and run scripts: point worker-build at the local tools so it never downloads anything.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
if [ -x "$ROOT/node_modules/@esbuild/linux-x64/bin/esbuild" ]; then
  export ESBUILD_BIN="$ROOT/node_modules/@esbuild/linux-x64/bin/esbuild"
else
  export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
fi
export WRANGLER_SEND_METRICS=false
