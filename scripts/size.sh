#!/usr/bin/env bash
# Prints the size of the built Worker (wasm + JS glue), raw and gzipped, and fails over the budget.
# Budget: 1.5 MB gzipped; the Workers free plan caps a script at 3 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${SKILLPORT_SIZE_BUDGET:-1572864}
shopt -s nullglob
files=(build/worker/*.wasm build/worker/*.js build/worker/*.mjs build/index.js build/*.wasm)
[ ${#files[@]} -gt 0 ] || { echo "size: no build output; run scripts/build.sh" >&2; exit 1; }
raw=0; gz=0
for f in "${files[@]}"; do
  r=$(stat -c %s "$f"); g=$(gzip -9 -c "$f" | wc -c)
  printf 'size: %-40s %9d bytes raw %9d bytes gzip\n' "$f" "$r" "$g"
  raw=$((raw + r)); gz=$((gz + g))
done
printf 'size: TOTAL %d bytes raw, %d bytes gzipped (%.1f KiB; budget %d KiB)\n' "$raw" "$gz" "$(awk -v g="$gz" 'BEGIN{print g/1024}')" $((BUDGET / 1024))
if [ "$gz" -gt "$BUDGET" ]; then
  echo "size: OVER BUDGET" >&2
  exit 1
fi
