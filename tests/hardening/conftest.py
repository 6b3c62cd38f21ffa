"""Fixtures of the hardening suite. The mode comes from HARDEN_MODE (short|long; scripts/harden.sh sets it)."""

import os
from dataclasses import dataclass

import pytest

from harness import OUTCOMES, HardWorker, Report


@dataclass(frozen=True)
class Mode:
    name: str
    requests: int          # the load test's measured requests
    concurrency: int       # its connections
    warmup: int            # requests before the measured run (not counted, not sampled)
    fault_rounds: int      # rounds of every fault kind, in random order, during the fault test's load
    fault_concurrency: int
    latency_bound_s: float  # no request of the load or fault test may take longer
    rss_margin_mib: float   # last-10% RSS median minus first-10% median of the worker's workerd, at most
    wasm_margin_kib: int    # growth of the worker's wasm memory over the measured run (its log lines), at most
    memory_note: str = ""


# Memory under `wrangler dev`: the workerd process running the worker grows with the number of requests served from a
# cold start whatever the worker does (measured here: a hello-world JS worker +64 MiB over its first 20,000 requests;
# Skillport +35 MiB per 5,000 tools/list, about twice that with bearer checks and token refreshes, until ~40,000
# requests, then level around 450 MiB +-25 MiB). Part of it is wrangler's own doing: its inspector proxy turns on the
# runtime's Network domain, so every subrequest (each grant-store call) is reported to it. Meanwhile the worker's own
# wasm linear memory stays at ~2 MiB, as the worker's own log lines show (`isolate: N request(s) handled; wasm memory
# M KiB; J JS value(s) held`, at most every 30 s). So the long run warms up past the climb before its first sample,
# holds the worker's own memory flat, and allows the process +64 MiB (see its note); the short run, all inside the
# climb, only guards against gross leaks.
MODES = {
    "short": Mode("short", requests=5000, concurrency=25, warmup=300, fault_rounds=1, fault_concurrency=10,
                  latency_bound_s=2.0, rss_margin_mib=128, wasm_margin_kib=1024, memory_note=(
                      "Memory (short run): the measured requests are all inside workerd's cold-start climb under "
                      "wrangler dev (its RSS grows with requests served from a cold start for any worker, ~35-75 MiB "
                      "per 5,000 here), so the RSS bound is only a gross-leak guard (+128 MiB, ~25 KB "
                      "a request). The long run is the memory check.")),
    "long": Mode("long", requests=100_000, concurrency=100, warmup=40_000, fault_rounds=4, fault_concurrency=25,
                 latency_bound_s=5.0, rss_margin_mib=64, wasm_margin_kib=128, memory_note=(
                     "Memory (long run): 40,000 warm-up requests take workerd past its cold-start climb under "
                     "wrangler dev. Skillport's own memory must stay flat over the 100,000 measured requests: its "
                     "wasm memory (never shrinks, so any leak of the Rust heap raises it; +128 KiB allowed, i.e. "
                     "~1 byte a request) and the JS values Rust holds (+64), from its log lines. The workerd "
                     "process's RSS is not flat: it grew +34 to +41 MiB per 100,000 requests in every long run "
                     "(2026-12-04), with token refreshes and without (so not the grant store), while the wasm memory "
                     "stayed at 2,176 KiB from request 25,868 to 140,067; the growth is workerd's and V8's, not "
                     "attributed further, and +64 MiB is allowed as a gross-leak guard. Latency bound 5 s: at 100 "
                     "connections and ~100-200 requests/s through wrangler's proxy on 2 cores, each request queues "
                     "~0.5-1 s on average (Little's law).")),
}


def mode_from_env() -> Mode:
    name = os.environ.get("HARDEN_MODE", "short")
    base = MODES[name]
    over = {k: type(getattr(base, k))(os.environ[f"HARDEN_{k.upper()}"])
            for k in base.__dataclass_fields__ if k != "name" and f"HARDEN_{k.upper()}" in os.environ}
    return Mode(**{**base.__dict__, **over})


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        path, _, name = report.nodeid.partition("::")
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        else:
            outcome = report.outcome
        OUTCOMES.setdefault(path.rsplit("/", 1)[-1], []).append((name, outcome))


@pytest.fixture(scope="session")
def mode() -> Mode:
    return mode_from_env()


@pytest.fixture(scope="session")
def report(mode):
    r = Report(mode.name)
    yield r
    path = r.write()
    if path:
        print(f"\nhardening: results written to {path.relative_to(path.parents[3])}")


@pytest.fixture
def start_worker():
    started = []

    def start(vars=None, name="harden", open=True, port=None):
        w = HardWorker(vars, name=name, open=open, port=port)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()
