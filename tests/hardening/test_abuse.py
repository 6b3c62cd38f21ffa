"""Protocol abuse: oversized and endless bodies, deep JSON, slow SSE readers, registration floods, forged Origin and
Host, garbage request lines, huge headers. After each, the worker must still serve a normal tools/list.

All against one worker (the embedded default with `auth.open`, so /mcp and /sse answer loopback requests without a
token); the registration flood runs last, since it spends the worker's registration budget for the hour.
"""

import concurrent.futures
import json
import re
import socket
import time
import urllib.parse
import urllib.request

import pytest

from harness import HardWorker, mib, rss_kib, tools_list_ok
from support.mcp import post_json
from support.oauth import REDIRECT, Raw, pkce

MAX_BODY = 1_048_576  # server.max_body_bytes, the default


@pytest.fixture(scope="module")
def w():
    worker = HardWorker(name="abuse", open=True)
    worker.first_runtime = worker.workerds()[0]
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def rows(report):
    """Rows of the report's abuse table: (case, what was sent, what came back)."""
    out = []
    yield out
    report.add("Protocol abuse", [
        "One worker (embedded default, local provider, `auth.open`); after every case a normal `tools/list` must "
        "answer 200 with the four tools.", "",
        "| case | sent | answer | tools/list after |", "| --- | --- | --- | --- |",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in out],
    ])


def still_serving(w) -> str:
    """A normal tools/list answers, from the same workerd process as at the start (a crash would show as a new one).
    At once, through wrangler's proxy, whatever the case before it did (wrangler dev's proxy answered the request
    after a chunked body refused unread with its own 503 "Your worker restarted mid-request"; the worker now reads a
    refused body to its end, up to 16 MiB, before answering: src/platform/mod.rs DRAIN_LIMIT_BYTES)."""
    runtime, _ = w.workerds()
    assert runtime == w.first_runtime, f"the worker's workerd was replaced ({w.first_runtime} -> {runtime})"
    took = tools_list_ok(w)
    return f"200 in {took * 1000:.0f} ms"


# -- raw HTTP over a socket: what no well-behaved client library would send ----------------------------------------


def head_of(sock, timeout: float = 15) -> tuple[int | None, bytes]:
    """(status, the response head and what came with it) or (None, b"") when the connection closed first."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    if not data.startswith(b"HTTP/"):
        return None, data
    return int(data.split(b" ", 2)[1]), data


def raw(port: int, payload: bytes, timeout: float = 15) -> tuple[int | None, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(payload)
        except (ConnectionResetError, BrokenPipeError):
            pass
        return head_of(s, timeout)


def mcp_head(port: int, extra: str = "", method: str = "POST", path: str = "/mcp") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
            f"accept: application/json, text/event-stream\r\n{extra}").encode()


def dechunk(raw: bytes) -> bytes:
    """The payload so far of a chunked body."""
    out, i = b"", 0
    while True:
        j = raw.find(b"\r\n", i)
        if j < 0:
            return out
        try:
            size = int(raw[i:j].split(b";")[0], 16)
        except ValueError:
            return out
        if size == 0:
            return out
        out += raw[j + 2:j + 2 + size]
        i = j + 2 + size + 2
        if i > len(raw):
            return out


def open_sse(port: int, rcvbuf: int = 4096) -> tuple[socket.socket, str]:
    """A GET /sse stream with a small receive buffer, read up to its `endpoint` event; returns the socket and the
    session's message path."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET /sse HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\naccept: text/event-stream\r\n\r\n".encode())
    got = b""
    while True:
        chunk = s.recv(4096)
        assert chunk, f"the SSE stream closed: {got[:300]!r}"
        got += chunk
        if b"\r\n\r\n" not in got:
            continue
        head, body = got.split(b"\r\n\r\n", 1)
        assert head.split(b" ", 2)[1] == b"200", head
        text = dechunk(body) if b"chunked" in head.lower() else body
        if b"event: endpoint" in text and b"\n\n" in text.split(b"event: endpoint", 1)[1]:
            return s, text.split(b"data: ", 1)[1].split(b"\n", 1)[0].decode().strip()


