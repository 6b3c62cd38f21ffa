"""OAuth clients for the sign-in tests: PKCE, a hand-driven client (`Raw`) that sends what a well-behaved SDK never
would, the Python MCP SDK's own OAuth client (`oauth`), workers signing in through an identity provider stand-in
(`provider_worker`) with a scripted browser playing the user (`session_as`, `connect_as`, `sign_in_page`), and
/status's own sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import threading
import urllib.parse
from contextlib import asynccontextmanager

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

#: The redirect URI every test client registers (nothing listens there: the browser stops before loading it).
REDIRECT = "http://127.0.0.1:33418/callback"


def pkce(size: int = 48) -> tuple[str, str]:
    """(verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(size)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class Raw:
    """A hand-driven OAuth client, to send what a well-behaved SDK never would."""

    def __init__(self, base: str):
        self.base = base
        self.http = httpx2.Client(follow_redirects=False, timeout=30)

    def register(self, redirect_uris=(REDIRECT,), **extra):
        return self.http.post(self.base + "/register", json={"redirect_uris": list(redirect_uris),
                                                            "token_endpoint_auth_method": "none", **extra})

    def client(self) -> str:
        r = self.register()
        assert r.status_code == 201, r.text
        return r.json()["client_id"]

    def authorize(self, client_id, challenge, method="S256", redirect_uri=REDIRECT, resource="/mcp", state="s1"):
        q = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state,
             "code_challenge": challenge, "code_challenge_method": method}
        if resource:
            q["resource"] = self.base + resource
        return self.http.get(self.base + "/authorize?" + urllib.parse.urlencode(q))

    def code(self, client_id, challenge, **kw) -> str:
        r = self.authorize(client_id, challenge, **kw)
        assert r.status_code == 302, r.text
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["location"]).query))
        assert q["iss"] == self.base and q["state"] == "s1"
        return q["code"]

    def token(self, **form):
        return self.http.post(self.base + "/token", data=form)

    def redeem(self, client_id, code, verifier, resource="/mcp"):
        return self.token(grant_type="authorization_code", code=code, client_id=client_id, redirect_uri=REDIRECT,
                          code_verifier=verifier, resource=self.base + resource)

    def tokens(self, resource="/mcp"):
        client_id = self.client()
        verifier, challenge = pkce()
        r = self.redeem(client_id, self.code(client_id, challenge, resource=resource), verifier, resource)
        assert r.status_code == 200, r.text
        return client_id, r.json()

    def mcp(self, access, path="/mcp"):
        return self.http.post(self.base + path, headers={"authorization": f"Bearer {access}",
                                                          "accept": "application/json, text/event-stream"},
                              json={"jsonrpc": "2.0", "id": 1, "method": "ping"})


# -- Client ID Metadata Documents ----------------------------------------------------------------------------------


def send_json(handler: http.server.BaseHTTPRequestHandler, body: bytes, status: int = 200):
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class Documents:
    """Client ID Metadata Documents served on loopback: path -> document (the worker, itself on loopback, may fetch
    them over http). `hits` lists the paths asked for, in order."""

    def __init__(self, docs: dict):
        documents = self.docs = docs
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                doc = documents.get(self.path)
                send_json(self, json.dumps(doc).encode() if doc is not None else b"{}", 200 if doc is not None else 404)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()


# -- the Python SDK's OAuth client -----------------------------------------------------------------------------------


class MemoryStorage:
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, info):
        self.client = info


def oauth(base: str, authorize_in_browser, storage=None, **kw) -> OAuthClientProvider:
    """The SDK's OAuth client; `authorize_in_browser(url) -> dict` plays the user's browser and returns the query
    the authorization server redirected to the client with."""
    landed = {}

    async def redirect_handler(url: str):
        landed.update(await anyio.to_thread.run_sync(authorize_in_browser, url))

    async def callback_handler():
        assert "code" in landed, f"no code: {landed}"
        return AuthorizationCodeResult(code=landed["code"], state=landed.get("state"), iss=landed.get("iss"))

    metadata = OAuthClientMetadata(client_name="Skillport e2e", redirect_uris=[REDIRECT],
                                   grant_types=["authorization_code", "refresh_token"], response_types=["code"],
                                   token_endpoint_auth_method="none")
    return OAuthClientProvider(base + "/mcp", metadata, storage or MemoryStorage(), redirect_handler,
                               callback_handler, **kw)


