"""Where Skillport's idle memory goes: the RSS of the workerd process running each of three Workers, idle, median of
N starts, alternating:

- hello-world JS (bench/hello): workerd's own floor;
- hello-world reading one KV key per request (bench/hello-kv): wrangler dev simulates KV inside the same process;
- hello-world plus Skillport's wasm (bench/hello-wasm): the module compiled and instantiated, no request reaching it;
- Skillport on its embedded default (the example marketplace, local sign-in), after `initialize` and `tools/list`.

The differences to hello-world are what local KV and the 2.3 MB wasm module (compiled and instantiated) cost; the
rest is what Skillport's running state adds (the code it runs compiled, configuration, catalogue, caches). Skillport's own log line gives the wasm
linear memory after loading. Uses bench/compare.py's harness; run after scripts/build.sh:

    .venv/bin/python bench/idle-memory.py [STARTS]
"""

import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BENCH, HELLO, INIT, Server, mem_kib, request, skillport_config  # noqa: E402
from support.mcp import mcp_headers, rpc  # noqa: E402


def main():
    starts = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    servers = [Server("hello", "hello-world JS", HELLO / "wrangler.toml"),
               Server("hello-kv", "hello-world + a KV read", BENCH / "hello-kv" / "wrangler.toml"),
               Server("hello-wasm", "hello-world + Skillport's wasm", BENCH / "hello-wasm" / "wrangler.toml"),
               Server("skillport", "Skillport (example marketplace)", skillport_config(),
                      {"SKILLPORT_AUTH__OPEN": "true"})]
    rss = {s.key: [] for s in servers}
    linear = []
    for rep in range(starts):
        for s in servers[rep % len(servers):] + servers[:rep % len(servers)]:
            s.start()
            try:
                s.wait_ready()
                if s.key == "skillport":
                    request(s.port, "POST", "/mcp", INIT, mcp_headers())
                    s.call(rpc("tools/list", id=2))
                else:
                    request(s.port, "GET", "/")
                time.sleep(3)
                runtime, _ = s.workerds()
                rss[s.key].append(mem_kib(runtime)["VmRSS"] / 1024)
                if s.key == "skillport":
                    m = re.findall(r"wasm memory ([0-9]+ KiB)", s.log_path.read_text())
                    linear += m[-1:]
            finally:
                s.stop()
    med = {k: statistics.median(v) for k, v in rss.items()}
    for s in servers:
        print(f"idle RSS: {s.label:34s} {med[s.key]:6.1f} MiB  (starts: {', '.join(f'{x:.1f}' for x in rss[s.key])})")
    print(f"local KV (one read per request):        +{med['hello-kv'] - med['hello']:.1f} MiB over hello-world")
    print(f"the wasm module (instantiated, unused): +{med['hello-wasm'] - med['hello']:.1f} MiB over hello-world")
    rest = med["skillport"] - med["hello-wasm"] - (med["hello-kv"] - med["hello"])
    print(f"Skillport's running state:              +{rest:.1f} MiB beyond both"
          + (f" (wasm linear memory after loading, from its log: {linear[-1]})" if linear else ""))


if __name__ == "__main__":
    main()