def chunked_post(port: int, total: int, chunk: int = 1 << 16) -> tuple[int | None, bytes, float]:
    """POSTs `total` bytes to /mcp with Transfer-Encoding: chunked (no Content-Length); stops sending if the server
    answers or closes first."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(mcp_head(port, "transfer-encoding: chunked\r\n\r\n"))
        block = b"%x\r\n" % chunk + b"[" * chunk + b"\r\n"
        sent = 0
        try:
            while sent < total:
                s.sendall(block)
                sent += chunk
            s.sendall(b"0\r\n\r\n")
        except (ConnectionResetError, BrokenPipeError):
            pass
        status, data = head_of(s, 60)
    return status, data, time.perf_counter() - t0


# -- the cases -----------------------------------------------------------------------------------------------------


def test_oversized_bodies_are_413_with_and_without_content_length(w, rows):
    for size in (MAX_BODY + 1, 8 * MAX_BODY):
        status, _, _ = post_json(w.base, b"x" * size)
        rows.append(("oversized body, Content-Length", f"{size:,} bytes", status, still_serving(w)))
        assert status == 413
    # Not sent: a Content-Length promising more than the cap and a client that then gives up. The worker answers 413
    # from the header alone (src/platform/mod.rs to_http), but under wrangler dev its body-draining middleware waits
    # for the promised body, answers 503 when the upload is lost and sometimes makes wrangler restart the worker.
    # Chunked, through wrangler's proxy as a client sends it (the request after each must answer at once):
    for size in (MAX_BODY + 1, int(2.5 * MAX_BODY)):
        status, data, took = chunked_post(w.port, size)
        rows.append(("oversized body, chunked, through wrangler's proxy", f"{size:,} bytes",
                     f"{status} in {took:.2f} s", still_serving(w)))
        assert status == 413, data[:300]
    # Straight to the runtime's socket too (the 64 MiB one below: past the drain limit, answered without reading on).
    for size in (MAX_BODY + 1, 8 * MAX_BODY):
        status, data, took = chunked_post(w.direct_port(), size)
        rows.append(("oversized body, chunked (no Content-Length)", f"{size:,} bytes", f"{status} in {took:.2f} s",
                     still_serving(w)))
        assert status == 413, data[:300]
    # Just under the cap is not refused for its size (it is not JSON-RPC, so a parse error).
    status, _, body = post_json(w.base, b" " * (MAX_BODY - 100) + b"{}")
    rows.append(("body just under the cap", f"{MAX_BODY - 98:,} bytes", status, still_serving(w)))
    assert status == 400 and body["error"]["code"] == -32600


def test_an_endless_chunked_body_is_not_buffered(w, rows):
    """A chunked body is refused once it passes the cap, not read whole first (as it was before the fix in
    src/platform/mod.rs to_http: 64 MiB then grew the workerd runtime by ~190 MiB for good, and the worker's wasm
    memory by the body's size, past the 128 MB a Workers isolate may use)."""
    runtime, _ = w.workerds()
    before = rss_kib(runtime)
    status, _, took = chunked_post(w.direct_port(), 64 << 20)  # straight to the runtime, as above
    time.sleep(1)
    after = rss_kib(runtime)
    growth = (after - before) / 1024
    rows.append(("64 MiB chunked body", "no Content-Length", f"{status} in {took:.1f} s; workerd RSS "
                 f"{mib(before)} -> {mib(after)} ({growth:+.0f} MiB)", still_serving(w)))
    assert status == 413
    assert growth < 16, f"the worker buffered the refused body: RSS {growth:+.0f} MiB"


@pytest.mark.parametrize("shape", ["array", "object", "inside params"])
def test_deeply_nested_json_is_a_parse_error(w, rows, shape):
    depth = 100_000
    if shape == "array":
        body = b"[" * depth + b"]" * depth
    elif shape == "object":
        body = b'{"a":' * depth + b"1" + b"}" * depth
    else:
        body = (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_plugins","arguments":{"q":'
                + b"[" * depth + b"]" * depth + b"}}}")
    status, _, answer = post_json(w.base, body)
    rows.append((f"JSON nested {depth:,} deep ({shape})", f"{len(body):,} bytes", f"{status} "
                 f"{json.dumps(answer)[:80] if isinstance(answer, dict) else answer[:80]!r}", still_serving(w)))
    assert status == 400, answer
    assert answer["error"]["code"] == -32700, answer


def test_slow_and_silent_sse_clients_do_not_stall_the_worker(w, rows):
    """Many /sse streams opened and never read, a few read a byte at a time: other requests keep being answered."""
    silent, slow = [], []
    try:
        for i in range(60):
            sock, _ = open_sse(w.port)
            (slow if i % 6 == 0 else silent).append(sock)
        latencies = []
        for _ in range(40):
            latencies.append(tools_list_ok(w))
            for sock in slow:  # a byte at a time (keep-alive comments arrive every 15 s)
                sock.setblocking(False)
                try:
                    sock.recv(1)
                except BlockingIOError:
                    pass
        # A new stream still opens and names its message endpoint.
        fresh, path = open_sse(w.port)
        fresh.close()
        assert path.startswith("/sse/message?sessionId="), path
    finally:
        for sock in silent + slow:
            sock.close()
    worst = max(latencies)
    rows.append(("60 SSE streams open: 50 never read, 10 read a byte at a time", "40 tools/list meanwhile",
                 f"slowest {worst * 1000:.0f} ms; a new stream opens", still_serving(w)))
    assert worst < 2.0


def sse_messages(raw: bytes) -> int:
    """How many `event: message` events a raw (chunked) stream body holds. SSE lines end in a bare LF and JSON never
    holds a raw CR, so every CRLF-framed hex number is chunk framing, wherever a read began."""
    payload = re.sub(rb"(?:^|\r\n)[0-9a-fA-F]+\r\n", b"", raw)
    return payload.count(b"event: message\n")


def test_a_never_read_sse_stream_does_not_buffer_without_bound(w, rows):
    """A client posts fetch_skill to its own /sse session and never reads the stream. The session keeps at most
    `server.sse_backlog_bytes` (1 MiB) of answers the runtime has not taken for the connection, then answers further
    messages 429 with Retry-After, unprocessed; every answer it accepted stays deliverable.

    What the reader gets back afterwards is more than that budget: the runtime takes answers into its own buffers as
    long as the connection does, and under wrangler dev its proxy worker reads the stream without backpressure
    (measured: ~6 MiB through the proxy, ~2.7 MiB beyond the budget on the runtime's own socket)."""
    runtime, proxy = w.workerds()
    sock, path = open_sse(w.port)
    n = 3000
    try:
        before, proxy_before = rss_kib(runtime), rss_kib(proxy)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "fetch_skill", "arguments": {"name": "brand-kit@example/brand-voice"}}}).encode()

        def one(_):
            st, h, _ = post_json(w.base, body, path=path, timeout=30)
            return st, {k.lower(): v for k, v in h.items()}.get("retry-after")

        statuses, retry = {}, set()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for st, ra in pool.map(one, range(n)):
                statuses[st] = statuses.get(st, 0) + 1
                if st == 429:
                    retry.add(ra)
        after, proxy_after = rss_kib(runtime), rss_kib(proxy)
        # What the server kept for this reader: everything it can still deliver now.
        held = b""
        sock.settimeout(2)
        try:
            while True:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                held += chunk
        except socket.timeout:
            pass
    finally:
        sock.close()
    delivered = sse_messages(held)
    rows.append((f"one SSE stream never read, {n:,} fetch_skill posted to it",
                 f"statuses {statuses}; Retry-After {sorted(retry, key=str)}",
                 f"{len(held) / 1048576:.1f} MiB ({delivered:,} answers) held for the reader; workerd RSS "
                 f"{mib(before)} -> {mib(after)}, wrangler proxy {mib(proxy_before)} -> {mib(proxy_after)}",
                 still_serving(w)))
    assert set(statuses) <= {202, 429}, statuses
    assert statuses.get(429), f"the session never refused a message: {statuses}, {len(held):,} bytes held"
    assert all(ra and ra.isdigit() and int(ra) > 0 for ra in retry), retry
    # Every accepted message was answered on the stream, and no refused one was.
    assert delivered == statuses[202], (delivered, statuses)
    # Bounded whatever n: the budget plus what the runtime and wrangler's proxy buffer (unbounded, 3,000 answers
    # would be 15 MiB).
    assert len(held) < 12 * 1048576, len(held)


