"""Shared machinery of the hardening suite: local workers, the GitHub stand-in, a small async HTTP/1.1
load client, workerd memory sampling and the results file.

What the end-to-end suite also uses comes from tests/support, not copied: the `Worker` launcher (subclassed here as
`HardWorker`), the hand-driven OAuth client `Raw`, the forge stand-in `Forge` and `make_repo`, and the one-request
MCP POSTs. The test files import those from tests/support too, and from here only what is the hardening suite's own.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import random
import re
import shutil
import statistics
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from support.mcp import MCP_HEADERS, post_json
from support.oauth import Raw, pkce
from support.worker import OPEN, WRANGLER, Worker, free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORK = HERE / ".work"
RESULTS = HERE / "results"

#: Outcomes of the tests run so far, by file: (test id, passed | failed | xfailed | xpassed | skipped); conftest.py's
#: report hook fills it, the report sections read it.
OUTCOMES: dict[str, list[tuple[str, str]]] = {}

#: The Node that runs wrangler: node_modules/.bin's when the root package.json installs one (scripts/env.sh puts it
#: first on PATH for `wrangler dev` too), else the system's.
NODE = ROOT / "node_modules" / ".bin" / "node"
if not NODE.exists():
    NODE = Path(shutil.which("node") or "node")

# -- the worker under test ---------------------------------------------------------------------------------------


def _remove_snapshot(path: Path):
    shutil.rmtree(path, ignore_errors=True)


def snapshot_build() -> Path:
    """A private copy of build/ and of wrangler.toml without its [build] table, so that a rebuild of build/ or an
    edit of src/ during a long run neither rebuilds nor reloads the worker under test (wrangler dev watches both).
    Returns the config path."""
    WORK.mkdir(parents=True, exist_ok=True)
    dest = WORK / f"snapshot-{os.getpid()}"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROOT / "build", dest / "build")
    text = (ROOT / "wrangler.toml").read_text()
    text = re.sub(r"(?ms)^\[build\]\n.*?(?=^\[|\Z)", "", text)
    (dest / "wrangler.toml").write_text(text)
    import atexit
    atexit.register(_remove_snapshot, dest)
    return dest / "wrangler.toml"


class HardWorker(Worker):
    """tests/support/worker.py's Worker (its wait, logs and stop), started on the build snapshot, by default through
    wrangler's own dev API with its inspector off (tests/hardening/start_worker.mjs; HARDEN_WRANGLER_CLI=1 runs
    `wrangler dev` instead, as the e2e suite does).

    Why not `wrangler dev` itself: its inspector proxy (always on from the CLI) enables the runtime's Network domain
    and POSTs every runtime inspector message (each console line, four events per subrequest, i.e. per grant-store
    call) to wrangler's node process, one HTTP request each, and buffers them all until a DevTools client attaches.
    Under sustained load node falls behind: wrangler's proxy workerd piled up ~4 sockets per signed request (20,000
    open files, then EMFILE: "Too many open files") and grew without bound, and its proxy worker answered requests with
    its own 503 "Your worker restarted mid-request" although the worker never restarted. None of that exists on
    Cloudflare; the worker, bindings, local Durable Objects and KV are the same either way."""

    config: Path | None = None

    def __init__(self, vars: dict[str, str] | None = None, name: str = "harden", open: bool = True,
                 port: int | None = None):
        import subprocess

        if HardWorker.config is None:
            HardWorker.config = snapshot_build()
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = ROOT / "tests" / "artifacts" / f"harden-{name}-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.state = WORK / f"state-{self.port}"
        vars = {"SKILLPORT_SERVER__PUBLIC_URL": self.base, **(OPEN if open else {}), **(vars or {})}
        if os.environ.get("HARDEN_WRANGLER_CLI") == "1":  # `wrangler dev` itself, inspector and all
            args = [
                str(WRANGLER), "dev", "--config", str(HardWorker.config),
                "--ip", "127.0.0.1", "--port", str(self.port),
                "--inspector-port", str(free_port()), "--show-interactive-dev-session=false",
                "--log-level", "log", "--persist-to", str(self.state),
            ] + [a for k, v in vars.items() for a in ("--var", f"{k}:{v}")]
        else:  # the same through wrangler's API, without the inspector (see start_worker.mjs)
            args = [str(NODE), str(HERE / "start_worker.mjs"), str(HardWorker.config), str(self.port), str(self.state)]
            args += [f"{k}={v}" for k, v in vars.items()]
        env = dict(os.environ, SKILLPORT_PREBUILT="1", WRANGLER_SEND_METRICS="false", CI="true")
        self.log = builtins.open(self.log_path, "w")
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        self._wait()

    def workerds(self) -> tuple[int | None, int | None]:
        """(runtime, proxy): wrangler dev runs two workerd processes in its process group, one for its proxy worker
        (on the public port) and one running Skillport itself."""
        runtime = proxy = None
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                stat = open(f"/proc/{d}/stat").read()
                pgrp = int(stat[stat.rindex(")") + 2:].split()[2])
                cmd = open(f"/proc/{d}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, ValueError, IndexError):
                continue
            if pgrp != self.proc.pid or "workerd" not in cmd.split(" ")[0]:
                continue
            if f"entry=127.0.0.1:{self.port} " in cmd + " ":
                proxy = int(d)
            else:
                runtime = int(d)
        return runtime, proxy

    def stop(self):
        super().stop()
        shutil.rmtree(self.state, ignore_errors=True)

    def storage_bytes(self, what: str = "GrantStoreObject") -> int:
        """Bytes on disk of the local Durable Object storage of class `what` (SQLite files and their WAL)."""
        return sum(f.stat().st_size for f in self.state.glob(f"v3/do/*-{what}/*") if f.is_file())

    def direct_port(self) -> int:
        """The runtime workerd's own entry socket (the one answering GET / with 200), behind wrangler's proxy."""
        runtime, _ = self.workerds()
        inodes = set()
        for fd in os.listdir(f"/proc/{runtime}/fd"):
            try:
                m = re.match(r"socket:\[(\d+)\]", os.readlink(f"/proc/{runtime}/fd/{fd}"))
            except OSError:
                continue
            if m:
                inodes.add(m.group(1))
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in open(table).read().splitlines()[1:]:
                f = line.split()
                if f[3] != "0A" or f[9] not in inodes:  # listening sockets of the runtime only
                    continue
                port = int(f[1].split(":")[1], 16)
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                        if r.status == 200 and b"Skillport" in r.read():
                            return port
                except OSError:
                    continue
        raise RuntimeError("no entry socket found on the runtime workerd")

    def alive(self) -> bool:
        runtime, _ = self.workerds()
        return self.proc.poll() is None and runtime is not None


def rss_kib(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def tools_list_ok(worker, headers: dict | None = None) -> float:
    """A normal tools/list answers 200 with the four tools; returns its latency in seconds."""
    t0 = time.perf_counter()
    status, _, body = post_json(worker.base, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers)
    took = time.perf_counter() - t0
    assert status == 200, (status, body)
    names = {t["name"] for t in body["result"]["tools"]}
    assert {"list_plugins", "get_plugin", "fetch_skill", "check_updates"} <= names, names
    return took


# -- a small async HTTP/1.1 client (keep-alive, one connection per load slot) --------------------------------------


class HttpError(Exception):
    pass


class Conn:
    """One keep-alive HTTP/1.1 connection. Bodies are read by Content-Length or chunked framing."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def _open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        if self.writer is None:
            await self._open()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            await self.writer.drain()
            head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            h = {}
            for line in header_lines:
                if ":" in line:
                    k, v = line.split(":", 1)
                    h[k.strip().lower()] = v.strip()
            if "content-length" in h:
                data = await self.reader.readexactly(int(h["content-length"]))
            elif h.get("transfer-encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    if size == 0:
                        await self.reader.readuntil(b"\r\n")
                        break
                    parts.append(await self.reader.readexactly(size))
                    await self.reader.readexactly(2)
                data = b"".join(parts)
            elif status in (204, 304) or method == "HEAD":
                data = b""
            else:
                data = await self.reader.read()
                h["connection"] = "close"
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError, IndexError) as e:
            self.close()
            raise HttpError(f"{type(e).__name__}: {e}") from e
        if h.get("connection", "").lower() == "close":
            self.close()
        return status, h, data


