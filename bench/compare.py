"""Comparison benchmark: Skillport (Rust, one wasm binary) against two peers built the usual TypeScript ways
(bench/peer: agents McpAgent, one Durable Object per MCP session, + MCP TypeScript SDK v1 + workers-oauth-provider;
bench/peer-stateless: agents createMcpHandler with an MCP TypeScript SDK v2 server built per request, stateless,
+ workers-oauth-provider, as Cloudflare's current guide builds it) and a hello-world Worker (bench/hello), all four in
local workerd under `wrangler dev --ip 127.0.0.1`, each on its own port (bench/harness.py starts and drives them).

Measures, per server: script size (raw and gzipped; what `wrangler deploy --dry-run --outdir` would upload, and
Skillport's build output as scripts/size.sh counts it); startup (process start to first 200, workerd start to first
200, the first requests' latencies) and idle memory on the default example catalogue; then, on a catalogue of 1,003
plugins (1,000 synthetic ones, the same data for all: see below), throughput and p50/p99 latency under 50 concurrent
connections (wrk) for `tools/list`, `list_plugins`, `fetch_skill` of a warm skill and GET of the protected-resource
metadata, alternating between the servers round by round; and the peak RSS (VmHWM) of each worker's workerd process.
Cold start on a fresh isolate has its own benchmark, bench/cold-start.py.

Load is sent two ways: through wrangler dev's public port (`wrangler`: its proxy worker and request logging included,
as `wrangler dev` users see it) and straight to the socket of the workerd process that runs the worker (`direct`:
wrangler's proxy left out; same process, same worker).

The 1,000-plugin catalogue is bench/catalogue.py's `big_marketplace` (a git repository). Skillport loads it as a
GitHub marketplace from the GitHub stand-in (tests/standins/forge.py), as bench/catalogue.py does; both peers embed
the very same folder at build time (bench/peer/gen-catalogue.mjs). All also serve the example marketplace.

Auth: every /mcp endpoint is open on loopback (bench/harness.py says how). Skillport and the stateless peer take
session-less POSTs (the load uses the 2025-06-18 headers, which both serve without a session); the McpAgent peer
needs a session, so the harness opens one session per connection (each a Durable Object) and the requests use them
in turn.

    bash scripts/bench-compare.sh [--duration S] [--rounds N] [--connections C] [--modes wrangler,direct] [--quick]
"""

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (BENCH, EXAMPLE, HELLO, INIT, NAMES, PEER, PEER_STATELESS, PRM_PATH, ROOT, WORK, WRANGLER,  # noqa: E402
                     cpu_seconds, gen_peer_catalogue, log, mem_kib, request, servers, skillport_config,
                     write_results)
from support.forge import Forge  # noqa: E402
from support.mcp import ERAS, LEGACY, for_era, mcp_headers, rpc  # noqa: E402

LUA = BENCH / "wrk-mcp.lua"
SKILL = "brand-kit@example/brand-voice"
PEERS = ("peer", "stateless")



PATHS = [
    # key, label, method, url path, body
    ("tools_list", "`tools/list`", "POST", "/mcp", rpc("tools/list")),
    ("list_plugins", "`list_plugins` (1,003 plugins, first page of 50)", "POST", "/mcp",
     rpc("tools/call", {"name": "list_plugins", "arguments": {"surface": "all"}})),
    ("fetch_skill", f"`fetch_skill` `{SKILL}` (warm)", "POST", "/mcp",
     rpc("tools/call", {"name": "fetch_skill", "arguments": {"name": SKILL}})),
    ("prm", f"GET `{PRM_PATH}`", "GET", PRM_PATH, None),
]


# --- sizes --------------------------------------------------------------------------------------------------------

def gz(path: Path) -> int:
    return len(subprocess.run(["gzip", "-9", "-c", str(path)], capture_output=True, check=True).stdout)


def files_size(files):
    return sum(f.stat().st_size for f in files), sum(gz(f) for f in files)