def test_forged_origin_and_host_are_refused(w, rows):
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    cases = [
        ("Origin https://evil.example on /mcp", {"origin": "https://evil.example"}, "/mcp", 403),
        ("Origin null on /mcp", {"origin": "null"}, "/mcp", 403),
        ("Origin http://localhost.evil.example on /mcp", {"origin": "http://localhost.evil.example"}, "/mcp", 403),
        ("Origin https://evil.example on /sse/message", {"origin": "https://evil.example"},
         "/sse/message?sessionId=" + "0" * 64, 403),
        ("Host skills.evil.example (local provider)", {"host": "skills.evil.example"}, "/mcp", 403),
        ("Host 127.0.0.1.evil.example", {"host": "127.0.0.1.evil.example"}, "/mcp", 403),
        ("Host localhost.evil.example:8787", {"host": "localhost.evil.example:8787"}, "/mcp", 403),
        ("Host evil.example, loopback Origin", {"host": "evil.example", "origin": w.base}, "/mcp", 403),
        ("own Origin (control)", {"origin": w.base}, "/mcp", 200),
    ]
    for name, headers, path, want in cases:
        status, _, body = post_json(w.base, ping, headers, path=path)
        rows.append((name, f"POST {path.split('?')[0]}", status, still_serving(w)))
        assert status == want, (name, status, body)
    # The local sign-in refuses a public Host too (registration itself is provider-independent and answers).
    raw = Raw(w.base)
    client_id = raw.client()
    verifier, challenge = pkce()
    query = urllib.parse.urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
                                    "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"})
    r = raw.http.get(w.base + "/authorize?" + query, headers={"host": "skills.evil.example"})
    rows.append(("Host skills.evil.example on /authorize (local sign-in)", "GET /authorize", r.status_code,
                 still_serving(w)))
    assert r.status_code == 403 and "location" not in r.headers
    r = raw.http.get(w.base + "/authorize?" + query)
    assert r.status_code == 302, "control: the same request on the loopback host signs in"