# -- load: operations, validation, statistics ----------------------------------------------------------------------


@dataclass
class Catalog:
    """What the load asks for, discovered from the worker itself: plugin names, skill names, skill:// URIs."""

    plugins: list[str]
    skills: list[str]
    uris: list[str]

    @classmethod
    def discover(cls, base: str, headers: dict | None = None, marketplace: str | None = None) -> "Catalog":
        args = {"surface": "all", "limit": 200, **({"marketplace": marketplace} if marketplace else {})}
        _, _, body = post_json(base, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                      "params": {"name": "list_plugins", "arguments": args}}, headers)
        plugins = [p["name"] for p in body["result"]["structuredContent"]["plugins"]]
        skills, uris = [], []
        for name in plugins:
            _, _, body = post_json(base, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                          "params": {"name": "get_plugin", "arguments": {"name": name}}}, headers)
            for s in body["result"]["structuredContent"]["skills"]:
                skills.append(f"{name}/{s['name']}")
                plugin, mkt = name.split("@")
                uris += [f"skill://{mkt}/{plugin}/{s['name']}/{f['path']}" for f in s["files"]]
        assert plugins and skills and uris, (plugins, skills, uris)
        return cls(plugins, skills, uris)


MCP_KINDS = ("tools/list", "list_plugins", "get_plugin", "fetch_skill", "resources/read")


