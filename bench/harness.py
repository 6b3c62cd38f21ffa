"""The servers the benchmarks run, and how they are driven: shared by bench/compare.py (sizes, startup, load) and
bench/cold-start.py (fresh-isolate first requests).

Each server runs under `wrangler dev --ip 127.0.0.1` on a free port, with its own state directory and log in
bench/.work: Skillport (a snapshot of build/, so a rebuild during a run does not restart it), the two TypeScript peers
(bench/peer: agents McpAgent, one Durable Object per MCP session; bench/peer-stateless: agents createMcpHandler with
an MCP TypeScript SDK v2 server built per request, no session) and hello-world (bench/hello). Both peers embed the
catalogue bench/peer/gen-catalogue.mjs writes (bench/peer/src/catalogue.gen.js, imported by both), so one
`gen_peer_catalogue` call sets what both serve. Process, memory and socket figures are read from /proc.

Auth: every /mcp endpoint is open on loopback. Skillport runs its default `local` provider (open on loopback; the
var SKILLPORT_AUTH__OPEN=true is passed as well and is harmless if ignored); both peers' BENCH_OPEN_MCP=true skips
the OAuth bearer check for /mcp on a loopback host (their src/index.ts). Skillport and the stateless peer take
session-less POSTs; the McpAgent peer needs a session (`Server.open_sessions`).
"""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support.mcp import LEGACY, for_era, jsonrpc_of, mcp_headers, rpc  # noqa: E402
from support.worker import free_port  # noqa: E402

BENCH = ROOT / "bench"
WORK = BENCH / ".work"
RESULTS = BENCH / "results"
WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"
PEER = BENCH / "peer"
PEER_STATELESS = BENCH / "peer-stateless"
HELLO = BENCH / "hello"
EXAMPLE = ROOT / "examples" / "marketplace"
LUA = BENCH / "wrk-mcp.lua"
PRM_PATH = "/.well-known/oauth-protected-resource"

# What each server is called in reports; `key` is the name a `Server` and the results use.
NAMES = {"skillport": "Skillport (Rust/wasm)", "peer": "TS peer (agents McpAgent)",
         "stateless": "TS stateless peer (agents createMcpHandler, SDK v2)", "hello": "hello-world JS"}


def log(msg):
    print(f"[{Path(sys.argv[0]).stem}] {msg}", file=sys.stderr, flush=True)