#: (case, raw request, the answers allowed). `W` marks answers of workerd's own HTTP layer, before any Worker code
#: runs (on Cloudflare the edge answers these): CONNECT is not supported by workerd (500), an absolute-form URI or
#: a malformed Content-Length fails its request parsing (500), an unknown or lower-case method is 501.
W = "workerd"
GARBAGE = [
    ("method BREW", b"BREW /mcp HTTP/1.1\r\nHost: H\r\ncontent-length: 0\r\n\r\n", {501: W}),
    ("lower-case method", b"post /mcp HTTP/1.1\r\nHost: H\r\ncontent-length: 0\r\n\r\n", {501: W}),
    ("method CONNECT", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", {500: W}),
    ("method TRACE /mcp", b"TRACE /mcp HTTP/1.1\r\nHost: H\r\n\r\n", {405: None}),
    ("method DELETE /mcp", b"DELETE /mcp HTTP/1.1\r\nHost: H\r\n\r\n", {405: None}),
    ("method PUT /token", b"PUT /token HTTP/1.1\r\nHost: H\r\ncontent-length: 2\r\n\r\n{}", {405: None}),
    ("method PATCH /register", b"PATCH /register HTTP/1.1\r\nHost: H\r\ncontent-length: 2\r\n\r\n{}", {405: None}),
    ("path /%", b"GET /% HTTP/1.1\r\nHost: H\r\n\r\n", {404: None, 400: None}),
    ("path /%zz", b"GET /%zz HTTP/1.1\r\nHost: H\r\n\r\n", {404: None, 400: None}),
    ("path traversal", b"GET /..%2f..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: H\r\n\r\n", {404: None, 400: None}),
    ("path /download/ garbage", b"GET /download/%00%ff..%2e%2e HTTP/1.1\r\nHost: H\r\n\r\n", {403: None, 404: None}),
    ("skill:// traversal on /download", b"GET /download/..%2f..%2fwrangler.toml HTTP/1.1\r\nHost: H\r\n\r\n",
     {403: None, 404: None}),
    ("path 60 KiB", b"GET /" + b"a" * 60_000 + b" HTTP/1.1\r\nHost: H\r\n\r\n", {404: None, 414: W, 431: W}),
    ("query 60 KiB on /authorize", b"GET /authorize?" + b"x=1&" * 15_000 + b" HTTP/1.1\r\nHost: H\r\n\r\n",
     {400: None, 414: W, 431: W}),
    ("absolute-form URI", b"GET http://evil.example/mcp HTTP/1.1\r\nHost: H\r\n\r\n", {500: W, 400: W, 403: None}),
    ("HTTP/1.0, no Host", b"GET / HTTP/1.0\r\n\r\n", {400: W, 200: None}),
    ("HTTP/9.9", b"GET / HTTP/9.9\r\nHost: H\r\n\r\n", {200: None, 400: W, 505: W}),
    ("not HTTP at all (a TLS hello)", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) + b"\r\n\r\n",
     {501: W, 400: W, None: W}),
    ("bare-LF request", b"GET / HTTP/1.1\nHost: H\n\n", {200: None, 400: W, 403: None}),
    ("NUL in the path", b"GET /mc\x00p HTTP/1.1\r\nHost: H\r\n\r\n", {400: W, 404: None}),
    ("Content-Length and chunked", b"POST /mcp HTTP/1.1\r\nHost: H\r\ncontent-type: application/json\r\n"
     b"accept: application/json, text/event-stream\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
     {400: None}),
    ("two Content-Lengths", b"POST /mcp HTTP/1.1\r\nHost: H\r\ncontent-type: application/json\r\n"
     b"content-length: 2\r\ncontent-length: 40\r\n\r\n{}", {500: W, 400: W}),
    ("negative Content-Length", b"POST /mcp HTTP/1.1\r\nHost: H\r\ncontent-length: -5\r\n\r\n", {500: W, 400: W}),
    ("bad chunk size", b"POST /mcp HTTP/1.1\r\nHost: H\r\ncontent-type: application/json\r\n"
     b"accept: application/json, text/event-stream\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
     {400: None, 503: "wrangler dev"}),
]