def follow_until_client(url: str, client_prefix: str = REDIRECT, jar=None) -> dict:
    """A browser that stops at the client's redirect URI: the local provider signs in and approves by itself."""
    with httpx2.Client(follow_redirects=False, cookies=jar) as http:
        for _ in range(10):
            r = http.get(url)
            assert r.status_code in (302, 303), f"{r.status_code} at {url}: {r.text[:500]}"
            url = r.headers["location"]
            if url.startswith(client_prefix):
                return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    raise AssertionError("too many redirects")


# -- signing in through an identity provider stand-in ----------------------------------------------------------------

#: The worker's master key and the identity provider's client secret (support.idps' default), as worker vars.
OAUTH_KEY = {"OAUTH_KEY": "e2e-master-key-0123456789abcdef0123456789", "IDP_SECRET": "skillport-test-secret"}
#: A generic OpenID provider reading groups from `groups`: (idp.mjs profile, `auth` table).
GENERIC = ("generic", {"provider": "oidc", "groups_claim": "groups"})


def provider_worker(start_worker, auth: dict, name: str, port: int, vars: dict | None = None):
    """A signed worker on `port` (the identity provider's registered callback) whose `auth` table is `auth`, with
    the client secret and master key read from OAUTH_KEY's vars, plus `vars`."""
    table = ", ".join(f"{k} = {json.dumps(v)}" for k, v in
                      {**auth, "client_secret_secret": "IDP_SECRET", "master_key_secret": "OAUTH_KEY"}.items())
    return start_worker({"SKILLPORT_AUTH": "{" + table + "}", **OAUTH_KEY, **(vars or {})}, name=name, open=False,
                        port=port)


@asynccontextmanager
async def session_as(worker, browser, username: str | None, password: str | None, decision="approve",
                     outcome: dict | None = None):
    """An MCP client session (the SDK's, legacy mode) whose OAuth flow has `browser` sign in as `username` and
    answer Skillport's consent with `decision`; the browser's last result lands in `outcome["result"]`."""

    def sign_in(url):
        result = browser.authorize(url, username, password, REDIRECT, decision=decision)
        if outcome is not None:
            outcome["result"] = result
        assert result.query, f"stopped at {result.status} {result.url}: {result.hops}\n{(result.page or '')[:2000]}"
        return result.query

    async with httpx2.AsyncClient(auth=oauth(worker.base, sign_in), timeout=30) as http:
        async with Client(streamable_http_client(worker.base + "/mcp", http_client=http), mode="legacy") as client:
            yield client


async def connect_as(worker, browser, username: str | None, password: str | None, decision="approve"):
    """Runs the SDK's whole OAuth flow with `browser` signing in as `username`; returns list_plugins' result and the
    browser's result."""
    outcome = {}
    async with session_as(worker, browser, username, password, decision, outcome) as client:
        listed = await client.call_tool("list_plugins", {"surface": "all"})
        return listed.structured_content, outcome["result"]


def sign_in_page(worker, browser, username: str, password: str):
    """A sign-in that is expected to stop on one of Skillport's pages: the browser's result (status, page...)."""
    raw = Raw(worker.base)
    client_id = raw.client()
    _, challenge = pkce()
    url = worker.base + "/authorize?" + httpx2.QueryParams({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "s1",
        "code_challenge": challenge, "code_challenge_method": "S256"}).__str__()
    return browser.authorize(url, username, password, REDIRECT)


# -- /status's sign-in -------------------------------------------------------------------------------------------


def status_sign_in(base: str) -> httpx2.Response:
    """Runs /status's own sign-in (the local provider signs in at once, the status client needs no consent) and
    returns the callback's answer. Cookies are carried by hand: they are `__Host-`/Secure, which an HTTP client keeps
    to https while browsers also send them to loopback."""
    start = httpx2.get(base + "/status", follow_redirects=False)
    assert start.status_code == 302, start.text
    pkce_cookies = "; ".join(c.split(";")[0] for c in start.headers.get_list("set-cookie"))
    authorize = httpx2.get(start.headers["location"].replace("http://localhost:8787", base), follow_redirects=False)
    assert authorize.status_code == 302, authorize.text
    callback = authorize.headers["location"]
    assert "/status/callback?code=" in callback, callback
    return httpx2.get(callback, follow_redirects=False, headers={"cookie": pkce_cookies})


def session_cookie(r: httpx2.Response) -> str:
    return "; ".join(c.split(";")[0] for c in r.headers.get_list("set-cookie") if "skillport_status=" in c)
