#!/usr/bin/env bash
# Benchmarks kept by the project (not timed tests): wasm size, MCP call latency, and the catalogue benchmark
# (upstream request counts and list_plugins latency over 1,000+ plugins), all in local workerd.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/setup.sh --test
bash scripts/build.sh
bash scripts/size.sh
.venv/bin/python bench/latency.py "${1:-1000}"
.venv/bin/python bench/catalogue.py 1000 "${1:-1000}"