def dry_run(key, config: Path, minify=False):
    out = WORK / "dist" / (key + ("-min" if minify else ""))
    shutil.rmtree(out, ignore_errors=True)
    args = [str(WRANGLER), "deploy", "--dry-run", "--outdir", str(out), "--config", str(config)]
    if minify:
        args.append("--minify")
    env = dict(os.environ, SKILLPORT_PREBUILT="1", WRANGLER_SEND_METRICS="false", CI="true")
    p = subprocess.run(args, cwd=config.parent, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"wrangler deploy --dry-run for {key} failed:\n{p.stdout}\n{p.stderr}")
    m = re.search(r"Total Upload: ([\d.]+) KiB / gzip: ([\d.]+) KiB", p.stdout + p.stderr)
    files = sorted(f for f in out.rglob("*") if f.is_file() and not f.name.endswith(".map") and f.name != "README.md")
    raw, gzb = files_size(files)
    return {"files": [f.name for f in files], "raw": raw, "gzip": gzb,
            "wrangler_kib": float(m.group(1)) if m else None, "wrangler_gzip_kib": float(m.group(2)) if m else None}


def sizes(configs):
    out = {}
    sp_files = []
    snap = WORK / "skillport"
    for pat in ("build/worker/*.wasm", "build/worker/*.js", "build/worker/*.mjs", "build/index.js", "build/*.wasm"):
        sp_files += sorted(snap.glob(pat))
    raw, gzb = files_size(sp_files)
    wasm = snap / "build" / "index_bg.wasm"
    out["skillport_build"] = {"files": [str(f.relative_to(snap)) for f in sp_files], "raw": raw, "gzip": gzb,
                              "wasm_sha256": hashlib.sha256(wasm.read_bytes()).hexdigest(),
                              "wasm_mtime": datetime.fromtimestamp(wasm.stat().st_mtime, timezone.utc).isoformat()}
    for key, config in configs.items():
        log(f"size: wrangler deploy --dry-run for {key}")
        out[key] = dry_run(key, config)
        if key in PEERS:
            out[f"{key}_min"] = dry_run(key, config, minify=True)
    return out


# --- load ---------------------------------------------------------------------------------------------------------

def wrk(port, path, method, body, sessions, host, duration, connections, threads=1, era=LEGACY):
    bodyfile = sessfile = "-"
    body = for_era(body, era)
    headers = mcp_headers(None, body, era) if method == "POST" else {}
    tmp = WORK / "wrk"
    tmp.mkdir(parents=True, exist_ok=True)
    if body is not None:
        bodyfile = str(tmp / "body.json")
        Path(bodyfile).write_text(json.dumps(body))
    if sessions:
        sessfile = str(tmp / "sessions.txt")
        Path(sessfile).write_text("\n".join(sessions) + "\n")
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(LUA),
            f"http://127.0.0.1:{port}{path}", "--", method, bodyfile, sessfile, host or "-",
            headers.get("mcp-protocol-version", LEGACY), headers.get("mcp-method", "-"), headers.get("mcp-name", "-")]
    p = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60)
    m = re.search(r"WRK_JSON (\{.*\})", p.stdout)
    if not m:
        raise RuntimeError(f"wrk failed: {p.stdout}\n{p.stderr}")
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["status_errors"] + r["timeouts"]
    return r


