"""Attacks on the OAuth endpoints, the bearer check, the MCP transport and its JSON-RPC layer, skill:// and /download,
and the SSE transport: each case is one request (or a short sequence) an attacker would send, and asserts the
specific clean refusal (HTTP status and the protocol's error: the OAuth error code, the JSON-RPC error code, an error
page that redirects nowhere), then that the worker is still healthy (a signed tools/list answers from the same workerd
process).

One signed worker (the embedded default, `local` provider, `auth.open` off), so that the bearer check is part of every
MCP case. Its registration budget (300 an hour from one address) covers every registration here.

Every case asserts the fixed behaviour of the findings of the security review (open redirect through authorization
errors, CORS on pages, `/status` for admins alone, `local` on every route, metadata documents without redirects).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import secrets
import socket
import time
import urllib.parse
from dataclasses import dataclass

import pytest

from harness import OUTCOMES, HardWorker
from support.oauth import REDIRECT, Raw, pkce

MAX_BODY = 1_048_576
MCP = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
EVIL_REDIRECT = "https://evil.example/phish"


# -- the worker and what the cases start from ----------------------------------------------------------------------


@dataclass
class Ctx:
    w: HardWorker
    raw: Raw
    client: str             # a public client, redirect URI REDIRECT
    access: str             # its access token for /mcp (never revoked: the health check's)
    sse_access: str         # an access token for /sse
    conf_id: str            # a confidential client (client_secret_basic)
    conf_secret: str
    evil_client: str        # a client registered with EVIL_REDIRECT
    download: str           # a download link from fetch_skill
    runtime: int

    @property
    def base(self) -> str:
        return self.w.base

    def http(self, method: str, target: str, headers: dict | None = None, body: bytes | None = None,
             timeout: float = 15):
        """(status, lower-cased headers, body) of one request sent as written (target not re-encoded)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.w.port, timeout=timeout)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            h = {"host": f"127.0.0.1:{self.w.port}", **(headers or {})}
            if body is not None:
                h.setdefault("content-length", str(len(body)))
            for k, v in h.items():
                conn.putheader(k, v)
            conn.endheaders()
            if body:
                conn.send(body)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def mcp(self, body, token: str | None = "", headers: dict | None = None, path: str = "/mcp"):
        token = self.access if token == "" else token
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {**MCP, **({"authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return self.http("POST", path, h, data)

    def form(self, path: str, form: dict | str | bytes, headers: dict | None = None):
        data = form if isinstance(form, bytes) else (form.encode() if isinstance(form, str)
                                                     else urllib.parse.urlencode(form).encode())
        h = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.http("POST", path, h, data)

    def fresh_tokens(self, resource: str = "/mcp") -> dict:
        verifier, challenge = pkce()
        r = self.raw.redeem(self.client, self.raw.code(self.client, challenge, resource=resource), verifier, resource)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def ctx(report):
    # An admin other than the development user, so that `local`'s user is refused /status like any non-admin.
    w = HardWorker({"SKILLPORT_ACCESS__ADMINS__EMAILS": '["ops@example.com"]'}, name="attacks", open=False)
    raw = Raw(w.base)
    client = raw.client()
    verifier, challenge = pkce()
    tokens = raw.redeem(client, raw.code(client, challenge), verifier).json()
    verifier, challenge = pkce()
    sse = raw.redeem(client, raw.code(client, challenge, resource="/sse"), verifier, "/sse").json()
    r = raw.register(token_endpoint_auth_method="client_secret_basic")
    assert r.status_code == 201, r.text
    conf = r.json()
    r = raw.register(redirect_uris=[EVIL_REDIRECT])
    assert r.status_code == 201, r.text
    c = Ctx(w, raw, client, tokens["access_token"], sse["access_token"], conf["client_id"], conf["client_secret"],
            r.json()["client_id"], "", w.workerds()[0])
    status, _, body = c.mcp({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "fetch_skill", "arguments": {"name": "brand-kit@example/brand-voice"}}})
    assert status == 200, body
    c.download = urllib.parse.urlsplit(json.loads(body)["result"]["structuredContent"]["download"]["url"]).path
    yield c
    w.stop()
    done = OUTCOMES.get("test_attacks.py", [])
    counts = {k: sum(1 for _, o in done if o == k) for k in ("passed", "xfailed", "failed", "xpassed", "skipped")}
    groups: dict[str, int] = {}
    for name, _ in done:
        groups[name.split("[", 1)[0]] = groups.get(name.split("[", 1)[0], 0) + 1
    report.add("Attack cases (test_attacks.py)", [
        f"{len(done)} cases against one signed worker, each asserting the specific refusal and then a healthy worker "
        f"(a signed tools/list from the same workerd process): {counts['passed']} refused cleanly, "
        f"{counts['xfailed']} strict xfails (Host values workerd answers before the worker runs), {counts['failed']} failed, "
        f"{counts['xpassed']} xpassed.", "",
        "| test | cases |", "| --- | --- |", *[f"| `{g}` | {n} |" for g, n in groups.items()], "",
        "Strict xfails: " + (", ".join(f"`{n}`" for n, o in done if o == "xfailed") or "none") + ".",
    ])


def healthy(c: Ctx):
    """The worker still answers a signed tools/list, from the same workerd process (a crash would show as a new one)."""
    runtime, _ = c.w.workerds()
    assert runtime == c.runtime, f"the worker's workerd was replaced ({c.runtime} -> {runtime})"
    status, _, body = c.mcp(LIST)
    assert status == 200, (status, body[:300])
    assert "list_plugins" in {t["name"] for t in json.loads(body)["result"]["tools"]}


def oauth_error(status_body, status: int, error: str):
    got, headers, body = status_body
    assert got == status, (got, body[:400])
    assert headers.get("content-type", "").startswith("application/json"), headers
    doc = json.loads(body)
    assert doc.get("error") == error, doc
    assert headers.get("cache-control") == "no-store", headers
    if status == 401:
        assert headers.get("www-authenticate", "").lower().startswith("basic"), headers
    return doc


def rpc_error(status_body, status: int, code: int, rid=None):
    got, headers, body = status_body
    assert got == status, (got, body[:400])
    doc = json.loads(body)
    assert doc.get("jsonrpc") == "2.0" and "result" not in doc, doc
    assert doc["error"]["code"] == code, doc
    assert doc.get("id") == rid, doc
    return doc


def tool_error(status_body, rid=1):
    """A tools/call refused as a tool result (isError) or as a JSON-RPC invalid-params error: never a result."""
    got, _, body = status_body
    assert got == 200, (got, body[:400])
    doc = json.loads(body)
    assert doc.get("id") == rid, doc
    if "error" in doc:
        assert doc["error"]["code"] in (-32602, -32601), doc
    else:
        assert doc["result"].get("isError") is True, doc
    return doc


def page_error(status_body, status: int = 400, mention: str | None = None):
    """An error page shown to the user: no redirect anywhere."""
    got, headers, body = status_body
    assert got == status, (got, headers.get("location"), body[:400])
    assert "location" not in headers, headers
    assert headers.get("content-type", "").startswith("text/html"), headers
    if mention:
        assert mention.encode() not in body, body[:400]


def bearer_refused(status_body, presented: bool = True):
    got, headers, body = status_body
    assert got == 401, (got, body[:300])
    challenge = headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer") and "resource_metadata=" in challenge, headers
    assert ('error="invalid_token"' in challenge) == presented, challenge
    assert json.loads(body)["error"] == "invalid_token"
    assert b'"result"' not in body


# -- 1. /register: client metadata an attacker controls ------------------------------------------------------------

#: Redirect URIs that must never be registered: scheme tricks, case, whitespace and control characters, user info,
#: ports, paths, IDN and percent-encoding (the bypasses fixed in workers-oauth-provider 0.0.13 among them).
BAD_REDIRECTS = {
    "http-non-loopback": "http://evil.example/cb",
    "scheme-upper-case": "HTTP://127.0.0.1/cb",
    "scheme-mixed-case-https": "hTTps://a.example/cb",
    "host-upper-case": "https://EVIL.example/cb",
    "leading-space": " https://a.example/cb",
    "trailing-space": "https://a.example/cb ",
    "tab": "https://a.example/cb\t",
    "line-feed": "https://a.example/c\nb",
    "carriage-return": "https://a.example/c\rb",
    "nul": "https://a.example/\x00cb",
    "leading-control-before-scheme": "\x01javascript:alert(1)",
    "zero-width-space": "https://a.example/\u200bcb",
    "javascript": "javascript:alert(1)",
    "javascript-mixed-case-newline": "JavaScript://%0aalert(1)",
    "javascript-space-before-colon": "javascript :alert(1)",
    "data": "data:text/html,<script>alert(1)</script>",
    "file": "file:///etc/passwd",
    "vbscript": "vbscript:msgbox(1)",
    "ftp": "ftp://a.example/cb",
    "websocket": "ws://127.0.0.1/cb",
    "custom-scheme": "com.evil.app:/cb",
    "userinfo": "https://user:pass@a.example/cb",
    "userinfo-host-confusion": "https://a.example@evil.example/cb",
    "loopback-userinfo": "http://127.0.0.1@evil.example/cb",
    "fragment": "https://a.example/cb#x",
    "wildcard-host": "https://*.example/cb",
    "localhost-suffix": "http://localhost.evil.example/cb",
    "other-loopback-address": "http://127.0.0.2/cb",
    "ipv4-mapped-ipv6-loopback": "http://[::ffff:127.0.0.1]/cb",
    "hex-ip": "http://0x7f.0.0.1/cb",
    "decimal-ip": "http://2130706433/cb",
    "ip-trailing-dot": "http://127.0.0.1./cb",
    "idn-unicode-host": "https://\u0430\u0440\u0440\u04cf\u0435.com/cb",
    "percent-encoded-dot-segments": "https://a.example/%2e%2e/cb",
    "dot-segments": "https://a.example/a/../cb",
    "default-port-written": "https://a.example:443/cb",
    "port-out-of-range": "https://a.example:99999/cb",
    "scheme-relative": "//evil.example/cb",
    "single-slash": "https:/evil.example/cb",
    "backslashes": "https:\\\\evil.example\\cb",
    "relative": "cb",
    "empty": "",
    "too-long": "https://a.example/" + "a" * 2001,
}


def reg(c: Ctx, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return c.http("POST", "/register", {"content-type": "application/json"}, data)


@pytest.mark.parametrize("uri", BAD_REDIRECTS.values(), ids=BAD_REDIRECTS.keys())
def test_register_refuses_redirect_uri(ctx, uri):
    doc = oauth_error(reg(ctx, {"redirect_uris": [uri], "token_endpoint_auth_method": "none"}), 400,
                      "invalid_redirect_uri")
    assert "\n" not in doc["error_description"] and "\x00" not in doc["error_description"]
    healthy(ctx)


BAD_METADATA = {
    "no-redirect-uris": ({"token_endpoint_auth_method": "none"}, "invalid_redirect_uri"),
    "empty-redirect-uris": ({"redirect_uris": []}, "invalid_redirect_uri"),
    "eleven-redirect-uris": ({"redirect_uris": [f"https://a.example/{i}" for i in range(11)]}, "invalid_redirect_uri"),
    "one-bad-among-good": ({"redirect_uris": [REDIRECT, "javascript:alert(1)"]}, "invalid_redirect_uri"),
    "redirect-uris-a-string": ({"redirect_uris": "https://a.example/cb"}, "invalid_client_metadata"),
    "redirect-uri-a-number": ({"redirect_uris": [1]}, "invalid_client_metadata"),
    "redirect-uri-null": ({"redirect_uris": [None]}, "invalid_client_metadata"),
    "grant-implicit": ({"redirect_uris": [REDIRECT], "grant_types": ["implicit"]}, "invalid_client_metadata"),
    "grant-client-credentials": ({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]},
                                 "invalid_client_metadata"),
    "grant-password": ({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "password"]},
                       "invalid_client_metadata"),
    "grant-device-code": ({"redirect_uris": [REDIRECT],
                           "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"]}, "invalid_client_metadata"),
    "response-type-token": ({"redirect_uris": [REDIRECT], "response_types": ["token"]}, "invalid_client_metadata"),
    "response-type-code-token": ({"redirect_uris": [REDIRECT], "response_types": ["code token"]},
                                 "invalid_client_metadata"),
    "auth-private-key-jwt": ({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"},
                             "invalid_client_metadata"),
    "auth-tls-client": ({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "tls_client_auth"},
                        "invalid_client_metadata"),
    "client-name-101-chars": ({"redirect_uris": [REDIRECT], "client_name": "n" * 101}, "invalid_client_metadata"),
    "client-name-bidi-override": ({"redirect_uris": [REDIRECT], "client_name": "Claude\u202eedualC"},
                                  "invalid_client_metadata"),
    "client-name-control": ({"redirect_uris": [REDIRECT], "client_name": "Claude\x07"}, "invalid_client_metadata"),
    "client-name-a-number": ({"redirect_uris": [REDIRECT], "client_name": 7}, "invalid_client_metadata"),
    "body-a-json-array": ([{"redirect_uris": [REDIRECT]}], "invalid_client_metadata"),
    "body-null": (None, "invalid_client_metadata"),
    "body-a-form": (b"redirect_uris=http%3A%2F%2F127.0.0.1%3A33418%2Fcallback", "invalid_client_metadata"),
    "body-empty": (b"", "invalid_client_metadata"),
    "body-invalid-utf8": (b'{"redirect_uris":["http://127.0.0.1:33418/callback"],"client_name":"\xff\xfe"}',
                          "invalid_client_metadata"),
    "unknown-field-nested-100000": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "invalid_redirect_uri"),
    "redirect-uris-nested-100000": (b'{"redirect_uris":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                                    "invalid_client_metadata"),
    "body-trailing-garbage": (b'{"redirect_uris":["http://127.0.0.1:33418/callback"]} x', "invalid_client_metadata"),
}


@pytest.mark.parametrize("body,error", BAD_METADATA.values(), ids=BAD_METADATA.keys())
def test_register_refuses_metadata(ctx, body, error):
    oauth_error(reg(ctx, body), 400, error)
    healthy(ctx)


def test_register_refuses_an_oversized_body(ctx):
    body = json.dumps({"redirect_uris": [REDIRECT], "x": "a" * (2 * MAX_BODY)}).encode()
    status, _, _ = reg(ctx, body)
    assert status == 413
    healthy(ctx)


@pytest.mark.parametrize("field,value", [
    ("client_id", "https://claude.ai/oauth/client-metadata.json"),
    ("client_secret", "chosen-by-the-attacker"),
    ("client_id_issued_at", 1),
], ids=["chosen-client-id", "chosen-client-secret", "chosen-issued-at"])
def test_register_ignores_values_only_the_server_chooses(ctx, field, value):
    """A client cannot pick its own id (e.g. a metadata-document URL it does not control) or secret."""
    status, _, body = reg(ctx, {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post",
                                field: value})
    assert status == 201, body
    doc = json.loads(body)
    assert doc[field] != value, doc
    healthy(ctx)


# -- 2. /authorize: parameter tampering ----------------------------------------------------------------------------


def authorize(c: Ctx, params: list[tuple[str, str]] | str, headers: dict | None = None):
    query = params if isinstance(params, str) else urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    return c.http("GET", "/authorize?" + query, headers)


def good_params(c: Ctx, **over) -> list[tuple[str, str]]:
    _, challenge = pkce()
    p = {"response_type": "code", "client_id": c.client, "redirect_uri": REDIRECT, "state": "s1",
         "code_challenge": challenge, "code_challenge_method": "S256", "resource": c.base + "/mcp"}
    p.update(over)
    return [(k, v) for k, v in p.items() if v is not None]


def test_authorize_control_a_good_request_gets_a_code(ctx):
    status, headers, _ = authorize(ctx, good_params(ctx))
    assert status == 302 and headers["location"].startswith(REDIRECT + "?") and "code=" in headers["location"]


#: Redirect URIs not registered for the client (which registered exactly REDIRECT): refused on a page, never followed.
UNREGISTERED = {
    "trailing-slash": REDIRECT + "/",
    "other-port": REDIRECT.replace("33418", "33419"),
    "no-port": REDIRECT.replace(":33418", ""),
    "port-leading-zero": REDIRECT.replace("33418", "033418"),
    "path-case": REDIRECT.replace("/callback", "/Callback"),
    "extra-query": REDIRECT + "?next=https://evil.example",
    "empty-query": REDIRECT + "?",
    "percent-encoded-path": REDIRECT.replace("/callback", "/%63allback"),
    "userinfo": REDIRECT.replace("http://", "http://evil@"),
    "host-after-userinfo": "http://127.0.0.1:33418@evil.example/callback",
    "trailing-space": REDIRECT + " ",
    "trailing-tab": REDIRECT + "\t",
    "trailing-newline": REDIRECT + "\n",
    "nul": REDIRECT + "\x00",
    "dot-segments": REDIRECT + "/../callback",
    "double-slash": REDIRECT.replace("/callback", "//callback"),
    "localhost-alias": REDIRECT.replace("127.0.0.1", "localhost"),
    "ipv6-loopback-alias": REDIRECT.replace("127.0.0.1", "[::1]"),
    "https-scheme": REDIRECT.replace("http://", "https://"),
    "upper-case-scheme": REDIRECT.replace("http://", "HTTP://"),
    "fragment": REDIRECT + "#x",
    "idn-homoglyph-path": REDIRECT.replace("/callback", "/\u0441allback"),
    "evil-host": "https://evil.example/callback",
    "javascript": "javascript:alert(document.domain)//",
}


@pytest.mark.parametrize("uri", UNREGISTERED.values(), ids=UNREGISTERED.keys())
def test_authorize_unregistered_redirect_uri_is_a_page(ctx, uri):
    page_error(authorize(ctx, good_params(ctx, redirect_uri=uri)), 400)
    healthy(ctx)


PAGE_ERRORS = {
    "no-client-id": {"client_id": None},
    "unknown-client-id": {"client_id": "c" * 43},
    "client-id-10-kib": {"client_id": "c" * 10_240},
    "client-id-with-nul": {"client_id": "\x00"},
    "no-redirect-uri": {"redirect_uri": None},
    "evil-client-unknown-redirect": {"redirect_uri": "https://evil.example/other"},
}


@pytest.mark.parametrize("over", PAGE_ERRORS.values(), ids=PAGE_ERRORS.keys())
def test_authorize_unverifiable_request_is_a_page(ctx, over):
    page_error(authorize(ctx, good_params(ctx, **over)), 400, mention="evil.example")
    healthy(ctx)


@pytest.mark.parametrize("param", ["client_id", "redirect_uri", "state", "code_challenge", "resource"])
def test_authorize_duplicate_parameter_is_a_page(ctx, param):
    """A second value must not slip past the first (RFC 6749 3.1): refused before anything is trusted."""
    params = good_params(ctx)
    extra = {"client_id": ctx.evil_client, "redirect_uri": EVIL_REDIRECT, "state": "s2", "resource": "https://x.example",
             "code_challenge": pkce()[1]}[param]
    page_error(authorize(ctx, params + [(param, extra)]), 400, mention="evil.example")
    healthy(ctx)


def refused_to_client(c: Ctx, resp, error: str, state: str | None = "s1"):
    """An authorization error once the client and redirect URI are verified: a redirect to exactly that URI with the
    error, the state and the issuer (RFC 6749 4.1.2.1, RFC 9207), never a code; or an error page, where the server
    shows pages for clients the user has not yet approved (RFC 9700 4.11.2)."""
    status, headers, body = resp
    if status == 400:
        page_error(resp, 400)
        return
    assert status == 302, (status, body[:300])
    location = headers["location"]
    assert location.startswith(REDIRECT + "?"), location
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert q.get("error") == error and "code" not in q, q
    assert q.get("iss") == c.base, q
    assert q.get("state") == state, q


REDIRECT_ERRORS = {
    "response-type-token": ({"response_type": "token"}, "unsupported_response_type"),
    "response-type-code-token": ({"response_type": "code token"}, "unsupported_response_type"),
    "response-type-upper-case": ({"response_type": "CODE"}, "unsupported_response_type"),
    "response-type-id-token": ({"response_type": "id_token"}, "unsupported_response_type"),
    "no-response-type": ({"response_type": None}, "invalid_request"),
    "pkce-missing": ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
    "pkce-downgrade-plain": ({"code_challenge_method": "plain"}, "invalid_request"),
    "pkce-method-missing": ({"code_challenge_method": None}, "invalid_request"),
    "pkce-method-lower-case": ({"code_challenge_method": "s256"}, "invalid_request"),
    "pkce-method-unknown": ({"code_challenge_method": "S512"}, "invalid_request"),
    "pkce-challenge-42-chars": ({"code_challenge": "A" * 42}, "invalid_request"),
    "pkce-challenge-44-chars": ({"code_challenge": "A" * 44}, "invalid_request"),
    "pkce-challenge-std-base64": ({"code_challenge": "+" * 42 + "A"}, "invalid_request"),
    "pkce-challenge-padded": ({"code_challenge": "A" * 42 + "="}, "invalid_request"),
    "pkce-challenge-40-kib": ({"code_challenge": "A" * 40_960}, "invalid_request"),
    "resource-other-server": ({"resource": "https://evil.example/mcp"}, "invalid_target"),
    "resource-other-path": ({"resource": "{base}/status"}, "invalid_target"),
    "resource-path-case": ({"resource": "{base}/MCP"}, "invalid_target"),
    "resource-trailing-slash": ({"resource": "{base}/mcp/"}, "invalid_target"),
    "resource-dot-segments": ({"resource": "{base}/sse/../mcp"}, "invalid_target"),
    "resource-with-userinfo": ({"resource": "http://evil@{host}/mcp"}, "invalid_target"),
}


@pytest.mark.parametrize("over,error", REDIRECT_ERRORS.values(), ids=REDIRECT_ERRORS.keys())
def test_authorize_invalid_request_is_refused(ctx, over, error):
    host = ctx.base.split("//")[1]
    over = {k: (v.format(base=ctx.base, host=host) if isinstance(v, str) else v) for k, v in over.items()}
    refused_to_client(ctx, authorize(ctx, good_params(ctx, **over)), error)
    healthy(ctx)


def test_authorize_state_too_long_is_not_echoed(ctx):
    refused_to_client(ctx, authorize(ctx, good_params(ctx, state="s" * 1025)), "invalid_request", state=None)
    healthy(ctx)


def test_authorize_error_does_not_redirect_to_a_redirect_uri_nobody_approved(ctx):
    """Anyone may register https://evil.example/phish: an invalid request for that client must not make Skillport's
    domain redirect there before the user has approved the client (RFC 9700 4.11.2)."""
    page_error(authorize(ctx, good_params(ctx, client_id=ctx.evil_client, redirect_uri=EVIL_REDIRECT,
                                          response_type="token")), 400)
    healthy(ctx)


# -- 3. /token: parameter and code tampering -----------------------------------------------------------------------


def token(c: Ctx, form, headers: dict | None = None):
    return c.form("/token", form, headers)


def code_form(c: Ctx, **over) -> dict:
    verifier, challenge = pkce()
    code = c.raw.code(c.client, challenge)
    f = {"grant_type": "authorization_code", "code": code, "client_id": c.client, "redirect_uri": REDIRECT,
         "code_verifier": verifier, "resource": c.base + "/mcp"}
    f.update(over)
    return {k: v for k, v in f.items() if v is not None}


TOKEN_CODE_CASES = {
    "pkce-wrong-verifier": (lambda c: code_form(c, code_verifier=pkce()[0]), 400, "invalid_grant"),
    "pkce-verifier-is-the-challenge": (
        lambda c: (lambda v, ch: {**code_form(c), "code": c.raw.code(c.client, ch), "code_verifier": ch})(*pkce()),
        400, "invalid_grant"),
    "pkce-verifier-missing": (lambda c: code_form(c, code_verifier=None), 400, "invalid_request"),
    "pkce-verifier-empty": (lambda c: code_form(c, code_verifier=""), 400, "invalid_request"),
    "pkce-verifier-100-kib": (lambda c: code_form(c, code_verifier="v" * 102_400), 400, "invalid_grant"),
    "code-missing": (lambda c: code_form(c, code=None), 400, "invalid_request"),
    "code-forged": (lambda c: code_form(c, code=secrets.token_urlsafe(32)), 400, "invalid_grant"),
    "code-truncated": (lambda c: (lambda f: {**f, "code": f["code"][:-1]})(code_form(c)), 400, "invalid_grant"),
    "code-extended": (lambda c: (lambda f: {**f, "code": f["code"] + "A"})(code_form(c)), 400, "invalid_grant"),
    "code-case-flipped": (lambda c: (lambda f: {**f, "code": f["code"].swapcase()})(code_form(c)), 400,
                          "invalid_grant"),
    "code-100-kib": (lambda c: code_form(c, code="c" * 102_400), 400, "invalid_grant"),
    "redirect-uri-differs": (lambda c: code_form(c, redirect_uri=REDIRECT + "/"), 400, "invalid_grant"),
    "redirect-uri-other-host": (lambda c: code_form(c, redirect_uri=EVIL_REDIRECT), 400, "invalid_grant"),
    "resource-other-server": (lambda c: code_form(c, resource="https://evil.example/mcp"), 400, "invalid_target"),
    "resource-sse-for-mcp-code": (lambda c: code_form(c, resource=c.base + "/sse"), 400, "invalid_target"),
    "code-of-another-client": (lambda c: code_form(c, client_id=c.conf_id), 401, "invalid_client"),
    "grant-type-missing": (lambda c: code_form(c, grant_type=None), 400, "invalid_request"),
    "grant-type-password": (lambda c: code_form(c, grant_type="password"), 400, "unsupported_grant_type"),
    "grant-type-client-credentials": (lambda c: code_form(c, grant_type="client_credentials"), 400,
                                      "unsupported_grant_type"),
    "grant-type-implicit": (lambda c: code_form(c, grant_type="implicit"), 400, "unsupported_grant_type"),
    "grant-type-device-code": (lambda c: code_form(c, grant_type="urn:ietf:params:oauth:grant-type:device_code"), 400,
                               "unsupported_grant_type"),
    "grant-type-jwt-bearer": (lambda c: code_form(c, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer"), 400,
                              "unsupported_grant_type"),
    "grant-type-token-exchange": (
        lambda c: code_form(c, grant_type="urn:ietf:params:oauth:grant-type:token-exchange"), 400,
        "unsupported_grant_type"),
    "grant-type-upper-case": (lambda c: code_form(c, grant_type="AUTHORIZATION_CODE"), 400, "unsupported_grant_type"),
    "grant-type-10-kib": (lambda c: code_form(c, grant_type="g" * 10_240), 400, "unsupported_grant_type"),
    "client-id-missing": (lambda c: code_form(c, client_id=None), 401, "invalid_client"),
    "client-id-unknown": (lambda c: code_form(c, client_id="u" * 43), 401, "invalid_client"),
    "client-id-metadata-url-unknown": (lambda c: code_form(c, client_id="https://evil.example/client.json"), 401,
                                       "invalid_client"),
}


@pytest.mark.parametrize("make,status,error", TOKEN_CODE_CASES.values(), ids=TOKEN_CODE_CASES.keys())
def test_token_refuses_tampered_code_redemption(ctx, make, status, error):
    oauth_error(token(ctx, make(ctx)), status, error)
    healthy(ctx)


@pytest.mark.parametrize("param", ["grant_type", "code", "client_id", "code_verifier", "redirect_uri"])
def test_token_duplicate_parameter_is_refused(ctx, param):
    f = code_form(ctx)
    body = urllib.parse.urlencode(f) + "&" + urllib.parse.urlencode({param: "x"})
    oauth_error(token(ctx, body), 400, "invalid_request")
    healthy(ctx)


def test_token_code_replay_is_refused_and_revokes_what_it_gave(ctx):
    f = code_form(ctx)
    first = token(ctx, f)
    assert first[0] == 200, first
    access = json.loads(first[2])["access_token"]
    oauth_error(token(ctx, f), 400, "invalid_grant")
    bearer_refused(ctx.mcp(LIST, token=access))
    healthy(ctx)


def basic(user: str, password: str) -> str:
    pair = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


CLIENT_AUTH = {
    "confidential-without-secret": (lambda c: ({"grant_type": "refresh_token", "refresh_token": "x",
                                                "client_id": c.conf_id}, {}), 401, "invalid_client"),
    "confidential-wrong-secret": (lambda c: ({"grant_type": "refresh_token", "refresh_token": "x",
                                              "client_id": c.conf_id, "client_secret": "wrong"}, {}), 401,
                                  "invalid_client"),
    "confidential-secret-truncated": (lambda c: ({"grant_type": "refresh_token", "refresh_token": "x",
                                                  "client_id": c.conf_id, "client_secret": c.conf_secret[:-1]}, {}),
                                      401, "invalid_client"),
    "basic-wrong-secret": (lambda c: ({"grant_type": "refresh_token", "refresh_token": "x"},
                                      {"authorization": basic(c.conf_id, "wrong")}), 401, "invalid_client"),
    "basic-malformed-base64": (lambda c: ({"grant_type": "refresh_token", "refresh_token": "x"},
                                          {"authorization": "Basic !!!notbase64"}), 401, "invalid_client"),
    "basic-without-colon": (lambda c: ({"grant_type": "refresh_token", "refresh_token": "x"},
                                       {"authorization": "Basic " + base64.b64encode(c.conf_id.encode()).decode()}),
                            401, "invalid_client"),
    "basic-and-form-secret": (lambda c: ({"grant_type": "refresh_token", "refresh_token": "x",
                                          "client_secret": c.conf_secret},
                                         {"authorization": basic(c.conf_id, c.conf_secret)}), 400, "invalid_request"),
    "basic-for-one-client-id-of-another": (lambda c: ({"grant_type": "refresh_token", "refresh_token": "x",
                                                       "client_id": c.client},
                                                      {"authorization": basic(c.conf_id, c.conf_secret)}), 401,
                                           "invalid_client"),
    "json-body-instead-of-form": (lambda c: (json.dumps({"grant_type": "refresh_token", "client_id": c.client,
                                                         "refresh_token": "x"}), {"content-type": "application/json"}),
                                  401, "invalid_client"),
    "empty-body": (lambda c: (b"", {}), 401, "invalid_client"),
    "form-invalid-utf8": (lambda c: (b"grant_type=refresh_token&client_id=%ff%fe&refresh_token=x", {}), 401,
                          "invalid_client"),
}


@pytest.mark.parametrize("make,status,error", CLIENT_AUTH.values(), ids=CLIENT_AUTH.keys())
def test_token_refuses_bad_client_authentication(ctx, make, status, error):
    form, headers = make(ctx)
    oauth_error(token(ctx, form, headers), status, error)
    healthy(ctx)


REFRESH_CASES = {
    "refresh-forged": lambda c, t: secrets.token_urlsafe(32),
    "refresh-truncated": lambda c, t: t["refresh_token"][:-2],
    "refresh-extended": lambda c, t: t["refresh_token"] + "x",
    "refresh-case-flipped": lambda c, t: t["refresh_token"].swapcase(),
    "access-token-as-refresh-token": lambda c, t: t["access_token"],
    "refresh-100-kib": lambda c, t: "r" * 102_400,
}


@pytest.mark.parametrize("make", REFRESH_CASES.values(), ids=REFRESH_CASES.keys())
def test_token_refuses_tampered_refresh_token(ctx, make):
    t = ctx.fresh_tokens()
    oauth_error(token(ctx, {"grant_type": "refresh_token", "refresh_token": make(ctx, t), "client_id": ctx.client}),
                400, "invalid_grant")
    # The real refresh token still works: a wrong guess costs the grant nothing.
    ok = token(ctx, {"grant_type": "refresh_token", "refresh_token": t["refresh_token"], "client_id": ctx.client})
    assert ok[0] == 200, ok
    healthy(ctx)


def test_token_refresh_token_of_another_client_is_refused(ctx):
    t = ctx.fresh_tokens()
    form = {"grant_type": "refresh_token", "refresh_token": t["refresh_token"]}
    oauth_error(token(ctx, form, {"authorization": basic(ctx.conf_id, ctx.conf_secret)}), 400, "invalid_grant")
    healthy(ctx)


def test_token_refresh_token_missing_is_refused(ctx):
    oauth_error(token(ctx, {"grant_type": "refresh_token", "client_id": ctx.client}), 400, "invalid_request")
    healthy(ctx)


def test_token_refresh_for_another_resource_is_refused(ctx):
    t = ctx.fresh_tokens()
    oauth_error(token(ctx, {"grant_type": "refresh_token", "refresh_token": t["refresh_token"],
                            "client_id": ctx.client, "resource": ctx.base + "/sse"}), 400, "invalid_target")
    healthy(ctx)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_token_endpoint_other_methods(ctx, method):
    status, headers, body = ctx.http(method, "/token?grant_type=refresh_token&refresh_token=x&client_id=" + ctx.client)
    assert status == 405 and headers.get("allow") == "POST" and b"access_token" not in body, (status, headers)
    healthy(ctx)


def test_token_oversized_body_is_413(ctx):
    status, _, _ = token(ctx, b"grant_type=refresh_token&refresh_token=" + b"r" * (2 * MAX_BODY))
    assert status == 413
    healthy(ctx)


# -- 4. /revoke ----------------------------------------------------------------------------------------------------


def revoke(c: Ctx, form, headers: dict | None = None):
    return c.form("/revoke", form, headers)


def test_revoke_by_another_client_changes_nothing(ctx):
    t = ctx.fresh_tokens()
    for tok in (t["access_token"], t["refresh_token"]):
        status, _, _ = revoke(ctx, {"token": tok}, {"authorization": basic(ctx.conf_id, ctx.conf_secret)})
        assert status == 200  # RFC 7009: nothing to learn by probing
    assert ctx.mcp(LIST, token=t["access_token"])[0] == 200, "another client revoked this client's token"
    healthy(ctx)


@pytest.mark.parametrize("kind", ["forged", "truncated-refresh", "code-as-token", "empty-hint-garbage"])
def test_revoke_unknown_token_is_200_and_harmless(ctx, kind):
    t = ctx.fresh_tokens()
    tok = {"forged": secrets.token_urlsafe(32), "truncated-refresh": t["refresh_token"][:-1],
           "code-as-token": ctx.raw.code(ctx.client, pkce()[1]), "empty-hint-garbage": t["refresh_token"] + "x"}[kind]
    status, headers, _ = revoke(ctx, {"token": tok, "client_id": ctx.client, "token_type_hint": "\x00garbage"})
    assert status == 200 and headers.get("cache-control") == "no-store"
    assert ctx.mcp(LIST, token=t["access_token"])[0] == 200
    healthy(ctx)


REVOKE_REFUSALS = {
    "token-missing": (lambda c: {"client_id": c.client}, {}, 400, "invalid_request"),
    "token-empty": (lambda c: {"client_id": c.client, "token": ""}, {}, 400, "invalid_request"),
    "client-unknown": (lambda c: {"client_id": "u" * 43, "token": "x"}, {}, 401, "invalid_client"),
    "client-missing": (lambda c: {"token": "x"}, {}, 401, "invalid_client"),
    "confidential-wrong-secret": (lambda c: {"client_id": c.conf_id, "client_secret": "no", "token": "x"}, {}, 401,
                                  "invalid_client"),
    "duplicate-token": (lambda c: f"client_id={c.client}&token=a&token=b", {}, 400, "invalid_request"),
}


@pytest.mark.parametrize("make,headers,status,error", REVOKE_REFUSALS.values(), ids=REVOKE_REFUSALS.keys())
def test_revoke_refusals(ctx, make, headers, status, error):
    oauth_error(revoke(ctx, make(ctx), headers), status, error)
    healthy(ctx)


def test_revoke_get_is_405(ctx):
    status, _, _ = ctx.http("GET", "/revoke?token=x")
    assert status == 405
    healthy(ctx)


# -- 5. bearer tokens on /mcp and /sse -----------------------------------------------------------------------------

JWT_NONE = (base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode() + "." +
            base64.urlsafe_b64encode(b'{"sub":"admin","exp":9999999999,"aud":"skillport"}').rstrip(b"=").decode() + ".")

BEARER_CASES = {
    "truncated": lambda c, t: t["access_token"][:-1],
    "extended": lambda c, t: t["access_token"] + "A",
    "case-flipped": lambda c, t: t["access_token"].swapcase(),
    "forged-random": lambda c, t: secrets.token_urlsafe(32),
    "unsigned-jwt-expired-looking": lambda c, t: JWT_NONE,
    "refresh-token-as-bearer": lambda c, t: t["refresh_token"],
    "authorization-code-as-bearer": lambda c, t: c.raw.code(c.client, pkce()[1]),
    "client-secret-as-bearer": lambda c, t: c.conf_secret,
    "token-with-inner-space": lambda c, t: t["access_token"][:10] + " " + t["access_token"][10:],
    "non-ascii": lambda c, t: "\u00e9" + t["access_token"][1:],
}


@pytest.mark.parametrize("make", BEARER_CASES.values(), ids=BEARER_CASES.keys())
def test_mcp_refuses_tampered_bearer_token(ctx, make):
    t = ctx.fresh_tokens()
    value = make(ctx, t)
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        value = value.encode().decode("latin-1")
    bearer_refused(ctx.mcp(LIST, token=value))
    healthy(ctx)


def test_mcp_token_of_the_other_audience_is_refused(ctx):
    """A token issued for /sse is not accepted at /mcp (RFC 8707 audience binding), and the reverse."""
    bearer_refused(ctx.mcp(LIST, token=ctx.sse_access))
    status, headers, _ = ctx.http("GET", "/sse", {"authorization": f"Bearer {ctx.access}",
                                                  "accept": "text/event-stream"})
    assert status == 401 and 'error="invalid_token"' in headers.get("www-authenticate", ""), (status, headers)
    healthy(ctx)


def test_mcp_revoked_access_token_is_refused(ctx):
    t = ctx.fresh_tokens()
    assert revoke(ctx, {"token": t["access_token"], "client_id": ctx.client})[0] == 200
    bearer_refused(ctx.mcp(LIST, token=t["access_token"]))
    healthy(ctx)


def test_mcp_token_of_a_revoked_grant_is_refused(ctx):
    t = ctx.fresh_tokens()
    assert revoke(ctx, {"token": t["refresh_token"], "client_id": ctx.client})[0] == 200
    bearer_refused(ctx.mcp(LIST, token=t["access_token"]))
    healthy(ctx)


def test_mcp_token_after_refresh_replay_is_refused(ctx):
    """Replaying a superseded refresh token after its successor was used revokes the whole grant."""
    t = ctx.fresh_tokens()
    form = {"grant_type": "refresh_token", "refresh_token": t["refresh_token"], "client_id": ctx.client}
    t2 = json.loads(token(ctx, form)[2])
    assert ctx.mcp(LIST, token=t2["access_token"])[0] == 200
    t3 = json.loads(token(ctx, {**form, "refresh_token": t2["refresh_token"]})[2])
    oauth_error(token(ctx, form), 400, "invalid_grant")
    bearer_refused(ctx.mcp(LIST, token=t3["access_token"]))
    healthy(ctx)


AUTH_HEADER_CASES = {
    "no-authorization": None,
    "basic-scheme": "Basic " + base64.b64encode(b"user:pass").decode(),
    "bearer-empty": "Bearer ",
    "bearer-no-space": "Bearer",
    "token-without-scheme": "{access}",
    "other-scheme-with-real-token": "Token {access}",
    "mac-scheme": "MAC id={access}",
}


@pytest.mark.parametrize("value", AUTH_HEADER_CASES.values(), ids=AUTH_HEADER_CASES.keys())
def test_mcp_refuses_malformed_authorization(ctx, value):
    headers = {} if value is None else {"authorization": value.format(access=ctx.access)}
    status, h, body = ctx.mcp(LIST, token=None, headers=headers)
    assert status == 401 and h.get("www-authenticate", "").startswith("Bearer"), (status, h, body[:200])
    assert b'"result"' not in body
    healthy(ctx)


def test_mcp_token_in_the_query_is_not_accepted(ctx):
    status, _, body = ctx.mcp(LIST, token=None, path="/mcp?access_token=" + ctx.access)
    assert status == 401 and b'"result"' not in body
    healthy(ctx)


# -- 6. headers on /mcp --------------------------------------------------------------------------------------------

VERSIONS = {
    "far-future": "2099-01-01",
    "garbage": "garbage",
    "empty": "",
    "sql-ish": "2025-06-18' OR '1'='1",
    "two-versions": "2025-06-18, 2025-03-26",
    "unicode": "\u0032\u0030\u0032\u0035-06-18\u200b",
}


@pytest.mark.parametrize("value", VERSIONS.values(), ids=VERSIONS.keys())
def test_mcp_unknown_protocol_version_header(ctx, value):
    # The body is readable, so the refusal answers the request's own id (the stateless revision's rule).
    doc = rpc_error(ctx.mcp(LIST, headers={"mcp-protocol-version": value.encode().decode("latin-1")}), 400, -32022,
                    rid=LIST["id"])
    assert "2025-11-25" in doc["error"]["data"]["supported"], doc
    healthy(ctx)


SESSION_IDS = {
    "traversal": "../../../../etc/passwd",
    "forged-surface": "sp1.cai.000000000000000000000000",
    "sql-ish": "' OR 1=1 --",
    "8-kib": "s" * 8192,
    "json": '{"admin":true}',
}


@pytest.mark.parametrize("value", SESSION_IDS.values(), ids=SESSION_IDS.keys())
def test_mcp_session_id_grants_nothing(ctx, value):
    """Sessions hold no state: any Mcp-Session-Id gets exactly the answer a request without one gets."""
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "list_plugins", "arguments": {"surface": "all"}}}
    plain = ctx.mcp(call)
    got = ctx.mcp(call, headers={"mcp-session-id": value})
    assert got[0] == plain[0] == 200
    assert json.loads(got[2])["result"]["structuredContent"]["total"] == \
        json.loads(plain[2])["result"]["structuredContent"]["total"]
    healthy(ctx)


