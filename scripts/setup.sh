#!/usr/bin/env bash
# Installs everything the connector needs to build and run locally, on a fresh machine, from the package
# registries only (crates.io, npm, PyPI). Idempotent: each step is skipped when the right version is already there.
#   bash scripts/setup.sh          build + run tools (Rust wasm target, worker-build, wasm-bindgen, wrangler)
#   bash scripts/setup.sh --test   also the test peers (Python mcp SDK in .venv, Node peers, Claude Code)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORKER_BUILD_VERSION=0.8.7

log() { printf '[setup] %s\n' "$*" >&2; }

# 1. Rust target for Workers.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown >&2
fi

# 2. worker-build and the wasm-bindgen CLI matching Cargo.lock exactly (worker-build would otherwise try to
#    download them from the internet, which this machine cannot reach).
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
have_version() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"; }
if ! have_version worker-build "$WORKER_BUILD_VERSION"; then
  log "installing worker-build $WORKER_BUILD_VERSION (about 4 minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --force >&2
fi
if ! have_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 4 minutes, once)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force >&2
fi

# 3. wrangler (local workerd), binaryen (wasm-opt) and esbuild, pinned in package-lock.json.
stamp=node_modules/.skillport-stamp
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing npm tooling (npm ci)"
  npm ci --no-audit --no-fund >&2
  echo "$want" > "$stamp"
fi

# 4. Test peers.
if [ "${1:-}" = "--test" ]; then
  stamp=tests/peers/node_modules/.skillport-stamp
  want=$(sha256sum tests/peers/package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing the Node test peers (Node 22 from npm, MCP Inspector)"
    (cd tests/peers && npm ci --no-audit --no-fund >&2)
    echo "$want" > "$stamp"
  fi
  # Claude Code, the reference implementation of the differential test (tests/claude), pinned in its own lockfile.
  # Its native binary comes from the platform's optional package; the wrapper's postinstall (which only copies that
  # binary over a placeholder) is not needed, so no install script runs.
  stamp=tests/claude/node_modules/.skillport-stamp
  want=$(sha256sum tests/claude/package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing Claude Code for the differential test (tests/claude)"
    (cd tests/claude && npm ci --ignore-scripts --no-audit --no-fund >&2)
    echo "$want" > "$stamp"
  fi
  # Debian's Chromium, the real browser of the consent-page test (driven by playwright-core from tests/peers, which
  # downloads no browser of its own). apt-get as root (as here and in CI), through sudo otherwise.
  if ! command -v chromium >/dev/null 2>&1; then
    log "installing Debian's chromium (apt-get)"
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    "${as_root[@]}" apt-get update -q >&2
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2
  fi
  stamp=.venv/.skillport-stamp
  want=$(sha256sum tests/e2e/requirements.txt | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "creating .venv with the Python test peers"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt >&2
    echo "$want" > "$stamp"
  fi
fi
log "ready"