def probe(server, key, method, path, body, port, expect_total):
    """One request checked for the right answer before the server is loaded with it; None when fine, else why not."""
    if method == "GET":
        status, h, raw, _ = request(port, "GET", path, host=server.host)
        if status != 200:
            return f"HTTP {status}"
        if server.key != "hello":
            doc = json.loads(raw)
            if "resource" not in doc:
                return "no `resource` in the document"
        return None
    status, msg, _ = server.call(body, port)
    if status != 200:
        return f"HTTP {status}"
    if server.key == "hello":
        return None
    res = (msg or {}).get("result") or {}
    if key == "tools_list":
        names = [t["name"] for t in res.get("tools", [])]
        return None if names[:4] == ["list_plugins", "get_plugin", "fetch_skill", "check_updates"] else f"tools {names}"
    sc = res.get("structuredContent") or {}
    if res.get("isError"):
        return f"tool error: {res.get('content')}"
    if key == "list_plugins":
        return None if sc.get("total") == expect_total and len(sc.get("plugins", [])) == 50 else \
            f"total {sc.get('total')}, page {len(sc.get('plugins', []))}"
    if key == "fetch_skill":
        return None if sc.get("name") == SKILL and len(sc.get("files", [])) == 2 and sc.get("download") else \
            f"unexpected result {json.dumps(sc)[:200]}"
    return None


# --- phases -------------------------------------------------------------------------------------------------------

def startup_phase(servers, reps):
    """Default example catalogue: start to first 200, first requests, idle memory."""
    runs = {s.key: [] for s in servers}
    gen_peer_catalogue([("example", EXAMPLE)])
    for rep in range(reps):
        order = servers[rep % len(servers):] + servers[:rep % len(servers)]
        for s in order:
            log(f"startup {rep + 1}/{reps}: {s.key}")
            s.start()
            try:
                ready = s.wait_ready()
                runtime, proxy = s.workerds()
                status, h, raw, init_ms = request(s.port, "POST", "/mcp", INIT, mcp_headers())
                if s.sessions:
                    s.session_ids = [h.get("mcp-session-id")]
                    request(s.port, "POST", "/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"},
                            mcp_headers(s.session_ids[0]))
                status2, _, tl_ms = s.call(rpc("tools/list", id=2))
                time.sleep(3)
                runs[s.key].append({
                    **ready, "first_initialize_ms": init_ms, "first_tools_list_ms": tl_ms, "init_status": status,
                    "tools_list_status": status2, "idle_rss_kib": mem_kib(runtime).get("VmRSS"),
                    "proxy_idle_rss_kib": mem_kib(proxy).get("VmRSS") if proxy else None,
                })
            finally:
                s.stop()
    med = {}
    for key, rs in runs.items():
        med[key] = {k: statistics.median(r[k] for r in rs) for k in rs[0] if isinstance(rs[0][k], (int, float))
                    and rs[0][k] is not None and not k.endswith("_status")}
        med[key]["statuses"] = sorted({(r["init_status"], r["tools_list_status"]) for r in rs})
    return {"runs": runs, "median": med}