def mcp_body(kind: str, rid: int, cat: Catalog, rng: random.Random, marketplace: str | None = None):
    """(JSON-RPC body, what to check) for one request of `kind`."""
    if kind == "tools/list":
        return {"jsonrpc": "2.0", "id": rid, "method": "tools/list"}, None
    if kind == "list_plugins":
        args = {"surface": "all", **({"marketplace": marketplace} if marketplace else {})}
        return {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                "params": {"name": "list_plugins", "arguments": args}}, None
    if kind == "get_plugin":
        name = rng.choice(cat.plugins)
        return {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                "params": {"name": "get_plugin", "arguments": {"name": name}}}, name
    if kind == "fetch_skill":
        name = rng.choice(cat.skills)
        return {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                "params": {"name": "fetch_skill", "arguments": {"name": name, "surface": "claude-code"}}}, name
    if kind == "resources/read":
        uri = rng.choice(cat.uris)
        return {"jsonrpc": "2.0", "id": rid, "method": "resources/read", "params": {"uri": uri}}, uri
    raise ValueError(kind)


def check_mcp(kind: str, rid: int, want, status: int, headers: dict, data: bytes, cat: Catalog) -> str | None:
    """None when the answer is a valid JSON-RPC result for the request, else what is wrong."""
    if status != 200:
        return f"HTTP {status}: {data[:200]!r}"
    if not headers.get("content-type", "").startswith("application/json"):
        return f"content-type {headers.get('content-type')!r}"
    try:
        msg = json.loads(data)
    except ValueError:
        return f"not JSON: {data[:200]!r}"
    if msg.get("jsonrpc") != "2.0" or msg.get("id") != rid or "error" in msg or "result" not in msg:
        return f"not a JSON-RPC result for id {rid}: {data[:300]!r}"
    result = msg["result"]
    if kind == "tools/list":
        if "list_plugins" not in {t.get("name") for t in result.get("tools", [])}:
            return "tools/list without list_plugins"
        return None
    if kind == "resources/read":
        contents = result.get("contents") or []
        if not contents or contents[0].get("uri") != want or not ("text" in contents[0] or "blob" in contents[0]):
            return f"resources/read {want}: {str(result)[:200]}"
        return None
    if result.get("isError"):
        return f"{kind} isError: {str(result.get('content'))[:300]}"
    sc = result.get("structuredContent") or {}
    if kind == "list_plugins":
        names = {p.get("name") for p in sc.get("plugins", [])}
        if not set(cat.plugins) <= names:
            return f"list_plugins lost plugins: {sorted(set(cat.plugins) - names)}"
    elif kind == "get_plugin":
        if sc.get("name") != want or not sc.get("skills"):
            return f"get_plugin {want}: {str(sc)[:200]}"
    elif kind == "fetch_skill":
        if not sc.get("files") or not (sc.get("download") or {}).get("url"):
            return f"fetch_skill {want}: {str(sc)[:200]}"
    return None


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    done: int = 0

    def add(self, kind: str, seconds: float, error: str | None):
        self.done += 1
        self.latencies.append(seconds)
        self.by_kind.setdefault(kind, []).append(seconds)
        if error:
            self.errors.append(f"{kind}: {error}")

    def summary(self) -> dict:
        xs = sorted(self.latencies)
        return {"requests": len(xs), "errors": len(self.errors), "p50_ms": pct(xs, 50) * 1000,
                "p99_ms": pct(xs, 99) * 1000, "max_ms": (xs[-1] if xs else 0) * 1000,
                "kinds": {k: len(v) for k, v in sorted(self.by_kind.items())}}


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Chain:
    """One OAuth grant whose refresh token is rotated under load, one refresh at a time."""

    def __init__(self, client_id: str, tokens: dict):
        self.client_id = client_id
        self.access = tokens["access_token"]
        self.refresh = tokens["refresh_token"]
        self.lock = asyncio.Lock()
        self.rotations = 0


