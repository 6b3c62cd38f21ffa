"""Catalogue benchmark: upstream requests per cold load, warm call and unchanged refresh, and list_plugins latency
over a merged catalogue of 1,000+ plugins, in local workerd against the GitHub stand-in serving a real git repo.

    .venv/bin/python bench/catalogue.py [PLUGINS] [CALLS]
"""

import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support.forge import Forge, by_kind, git  # noqa: E402
from support.worker import Worker  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from latency import measure, pct  # noqa: E402


REFRESH = 30  # catalogue.refresh_seconds for the run


def big_marketplace(path: Path, n: int):
    plugins = []
    for i in range(n):
        name = f"plugin-{i:04d}"
        skill = path / "plugins" / name / "skills" / f"skill-{i:04d}"
        skill.mkdir(parents=True)
        (skill / "SKILL.md").write_text(
            f"---\nname: skill-{i:04d}\ndescription: Synthetic skill number {i} for the catalogue benchmark.\n---\n\n"
            f"# Skill {i}\n\nDo step one, then step two.\n")
        plugins.append({"name": name, "source": f"./plugins/{name}", "description": f"Synthetic plugin {i}",
                        "version": f"1.{i % 10}.0", "category": ["development", "productivity", "design"][i % 3],
                        "tags": [["surface:CALL"], ["surface:CC"], ["surface:CDAI"]][i % 3]})
    (path / ".claude-plugin").mkdir(parents=True)
    (path / ".claude-plugin" / "marketplace.json").write_text(
        json.dumps({"name": "bench", "owner": {"name": "Bench"}, "plugins": plugins}))
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "-c", "user.name=B", "-c", "user.email=b@example.com", "commit", "-q", "-m", "bench marketplace")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    tmp = Path(tempfile.mkdtemp())
    big_marketplace(tmp / "github" / "bench" / "big", n)
    forge = Forge(tmp)
    mkts = (f'[{{id="big",kind="github",location="bench/big",api_base="{forge.base}"}},'
            '{id="example",kind="bundled",location="marketplace"}]')
    forge.forget()
    t0 = time.perf_counter()
    # The worker's readiness probe is its first request: the cold load happens there.
    # A marketplace is refreshed once it is due: every REFRESH seconds. The warm calls below take a few seconds, well
    # inside it; the cron tick at the end comes after it, so it revalidates (an unchanged marketplace: one request).
    w = Worker({"SKILLPORT_MARKETPLACES": mkts, "SKILLPORT_CATALOGUE__REFRESH_SECONDS": str(REFRESH),
                "SKILLPORT_AUTH__OPEN": "true"}, name="bench-cat")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=60)
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "list_plugins", "arguments": {"surface": "all"}}}
        first = measure(conn, body, 1)[0]
        loaded = time.monotonic()
        cold = by_kind(forge.requests())["github"]
        print(f"bench: cold load of {n} plugins from GitHub: {cold} upstream requests (commit lookup, tarball, "
              f"its redirect target); start to first list_plugins answer {1000 * (time.perf_counter() - t0):.0f} ms "
              f"including wrangler dev's start")
        forge.forget()
        xs = measure(conn, body, calls)
        print(f"bench: warm: {by_kind(forge.requests())['github']} upstream requests over {calls} list_plugins calls")
        print(f"bench: list_plugins over {n + 3} plugins: p50={pct(xs, 50):.2f} ms p99={pct(xs, 99):.2f} ms "
              f"max={max(xs):.2f} ms")
        q = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
             "params": {"name": "list_plugins", "arguments": {"query": "number 999", "surface": "claude-code"}}}
        xs = measure(conn, q, calls)
        print(f"bench: list_plugins query+surface filter: p50={pct(xs, 50):.2f} ms p99={pct(xs, 99):.2f} ms")
        time.sleep(max(0.0, loaded + REFRESH + 1 - time.monotonic()))
        forge.forget()
        urllib.request.urlopen(f"{w.base}/cdn-cgi/handler/scheduled", timeout=60).read()
        time.sleep(1)
        print(f"bench: unchanged refresh (cron): {by_kind(forge.requests())['github']} upstream request(s)")
    finally:
        w.stop()
        forge.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