INIT = rpc("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                          "clientInfo": {"name": "bench-compare", "version": "1"}})

# --- processes and memory -------------------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def boot_time() -> float:
    for line in open("/proc/stat"):
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def proc_stat(pid):
    raw = open(f"/proc/{pid}/stat").read()
    rest = raw[raw.rindex(")") + 2:].split()
    return {"pgrp": int(rest[2]), "start": boot_time() + int(rest[19]) / CLK_TCK}


def cpu_seconds(pid) -> float:
    """User + system CPU time a process has used so far."""
    try:
        raw = open(f"/proc/{pid}/stat").read()
    except (OSError, TypeError):
        return 0.0
    rest = raw[raw.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def cmdline(pid) -> str:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def mem_kib(pid) -> dict:
    out = {}
    try:
        for line in open(f"/proc/{pid}/status"):
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def listening_ports(pid) -> list[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]", link)
            if m:
                inodes.add(m.group(1))
    except OSError:
        return []
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # LISTEN
                ports.append(int(f[1].rsplit(":", 1)[1], 16))
    return sorted(set(ports))


# --- HTTP ---------------------------------------------------------------------------------------------------------

def request(port, method, path, body=None, headers=None, host=None, timeout=30):
    """One request on a fresh connection: (status, headers dict, body bytes, elapsed ms)."""
    h = dict(headers or {})
    if host:
        h["Host"] = host
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw, (time.perf_counter() - t0) * 1000
    finally:
        conn.close()


# --- servers ------------------------------------------------------------------------------------------------------


def write_results(res: dict, report, out_arg, stem: str) -> Path:
    """Ends a benchmark run: notes the load average at its end in `res`, prints `report(res)` (its markdown) and
    writes it to `out_arg`, else bench/results/<stem>-<UTC date>.md, with `res` beside it as .json; returns the
    markdown's path."""
    from datetime import datetime, timezone
    res["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    md = report(res)
    print(md)
    out = Path(out_arg) if out_arg else BENCH / "results" / f"{stem}-{datetime.now(timezone.utc):%Y-%m-%d}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))
    log(f"wrote {out} and {out.with_suffix('.json')}")
    return out

def skillport_config() -> Path:
    """A snapshot of build/ and a copy of wrangler.toml without its [build] table, pointing at the snapshot, in
    bench/.work/skillport: wrangler dev reloads a worker whose files change (and re-runs [build] when src/ changes), so
    a rebuild of build/ during a run would otherwise restart Skillport mid-measurement."""
    snap = WORK / "skillport"
    shutil.rmtree(snap / "build", ignore_errors=True)
    (snap / "build").mkdir(parents=True)
    for f in ["index.js", "index_bg.wasm", "package.json", "worker/shim.mjs"]:
        if (ROOT / "build" / f).exists():
            (snap / "build" / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / "build" / f, snap / "build" / f)
    out, skip = [], False
    for line in (ROOT / "wrangler.toml").read_text().splitlines():
        if re.match(r"^\s*\[\[?[^\]]+\]\]?\s*(#.*)?$", line):
            skip = line.strip().startswith("[build]")
        if not skip:
            out.append(line)
    path = snap / "wrangler.toml"
    path.write_text("# Generated by bench/compare.py from /wrangler.toml (without [build]), for a snapshot of build/.\n"
                    + "\n".join(out) + "\n")
    return path


def gen_peer_catalogue(markets: list[tuple[str, Path]]):
    args = ["node", str(PEER / "gen-catalogue.mjs")] + [f"{i}={d}" for i, d in markets]
    subprocess.run(args, cwd=PEER, check=True)


class Server:
    def __init__(self, key, label, config: Path, vars=None, sessions=False, state: Path | None = None):
        """`state`: wrangler dev's --persist-to (KV, Durable Objects); by default a new folder for every start."""
        self.key, self.label, self.config, self.vars, self.sessions = key, label, config, vars or {}, sessions
        self.state = state
        # The protocol revision of the requests `call` sends: servers without sessions may be driven at 2026-07-28.
        self.era = LEGACY
        self.proc = None

    def start(self):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        state = self.state or WORK / "state" / f"{self.key}-{self.port}"
        if self.key in ("peer", "stateless"):
            # A peer signs download links and serves its protected-resource metadata for its own origin.
            self.vars["PUBLIC_URL"] = f"http://{self.host}"
        args = [str(WRANGLER), "dev", "--config", str(self.config), "--ip", "127.0.0.1", "--port", str(self.port),
                "--inspector-port", str(free_port()), "--show-interactive-dev-session=false",
                "--persist-to", str(state)]
        for k, v in self.vars.items():
            args += ["--var", f"{k}:{v}"]
        env = dict(os.environ, SKILLPORT_PREBUILT="1", WRANGLER_SEND_METRICS="false", CI="true")
        self.log_path = WORK / "logs" / f"{self.key}-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "w")
        self.t_spawn = time.time()
        self.proc = subprocess.Popen(args, cwd=self.config.parent, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        self.session_ids = []
        return self

    def wait_ready(self, timeout=180, first_request=("GET", "/", None, None)):
        """Waits for the worker. The first request (`first_request`: method, path, body, headers; GET / by default)
        goes straight to the socket of the workerd process that runs the worker, as soon as it listens (wrangler's
        proxy would hold a request sent earlier until the worker is up, and count the wait as latency): its latency is
        the cold first request, the first the fresh isolate serves. Then GET / through wrangler's public port until a
        200. Returns {ready_s: spawn to that 200, first_request_ms, first_200_s: spawn to the end of the first request,
        workerd_ready_ms: workerd process start to the first 200}; the first answer's body and headers are kept in `first_body` and `first_headers`."""
        method, path, data, headers = first_request
        deadline = time.time() + timeout
        tried, first = set(), None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.key}: wrangler dev exited early; see {self.log_path}")
            if first is None:
                runtime, _ = self.workerds()
                for p in listening_ports(runtime) if runtime else []:
                    if p in tried:
                        continue
                    try:
                        status, h, body, ms = request(p, method, path, data, headers, host=self.host, timeout=60)
                    except OSError:
                        continue
                    tried.add(p)
                    if status == 200:
                        first = {"first_request_ms": ms, "first_200_s": time.time() - self.t_spawn,
                                 "workerd_ready_ms": (time.time() - proc_stat(runtime)["start"]) * 1000}
                        self.first_body = jsonrpc_of(h, body) if method == "POST" else body
                        self.first_headers = h
                        self.direct = p
                        break
                    if status == 500 and b"configuration is invalid" in body:
                        raise RuntimeError(f"{self.key}: configuration invalid; see {self.log_path}")
            else:
                try:
                    status, _, _, _ = request(self.port, "GET", "/", timeout=30)
                    if status == 200:
                        self.t_ready = time.time()
                        return dict(first, ready_s=self.t_ready - self.t_spawn)
                except OSError:
                    pass
            time.sleep(0.01)
        raise RuntimeError(f"{self.key}: no 200 within {timeout} s; see {self.log_path}")

    def workerds(self):
        """(runtime pid, proxy pid): wrangler dev runs two workerd processes, one holding its proxy worker on the
        public port and one running the worker itself."""
        runtime = proxy = None
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                if proc_stat(d)["pgrp"] != self.proc.pid:
                    continue
            except (OSError, ValueError, IndexError):
                continue
            cl = cmdline(d)
            if "workerd" not in cl.split(" ")[0]:
                continue
            if f"entry=127.0.0.1:{self.port} " in cl + " ":
                proxy = int(d)
            else:
                runtime = int(d)
        return runtime, proxy

    def direct_port(self):
        """The runtime workerd's own entry socket (the one that answers GET / with a 200)."""
        if getattr(self, "direct", None):
            return self.direct
        runtime, _ = self.workerds()
        for p in listening_ports(runtime):
            try:
                if request(p, "GET", "/", host=self.host, timeout=5)[0] == 200:
                    return p
            except OSError:
                continue
        raise RuntimeError(f"{self.key}: no entry socket found on workerd {runtime}")

    def open_sessions(self, n):
        """MCP sessions for servers that need one (the peer's McpAgent): initialize + notifications/initialized."""
        if not self.sessions:
            return []
        ids = []
        for _ in range(n):
            status, h, raw, _ = request(self.port, "POST", "/mcp", INIT, mcp_headers())
            sid = h.get("mcp-session-id")
            assert status == 200 and sid, (status, raw[:300])
            status, _, raw, _ = request(self.port, "POST", "/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"},
                                        mcp_headers(sid))
            assert status in (200, 202), (status, raw[:300])
            ids.append(sid)
        self.session_ids = ids
        return ids

    def call(self, body, port=None):
        sid = self.session_ids[0] if self.session_ids else None
        body = for_era(body, self.era)
        status, h, raw, ms = request(port or self.port, "POST", "/mcp", body, mcp_headers(sid, body, self.era),
                                     host=self.host)
        return status, jsonrpc_of(h, raw), ms

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None


def servers(sp_config: Path):
    """Skillport, the McpAgent peer, the stateless peer and hello-world, not started."""
    return [Server("skillport", "Skillport", sp_config, {"SKILLPORT_AUTH__OPEN": "true"}),
            Server("peer", "peer", PEER / "wrangler.toml", sessions=True),
            Server("stateless", "stateless peer", PEER_STATELESS / "wrangler.toml"),
            Server("hello", "hello", HELLO / "wrangler.toml")]
