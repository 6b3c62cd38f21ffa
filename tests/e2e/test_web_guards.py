"""What the worker's front door refuses, end to end in workerd: CORS only on the endpoints browser-based clients call
(never on a page), the `local` provider's loopback rule on every route, and one answer for every refused download
link, whatever it names (existing, changed, hidden or never there)."""

import base64
import hashlib
import hmac
import struct
import time
import urllib.parse

import httpx2
import pytest

FOREIGN = "https://app.example"

#: Pages: top-level navigation only, so no cross-origin script may read them.
PAGES = [
    ("GET", "/"),
    ("GET", "/authorize?response_type=code&client_id=nope&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb"),
    ("GET", "/callback?code=x&state=y"),
    ("POST", "/consent"),
    ("GET", "/status"),
    ("GET", "/status/callback?code=x&state=y"),
    ("GET", "/download/garbage"),
]

#: What browser-based MCP clients call cross-origin: discovery, registration, token, revocation.
PUBLIC_ENDPOINTS = [
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/.well-known/oauth-protected-resource"),
    ("GET", "/.well-known/oauth-protected-resource/mcp"),
    ("GET", "/.well-known/oauth-protected-resource/sse"),
    ("POST", "/register"),
    ("POST", "/token"),
    ("POST", "/revoke"),
]


def send(w, method, path, headers=None, **kw):
    return httpx2.request(method, w.base + path, headers=headers or {}, follow_redirects=False, timeout=15, **kw)


def preflight(w, path, origin, method="POST"):
    return send(w, "OPTIONS", path.split("?")[0], {
        "origin": origin, "access-control-request-method": method,
        "access-control-request-headers": "content-type, authorization",
    })


@pytest.mark.parametrize("method,path", PAGES)
def test_pages_never_answer_cross_origin(worker, method, path):
    for origin in (FOREIGN, worker.base, "null"):
        r = preflight(worker, path, origin, method)
        assert "access-control-allow-origin" not in r.headers, (path, origin, dict(r.headers))
        r = send(worker, method, path, {"origin": origin})
        assert r.status_code < 500, (path, r.status_code, r.text)
        assert not [h for h in r.headers if h.startswith("access-control-")], (path, origin, dict(r.headers))


@pytest.mark.parametrize("method,path", PUBLIC_ENDPOINTS)
def test_endpoints_for_browser_clients_allow_any_origin(worker, method, path):
    r = preflight(worker, path, FOREIGN, method)
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == FOREIGN and "Origin" in r.headers["vary"]
    assert "POST" in r.headers["access-control-allow-methods"]
    r = send(worker, method, path, {"origin": FOREIGN})
    # One Access-Control-Allow-Origin (two make browsers refuse both): `*` on a discovery document, else the origin.
    allowed = r.headers.get_list("access-control-allow-origin")
    assert allowed == ["*" if path.startswith("/.well-known/") else FOREIGN], (path, dict(r.headers))


@pytest.mark.parametrize("path", ["/mcp", "/sse", "/sse/message"])
def test_mcp_transports_answer_allowed_origins_only(worker, path):
    ours = preflight(worker, path, worker.base)
    assert ours.status_code == 204 and ours.headers["access-control-allow-origin"] == worker.base
    assert "Mcp-Session-Id" in ours.headers["access-control-expose-headers"]
    theirs = preflight(worker, path, FOREIGN)
    assert theirs.status_code == 403 and "access-control-allow-origin" not in theirs.headers


#: Every kind of route, each as a request the worker would otherwise answer.
ROUTES = [
    ("GET", "/"),
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/.well-known/oauth-protected-resource/mcp"),
    ("OPTIONS", "/mcp"),
    ("POST", "/mcp"),
    ("POST", "/sse/message?sessionId=x"),
    ("POST", "/register"),
    ("POST", "/token"),
    ("POST", "/revoke"),
    ("GET", "/authorize?response_type=code&client_id=x"),
    ("GET", "/callback?code=x&state=y"),
    ("POST", "/consent"),
    ("GET", "/status"),
    ("GET", "/status/callback?code=x&state=y"),
    ("GET", "/download/garbage"),
    ("GET", "/nope"),
]


