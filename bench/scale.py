"""Scale benchmark: the synthetic marketplace of bench/catalogue.py at 1,000 and 10,000 plugins (plus the example
marketplace), loaded by the real worker in workerd (`wrangler dev`, bench/harness.py) from the GitHub stand-in
(tests/standins/forge.py), against the Workers free plan's limits and against each other.

    .venv/bin/python bench/scale.py [--plugins 1000,10000] [--duration S] [--rounds N] [--connections C] [--out FILE]

For each size, on one fresh `wrangler dev` with empty state:
- the cold load: upstream requests the stand-in served (all in the first invocation, whose request is `list_plugins`),
  and that first request's latency;
- upstream requests per invocation after it: the first one, a cron tick (`/cdn-cgi/handler/scheduled`, a refresh of
  an unchanged marketplace) and the warm calls; the largest against the plan's 50 subrequests;
- the KV value: the largest blob in wrangler's local KV state (`--persist-to`) after the load, against 25 MiB;
- memory: the worker's "wasm memory N KiB after loading" log line, and the VmRSS / VmHWM of the workerd process that
  runs the worker, idle after loading and at the end, against 128 MB;
- CPU per request (workerd's user + system time over a `wrk` run straight to the worker's socket, divided by the
  requests answered, median of the rounds, as compare.py computes it) of `list_plugins` (first page of everything; a
  query with a surface filter; a surface filter alone; the last page) and `fetch_skill` (a skill of the example
  marketplace, listed after every synthetic plugin, one of the synthetic marketplace, and one by its bare name);
then a fresh `wrangler dev` (a fresh isolate) on the same state, so with the KV copy kept, twice: once while that copy
is within `catalogue.refresh_seconds` (3600 s) and once with `refresh_seconds` at 1 s so that it is due: whether
the first call (`list_plugins`) waited for the upstream (which holds its answers `HOLD_S` seconds then, so an answer
sooner did not wait), how many upstream requests had been sent by the time it arrived and within 3 s, and its latency.

The ratios 10,000 / 1,000 of each CPU figure are the issue's "within 2x" test. Writes bench/results/scale-<date>.md
and .json. Native instruction counts of the same requests: `cargo bench --bench catalogue -- <kind> <calls>
<plugins>` under callgrind (see benches/catalogue.rs).
"""

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalogue import big_marketplace  # noqa: E402
from compare import machine, wrk  # noqa: E402
from harness import (ROOT, WORK, Server, cpu_seconds, listening_ports, log, mem_kib, request,  # noqa: E402
                     skillport_config, write_results)

sys.path.insert(0, str(ROOT / "tests"))
from support.forge import Forge, by_kind  # noqa: E402
from support.mcp import jsonrpc_of, mcp_headers, rpc  # noqa: E402

LIMIT_SUBREQUESTS = 50
LIMIT_KV_BYTES = 25 * 1024 * 1024
LIMIT_MEMORY_KIB = 128 * 1000 * 1000 // 1024  # 128 MB


def cursor(offset: int) -> str:
    """src/catalogue/cursor.rs's encoding of a listing offset."""
    return f"sp1.{offset ^ 0x5eed:x}"


def tool(name, args):
    return rpc("tools/call", {"name": name, "arguments": args})


def paths(n: int):
    """(key, what, body, check) for each request measured; `check` takes the structured result."""
    total = n + 3
    last = (total - 1) // 50 * 50
    return [
        ("list_plugins", "`list_plugins` first page (surface all)", tool("list_plugins", {"surface": "all"}),
         lambda r: r["total"] == total and len(r["plugins"]) == 50),
        ("list_query", "`list_plugins` query `number 999`, surface claude-code",
         tool("list_plugins", {"query": "number 999", "surface": "claude-code"}),
         lambda r: r["total"] >= 1),
        ("list_surface", "`list_plugins` surface claude-code (first page)",
         tool("list_plugins", {"surface": "claude-code"}), lambda r: len(r["plugins"]) == 50),
        ("list_last", "`list_plugins` last page (surface all, cursor)",
         tool("list_plugins", {"surface": "all", "cursor": cursor(last)}),
         lambda r: r["total"] == total and len(r["plugins"]) == total - last and "nextCursor" not in r),
        ("fetch_skill", "`fetch_skill brand-kit@example/brand-voice`",
         tool("fetch_skill", {"name": "brand-kit@example/brand-voice"}), lambda r: "files" in r or "skill" in r),
        ("fetch_skill_big", "`fetch_skill plugin-0000@big/skill-0000`",
         tool("fetch_skill", {"name": "plugin-0000@big/skill-0000"}), lambda r: "files" in r or "skill" in r),
        ("fetch_skill_bare", "`fetch_skill brand-voice` (a bare skill name)",
         tool("fetch_skill", {"name": "brand-voice"}), lambda r: r.get("name") == "brand-kit@example/brand-voice"),
    ]