CONTENT_TYPES = {
    "text-plain": "text/plain",
    "form": "application/x-www-form-urlencoded",
    "multipart": "multipart/form-data; boundary=x",
    "json-suffix": "application/jsonx",
    "json-patch": "application/json-patch+json",
    "missing": None,
}


@pytest.mark.parametrize("ctype", CONTENT_TYPES.values(), ids=CONTENT_TYPES.keys())
def test_mcp_wrong_content_type_is_415(ctx, ctype):
    h = {"content-type": ctype} if ctype else {}
    data = json.dumps(LIST).encode()
    status, headers, body = ctx.http("POST", "/mcp", {"accept": MCP["accept"], "authorization": f"Bearer {ctx.access}",
                                                      **h}, data)
    rpc_error((status, headers, body), 415, -32600, rid=LIST["id"])
    healthy(ctx)


@pytest.mark.parametrize("accept", ["text/html", "text/event-stream", "image/*", None],
                         ids=["html", "sse-only", "image", "missing"])
def test_mcp_unacceptable_accept_is_406(ctx, accept):
    h = {"content-type": "application/json", "authorization": f"Bearer {ctx.access}"}
    if accept:
        h["accept"] = accept
    rpc_error(ctx.http("POST", "/mcp", h, json.dumps(LIST).encode()), 406, -32600, rid=LIST["id"])
    healthy(ctx)


