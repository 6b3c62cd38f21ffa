"""Upstream faults during load: a GitHub marketplace served by the stand-in (tests/standins/forge.py) from a real git
repository, refreshed every second while clients call tools on it, and the stand-in failing in every way it can,
in random order. Cached content must keep being served: no failed tool call, no request past the latency bound, and
each fault named in the worker log ("refresh of marketplace gh failed, serving the last good copy: ...").
"""

import asyncio
import random
import re
import time

import pytest

from harness import Catalog, HardWorker, Stats, ms, run_load, tools_list_ok
from support.forge import Forge, git, make_repo
from support.mcp import post_json

UPSTREAM_TIMEOUT_MS = 1000

#: kind -> (the stand-in's fault order, the worker log's words for it, whether it needs a new commit to bite).
#: Faults on "/repos/" hit the one conditional commit lookup of every refresh; faults on "/_codeload/" hit the
#: tarball download, which only a new commit causes, so those episodes push one first.
KINDS = {
    "500": ({"fail": "500", "path": "/repos/"}, r"upstream answered 500", False),
    "502": ({"fail": "502", "path": "/repos/"}, r"upstream answered 502", False),
    "reset": ({"fail": "reset", "path": "/repos/"}, r"could not reach the upstream: connection failed", False),
    "timeout": ({"fail": "timeout", "delay": 3, "path": "/repos/"}, r"could not reach the upstream: timed out", False),
    # Short waits, as the worker now honours them (tests in the outage section below check a long one).
    "429 Retry-After": ({"fail": "429", "retry_after": "2", "path": "/repos/"},
                        r"upstream rate limit reached; retry in 2s", False),
    "403 rate limit": ({"fail": "ratelimit", "reset_in": 5, "path": "/repos/"},
                       r"upstream rate limit reached; retry in [3-5]s", False),
    "malformed body": ({"fail": "malformed", "path": "/repos/"}, r"the commit answer is not a sha", False),
    "malformed archive": ({"fail": "malformed", "path": "/_codeload/"}, r"not a valid tar.gz archive", True),
    # workerd reports a body cut short as a lost connection, in the same words as a reset.
    "truncated archive": ({"fail": "truncated", "path": "/_codeload/"},
                          r"could not reach the upstream: connection failed", True),
}
FAILED_LINE = re.compile(
    r"refresh of marketplace gh failed \(\d+ in a row\), serving the last good copy; next try in \d+s: (.*)")

WEIGHTS = {"tools/list": 0.10, "list_plugins": 0.25, "get_plugin": 0.25, "fetch_skill": 0.15, "resources/read": 0.25}


def failures(logs: str) -> list[str]:
    return [re.sub(r"\x1b\[[0-9;]*m", "", m).strip() for m in FAILED_LINE.findall(logs)]


def commit(repo, n: int):
    skill = repo / "plugins/repo-tools/skills/repo-map/SKILL.md"
    skill.write_text(skill.read_text() + f"\n<!-- hardening change {n} -->\n")
    git(repo, "-c", "user.name=Test", "-c", "user.email=t@example.com", "commit", "-q", "-am", f"change {n}")