def github_requests(forge) -> int:
    return by_kind(forge.requests())["github"]


def settle(forge, quiet=1.5, limit=30) -> int:
    """Upstream requests so far, once none has come for `quiet` seconds (refreshes run after the response)."""
    n, t_last, deadline = github_requests(forge), time.time(), time.time() + limit
    while time.time() < deadline:
        time.sleep(0.25)
        m = github_requests(forge)
        if m != n:
            n, t_last = m, time.time()
        elif time.time() - t_last >= quiet:
            break
    return n


def kv_blobs(state: Path) -> list[int]:
    """Sizes of the values in wrangler's local KV state (miniflare keeps each value as a blob file)."""
    kv = state / "v3" / "kv"
    return sorted((p.stat().st_size for p in kv.rglob("*") if p.is_file() and "blobs" in p.parts), reverse=True)


def wasm_memory_kib(log_path: Path):
    found = re.findall(r"wasm memory (\d+) KiB after loading", log_path.read_text(errors="replace"))
    return int(found[-1]) if found else None


def call(s: Server, body, port=None):
    status, msg, ms = s.call(body, port)
    result = (msg or {}).get("result", {})
    return status, result.get("structuredContent"), result.get("isError"), ms


# How long the upstream holds its answers while a fresh isolate answers its first call (see `main`).
HOLD_S = 5

def first_call(s: Server, body, forge, timeout=180):
    """The fresh isolate's first request (`body`), sent straight to the worker's workerd socket as soon as it listens:
    (latency ms, upstream requests made by the moment it was answered, the structured result)."""
    deadline, tried = time.time() + timeout, set()
    while time.time() < deadline:
        if s.proc.poll() is not None:
            raise RuntimeError(f"wrangler dev exited early; see {s.log_path}")
        runtime, _ = s.workerds()
        for p in listening_ports(runtime) if runtime else []:
            if p in tried:
                continue
            try:
                status, h, raw, ms = request(p, "POST", "/mcp", body, mcp_headers(), host=s.host, timeout=120)
            except OSError:
                continue
            tried.add(p)
            if status == 200:
                upstream = github_requests(forge)
                msg = jsonrpc_of(h, raw)
                return ms, upstream, (msg or {}).get("result", {}).get("structuredContent") or {}
        time.sleep(0.01)
    raise RuntimeError(f"no answer within {timeout} s; see {s.log_path}")


def start(key, config, vars, state) -> Server:
    s = Server(key, key, config, dict(vars), state=state)
    s.start()
    return s


