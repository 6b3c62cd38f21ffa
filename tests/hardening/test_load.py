"""Load: N mixed requests at C connections against one local worker, every answer checked, memory sampled.

One worker, signed (the embedded default's `local` provider with `auth.open` off): every MCP request carries a real
access token obtained through the OAuth flow, so the load includes the bearer check of every call, and the token
refreshes rotate real grants in the same worker's grant store (the `GRANTS` Durable Object). One worker rather than
two (an open one for MCP, a signed one for tokens) because that is how production runs: the bearer check is part of
every MCP request's cost and memory.

Memory: the VmRSS of the workerd process that runs the worker (not wrangler's proxy workerd, reported apart), sampled
every 0.2 s; the medians of the first and last 10% of the run are compared (see conftest.py for the margins and why
the short run's is wide).
"""

import asyncio
import time

from harness import (Catalog, Chain, MemorySampler, Stats, isolate_lines, median, mib, ms, oauth_grants, pct, run_load,
                     tools_list_ok)
from support.mcp import post_json

#: The request mix (shares). `refresh` is POST /token with grant_type=refresh_token on one of the rotating grants.
WEIGHTS = {"tools/list": 0.15, "list_plugins": 0.20, "get_plugin": 0.20, "fetch_skill": 0.10,
           "resources/read": 0.25, "refresh": 0.10}


