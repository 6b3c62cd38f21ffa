#!/usr/bin/env bash
# What the release wasm is made of: `twiggy top` of the shipped binary, with names.
#   bash bench/size-breakdown.sh [N]        (N items, default 30; then the same bytes summed per crate)
# scripts/build.sh strips the name section from the shipped build/index_bg.wasm, so twiggy could only say `code[123]`.
# This builds a second copy (worker-build --release: same cargo profile, same wasm-bindgen) into
# bench/.work/wasm-names, leaving build/ alone, and optimises it twice with scripts/wasm-opt.sh: as scripts/build.sh
# does (checked byte-identical to build/index_bg.wasm when the two builds are of the same source), and keeping the
# names, for twiggy: the two differ only in the name and producers sections, so the shares below are the shipped
# binary's. twiggy comes from crates.io (installed once).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-30}
TWIGGY_VERSION=0.8.0
OUT=bench/.work/wasm-names

bash scripts/setup.sh
. scripts/env.sh
if ! twiggy --version 2>/dev/null | grep -q "$TWIGGY_VERSION"; then
  echo "[size-breakdown] installing twiggy $TWIGGY_VERSION (cargo, once)" >&2
  cargo install twiggy --version "$TWIGGY_VERSION" --locked >&2
fi

worker-build --release -d "$OUT" >&2
wasm=$OUT/named.wasm
bash scripts/wasm-opt.sh "$OUT/index_bg.wasm" "$OUT/stripped.wasm" >&2
bash scripts/wasm-opt.sh "$OUT/index_bg.wasm" "$wasm" --names >&2
named=$(stat -c %s "$wasm"); stripped=$(stat -c %s "$OUT/stripped.wasm")
echo "size-breakdown: $wasm: $named bytes with names; $stripped bytes stripped as scripts/build.sh ships it" \
  "($(gzip -9 -c "$OUT/stripped.wasm" | wc -c) gzipped)"
if [ -f build/index_bg.wasm ]; then
  if cmp -s "$OUT/stripped.wasm" build/index_bg.wasm; then
    echo "size-breakdown: the stripped copy is byte-identical to build/index_bg.wasm"
  else
    echo "size-breakdown: NOTE the stripped copy differs from build/index_bg.wasm ($(stat -c %s build/index_bg.wasm) bytes):" \
      "build/ is of another source state; the breakdown below is of the current source"
  fi
fi
echo
echo "## twiggy top -n $N (shallow bytes; the \"function names\" subsection is not shipped)"
echo
twiggy top -n "$N" "$wasm"
echo
echo "## by crate (shallow bytes of every item, name section excluded; a trait impl counts for the implementing type's crate)"
echo
twiggy top -f csv "$wasm" | python3 bench/wasm_crates.py "$N"