def one_size(n: int, args, config: Path, tmp: Path) -> dict:
    repos = tmp / f"repos-{n}"
    t0 = time.time()
    big_marketplace(repos / "github" / "bench" / "big", n)
    log(f"{n}: synthetic marketplace written in {time.time() - t0:.1f} s")
    forge = Forge(repos)
    mkts = (f'[{{id="big",kind="github",location="bench/big",api_base="{forge.base}"}},'
            '{id="example",kind="bundled",location="marketplace"}]')
    vars = {"SKILLPORT_AUTH__OPEN": "true", "SKILLPORT_MARKETPLACES": mkts,
            "SKILLPORT_CATALOGUE__REFRESH_SECONDS": "3600"}
    state = WORK / "state" / f"scale-{n}"
    shutil.rmtree(state, ignore_errors=True)
    out = {"plugins": n, "listed": n + 3}
    ps = paths(n)
    first_body = ps[0][2]
    s = None
    try:
        # --- cold load: empty state, the first request loads the marketplace from the stand-in ---
        forge.forget()
        s = start("skillport", config, vars, state)
        ready = s.wait_ready(first_request=("POST", "/mcp", first_body, mcp_headers()))
        at_answer = github_requests(forge)
        first = (s.first_body or {}).get("result", {}).get("structuredContent") or {}
        cold = settle(forge)
        out["cold"] = {"first_request_ms": ready["first_request_ms"], "ready_s": ready["ready_s"],
                       "upstream_at_answer": at_answer, "upstream_first_invocation": cold,
                       "first_total": first.get("total")}
        log(f"{n}: cold load {cold} upstream requests, first list_plugins {ready['first_request_ms']:.0f} ms, "
            f"total {first.get('total')}")
        runtime, _ = s.workerds()
        out["memory"] = {"wasm_after_loading_kib": wasm_memory_kib(s.log_path), "rss_loaded_kib": mem_kib(runtime)}
        out["kv_values"] = kv_blobs(state)[:5]
        port = s.direct_port()
        # --- every path answered right; then invocations after the first: warm calls, a cron tick ---
        forge.forget()
        out["checks"] = {}
        for key, _, body, check in ps:
            status, res, err, ms = call(s, body, port)
            ok = status == 200 and not err and res is not None and check(res)
            out["checks"][key] = "ok" if ok else f"HTTP {status}, isError {err}: {str(res)[:200]}"
            if not ok:
                log(f"{n}: {key} answered wrongly: {out['checks'][key]}")
        out["upstream_warm_calls"] = settle(forge, quiet=1.0)
        forge.forget()
        urllib.request.urlopen(f"http://127.0.0.1:{s.port}/cdn-cgi/handler/scheduled", timeout=120).read()
        out["upstream_cron"] = settle(forge, quiet=1.0)
        # --- CPU per request under wrk, straight to the worker's socket ---
        out["load"] = {}
        for key, what, body, _ in ps:
            if out["checks"][key] != "ok":
                continue
            wrk(port, "/mcp", "POST", body, [], s.host, 1, args.connections)  # warm-up
            rounds = []
            for _ in range(args.rounds):
                c0 = cpu_seconds(runtime)
                w = wrk(port, "/mcp", "POST", body, [], s.host, args.duration, args.connections)
                w["cpu_ms_per_request"] = (cpu_seconds(runtime) - c0) * 1000 / max(w["requests"], 1)
                rounds.append(w)
                log(f"{n}: {key}: {w['rps']:.0f} req/s, cpu {w['cpu_ms_per_request']:.3f} ms/req, "
                    f"errors {w['errors']}")
            out["load"][key] = {"what": what, "cpu_ms": statistics.median(r["cpu_ms_per_request"] for r in rounds),
                                "rps": statistics.median(r["rps"] for r in rounds),
                                "p50_ms": statistics.median(r["p50_us"] for r in rounds) / 1000,
                                "errors": sum(r["errors"] for r in rounds),
                                "requests": sum(r["requests"] for r in rounds),
                                "rounds": [r["cpu_ms_per_request"] for r in rounds],
                                "workerd_hwm_kib_after": mem_kib(runtime).get("VmHWM")}
        out["memory"]["rss_end_kib"] = mem_kib(runtime)
        # The worker's own periodic line ("isolate: N request(s) handled; wasm memory N KiB; ..."), the last one.
        seen = re.findall(r"wasm memory (\d+) KiB;", s.log_path.read_text(errors="replace"))
        out["memory"]["wasm_end_kib"] = int(seen[-1]) if seen else None
        s.stop()
        s = None
        out["kv_values"] = kv_blobs(state)[:5]
        # --- fresh isolates on the kept KV copy ---
        out["fresh"] = {}
        for label, refresh in (("copy within refresh_seconds", "3600"), ("copy due (refresh_seconds 1)", "1")):
            time.sleep(1.5)
            forge.forget()
            # The upstream holds its answers for HOLD_S seconds: a first answer sooner than that did not wait for one,
            # whatever the race between the revalidation sent right after it and the count read here.
            forge.fail(fail="timeout", delay=HOLD_S, count=5, path="/repos/")
            s = start("skillport", config, dict(vars, SKILLPORT_CATALOGUE__REFRESH_SECONDS=refresh), state)
            ms, at_answer, first = first_call(s, first_body, forge)
            time.sleep(3)
            after = github_requests(forge)
            forge.fail(clear=True)
            paths_seen = [r["path"] for r in forge.requests()]
            out["fresh"][label] = {"first_request_ms": ms, "upstream_before_answer": at_answer,
                                   "waited_for_upstream": ms >= HOLD_S * 1000,
                                   "upstream_within_3s": after, "paths": paths_seen[:10],
                                   "first_total": first.get("total"),
                                   "wasm_after_loading_kib": wasm_memory_kib(s.log_path)}
            log(f"{n}: fresh isolate, {label}: {at_answer} upstream request(s) before the answer, {after} within 3 s, "
                f"{ms:.0f} ms, total {first.get('total')}")
            s.stop()
            s = None
    finally:
        if s:
            s.stop()
        forge.stop()
    out["max_upstream_per_invocation"] = max(out["cold"]["upstream_first_invocation"], out["upstream_cron"],
                                             *[f["upstream_within_3s"] for f in out["fresh"].values()])
    return out


def mib(kib):
    return f"{kib / 1024:,.1f} MiB" if kib else "n/a"