def run_cases(w, rows, cases, label):
    """Sends each raw request; its answer must be one of those allowed, within 10 s, and the worker must still
    serve tools/list afterwards."""
    bad = []
    for name, payload, allowed in cases:
        payload = payload.replace(b"Host: H\r\n", f"Host: 127.0.0.1:{w.port}\r\n".encode())
        t0 = time.perf_counter()
        status, data = raw(w.port, payload, timeout=15)
        took = time.perf_counter() - t0
        who = allowed.get(status)
        answer = ("connection closed" if status is None else str(status)) + (f" ({who})" if who else "")
        rows.append((f"{label}: {name}", f"{len(payload):,} bytes", f"{answer} in {took:.2f} s", still_serving(w)))
        if status not in allowed or took > 10:
            bad.append((name, status, data[:300], f"{took:.2f} s"))
    assert not bad, bad


def test_garbage_methods_paths_and_framing(w, rows):
    run_cases(w, rows, GARBAGE, "garbage")


# Once served as GET (worker::Method maps unknown methods to GET); to_http now takes the method as sent.
def test_an_unknown_method_is_not_served_as_get(w, rows):
    cases = [("PROPFIND", "/.well-known/oauth-authorization-server"), ("LOCK", "/"), ("SEARCH", "/status")]
    got = []
    for method, path in cases:
        status, _ = raw(w.port, f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{w.port}\r\n\r\n".encode())
        got.append((method, path, status))
        rows.append((f"unknown method {method}", path, status, still_serving(w)))
    assert all(st in (404, 405, 501) for _, _, st in got), got


HUGE = [
    ("one 64 KiB header", "x-big: " + "a" * 65536 + "\r\n", {200: None, 431: W}),
    ("one 1 MiB header", "x-big: " + "a" * (1 << 20) + "\r\n", {431: W, None: W}),
    ("2,000 headers", "".join(f"x-h{i}: {'v' * 50}\r\n" for i in range(2000)), {200: None, 431: W}),
    ("100 KiB bearer token", "authorization: Bearer " + "A" * 100_000 + "\r\n", {401: None, 431: W}),
    ("100 KiB cookie", "cookie: " + "; ".join(f"c{i}={'z' * 90}" for i in range(1000)) + "\r\n", {200: None, 431: W}),
    ("100 KiB mcp-session-id", "mcp-session-id: " + "s" * 100_000 + "\r\n", {200: None, 400: None, 404: None,
                                                                                431: W}),
    ("100 KiB mcp-protocol-version", "mcp-protocol-version: " + "9" * 100_000 + "\r\n", {400: None, 431: W}),
]


def test_huge_headers(w, rows):
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
    cases = [(name, mcp_head(0, h + f"content-length: {len(body)}\r\n\r\n").replace(b"127.0.0.1:0", b"H") + body,
              allowed) for name, h, allowed in HUGE]
    run_cases(w, rows, cases, "huge headers")


def test_registration_flood_is_rate_limited(w, rows):
    n = 2000
    body = json.dumps({"redirect_uris": ["http://127.0.0.1:33418/callback"],
                       "token_endpoint_auth_method": "none"}).encode()

    def one(_):
        st, h, _ = post_json(w.base, body, {"content-type": "application/json"}, path="/register", timeout=30)
        return st, {k.lower(): v for k, v in h.items()}.get("retry-after")

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(n)))
    took = time.perf_counter() - t0
    counts = {}
    for st, _ in results:
        counts[st] = counts.get(st, 0) + 1
    retry = sorted({ra for st, ra in results if st == 429})
    # Everything else keeps answering.
    with urllib.request.urlopen(w.base + "/.well-known/oauth-authorization-server", timeout=10) as r:
        meta_status = r.status
    rows.append((f"{n:,} POST /register from one address", f"16 at a time, {took:.1f} s",
                 f"{counts}; Retry-After {retry[:3]}; metadata {meta_status}", still_serving(w)))
    assert not any(st >= 500 for st in counts), counts
    assert set(counts) <= {201, 429}, counts
    assert meta_status == 200
    if 429 not in counts:
        pytest.xfail("registration rate limit not implemented")
    assert all(ra and ra.isdigit() and int(ra) > 0 for st, ra in results if st == 429), retry