def test_local_answers_loopback_hosts_only_on_every_route(worker):
    link = sign("brand-kit@example", "brand-voice", "sha256:00", int(time.time()) + 600)
    refusals = set()
    for method, path in ROUTES + [("GET", "/download/" + link)]:
        for host in ("skillport.example.com", "localhost.evil.example", "127.0.0.1.nip.io:8787", "[::2]"):
            r = send(worker, method, path, {"host": host, "origin": f"http://{host}"})
            assert r.status_code == 403, (method, path, host, r.status_code, r.text)
            assert not [h for h in r.headers if h.startswith("access-control-")], (path, dict(r.headers))
            refusals.add(r.text)
        # The same request on a loopback name gets its own answer, not the refusal.
        r = send(worker, method, path, {"host": f"localhost:{worker.port}"})
        assert r.text not in refusals, (method, path, r.status_code, r.text)
    assert len(refusals) == 1, refusals


# The local provider signs links with a development key anyone can derive (it only ever serves loopback), so a test
# can sign a link to anything, as a prober could.
DEV_KEY = hashlib.sha256(b"skillport: local development download key (loopback only)").digest()


def sign(plugin: str, skill: str, digest: str, expires: int) -> str:
    payload = b"".join(struct.pack(">H", len(f.encode())) + f.encode() for f in (plugin, skill, digest))
    payload += struct.pack(">Q", expires)
    tag = hmac.new(DEV_KEY, b"skillport download v1\0" + payload, hashlib.sha256).digest()
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    return f"{b64(payload)}.{b64(tag)}"


def test_every_refused_download_link_gets_one_answer(start_worker):
    """brand-kit is hidden from everyone by an access rule; repo-tools is visible. Links naming a hidden skill, a
    visible one at an old digest, one that never existed, an expired one and garbage all get the same answer; a link
    fetch_skill issued for a visible skill is served."""
    w = start_worker({"SKILLPORT_ACCESS__RULES": '[{effect="deny",plugin="brand-kit"}]'}, name="download-answers")
    soon, past = int(time.time()) + 600, int(time.time()) - 5
    good = sign("brand-kit@example", "brand-voice", "sha256:00", soon)
    links = {
        "hidden skill, wrong digest": good,
        "visible skill, old digest": sign("repo-tools@example", "repo-map", "sha256:00", soon),
        "no such skill": sign("repo-tools@example", "nope", "sha256:00", soon),
        "no such plugin": sign("never@example", "nope", "sha256:00", soon),
        "no such marketplace": sign("repo-tools@elsewhere", "repo-map", "sha256:00", soon),
        "expired": sign("repo-tools@example", "repo-map", "sha256:00", past),
        "tampered": good[:-1] + ("A" if good[-1] != "A" else "B"),
        "another key": good.split(".")[0] + "." + base64.urlsafe_b64encode(b"k" * 32).rstrip(b"=").decode(),
        "garbage": "garbage",
        "empty": "",
    }
    answers = {}
    for what, token in links.items():
        r = send(w, "GET", "/download/" + urllib.parse.quote(token))
        answers[what] = (r.status_code, r.headers.get("content-type"), r.text)
    first = answers["hidden skill, wrong digest"]
    assert first[0] == 403 and "not valid" in first[2], first
    assert all(a == first for a in answers.values()), answers

    # A link the connector issued itself, for a skill the caller sees, is served.
    init = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "fetch_skill", "arguments": {"name": "repo-tools@example/repo-map"}}}
    r = send(w, "POST", "/mcp", {"content-type": "application/json", "accept": "application/json, text/event-stream",
                                 "mcp-protocol-version": "2025-06-18"}, json=init)
    assert r.status_code == 200, r.text
    url = r.json()["result"]["structuredContent"]["download"]["url"]
    served = send(w, "GET", urllib.parse.urlsplit(url).path)
    assert served.status_code == 200 and served.headers["content-type"] == "application/zip"