def test_upstream_faults_during_load_keep_cached_content_served(tmp_path, start_worker, mode, report):
    root = tmp_path / "forge"
    repo = root / "github" / "acme" / "plugins"
    make_repo(repo, "acme-github")
    forge = Forge(root)
    try:
        w = start_worker({
            "SKILLPORT_MARKETPLACES": f'[{{id="gh",kind="github",location="acme/plugins",api_base="{forge.base}"}}]',
            "SKILLPORT_CATALOGUE__REFRESH_SECONDS": "1",
            "SKILLPORT_CATALOGUE__UPSTREAM_TIMEOUT_MS": str(UPSTREAM_TIMEOUT_MS),
        }, name="faults")
        # Warm: the first request loads the marketplace from the stand-in.
        cat = Catalog.discover(w.base, marketplace="gh")
        assert sorted(cat.plugins) == ["brand-kit@gh", "repo-tools@gh", "writing-tools@gh"], cat.plugins
        assert not failures(w.logs())

        rng = random.Random(int(time.time()))
        episodes = []  # (kind, injected, seen, messages)
        changes = [0]

        def drive():
            for _ in range(mode.fault_rounds):
                kinds = list(KINDS)
                rng.shuffle(kinds)
                for kind in kinds:
                    order, pattern, needs_commit = KINDS[kind]
                    count = rng.randint(1, 3)
                    before = len(failures(w.logs()))
                    if needs_commit:
                        changes[0] += 1
                        commit(repo, changes[0])
                    forge.fail(**order, count=count)
                    deadline = time.time() + 30
                    new = []
                    while time.time() < deadline:
                        new = failures(w.logs())[before:]
                        matched = [m for m in new if pattern is None or re.search(pattern, m)]
                        if not forge.pending() and len(matched) >= count:
                            break
                        time.sleep(0.2)
                    forge.fail(clear=True)
                    matched = [m for m in new if pattern is None or re.search(pattern, m)]
                    episodes.append((kind, count, len(matched), sorted(set(new))))
                    time.sleep(rng.uniform(0.2, 1.5))  # a good refresh or two between faults

        async def go():
            stop = asyncio.Event()
            stats = Stats()
            load = asyncio.create_task(run_load(w, 0, mode.fault_concurrency, WEIGHTS, cat, stop=stop,
                                                marketplace="gh", stats=stats))
            t0 = time.perf_counter()
            try:
                await asyncio.to_thread(drive)
            finally:
                stop.set()
                await load
            return stats, time.perf_counter() - t0

        stats, elapsed = asyncio.run(go())

        # Recovery: the newest commit is served and the marketplace is no longer marked stale.
        deadline = time.time() + 20
        fresh = False
        while time.time() < deadline and not fresh:
            _, _, body = post_json(w.base, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "list_plugins", "arguments": {"surface": "all", "marketplace": "gh"}}})
            stale = body["result"]["structuredContent"].get("marketplaceErrors")
            _, _, skill = post_json(w.base, {"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {
                "uri": "skill://gh/repo-tools/repo-map/SKILL.md"}})
            text = skill["result"]["contents"][0]["text"]
            fresh = not stale and (changes[0] == 0 or f"hardening change {changes[0]} " in text)
            time.sleep(0.5)
        tools_list_ok(w)
        logs = w.logs()
    finally:
        forge.stop()

    s = stats.summary()
    per_kind = {}
    for kind, injected, seen, messages in episodes:
        k = per_kind.setdefault(kind, [0, 0, set()])
        k[0] += injected
        k[1] += seen
        k[2].update(messages)
    lines = [
        f"A GitHub marketplace (the example marketplace in a real git repository) served by the stand-in; "
        f"`catalogue.refresh_seconds` = 1, `catalogue.upstream_timeout_ms` = {UPSTREAM_TIMEOUT_MS}. "
        f"{mode.fault_rounds} round(s) of every fault kind in random order, 1-3 faulty answers each, while "
        f"{mode.fault_concurrency} connections call tools and read resources of that marketplace.", "",
        "| what | value |", "| --- | --- |",
        f"| requests during the faults | {s['requests']:,} in {elapsed:.1f} s |",
        f"| errors (failed tool calls, wrong answers, transport errors) | {s['errors']} |",
        f"| latency p50 / p99 / max | {ms(s['p50_ms'])} / {ms(s['p99_ms'])} / {ms(s['max_ms'])} "
        f"(bound {mode.latency_bound_s:.1f} s) |",
        f"| recovered (newest commit served, not stale) | {'yes' if fresh else 'NO'} |", "",
        "| fault | injected | seen in the worker log | the log's words |", "| --- | --- | --- | --- |",
    ]
    for kind, (injected, seen, messages) in per_kind.items():
        words = "; ".join(sorted(messages))[:300].replace("|", "\\|")
        lines.append(f"| {kind} | {injected} | {seen} | {words} |")
    lines += [f"First errors: `{e}`" for e in stats.errors[:5]]
    report.add("Upstream faults during load", lines)

    assert not stats.errors, f"{len(stats.errors)} errors, first: {stats.errors[:5]}"
    assert s["max_ms"] <= mode.latency_bound_s * 1000, f"slowest request {s['max_ms']:.0f} ms"
    assert fresh, "the worker did not serve the newest commit after the faults ended"
    missing = {k: (i, n) for k, (i, n, _) in per_kind.items() if n < i}
    assert not missing, f"faults not (all) seen in the worker log: {missing}\n{episodes}"
    assert all("serving the last good copy" in line for line in logs.splitlines() if "refresh of marketplace" in line)


