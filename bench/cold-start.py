"""Cold-start benchmark: how long a server takes to answer when nothing is warm, for Skillport, the McpAgent peer
(bench/peer), the stateless peer (bench/peer-stateless) and hello-world (bench/hello), on the 1,003-plugin catalogue
compare.py loads (bench/catalogue.py's 1,000 synthetic plugins plus the example marketplace).

Every sample is a fresh `wrangler dev` process (bench/harness.py starts it), so a fresh workerd and a fresh isolate.
The request being measured is the first the isolate serves: it goes straight to the socket of the workerd process
that runs the worker as soon as that socket listens (wrangler's proxy would hold it until the worker is up). Each
sample records:

- process start → first 200: from spawning `wrangler dev` to the end of that first answer;
- workerd start → first 200: from the start of the workerd process that runs the worker to the same moment;
- first request: the latency of that one request (the isolate's first).

The paths: `tools/list`, `list_plugins` (first page of 50 of 1,003) and GET of the protected-resource metadata,
each its own fresh start. The McpAgent peer answers no MCP request outside a session, so its first request is always
`initialize` (the isolate's first), and the path is measured right after on the new session (`after initialize`).
Servers and paths alternate sample by sample; medians of `--starts` samples (10 by default).

Skillport's catalogue: by default (`--kv kept`) every start reuses one wrangler state folder that a first, unmeasured
start filled, so a fresh isolate finds the catalogue's last good copy in KV, as an isolate at a location where the
connector already ran does; `--kv empty` gives every start an empty state, so the first request also fetches and
unpacks the marketplace from the GitHub stand-in. The peers have the catalogue embedded in their bundles.

    bash scripts/bench-compare.sh --cold-start [--starts N] [--servers skillport,peer,stateless,hello] [--kv kept|empty]
        [--paths tools_list,list_plugins,prm] [--era 2025-06-18|2026-07-28] [--plugins N] [--out FILE]
    .venv/bin/python bench/cold-start.py [same options]     # once bench/peer*/node_modules and build/ exist

Writes bench/results/cold-start-<date>.md (and .json) unless --out says otherwise.
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (BENCH, EXAMPLE, INIT, NAMES, PRM_PATH, WORK, gen_peer_catalogue, log, request, servers,  # noqa: E402
                     skillport_config, write_results)
from support.forge import Forge  # noqa: E402
from support.mcp import ERAS, LEGACY, for_era, mcp_headers, rpc  # noqa: E402

PATHS = {
    # key: (label, method, path, body)
    "tools_list": ("`tools/list`", "POST", "/mcp", rpc("tools/list")),
    "list_plugins": ("`list_plugins` (1,003 plugins, first page of 50)", "POST", "/mcp",
                     rpc("tools/call", {"name": "list_plugins", "arguments": {"surface": "all"}})),
    "prm": (f"GET `{PRM_PATH}`", "GET", PRM_PATH, None),
}


def check(server, path_key, msg, raw, total):
    """None when the answer is the right one, else why not (a wrong answer is never counted as a sample)."""
    if server.key == "hello":
        return None
    if path_key == "prm":
        try:
            return None if "resource" in json.loads(raw) else "no `resource` in the metadata document"
        except ValueError:
            return "metadata document is not JSON"
    res = (msg or {}).get("result") or {}
    if path_key == "tools_list":
        names = [t.get("name") for t in res.get("tools", [])]
        return None if names[:4] == ["list_plugins", "get_plugin", "fetch_skill", "check_updates"] else f"tools {names}"
    sc = res.get("structuredContent") or {}
    if res.get("isError") or sc.get("total") != total or len(sc.get("plugins", [])) != 50:
        return f"unexpected list_plugins answer {json.dumps(msg)[:300]}"
    return None


def sample(s, path_key, total):
    _, method, path, body = PATHS[path_key]
    s.start()
    try:
        if s.sessions:
            # The McpAgent peer: `initialize` is the only MCP request a fresh isolate can take.
            if method == "POST":
                ready = s.wait_ready(first_request=("POST", "/mcp", INIT, mcp_headers()))
                init, sid = s.first_body, s.first_headers.get("mcp-session-id")
                if not (init and "result" in init and sid):
                    return ready, f"initialize answered {json.dumps(init)[:200]}"
                request(s.direct, "POST", "/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"},
                        mcp_headers(sid), host=s.host)
                s.session_ids = [sid]
                status, msg, ms = s.call(body, s.direct)
                why = f"HTTP {status}" if status != 200 else check(s, path_key, msg, None, total)
                return dict(ready, after_initialize_ms=ms), why
            ready = s.wait_ready(first_request=("GET", path, None, None))
            return ready, check(s, path_key, None, s.first_body, total)
        if method == "POST":
            body = for_era(body, s.era)
            ready = s.wait_ready(first_request=("POST", path, body, mcp_headers(None, body, s.era)))
            return ready, check(s, path_key, s.first_body, None, total)
        ready = s.wait_ready(first_request=("GET", path, None, None))
        return ready, check(s, path_key, None, s.first_body, total)
    finally:
        s.stop()


def run(args):
    from catalogue import big_marketplace

    WORK.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(WORK / "state", ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix="skillport-cold-"))
    big = tmp / "github" / "bench" / "big"
    big_marketplace(big, args.plugins)
    total = args.plugins + 3
    forge = Forge(big.parent.parent.parent)
    mkts = (f'[{{id="big",kind="github",location="bench/big",api_base="{forge.base}"}},'
            '{id="example",kind="bundled",location="marketplace"}]')
    sp_vars = {"SKILLPORT_MARKETPLACES": mkts, "SKILLPORT_CATALOGUE__REFRESH_SECONDS": "3600"}
    sp_config = skillport_config()
    gen_peer_catalogue([("big", big), ("example", EXAMPLE)])
    wanted = [k for k in args.servers.split(",") if k]
    pool = {s.key: s for s in servers(sp_config) if s.key in wanted}
    unknown = set(wanted) - set(pool)
    if unknown:
        raise SystemExit(f"unknown servers {sorted(unknown)}; known: {', '.join(NAMES)}")
    if "skillport" in pool:
        pool["skillport"].vars.update(sp_vars)
    for s in pool.values():
        if not s.sessions:
            s.era = args.era
    paths = [p for p in args.paths.split(",") if p]
    runs = {k: {p: [] for p in paths} for k in pool}
    failures = []
    try:
        if "skillport" in pool and args.kv == "kept":
            sp = pool["skillport"]
            sp.state = WORK / "state" / "cold-skillport"
            log("priming Skillport's KV copy of the catalogue (not measured)")
            ready, why = sample(sp, "list_plugins", total)
            if why:
                raise RuntimeError(f"skillport: priming start failed: {why}")
        order = list(pool.values())
        for i in range(args.starts):
            for j, p in enumerate(paths):
                rot = (i * len(paths) + j) % len(order)
                for s in order[rot:] + order[:rot]:
                    ready, why = sample(s, p, total)
                    log(f"start {i + 1}/{args.starts} {p} {s.key}: first request {ready['first_request_ms']:.1f} ms, "
                        f"process start to first 200 {ready['first_200_s']:.2f} s" + (f"; NOT COUNTED: {why}" if why else ""))
                    if why:
                        failures.append({"server": s.key, "path": p, "start": i + 1, "why": why})
                    else:
                        runs[s.key][p].append(ready)
    finally:
        forge.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        gen_peer_catalogue([("example", EXAMPLE)])
    med = {k: {p: {m: statistics.median(r[m] for r in rs) for m in rs[0] if isinstance(rs[0][m], (int, float))}
               for p, rs in v.items() if rs} for k, v in runs.items()}
    return {"runs": runs, "median": med, "failures": failures, "paths": paths}


def report(res, args) -> str:
    m = res["machine"]
    out = [f"# Cold start: Skillport, both TypeScript peers and hello world ({res['date']})", "",
           f"Machine: {m['nproc']} cores, Linux {m['kernel']}, load average at start {' '.join(m['loadavg_start'])}, "
           f"at end {' '.join(res['loadavg_end'])}.", "",
           f"Command: `.venv/bin/python bench/cold-start.py {' '.join(res['argv'])}`".rstrip() +
           f". Median of {args.starts} fresh `wrangler dev` starts per server and path on the {args.plugins + 3:,}-plugin "
           "catalogue" + (f"; Skillport's KV {'kept from a priming start' if args.kv == 'kept' else 'empty at every start'}"
                          if "skillport" in res["median"] else "") +
           f"; MCP requests at protocol revision {args.era} (the McpAgent peer's at 2025-06-18, in a session).", "",
           "| path | server | process start → first 200 | workerd start → first 200 | first request (fresh isolate) | samples |",
           "| --- | --- | ---: | ---: | ---: | ---: |"]
    for p in res["paths"]:
        for k, v in res["median"].items():
            if p not in v:
                continue
            x = v[p]
            first = f"{x['first_request_ms']:.1f} ms"
            if "after_initialize_ms" in x:
                first = f"`initialize` {first}, then the path {x['after_initialize_ms']:.1f} ms"
            out.append(f"| {PATHS[p][0]} | {NAMES[k]} | {x['first_200_s']:.2f} s | {x['workerd_ready_ms']:.0f} ms | {first} | "
                       f"{len(res['runs'][k][p])} |")
    if res["failures"]:
        out += ["", "Not counted (wrong answer): " + "; ".join(f"{f['server']} {f['path']} start {f['start']}: {f['why']}"
                                                            for f in res["failures"])]
    out += ["", "hello-world answers every path with the same small JSON: its rows are the floor set by wrangler and "
            "workerd on this machine.", ""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--starts", type=int, default=10, help="fresh starts per server and path (median over them)")
    ap.add_argument("--servers", default=",".join(NAMES), help=f"comma-separated, of {', '.join(NAMES)}")
    ap.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated, of {', '.join(PATHS)}")
    ap.add_argument("--plugins", type=int, default=1000)
    ap.add_argument("--kv", choices=["kept", "empty"], default="kept", help="Skillport's KV at each start")
    ap.add_argument("--era", choices=ERAS, default=LEGACY,
                    help="protocol revision of the MCP requests to the servers without sessions (the McpAgent peer "
                         "is always driven at 2025-06-18, in a session)")
    ap.add_argument("--out", help="markdown output (default bench/results/cold-start-<date>.md)")
    args = ap.parse_args()
    from compare import machine

    res = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "argv": sys.argv[1:],
           "args": vars(args), "machine": machine()}
    res.update(run(args))
    write_results(res, lambda r: report(r, args), args.out, "cold-start")


if __name__ == "__main__":
    main()
