#!/usr/bin/env bash
# Benchmarks kept by the project (not timed tests): wasm size and MCP call latency in local workerd.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/setup.sh --test
bash scripts/build.sh
bash scripts/size.sh
.venv/bin/python bench/latency.py "${1:-1000}"