ORIGINS = {
    "evil": "https://evil.example",
    "loopback-lookalike": "http://127.0.0.1.evil.example",
    "null": "null",
    "file": "file://",
    "with-userinfo": "http://127.0.0.1@evil.example",
    "garbage": "not a url",
}


@pytest.mark.parametrize("origin", ORIGINS.values(), ids=ORIGINS.keys())
def test_mcp_foreign_origin_is_403_even_with_a_token(ctx, origin):
    status, headers, body = ctx.mcp(LIST, headers={"origin": origin})
    assert status == 403 and b'"result"' not in body, (status, body[:200])
    assert headers.get("access-control-allow-origin") in (None, ""), headers
    healthy(ctx)


def raw_exchange(port: int, payload: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return out


def test_content_length_shorter_than_the_body(ctx):
    """Content-Length 5 and a longer body: the worker reads 5 bytes (a parse error); the rest is another request,
    which is refused as garbage. Nothing of the smuggled request is executed."""
    smuggled = json.dumps({"jsonrpc": "2.0", "id": 99, "method": "tools/call",
                           "params": {"name": "list_plugins", "arguments": {}}})
    body = b'{"jso' + smuggled.encode()
    head = (f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{ctx.w.port}\r\ncontent-type: application/json\r\n"
            f"accept: {MCP['accept']}\r\nauthorization: Bearer {ctx.access}\r\ncontent-length: 5\r\n\r\n").encode()
    out = raw_exchange(ctx.w.port, head + body)
    assert out.startswith(b"HTTP/1.1 400"), out[:200]
    assert b"-32700" in out and b'"id":99' not in out, out[:600]
    healthy(ctx)


def test_content_length_longer_than_the_body(ctx):
    """A Content-Length promising more than is sent, then the client stops sending: no answer is made up from the
    partial body, and the connection is dropped or refused within the runtime's limits, the worker unharmed."""
    head = (f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{ctx.w.port}\r\ncontent-type: application/json\r\n"
            f"accept: {MCP['accept']}\r\nauthorization: Bearer {ctx.access}\r\ncontent-length: 500\r\n\r\n").encode()
    out = raw_exchange(ctx.w.port, head + json.dumps(LIST).encode(), timeout=20)
    assert not out.startswith(b"HTTP/1.1 200"), out[:200]
    assert b'"result"' not in out
    healthy(ctx)


# -- 7. JSON-RPC abuse ---------------------------------------------------------------------------------------------

RPC_CASES = {
    # (body, HTTP status, JSON-RPC error code, id echoed)
    "batch-empty": (b"[]", 400, -32600, None),
    "batch-of-two": (json.dumps([LIST, LIST]).encode(), 400, -32600, None),
    "batch-of-10000": (json.dumps([LIST] * 10_000).encode(), 400, -32600, None),
    "not-an-object": (b"42", 400, -32600, None),
    "json-null": (b"null", 400, -32600, None),
    "json-string": (b'"tools/list"', 400, -32600, None),
    "empty-body": (b"", 400, -32700, None),
    "invalid-utf8": (b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":"\xff\xfe"}}', 400, -32700, None),
    "utf16-bom": ('{"jsonrpc":"2.0","id":1,"method":"tools/list"}'.encode("utf-16"), 400, -32700, None),
    "nan-literal": (b'{"jsonrpc":"2.0","id":NaN,"method":"tools/list"}', 400, -32700, None),
    "number-out-of-range": (b'{"jsonrpc":"2.0","id":1e400,"method":"tools/list"}', 400, -32700, None),
    "trailing-garbage": (b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}garbage', 400, -32700, None),
    "single-quotes": (b"{'jsonrpc':'2.0','id':1,'method':'tools/list'}", 400, -32700, None),
    "comment": (b'{"jsonrpc":"2.0",/*x*/"id":1,"method":"tools/list"}', 400, -32700, None),
    "jsonrpc-1.0": (b'{"jsonrpc":"1.0","id":1,"method":"tools/list"}', 400, -32600, 1),
    "jsonrpc-missing": (b'{"id":1,"method":"tools/list"}', 400, -32600, 1),
    "jsonrpc-number": (b'{"jsonrpc":2.0,"id":1,"method":"tools/list"}', 400, -32600, 1),
    "method-missing": (b'{"jsonrpc":"2.0","id":1}', 400, -32600, 1),
    "method-a-number": (b'{"jsonrpc":"2.0","id":1,"method":7}', 400, -32600, 1),
    "method-null": (b'{"jsonrpc":"2.0","id":1,"method":null}', 400, -32600, 1),
    "id-an-object": (b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', 400, -32600, None),
    "id-an-array": (b'{"jsonrpc":"2.0","id":[1],"method":"tools/list"}', 400, -32600, None),
    "id-a-bool": (b'{"jsonrpc":"2.0","id":true,"method":"tools/list"}', 400, -32600, None),
}


@pytest.mark.parametrize("body,status,code,rid", RPC_CASES.values(), ids=RPC_CASES.keys())
def test_jsonrpc_malformed_messages(ctx, body, status, code, rid):
    rpc_error(ctx.mcp(body), status, code, rid)
    healthy(ctx)


UNKNOWN_METHODS = {
    "unknown": "tools/destroy",
    "rpc-discover": "rpc.discover",
    "proto": "__proto__",
    "empty": "",
    "nul": "tools/list\u0000",
    "long-10-kib": "m" * 10_240,
    "server-side-method": "sampling/createMessage",
    "case-changed": "Tools/List",
}


@pytest.mark.parametrize("method", UNKNOWN_METHODS.values(), ids=UNKNOWN_METHODS.keys())
def test_jsonrpc_unknown_method(ctx, method):
    status, _, body = ctx.mcp({"jsonrpc": "2.0", "id": 5, "method": method})
    doc = json.loads(body)
    assert doc.get("id") == 5 and "result" not in doc, doc
    # An empty method name is no method at all: an invalid request or an unknown method, both clean.
    assert doc["error"]["code"] == -32601 or (method == "" and doc["error"]["code"] == -32600), doc
    assert status in (200, 400), status
    healthy(ctx)


@pytest.mark.parametrize("rid", [2 ** 53 + 1, 2 ** 63, -(2 ** 63), 2 ** 64 + 7, "i" * 10_000, "\u202e\u0000id", 0.5],
                         ids=["2^53+1", "2^63", "-2^63", "2^64+7", "string-10-kb", "control-string", "fraction"])
def test_jsonrpc_huge_and_odd_ids_are_echoed_exactly(ctx, rid):
    """An id is echoed as sent (JSON-RPC 2.0 5): a client must never be handed an answer meant for another id."""
    status, _, body = ctx.mcp({"jsonrpc": "2.0", "id": rid, "method": "tools/list"})
    doc = json.loads(body)
    if "error" in doc:  # refusing an id it cannot echo exactly is clean too
        assert status == 400 and doc["error"]["code"] == -32600 and doc["id"] is None, doc
    else:
        assert status == 200 and doc["id"] == rid and type(doc["id"]) is type(rid), (rid, doc["id"])
    healthy(ctx)


TOOL_ABUSE = {
    "unknown-tool": {"name": "rm_rf", "arguments": {}},
    "name-missing": {"arguments": {}},
    "name-a-number": {"name": 1, "arguments": {}},
    "arguments-an-array": {"name": "list_plugins", "arguments": [1, 2]},
    "arguments-a-string": {"name": "get_plugin", "arguments": "writing-tools"},
    "get-plugin-traversal": {"name": "get_plugin", "arguments": {"name": "../../wrangler.toml"}},
    "fetch-skill-traversal": {"name": "fetch_skill", "arguments": {"name": "writing-tools@example/../../../etc"}},
    "fetch-skill-absolute-path": {"name": "fetch_skill", "arguments": {"name": "/etc/passwd"}},
    "limit-negative": {"name": "list_plugins", "arguments": {"limit": -1}},
    "limit-huge": {"name": "list_plugins", "arguments": {"limit": 2 ** 64}},
    "surface-unknown": {"name": "list_plugins", "arguments": {"surface": "root"}},
    "query-100-kib": {"name": "get_plugin", "arguments": {"name": "q" * 102_400}},
}


@pytest.mark.parametrize("params", TOOL_ABUSE.values(), ids=TOOL_ABUSE.keys())
def test_jsonrpc_tool_call_abuse(ctx, params):
    tool_error(ctx.mcp({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}))
    healthy(ctx)


def test_jsonrpc_params_of_the_wrong_type(ctx):
    rpc_error(ctx.mcp({"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": "skill://x"}), 400, -32602, 1)
    healthy(ctx)


# -- 8. skill:// and /download traversal ---------------------------------------------------------------------------

SKILL_URIS = {
    "dot-dot": "skill://example/brand-kit/brand-voice/../../../../wrangler.toml",
    "percent-dot-dot": "skill://example/brand-kit/brand-voice/%2e%2e/%2e%2e/SKILL.md",
    "percent-slash": "skill://example/brand-kit/brand-voice%2f..%2f..%2fx",
    "backslash": "skill://example/brand-kit/brand-voice/..\\..\\x",
    "absolute-path": "skill:///etc/passwd",
    "file-scheme": "file:///etc/passwd",
    "http-scheme": "http://169.254.169.254/latest/meta-data/",
    "nul": "skill://example/brand-kit/brand-voice/SKILL.md\u0000.png",
    "host-upper-case": "skill://EXAMPLE/brand-kit/brand-voice/SKILL.md",
    "unknown-marketplace": "skill://nope/brand-kit/brand-voice/SKILL.md",
    "empty": "",
    "100-kib": "skill://example/" + "a/" * 51_200,
}


@pytest.mark.parametrize("uri", SKILL_URIS.values(), ids=SKILL_URIS.keys())
def test_resources_read_traversal_is_not_found(ctx, uri):
    status, _, body = ctx.mcp({"jsonrpc": "2.0", "id": 8, "method": "resources/read", "params": {"uri": uri}})
    doc = json.loads(body)
    assert status == 200 and "result" not in doc, (uri, body[:300])
    assert doc["error"]["code"] in (-32002, -32602), doc  # resource not found / invalid params
    assert b"[build]" not in body and b"root:" not in body
    healthy(ctx)


DOWNLOAD_TAMPER = {
    "last-char-flipped": lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    "truncated": lambda t: t[:-4],
    "traversal-appended": lambda t: t + "/../../wrangler.toml",
    "percent-traversal": lambda t: "..%2f..%2f" + t,
    "case-flipped": lambda t: t.swapcase(),
    "nul-appended": lambda t: t + "%00",
    "doubled": lambda t: t + t,
    "empty": lambda t: "",
}


@pytest.mark.parametrize("tamper", DOWNLOAD_TAMPER.values(), ids=DOWNLOAD_TAMPER.keys())
def test_download_tampered_link_is_403(ctx, tamper):
    good = ctx.download[len("/download/"):]
    status, headers, body = ctx.http("GET", "/download/" + tamper(good))
    assert status in (403, 404), (status, body[:200])
    assert not body.startswith(b"PK"), "a tampered link served an archive"
    healthy(ctx)


def test_download_control_the_real_link_serves_a_zip(ctx):
    status, _, body = ctx.http("GET", ctx.download)
    assert status == 200 and body.startswith(b"PK")


def test_download_with_a_public_host_is_refused_by_local(ctx):
    status, _, body = ctx.http("GET", ctx.download, {"host": "skills.evil.example"})
    assert status == 403 and not body.startswith(b"PK"), (status, body[:100])
    healthy(ctx)


# -- 9. SSE ----------------------------------------------------------------------------------------------------------


def open_stream(c: Ctx, token: str) -> tuple[socket.socket, str]:
    """A GET /sse stream read up to its `endpoint` event (chunk framing removed: the event may span chunks)."""
    s = socket.create_connection(("127.0.0.1", c.w.port), timeout=10)
    s.sendall((f"GET /sse HTTP/1.1\r\nHost: 127.0.0.1:{c.w.port}\r\naccept: text/event-stream\r\n"
               f"authorization: Bearer {token}\r\n\r\n").encode())
    got = b""
    while True:
        chunk = s.recv(4096)
        assert chunk, got
        got += chunk
        if b"\r\n\r\n" not in got:
            continue
        head, body = got.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
        text = re.sub(rb"(?:^|\r\n)[0-9a-fA-F]+\r\n", b"", body)
        if b"sessionId=" in text and b"\n\n" in text.split(b"sessionId=", 1)[1]:
            return s, text.split(b"data: ", 1)[1].split(b"\n", 1)[0].decode().strip()


SSE_PATHS = {
    "no-session": ("/sse/message", 400),
    "session-63-hex": ("/sse/message?sessionId=" + "a" * 63, 400),
    "session-upper-hex": ("/sse/message?sessionId=" + "A" * 64, 400),
    "session-non-hex": ("/sse/message?sessionId=" + "g" * 64, 400),
    "session-traversal": ("/sse/message?sessionId=../../" + "a" * 58, 400),
    "session-unknown": ("/sse/message?sessionId=" + "0" * 64, 404),
}


@pytest.mark.parametrize("path,status", SSE_PATHS.values(), ids=SSE_PATHS.keys())
def test_sse_message_to_a_bad_session(ctx, path, status):
    got, _, body = ctx.mcp(LIST, token=ctx.sse_access, path=path)
    assert got == status, (got, body[:200])
    assert b'"result"' not in body
    healthy(ctx)


def test_sse_message_to_a_session_with_an_mcp_token_is_refused(ctx):
    s, path = open_stream(ctx, ctx.sse_access)
    try:
        bearer_refused(ctx.mcp(LIST, token=ctx.access, path=path))
    finally:
        s.close()
    healthy(ctx)


@pytest.mark.parametrize("method,path,status", [("POST", "/sse", 405), ("GET", "/sse/message", 405),
                                                ("PUT", "/sse", 405), ("DELETE", "/sse/message", 405)],
                         ids=["post-sse", "get-message", "put-sse", "delete-message"])
def test_sse_wrong_methods(ctx, method, path, status):
    got, _, _ = ctx.http(method, path, {"authorization": f"Bearer {ctx.sse_access}"}, b"" if method != "GET" else None)
    assert got == status, got
    healthy(ctx)


def test_sse_malformed_message_is_a_parse_error_and_the_stream_lives(ctx):
    s, path = open_stream(ctx, ctx.sse_access)
    try:
        rpc_error(ctx.mcp(b'{"jsonrpc":"2.0","id":1,', token=ctx.sse_access, path=path), 400, -32700)
        # A batch is accepted for the stream, where its refusal travels (the legacy transport answers there).
        assert ctx.mcp(b"[]", token=ctx.sse_access, path=path)[0] == 202
        status, _, _ = ctx.mcp({"jsonrpc": "2.0", "id": 77, "method": "tools/list"}, token=ctx.sse_access, path=path)
        assert status == 202
        s.settimeout(10)
        raw_body, got = b"", b""
        while b'"id":77' not in got:
            chunk = s.recv(65536)
            assert chunk, got[-300:]
            raw_body += chunk
            got = re.sub(rb"(?:^|\r\n)[0-9a-fA-F]+\r\n", b"", raw_body)
        assert b'"code":-32600' in got and b'"id":null' in got, got[-600:]
    finally:
        s.close()
    healthy(ctx)


# -- 10. pages: CORS, /status (findings being fixed elsewhere) -----------------------------------------------------

PAGES = {"authorize": "/authorize?client_id=x", "root": "/", "callback": "/callback?state=x", "status": "/status"}


@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_pages_send_no_cors_to_a_foreign_origin(ctx, path):
    for origin in ("https://evil.example", "http://127.0.0.1:1"):
        _, headers, _ = ctx.http("GET", path, {"origin": origin})
        assert "access-control-allow-origin" not in headers, (path, origin, headers)
        _, headers, _ = ctx.http("OPTIONS", path, {"origin": origin, "access-control-request-method": "POST"})
        assert "access-control-allow-origin" not in headers, (path, origin, headers)
    healthy(ctx)


def test_status_is_refused_to_a_signed_in_user_who_is_not_an_admin(ctx):
    """The local provider's user signs in through /status's own flow (cookies kept as a browser keeps them on
    loopback) and is no admin (`access.admins` lists someone else): a 403 page that shows no marketplace."""
    jar: dict[str, str] = {}
    target = "/status"
    for _ in range(8):
        conn = http.client.HTTPConnection("127.0.0.1", ctx.w.port, timeout=15)
        headers = {"cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}
        conn.request("GET", target, headers=headers)
        r = conn.getresponse()
        body = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, value = v.split(";", 1)[0].partition("=")
                jar[name.strip()] = value
        location = r.getheader("location")
        conn.close()
        if r.status not in (302, 303) or not location:
            break
        target = urllib.parse.urlsplit(location)._replace(scheme="", netloc="").geturl()
    # Refused where the sign-in comes back (/status/callback), before any session is issued.
    assert r.status == 403 and target.split("?")[0] in ("/status", "/status/callback"), (r.status, target, body[:300])
    assert b"brand-kit" not in body and b"examples/marketplace" not in body
    healthy(ctx)


@pytest.mark.xfail(strict=True, reason="workerd itself answers a Host it cannot make a URL of with a 500, before the worker "
                   "runs; the worker's own answer to each is a 4xx (tests/host_header.rs), and on Cloudflare the edge "
                   "routes by Host")
@pytest.mark.parametrize("host", ["127.0.0.1:99999", "[::1", "127.0.0.1:port", "a b"],
                         ids=["port-out-of-range", "unclosed-ipv6", "port-not-a-number", "space"])
def test_malformed_host_is_a_4xx(ctx, host):
    status, _, body = ctx.http("POST", "/mcp", {**MCP, "host": host, "authorization": f"Bearer {ctx.access}"},
                               json.dumps(LIST).encode())
    assert 400 <= status < 500, (status, body[:200])
    healthy(ctx)


# -- 11. Client ID Metadata Documents ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cimd_host():
    """A loopback host serving a valid client metadata document at /good.json, and /moved.json redirecting to it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            base = f"http://127.0.0.1:{self.server.server_port}"
            if self.path == "/good.json" or self.path == "/moved.json":
                if self.path == "/moved.json":
                    self.send_response(302)
                    self.send_header("location", base + "/good.json")
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                doc = json.dumps({"client_id": base + "/moved.json", "client_name": "Moved",
                                  "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(doc)))
                self.end_headers()
                self.wfile.write(doc)
                return
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


def test_cimd_redirect_is_not_followed(ctx, cimd_host):
    page_error(authorize(ctx, good_params(ctx, client_id=cimd_host + "/moved.json")), 400)
    healthy(ctx)