def load_phase(servers, args, big_dir, total):
    forge = Forge(big_dir.parent.parent.parent)
    mkts = (f'[{{id="big",kind="github",location="bench/big",api_base="{forge.base}"}},'
            '{id="example",kind="bundled",location="marketplace"}]')
    servers[0].vars.update({"SKILLPORT_MARKETPLACES": mkts, "SKILLPORT_CATALOGUE__REFRESH_SECONDS": "3600"})
    gen_peer_catalogue([("big", big_dir), ("example", EXAMPLE)])
    result = {"servers": {}, "load": {}, "probes": {}}
    try:
        for s in servers:
            log(f"load phase: starting {s.key} with the 1,003-plugin catalogue")
            s.start()
            ready = s.wait_ready()
            s.open_sessions(args.connections)
            result["servers"][s.key] = {**ready, "direct_port": s.direct_port(), "sessions": len(s.session_ids)}
        # One call of each kind warms every server, then idle memory with the big catalogue loaded.
        for s in servers:
            for key, _, method, path, body in PATHS:
                if method == "POST":
                    s.call(body)
        time.sleep(3)
        for s in servers:
            runtime, proxy = s.workerds()
            result["servers"][s.key]["idle_rss_kib"] = mem_kib(runtime).get("VmRSS")
            result["servers"][s.key]["proxy_idle_rss_kib"] = mem_kib(proxy).get("VmRSS")
        for mode in args.modes:
            for key, label, method, path, body in PATHS:
                ok = []
                for s in servers:
                    port = s.port if mode == "wrangler" else result["servers"][s.key]["direct_port"]
                    why = probe(s, key, method, path, body, port, total)
                    result["probes"][f"{mode}/{key}/{s.key}"] = why or "ok"
                    if why:
                        log(f"{mode} {key} {s.key}: not measured: {why}")
                    else:
                        ok.append(s)
                runs = {s.key: [] for s in ok}
                for s in ok:  # warm-up, not recorded
                    port = s.port if mode == "wrangler" else result["servers"][s.key]["direct_port"]
                    wrk(port, path, method, body, s.session_ids, s.host, args.warmup, args.connections, era=s.era)
                for r in range(args.rounds):
                    order = ok[r % len(ok):] + ok[:r % len(ok)] if ok else []
                    for s in order:
                        port = s.port if mode == "wrangler" else result["servers"][s.key]["direct_port"]
                        runtime, proxy = s.workerds()
                        c0, p0 = cpu_seconds(runtime), cpu_seconds(proxy)
                        w = wrk(port, path, method, body, s.session_ids, s.host, args.duration, args.connections,
                                era=s.era)
                        w["cpu_ms_per_request"] = (cpu_seconds(runtime) - c0) * 1000 / max(w["requests"], 1)
                        w["proxy_cpu_ms_per_request"] = (cpu_seconds(proxy) - p0) * 1000 / max(w["requests"], 1)
                        log(f"{mode} {key} round {r + 1} {s.key}: {w['rps']:.0f} req/s p50 {w['p50_us'] / 1000:.1f} ms "
                            f"p99 {w['p99_us'] / 1000:.1f} ms cpu {w['cpu_ms_per_request']:.2f} ms/req "
                            f"errors {w['errors']} load {open('/proc/loadavg').read().split()[0]}")
                        runs[s.key].append(w)
                result["load"][f"{mode}/{key}"] = {
                    k: {"rps": statistics.median(x["rps"] for x in v),
                        "p50_ms": statistics.median(x["p50_us"] for x in v) / 1000,
                        "p99_ms": statistics.median(x["p99_us"] for x in v) / 1000,
                        "cpu_ms": statistics.median(x["cpu_ms_per_request"] for x in v),
                        "proxy_cpu_ms": statistics.median(x["proxy_cpu_ms_per_request"] for x in v),
                        "errors": sum(x["errors"] for x in v), "requests": sum(x["requests"] for x in v),
                        "rounds": v} for k, v in runs.items()}
        for s in servers:
            runtime, proxy = s.workerds()
            m, pm = mem_kib(runtime), mem_kib(proxy)
            result["servers"][s.key].update({"peak_rss_kib": m.get("VmHWM"), "rss_after_kib": m.get("VmRSS"),
                                             "proxy_peak_rss_kib": pm.get("VmHWM")})
    finally:
        for s in servers:
            s.stop()
        forge.stop()
    return result


# --- report -------------------------------------------------------------------------------------------------------

def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)

    def ver(args):
        try:
            p = subprocess.run(args, capture_output=True, text=True, timeout=60)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem / 1024 / 1024, 1),
            "kernel": platform.release(), "node": ver(["node", "--version"]),
            "wrangler": ver([str(WRANGLER), "--version"]),
            "workerd": ver([str(ROOT / "node_modules" / ".bin" / "workerd"), "--version"]),
            "wrk": ver(["wrk", "-v"]), "loadavg_start": open("/proc/loadavg").read().split()[:3]}


def kib(n):
    return f"{n / 1024:,.1f} KiB" if n is not None else "n/a"


def mib(k):
    return f"{k / 1024:,.1f} MiB" if k else "n/a"


