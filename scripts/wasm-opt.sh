#!/usr/bin/env bash
# The Worker's one wasm-opt pass (worker-build's own is off in Cargo.toml):
#   bash scripts/wasm-opt.sh IN OUT            -O, name and producers sections stripped: what scripts/build.sh ships
#   bash scripts/wasm-opt.sh IN OUT --names    -O keeping the name section, for bench/size-breakdown.sh's twiggy
# -O is measured best for the gzipped size here: -Oz, -Oz --converge, --gufa and -O3 are each 0.1-0.5% larger.
# Stripping in the optimising pass matters: a separate, non-optimising wasm-opt pass (read, strip, write back) makes
# the code 4 KB larger (3.6 KB gzipped). The features are the ones worker-build enables, named rather than
# --all-features so that no encoding newer than workerd supports is ever emitted.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
in=$1 out=$2
features=(--enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory
  --enable-multivalue --enable-reference-types --enable-exception-handling)
if [ "${3:-}" = --names ]; then
  keep=(--debuginfo)
else
  keep=(--strip-debug --strip-producers)
fi
tmp="$out.wasm-opt.tmp"
wasm-opt "$in" -o "$tmp" -O "${features[@]}" "${keep[@]}"
mv "$tmp" "$out"
