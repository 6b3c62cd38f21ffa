"""Sums `twiggy top -f csv` rows per crate (read from stdin) and prints the largest N: which dependencies the
shipped wasm bytes belong to. Used by bench/size-breakdown.sh.

    twiggy top -f csv build.wasm | python3 bench/wasm_crates.py [N]
"""

import csv
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def crate(name: str) -> str | None:
    """The crate an item belongs to; None for the name section (stripped from the shipped binary)."""
    if name.startswith('"') and "names" in name:
        return None
    if name.startswith("data segment"):
        return "(data segments)"
    if name.startswith('"') or name.startswith("custom section"):
        return "(custom sections)"
    # `<Type as Trait>::f`: the implementing type's crate when it has a path, else the trait's.
    m = re.match(rf"<+&?(?:mut )?(?:dyn )?({IDENT})(?:\[[0-9a-f]+\])?::", name)
    if m:
        return m.group(1)
    m = re.match(rf"<+&?(?:mut )?(?:\[)?{IDENT}\]? as ({IDENT})", name)
    if m:
        return m.group(1)
    m = re.match(rf"({IDENT})(?:\[[0-9a-f]+\])?::", name)
    if m:
        return m.group(1)
    return "(tables, types, imports, exports, unnamed)"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    by, total = {}, 0
    for row in csv.DictReader(sys.stdin):
        c = crate(row["Name"])
        if c is None:
            continue
        size = int(row["ShallowSize"])
        by[c] = by.get(c, 0) + size
        total += size
    print(f"{'bytes':>9}  {'share':>6}  crate")
    for c, size in sorted(by.items(), key=lambda kv: -kv[1])[:n]:
        print(f"{size:9d}  {100 * size / total:5.1f}%  {c}")
    print(f"{total:9d}  100.0%  (every shipped byte; the name section left out)")


if __name__ == "__main__":
    main()