def report(res) -> str:
    names = NAMES
    keys = [k for k in NAMES if k in res["startup"]["median"] or k in res["load_phase"]["servers"]]
    m, a = res["machine"], res["args"]
    out = [f"# Skillport vs typical TypeScript MCP Workers vs hello world ({res['date']})", "",
           f"Machine: {m['nproc']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM, Linux {m['kernel']}; load average at "
           f"start {' '.join(m['loadavg_start'])}, at end {' '.join(res['loadavg_end'])}. {m['wrangler']}, "
           f"workerd {m['workerd']}, Node {m['node']}, {m['wrk']}.", "",
           f"Command: `bash scripts/bench-compare.sh {' '.join(res['argv'])}`".rstrip() + f" (wrk -t1 -c{a['connections']}, "
           f"{a['rounds']} rounds of {a['duration']} s per server and path after a {a['warmup']} s warm-up, servers "
           f"alternating round by round; medians of the rounds). MCP requests at protocol revision {a['era']} for the "
           "servers without sessions; the McpAgent peer's at 2025-06-18, in sessions.", ""]
    s = res["sizes"]
    out += ["## Script size", "", "| server | what | raw | gzip -9 |", "| --- | --- | ---: | ---: |",
            f"| {names['skillport']} | build output ({', '.join(s['skillport_build']['files'])}) | "
            f"{kib(s['skillport_build']['raw'])} | {kib(s['skillport_build']['gzip'])} |"]
    rows = [("skillport", "skillport", "wrangler upload bundle")]
    for k in PEERS:
        rows += [(k, k, "wrangler upload bundle (wrangler's default: not minified)"),
                 (k, f"{k}_min", "wrangler upload bundle, `--minify`"),
                 (k, f"{k}_big", "bundle with the 1,003-plugin catalogue embedded (load phase)")]
    rows.append(("hello", "hello", "wrangler upload bundle"))
    for name, key, what in rows:
        if key in s:
            d = s[key]
            files = "" if key.endswith("_big") else f" ({', '.join(d['files'])})"
            out.append(f"| {names[name]} | {what}{files} | {kib(d['raw'])} | {kib(d['gzip'])} |")
    st = res["startup"]["median"]
    ld = res["load_phase"]["servers"]
    out += ["", f"## Startup and memory (median of {a['startup_reps']} starts on the example catalogue; peak under load)", "",
            "| server | process start → first 200 (via wrangler) | workerd start → first 200 | first request (GET /, cold) | first `initialize` | "
            "first `tools/list` | idle RSS (example) | idle RSS (1,003 plugins) | peak RSS (VmHWM, after load) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key in keys:
        if key not in st:
            continue
        x, y = st[key], ld.get(key, {})
        out.append(f"| {names[key]} | {x['ready_s']:.2f} s | {x['workerd_ready_ms']:.0f} ms | {x['first_request_ms']:.1f} ms | "
                   f"{x['first_initialize_ms']:.1f} ms | {x['first_tools_list_ms']:.1f} ms | {mib(x.get('idle_rss_kib'))} | "
                   f"{mib(y.get('idle_rss_kib'))} | {mib(y.get('peak_rss_kib'))} |")
    out += ["", "RSS is the workerd process that runs the worker (wrangler dev runs a second workerd for its proxy "
            "worker: " + ", ".join(f"{names[k]} {mib(v.get('proxy_peak_rss_kib'))} peak" for k, v in ld.items()) +
            "). The peer's figures under load include its "
            f"{ld.get('peer', {}).get('sessions', 0)} MCP sessions (one Durable Object each); the stateless peer "
            "builds a server per request and keeps no session.", "",
            "With the 1,003-plugin catalogue, the cold first request took " + ", ".join(
                f"{names[k]} {v['first_request_ms']:.0f} ms" for k, v in ld.items() if 'first_request_ms' in v) +
            " (Skillport fetches and unpacks the marketplace's tarball from the GitHub stand-in on its first request; "
            "the peers have the catalogue embedded in their bundles and decode it when the isolate starts)."]
    for mode in a["modes"]:
        title = ("through wrangler dev's public port (its proxy worker and request log included)" if mode == "wrangler"
                 else "straight to the worker's workerd socket (wrangler's proxy left out)")
        out += ["", f"## Load, {a['connections']} connections, {title}", "",
                "| path | server | req/s | p50 | p99 | CPU per request (worker's workerd) | errors |",
                "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for key, label, *_ in PATHS:
            runs = res["load_phase"]["load"].get(f"{mode}/{key}", {})
            for sk in keys:
                probe_note = res["load_phase"]["probes"].get(f"{mode}/{key}/{sk}")
                if sk in runs:
                    r = runs[sk]
                    out.append(f"| {label} | {names[sk]} | {r['rps']:,.0f} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | "
                               f"{r['cpu_ms']:.2f} ms | {r['errors']} of {r['requests']:,} |")
                elif probe_note:
                    out.append(f"| {label} | {names[sk]} | not measured: {probe_note} | | | | |")
    proxy_cpu = {k: [r[k]["proxy_cpu_ms"] for m, r in res["load_phase"]["load"].items()
                     if m.startswith("wrangler/") and k in r] for k in keys}
    out += ["", "hello-world answers every path with the same small JSON: its rows are the floor set by workerd, "
            "wrangler and the load generator on this machine. CPU per request is the user + system time the workerd "
            "process running the worker used during the run, divided by the requests answered: it depends much less "
            "than req/s and latency on what else the machine is doing" + (
                " (wrangler's proxy workerd is extra: "
                + "; ".join(f"{names[k]} {statistics.median(v):.2f} ms" for k, v in proxy_cpu.items() if v)
                + " per request in the `wrangler` runs, median over paths)" if any(proxy_cpu.values()) else "") + ". "
            "Errors are wrk's: non-2xx answers, timeouts (10 s) and broken connections; a batch of exactly 50 read errors "
            "is every connection being reset at once, which happened in some `direct` runs.", ""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--startup-reps", type=int, default=3)
    ap.add_argument("--plugins", type=int, default=1000)
    ap.add_argument("--modes", default="wrangler,direct")
    ap.add_argument("--era", choices=ERAS, default=LEGACY,
                    help="protocol revision of the MCP requests to the servers without sessions (Skillport, the "
                         "stateless peer, hello); the McpAgent peer is always driven at 2025-06-18, in sessions")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 s runs, 1 round, 1 start each")
    ap.add_argument("--out", help="markdown output (default bench/results/compare-<date>.md)")
    args = ap.parse_args()
    if args.quick:
        args.duration, args.warmup, args.rounds, args.startup_reps = 2, 1, 1, 1
    args.modes = [x for x in args.modes.split(",") if x]
    from catalogue import big_marketplace

    WORK.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(WORK / "state", ignore_errors=True)
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    res = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "argv": sys.argv[1:],
           "args": vars(args), "machine": machine()}
    sp_config = skillport_config()
    configs = {"skillport": sp_config, "peer": PEER / "wrangler.toml", "stateless": PEER_STATELESS / "wrangler.toml",
               "hello": HELLO / "wrangler.toml"}
    gen_peer_catalogue([("example", EXAMPLE)])
    res["sizes"] = sizes(configs)

    def with_era(ss):
        for s in ss:
            if not s.sessions:
                s.era = args.era
        return ss

    ss = with_era(servers(sp_config))
    res["startup"] = startup_phase(ss, args.startup_reps)
    tmp = Path(tempfile.mkdtemp(prefix="skillport-compare-"))
    try:
        big = tmp / "github" / "bench" / "big"
        big_marketplace(big, args.plugins)
        gen_peer_catalogue([("big", big), ("example", EXAMPLE)])
        for k in PEERS:
            res["sizes"][f"{k}_big"] = dry_run(f"{k}-big", configs[k])
        res["load_phase"] = load_phase(with_era(servers(sp_config)), args, big, args.plugins + 3)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        gen_peer_catalogue([("example", EXAMPLE)])
    write_results(res, report, args.out, "compare")


if __name__ == "__main__":
    main()