def report(res) -> str:
    m = res["machine"]
    sizes = res["sizes"]
    ns = [str(x["plugins"]) for x in sizes]
    out = [f"# Skillport at scale: {' and '.join(f'{int(n):,}' for n in ns)} synthetic plugins ({res['date']})", "",
           f"Machine: {m['nproc']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM, Linux {m['kernel']}; load average at "
           f"start {' '.join(m['loadavg_start'])}, at end {' '.join(res['loadavg_end'])}. {m['wrangler']}, workerd "
           f"{m['workerd']}, {m['wrk']}.", "",
           f"Command: `.venv/bin/python bench/scale.py {' '.join(res['argv'])}`".rstrip() + " (bench/scale.py's "
           f"docstring says what each figure is; CPU: wrk -t1 -c{res['args']['connections']} straight to the worker's "
           f"socket, {res['args']['rounds']} rounds of {res['args']['duration']} s, median).", "",
           "## Free plan limits", "",
           "| plugins | upstream requests, cold load (first invocation) | max upstream requests per invocation (limit 50) "
           "| largest KV value (limit 25 MiB) | wasm memory after loading (limit 128 MB per isolate) "
           "| workerd RSS loaded / peak (the whole process) |",
           "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for x in sizes:
        kv = f"{x['kv_values'][0] / 1024 / 1024:.2f} MiB" if x["kv_values"] else "n/a"
        mem = x["memory"]
        out.append(f"| {x['plugins']:,} | {x['cold']['upstream_first_invocation']} | "
                   f"{x['max_upstream_per_invocation']} | {kv} | {mib(mem['wasm_after_loading_kib'])} | "
                   f"{mib(mem['rss_loaded_kib'].get('VmRSS'))} / {mib(mem['rss_end_kib'].get('VmHWM'))} |")
    out += ["", "Wasm memory at the end of the load runs (the worker's own `isolate:` log line): "
            + ", ".join(f"{x['plugins']:,}: {mib(x['memory'].get('wasm_end_kib'))}" for x in sizes)
            + ". workerd's RSS is the whole process (V8, the runtime, wrangler's local services, wrk's 10 connections), "
            "not the isolate's heap alone: its peak after each path's runs is in the .json (`workerd_hwm_kib_after`).",
            "", "Upstream requests after the first invocation: warm calls "
            + ", ".join(f"{x['plugins']:,}: {x['upstream_warm_calls']}" for x in sizes)
            + "; a cron tick (the marketplace not due yet) " + ", ".join(f"{x['plugins']:,}: {x['upstream_cron']}"
                                                                       for x in sizes) + ".",
            "", "## CPU per request (worker's workerd)", "",
            "| request | " + " | ".join(f"{int(n):,} plugins" for n in ns) + " | ratio |",
            "| --- | " + " | ".join("---:" for _ in ns) + " | ---: |"]
    keys = [k for k in sizes[0]["load"]]
    for k in keys:
        cells = [x["load"].get(k) for x in sizes]
        vals = [f"{c['cpu_ms']:.3f} ms ({c['rps']:,.0f} req/s)" if c else "not measured" for c in cells]
        ratio = (f"{cells[-1]['cpu_ms'] / cells[0]['cpu_ms']:.2f}x" if len(cells) > 1 and all(cells) else "")
        out.append(f"| {sizes[0]['load'][k]['what']} | " + " | ".join(vals) + f" | {ratio} |")
    bad = {x["plugins"]: {k: v for k, v in x["checks"].items() if v != "ok"} for x in sizes}
    if any(bad.values()):
        out += ["", f"Answered wrongly (not measured): {bad}"]
    out += ["", "## First call on a fresh isolate with the KV copy kept", "",
            f"| plugins | stored copy | upstream requests sent by the time the answer arrived | within 3 s | "
            f"the answer waited for the upstream (which held its answers {HOLD_S} s) | first `list_plugins` |",
            "| ---: | --- | ---: | ---: | --- | ---: |"]
    for x in sizes:
        for label, f in x["fresh"].items():
            out.append(f"| {x['plugins']:,} | {label} | {f['upstream_before_answer']} | {f['upstream_within_3s']} | "
                       f"{'yes' if f.get('waited_for_upstream') else 'no'} | {f['first_request_ms']:.0f} ms |")
    out += ["", "The cold load for comparison (empty state: the first request fetches and unpacks the marketplace): "
            + ", ".join(f"{x['plugins']:,}: {x['cold']['first_request_ms']:.0f} ms" for x in sizes) + "."]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plugins", default="1000,10000")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=10)
    ap.add_argument("--out")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    res = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "argv": sys.argv[1:],
           "args": vars(args), "machine": machine(), "sizes": []}
    config = skillport_config()
    tmp = Path(tempfile.mkdtemp(prefix="skillport-scale-"))
    try:
        for n in [int(x) for x in args.plugins.split(",") if x]:
            res["sizes"].append(one_size(n, args, config, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_results(res, report, args.out, "scale")


if __name__ == "__main__":
    main()
