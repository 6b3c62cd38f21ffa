"""Outbound fetches and new clients under attack, in workerd: what an unauthenticated `/authorize?client_id=<url>`
can make the worker fetch, hold and store.

A local server plays the hostile host of a Client ID Metadata Document: a 48 MiB document (with and without a
declared length), one that sends 6 KB and then trickles, one that stays under the 5 KB cap but trickles past the
fetch's deadline, and one that redirects. The worker must refuse each quickly, follow no redirect, and its wasm
memory (the isolate's own memory lines, `isolate: ... wasm memory N KiB`) must not jump: the body is read chunk by
chunk and reading stops one chunk past the cap. Then the limits on new clients: registrations and document fetches
share one hourly budget per IPv4 address or IPv6 /64 (given as CF-Connecting-IP, which wrangler dev passes through)
and one for everyone, and the number of clients stored is capped with a clear refusal.
"""

import http.server
import json
import re
import threading
import time
import urllib.parse

import httpx2
import pytest

from support.oauth import REDIRECT, pkce, send_json

BIG = 48 * 1024 * 1024
MEMORY_LINE = re.compile(r"isolate: (\d+) request\(s\) handled; wasm memory (\d+) KiB")


class Hostile(http.server.BaseHTTPRequestHandler):
    """Serves the documents; records each path asked for."""

    protocol_version = "HTTP/1.1"
    hits: list[str] = []
    stopped_early: list[str] = []

    def document(self):
        url = f"http://127.0.0.1:{self.server.server_port}{self.path}"
        return json.dumps({"client_id": url, "client_name": "Doc", "redirect_uris": [REDIRECT],
                           "token_endpoint_auth_method": "none"}).encode()

    def stream(self, first: bytes, then: bytes, times: int, pause: float):
        try:
            self.wfile.write(first)
            for _ in range(times):
                self.wfile.write(then)
                self.wfile.flush()
                if pause:
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            self.stopped_early.append(self.path)
        self.close_connection = True

    def do_GET(self):
        self.hits.append(self.path)
        path = self.path.split("?")[0]
        if path == "/huge.json":  # 48 MiB, no declared length
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("connection", "close")
            self.end_headers()
            self.stream(b'{"client_name": "', b"x" * (1024 * 1024), BIG // (1024 * 1024), 0)
        elif path == "/declared.json":  # 48 MiB, declared
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(BIG))
            self.end_headers()
            self.stream(b'{"client_name": "', b"x" * (1024 * 1024), BIG // (1024 * 1024), 0)
        elif path == "/trickle.json":  # 6 KB, then a byte a second for ten minutes
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("connection", "close")
            self.end_headers()
            self.stream(b'{"client_name": "' + b"x" * 6144, b"x", 600, 1.0)
        elif path == "/slow.json":  # under the cap, but a byte every half second for ten minutes
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("connection", "close")
            self.end_headers()
            self.stream(b'{"client_name": "', b"x", 1200, 0.5)
        elif path == "/redirect.json":
            self.send_response(302)
            self.send_header("location", f"http://127.0.0.1:{self.server.server_port}/ok.json")
            self.send_header("content-length", "0")
            self.end_headers()
        else:
            send_json(self, self.document())

    def log_message(self, *a):
        pass


@pytest.fixture
def hostile():
    Hostile.hits = []
    Hostile.stopped_early = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def authorize(base: str, client_id: str, timeout: float = 30, ip: str | None = None) -> httpx2.Response:
    _, challenge = pkce()
    q = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "code_challenge": challenge,
         "code_challenge_method": "S256", "state": "s"}
    headers = {"cf-connecting-ip": ip} if ip else {}
    return httpx2.get(base + "/authorize?" + urllib.parse.urlencode(q), timeout=timeout, follow_redirects=False,
                      headers=headers)


def register(base: str, ip: str | None = None) -> httpx2.Response:
    # Cloudflare's edge sets CF-Connecting-IP; wrangler dev passes the test's own through.
    headers = {"cf-connecting-ip": ip} if ip else {}
    return httpx2.post(base + "/register", json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"},
                       headers=headers, timeout=30)


def memory_lines(worker) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in MEMORY_LINE.findall(worker.logs())]


def test_hostile_documents_are_refused_quickly_without_growing_memory(start_worker, hostile):
    w = start_worker(name="outbound", open=False)
    assert httpx2.get(w.base + "/", timeout=10).status_code == 200
    w.wait_for_log("request(s) handled; wasm memory")
    before = memory_lines(w)
    assert before, w.logs()

    timings = {}
    for name, budget in [("huge", 10), ("declared", 10), ("trickle", 10), ("slow", 12)]:
        t0 = time.monotonic()
        r = authorize(w.base, f"{hostile}/{name}.json")
        timings[name] = time.monotonic() - t0
        assert r.status_code == 400, (name, r.status_code, r.text[:300])
        assert "location" not in r.headers
        assert "metadata document cannot be used" in r.text, r.text[:500]
        assert timings[name] < budget, timings
    # The two over the cap stop at once; the one under it that trickles is cut off by the fetch's 5 s deadline.
    assert timings["huge"] < 5 and timings["declared"] < 5 and timings["trickle"] < 5, timings
    assert 4 < timings["slow"], timings
    # The worker hung up on each rather than reading on (the server saw its writes fail).
    deadline = time.time() + 15
    while time.time() < deadline and not {"/huge.json", "/trickle.json"} <= set(Hostile.stopped_early):
        time.sleep(0.5)
    assert {"/huge.json", "/trickle.json"} <= set(Hostile.stopped_early), Hostile.stopped_early

    # A redirect is a refusal: the target is never asked for.
    r = authorize(w.base, f"{hostile}/redirect.json")
    assert r.status_code == 400 and "redirect (HTTP 302)" in r.text, r.text[:500]
    assert "/ok.json" not in Hostile.hits, Hostile.hits

    # A good document still works.
    r = authorize(w.base, f"{hostile}/ok.json")
    assert r.status_code in (200, 302), r.text[:500]

    # The isolate's memory line, 30 s after the first (one a request at most every 30 s).
    time.sleep(31)
    assert httpx2.get(w.base + "/", timeout=10).status_code == 200
    deadline = time.time() + 15
    while time.time() < deadline and len(memory_lines(w)) < len(before) + 1:
        time.sleep(0.5)
    after = memory_lines(w)
    assert len(after) > len(before), w.logs()
    grew_kib = after[-1][1] - before[0][1]
    print(f"fetch timings {timings}; wasm memory {before[0][1]} KiB -> {after[-1][1]} KiB")
    # A 48 MiB document read whole would add 48 MiB; a chunk past the 5 KB cap adds at most one chunk.
    assert grew_kib < 4 * 1024, (before, after)