async def refresh_op(conn: Conn, chain: Chain) -> str | None:
    async with chain.lock:
        form = f"grant_type=refresh_token&refresh_token={chain.refresh}&client_id={chain.client_id}".encode()
        status, h, data = await conn.request("POST", "/token", form,
                                             {"content-type": "application/x-www-form-urlencoded"})
        if status != 200:
            return f"HTTP {status}: {data[:200]!r}"
        try:
            t = json.loads(data)
        except ValueError:
            return f"not JSON: {data[:200]!r}"
        if not t.get("access_token") or not t.get("refresh_token") or t["refresh_token"] == chain.refresh:
            return f"token answer without a rotated refresh token: {str(t)[:200]}"
        chain.access, chain.refresh = t["access_token"], t["refresh_token"]
        chain.rotations += 1
    return None


class MemorySampler:
    """Samples the VmRSS of the worker's workerd processes (every 0.2 s) with the number of requests done so far."""

    def __init__(self, worker: HardWorker, stats: Stats, total: int, every: float = 0.2):
        self.runtime, self.proxy = worker.workerds()
        assert self.runtime, "no workerd process found for the worker"
        self.stats, self.total, self.every = stats, total, every
        self.samples: list[tuple[int, int | None, int | None]] = []   # (done, runtime KiB, proxy KiB)

    async def run(self, stop: asyncio.Event):
        while not stop.is_set():
            self.samples.append((self.stats.done, rss_kib(self.runtime), rss_kib(self.proxy)))
            try:
                await asyncio.wait_for(stop.wait(), self.every)
            except asyncio.TimeoutError:
                pass
        self.samples.append((self.stats.done, rss_kib(self.runtime), rss_kib(self.proxy)))

    def window(self, first: bool, which: int = 1) -> list[int]:
        """RSS samples (KiB) of the first or last 10% of the run; which=1 the runtime, 2 wrangler's proxy."""
        edge = self.total * 0.1
        return [s[which] for s in self.samples if s[which] is not None and
                (s[0] <= edge if first else s[0] >= self.total - edge)]


ISOLATE_LINE = re.compile(r"isolate: (\d+) request\(s\) handled; wasm memory (\d+) KiB; (\d+) JS value\(s\) held")


def isolate_lines(text: str) -> list[tuple[int, int, int]]:
    """The worker's own memory lines (src/platform/mod.rs, at most one every 30 s): (requests handled, wasm memory
    KiB, JS values held by Rust)."""
    return [tuple(int(g) for g in m.groups()) for m in ISOLATE_LINE.finditer(text)]