def test_mixed_load_zero_errors_bounded_latency_flat_memory(start_worker, mode, report):
    w = start_worker(name="load", open=False)
    # Access tokens for the MCP calls (never refreshed) and the grants whose refresh tokens rotate under load.
    _, static = oauth_grants(w.base, 4)
    auth = [t["access_token"] for t in static]
    headers = {"authorization": f"Bearer {auth[0]}"}
    status, _, _ = post_json(w.base, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert status == 401, "the load worker must require a token"
    cat = Catalog.discover(w.base, headers)
    n_chains = max(8, mode.concurrency // 4)
    chain_client, grants = oauth_grants(w.base, n_chains)
    chains = [Chain(chain_client, g) for g in grants]

    marks = {}

    async def go():
        warm = await run_load(w, mode.warmup, mode.concurrency, WEIGHTS, cat, auth, chains, seed=1)
        assert not warm.errors, warm.errors[:5]
        marks["warm"] = w.log_path.stat().st_size  # the worker's log up to here was written during the warm-up
        stats = Stats()  # filled as requests complete; the sampler reads its counter
        sampler = MemorySampler(w, stats, mode.requests)
        stop = asyncio.Event()
        sampling = asyncio.create_task(sampler.run(stop))
        t0 = time.perf_counter()
        await run_load(w, mode.requests, mode.concurrency, WEIGHTS, cat, auth, chains, seed=2, stats=stats)
        elapsed = time.perf_counter() - t0
        stop.set()
        await sampling
        await asyncio.sleep(1)  # let refreshes and audit lines finish
        return stats, sampler, elapsed

    store_before = w.storage_bytes()
    stats, sampler, elapsed = asyncio.run(go())
    # The worker's own memory, from its log lines (at most one every 30 s): those of the warm-up (the isolate's first
    # line comes before any cache is filled, so it is not a baseline) and those written during the measured run.
    text = w.log_path.read_text(errors="replace")
    warming, own = isolate_lines(text[:marks["warm"]]), isolate_lines(text[marks["warm"]:])
    store_after = w.storage_bytes()
    s = stats.summary()
    rss_first, rss_last = median(sampler.window(first=True)), median(sampler.window(first=False))
    proxy_first, proxy_last = median(sampler.window(True, 2)), median(sampler.window(False, 2))
    peak = max((x[1] for x in sampler.samples if x[1]), default=None)
    rotations = sum(c.rotations for c in chains)

    # After the run: every rotated grant is still alive (its latest access token works), and the worker still
    # answers a plain request.
    alive = 0
    for c in chains:
        st, _, _ = post_json(w.base, {"jsonrpc": "2.0", "id": 1, "method": "ping"},
                             {"authorization": f"Bearer {c.access}"})
        alive += st == 200
    tools_list_ok(w, headers)

    growth = (rss_last - rss_first) / 1024
    kinds = ", ".join(f"{k} {v:,}" for k, v in s["kinds"].items())
    report.add("Load", [
        f"One worker, signed (`auth.open` off): every MCP request carries a bearer token from the OAuth flow; "
        f"token refreshes rotate {n_chains} grants in the same worker's grant store. Warm-up {mode.warmup:,} "
        "requests (not counted). Every answer checked: HTTP 200, a JSON-RPC result with the request's id, no `isError`, the "
        "expected content (all plugins listed, the plugin asked for, files and a download link, the resource's URI).",
        "",
        "| what | value |", "| --- | --- |",
        f"| requests | {s['requests']:,} ({kinds}) |",
        f"| concurrency | {mode.concurrency} keep-alive connections |",
        f"| errors | {s['errors']} |",
        f"| latency p50 / p99 / max | {ms(s['p50_ms'])} / {ms(s['p99_ms'])} / {ms(s['max_ms'])} "
        f"(bound {mode.latency_bound_s:.1f} s) |",
        f"| duration, throughput | {elapsed:.1f} s, {s['requests'] / elapsed:.0f} requests/s |",
        f"| refresh-token rotations | {rotations:,}; grants alive after the run: {alive}/{n_chains} |",
        f"| worker workerd RSS, first 10% / last 10% (medians) | {mib(rss_first)} / {mib(rss_last)} "
        f"({growth:+.1f} MiB, allowed +{mode.rss_margin_mib:.0f} MiB); peak {mib(peak)}; "
        f"{len(sampler.samples)} samples |",
        f"| Skillport's own memory (its log lines: requests handled, wasm memory, JS values held) | warm-up: "
        + (" → ".join(f"{n:,}: {kib:,} KiB, {js}" for n, kib, js in warming) or "no line") + "; measured run: "
        + (" → ".join(f"{n:,}: {kib:,} KiB, {js}" for n, kib, js in own) or "no line")
        + " (flat: the highest wasm memory and the median JS values of the run against its first line) |",
        f"| wrangler's proxy workerd RSS, first / last (not asserted) | {mib(proxy_first)} / {mib(proxy_last)} |",
        f"| grant store on disk (GRANTS Durable Object, SQLite + WAL) | {store_before / 1024:,.0f} KiB before the "
        f"run, {store_after / 1024:,.0f} KiB after |",
        "", "| kind | requests | p50 | p99 | max |", "| --- | --- | --- | --- | --- |",
        *[f"| {k} | {len(v):,} | {ms(pct(v, 50) * 1000)} | {ms(pct(v, 99) * 1000)} | {ms(max(v) * 1000)} |"
          for k, v in sorted(stats.by_kind.items())],
        "", mode.memory_note,
    ] + ([f"First errors: `{e}`" for e in stats.errors[:5]]))

    assert not stats.errors, f"{len(stats.errors)} errors, first: {stats.errors[:5]}"
    assert s["max_ms"] <= mode.latency_bound_s * 1000, f"slowest request {s['max_ms']:.0f} ms"
    assert alive == n_chains, f"only {alive}/{n_chains} rotated grants still work"
    assert growth <= mode.rss_margin_mib, f"workerd RSS grew {growth:.1f} MiB ({rss_first} -> {rss_last} KiB)"
    # Skillport's own memory is flat after the warm-up, from the first line written after it. Not from a line of the
    # warm-up: the isolate's first line (request 1) comes before the catalogue, the caches and the allocator's pools
    # have grown to their working size. The module's memory never shrinks, so any leak of the Rust heap raises it:
    # its highest line is compared. The JS values Rust holds include those of the requests in flight when a line is
    # written (one line of a long run read 112 amid 14s), so their median over the run is compared: a leak raises
    # every line after it, a busy moment one.
    # The lines come at most every 30 s: the long run always spans several; the short one may end before the next.
    assert len(own) >= 2 or mode.name == "short", f"too few isolate lines to compare: {own}"
    if len(own) >= 2:
        (_, kib0, js0), peak_kib, js_median = own[0], max(x[1] for x in own), median([x[2] for x in own])
        assert peak_kib - kib0 <= mode.wasm_margin_kib, f"wasm memory grew {kib0} -> {peak_kib} KiB: {own}"
        assert js_median - js0 <= 64, f"JS values held grew {js0} -> {js_median} (median): {own}"