def test_new_clients_of_both_kinds_share_one_budget_per_address(start_worker, hostile):
    w = start_worker({"SKILLPORT_AUTH__NEW_CLIENTS_PER_ADDRESS_PER_HOUR": "3"}, name="client-rate", open=False)
    assert register(w.base).status_code == 201
    assert register(w.base).status_code == 201
    assert authorize(w.base, f"{hostile}/a.json").status_code in (200, 302)
    # The fourth new client of this hour, of either kind, is refused; a document is not even fetched.
    r = register(w.base)
    assert r.status_code == 429 and int(r.headers["retry-after"]) <= 3600, r.text
    assert r.json()["error"] == "too_many_requests"
    r = authorize(w.base, f"{hostile}/b.json")
    assert r.status_code == 429 and "retry-after" in r.headers, r.text[:300]
    assert "/b.json" not in Hostile.hits
    # A client already known is not new: its cached document serves without a fetch.
    assert authorize(w.base, f"{hostile}/a.json").status_code in (200, 302)
    assert Hostile.hits.count("/a.json") == 1


def test_rotating_ipv6_addresses_within_a_64_does_not_escape_and_everyone_shares_a_ceiling(start_worker, hostile):
    w = start_worker({"SKILLPORT_AUTH__NEW_CLIENTS_PER_ADDRESS_PER_HOUR": "2",
                      "SKILLPORT_AUTH__NEW_CLIENTS_PER_HOUR": "4"}, name="client-64", open=False)
    assert register(w.base, "2001:db8:1:2::1").status_code == 201
    assert authorize(w.base, f"{hostile}/a.json", ip="2001:db8:1:2::2").status_code in (200, 302)
    # Any other address of the same /64 draws from the same budget, for either kind.
    assert register(w.base, "2001:db8:1:2:ffff::9").status_code == 429
    assert authorize(w.base, f"{hostile}/b.json", ip="2001:db8:1:2:abcd::1").status_code == 429
    assert "/b.json" not in Hostile.hits
    # Another /64 and another IPv4 address have their own, until everyone's hourly ceiling (4) is reached.
    assert register(w.base, "2001:db8:1:3::1").status_code == 201
    assert register(w.base, "203.0.113.5").status_code == 201
    r = register(w.base, "198.51.100.7")
    assert r.status_code == 429 and "too many new clients this hour" in r.json()["error_description"], r.text


def test_the_number_of_clients_is_capped_with_a_clear_refusal(start_worker, hostile):
    w = start_worker({"SKILLPORT_AUTH__MAX_CLIENTS": "2"}, name="client-cap", open=False)
    assert register(w.base).status_code == 201
    assert authorize(w.base, f"{hostile}/a.json").status_code in (200, 302)
    r = register(w.base)
    assert r.status_code == 503 and r.json()["error"] == "temporarily_unavailable", r.text
    assert "as many clients" in r.json()["error_description"] and "retry-after" in r.headers
    r = authorize(w.base, f"{hostile}/b.json")
    assert r.status_code == 503 and "as many clients" in r.text, r.text[:300]
    # Known clients go on working.
    assert authorize(w.base, f"{hostile}/a.json").status_code in (200, 302)


def test_unused_clients_are_swept_and_free_their_place(start_worker):
    """A registered client that no grant uses is deleted by the grant store's alarm once `auth.unused_client_seconds`
    have passed, and the cap on clients counts it no more."""
    w = start_worker({"SKILLPORT_AUTH__MAX_CLIENTS": "1", "SKILLPORT_AUTH__UNUSED_CLIENT_SECONDS": "3",
                      "SKILLPORT_AUTH__SWEEP_SECONDS": "1"}, name="client-sweep", open=False)
    first = register(w.base)
    assert first.status_code == 201, first.text
    assert register(w.base).status_code == 503
    deadline = time.time() + 30
    while True:
        r = register(w.base)
        if r.status_code == 201 or time.time() > deadline:
            break
        assert r.status_code == 503, r.text
        time.sleep(0.5)
    assert r.status_code == 201, "the unused client was never swept"
    # The swept client is unknown now; the new one works.
    gone = authorize(w.base, first.json()["client_id"])
    assert gone.status_code == 400 and "location" not in gone.headers, gone.text[:300]
    assert authorize(w.base, r.json()["client_id"]).status_code in (200, 302)
