"""Latency of MCP calls against the built worker in local workerd (wrangler dev): N sequential requests over one
keep-alive connection, after a warm-up. Prints p50/p90/p99/max per call kind.

    .venv/bin/python bench/latency.py [N]
"""

import http.client
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.mcp import MCP_HEADERS  # noqa: E402
from support.worker import Worker  # noqa: E402

CALLS = {
    "tools/list": {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    "list_plugins": {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                     "params": {"name": "list_plugins", "arguments": {"surface": "all"}}},
    "resources/read (png)": {"jsonrpc": "2.0", "id": 1, "method": "resources/read",
                             "params": {"uri": "skill://example/brand-kit/brand-voice/assets/logo.png"}},
}


def measure(conn, body, n):
    data = json.dumps(body).encode()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("POST", "/mcp", body=data, headers=MCP_HEADERS)
        resp = conn.getresponse()
        resp.read()
        out.append((time.perf_counter() - t0) * 1000)
        assert resp.status == 200, resp.status
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    # The local provider answers /mcp without a token only when `auth.open` is set (as compare.py does).
    w = Worker({"SKILLPORT_AUTH__OPEN": "true"}, name="bench")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)
        for name, body in CALLS.items():
            measure(conn, body, 50)
            xs = measure(conn, body, n)
            print(f"bench: {name:24s} n={n} p50={pct(xs, 50):.2f} ms p90={pct(xs, 90):.2f} ms "
                  f"p99={pct(xs, 99):.2f} ms max={max(xs):.2f} ms mean={statistics.mean(xs):.2f} ms")
    finally:
        w.stop()


if __name__ == "__main__":
    main()