async def run_load(worker: HardWorker, total: int, concurrency: int, weights: dict[str, float], cat: Catalog,
                   auth: list[str] | None = None, chains: list[Chain] | None = None, seed: int = 7,
                   stop: asyncio.Event | None = None, marketplace: str | None = None,
                   stats: Stats | None = None, per_request_timeout: float = 30, port: int | None = None) -> Stats:
    """`total` requests (or until `stop` is set, when given) over `concurrency` keep-alive connections.
    `weights` maps an MCP kind or "refresh" to its share. MCP requests carry `Authorization: Bearer` from `auth`
    (in turn) when given. `stats` (filled as requests complete) lets a MemorySampler watch the run. `port`: where to
    send them (default: the worker's public port, i.e. through wrangler's proxy worker)."""
    rng = random.Random(seed)
    kinds = list(weights)
    cum = [weights[k] for k in kinds]
    stats = stats if stats is not None else Stats()
    counter = iter(range(1, 10**12))

    async def slot(n: int):
        conn = Conn("127.0.0.1", port or worker.port)
        local = random.Random(seed * 1000 + n)
        while True:
            if stop is not None:
                if stop.is_set():
                    break
            rid = next(counter)
            if stop is None and rid > total:
                break
            kind = local.choices(kinds, cum)[0]
            t0 = time.perf_counter()
            try:
                if kind == "refresh":
                    # A free grant if there is one: a refresh waiting on another's lock would time the lock.
                    start = local.randrange(len(chains))
                    chain = next((c for c in chains[start:] + chains[:start] if not c.lock.locked()), chains[start])
                    err = await asyncio.wait_for(refresh_op(conn, chain), per_request_timeout)
                else:
                    body, want = mcp_body(kind, rid, cat, local, marketplace)
                    headers = dict(MCP_HEADERS)
                    if auth:
                        headers["authorization"] = f"Bearer {auth[rid % len(auth)]}"
                    status, h, data = await asyncio.wait_for(
                        conn.request("POST", "/mcp", json.dumps(body).encode(), headers), per_request_timeout)
                    err = check_mcp(kind, rid, want, status, h, data, cat)
            except (HttpError, OSError) as e:
                err = f"transport: {e}"
                conn.close()
            except asyncio.TimeoutError:
                err = f"no answer within {per_request_timeout} s"
                conn.close()
            stats.add(kind, time.perf_counter() - t0, err)
        conn.close()

    await asyncio.gather(*(slot(n) for n in range(concurrency)))
    return stats


def oauth_grants(base: str, n: int) -> tuple[str, list[dict]]:
    """`n` token sets for one registered client, through the real flow (register, authorize: the local provider
    approves loopback at once, redeem with PKCE)."""
    raw = Raw(base)
    client_id = raw.client()
    out = []
    for _ in range(n):
        verifier, challenge = pkce()
        r = raw.redeem(client_id, raw.code(client_id, challenge), verifier)
        assert r.status_code == 200, r.text
        out.append(r.json())
    return client_id, out


# -- the results file ----------------------------------------------------------------------------------------------


class Report:
    """Sections collected by the tests of one run, written to results/<date>-<mode>.md at the end."""

    def __init__(self, mode: str):
        self.mode = mode
        self.sections: list[tuple[str, list[str]]] = []
        self.started = time.time()

    def add(self, title: str, lines: list[str]):
        self.sections.append((title, lines))

    def write(self) -> Path | None:
        if not self.sections:
            return None
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{time.strftime('%Y-%m-%d')}-{self.mode}.md"
        cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
        out = [f"# Hardening run ({self.mode}), {time.strftime('%Y-%m-%d %H:%M %Z')}", "",
               f"`bash scripts/harden.sh --{self.mode}`; {os.cpu_count()} CPUs ({cpu}); load average at the end "
               f"{' '.join(open('/proc/loadavg').read().split()[:3])}; the suite took "
               f"{time.time() - self.started:.0f} s. Local workerd under `wrangler dev` (requests go through "
               "wrangler's proxy worker, as every local client's do).", ""]
        for title, lines in self.sections:
            out += [f"## {title}", "", *lines, ""]
        path.write_text("\n".join(out))
        return path


def ms(x: float) -> str:
    return f"{x:.1f} ms"


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


def median(xs: list[int]) -> int | None:
    return int(statistics.median(xs)) if xs else None