# -- how hard the worker leans on a failing upstream ------------------------------------------------------------------

REFRESH_S = 2
WINDOW_S = 6


@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    root = tmp_path_factory.mktemp("outage")
    make_repo(root / "github" / "acme" / "plugins", "acme-github")
    forge = Forge(root)
    w = HardWorker({
        "SKILLPORT_MARKETPLACES": f'[{{id="gh",kind="github",location="acme/plugins",api_base="{forge.base}"}}]',
        "SKILLPORT_CATALOGUE__REFRESH_SECONDS": str(REFRESH_S),
        "SKILLPORT_CATALOGUE__UPSTREAM_TIMEOUT_MS": str(UPSTREAM_TIMEOUT_MS),
    }, name="outage")
    cat = Catalog.discover(w.base, marketplace="gh")
    yield w, forge, cat
    w.stop()
    forge.stop()


def upstream_requests_under_load(w, forge, cat, fault: dict | None) -> tuple[int, Stats]:
    """Upstream requests the worker makes in WINDOW_S seconds while 5 connections call list_plugins, with `fault`
    answering every GitHub API request (none: a healthy upstream)."""
    forge.fail(clear=True)
    if fault:
        forge.fail(**fault, count=1_000_000)
    time.sleep(REFRESH_S + 0.5)  # let a refresh fall due and fail once, as in a real outage
    forge.forget()

    async def go():
        stop = asyncio.Event()
        load = asyncio.create_task(run_load(w, 0, 5, {"list_plugins": 1.0}, cat, stop=stop, marketplace="gh"))
        await asyncio.sleep(WINDOW_S)
        stop.set()
        return await load

    stats = asyncio.run(go())
    n = len([r for r in forge.requests() if r["path"].startswith("/repos/")])
    forge.fail(clear=True)
    return n, stats


def test_a_healthy_upstream_is_asked_about_once_per_refresh_period(outage, report):
    w, forge, cat = outage
    n, stats = upstream_requests_under_load(w, forge, cat, None)
    report.add("Upstream requests under load (healthy)", [
        f"`catalogue.refresh_seconds` = {REFRESH_S}; {WINDOW_S} s of list_plugins on 5 connections "
        f"({stats.done:,} requests, {len(stats.errors)} errors): **{n} conditional requests** to the GitHub stand-in "
        f"(one per refresh period: at most {WINDOW_S // REFRESH_S + 1}; a refresh asked for while one runs is "
        "dropped, not queued)."])
    assert not stats.errors, stats.errors[:5]
    assert n <= WINDOW_S // REFRESH_S + 1, n


def test_an_upstream_outage_is_not_retried_back_to_back(outage, report):
    w, forge, cat = outage
    n, stats = upstream_requests_under_load(w, forge, cat, {"fail": "500", "path": "/repos/"})
    report.add("Upstream requests under load (GitHub answering 500)", [
        f"Same load, every GitHub API request answered 500: **{n} upstream requests in {WINDOW_S} s** "
        f"({stats.done:,} client requests, {len(stats.errors)} errors; the last good copy kept being served). "
        f"Expected at most {WINDOW_S // REFRESH_S + 1} (at most one attempt per refresh period; after each failure in "
        "a row the wait doubles)."])
    assert not stats.errors, stats.errors[:5]
    assert n <= WINDOW_S // REFRESH_S + 1, f"{n} upstream requests in {WINDOW_S} s"


def test_retry_after_is_honoured(outage, report):
    w, forge, cat = outage
    n, stats = upstream_requests_under_load(w, forge, cat, {"fail": "429", "retry_after": "60", "path": "/repos/"})
    report.add("Upstream requests under load (GitHub answering 429, Retry-After: 60)", [
        f"**{n} upstream requests in {WINDOW_S} s** ({stats.done:,} client requests, {len(stats.errors)} errors). "
        "Expected at most 1 after the first 429."])
    assert not stats.errors, stats.errors[:5]
    assert n <= 1, f"{n} upstream requests in {WINDOW_S} s despite Retry-After: 60"
