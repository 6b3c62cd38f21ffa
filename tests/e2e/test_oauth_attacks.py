"""Attacks on the authorization server, end to end in workerd: what was found against Skillport in review and what hit
similar servers, each kept as a regression test.

- Errors of an invalid /authorize are redirected only to a redirect URI this browser approved (RFC 9700 4.11.2): a
  registered `https://evil.example/phish` alone must not turn Skillport's domain into an open redirect.
- A remembered consent covers one client and one redirect URI (GHSA-6x8h-498w-gv8c): another client, or the same
  metadata-document client with another redirect URI, sees the consent page again; that page names a metadata
  document client by its document's host, not by the `client_name` it chose.
- Consent completes only in the browser that signed in (GHSA-rww4-4w9c-7733): a consent POST, or the identity
  provider's callback, from another browser gets a page and no code.
- Redirect URIs disguised by case, spaces or control characters are refused at /register and in metadata
  documents, and never match a registered one at /authorize.
- The token audit line names a client only once it authenticated.
- A Host value that reaches the worker gets the worker's own 4xx (what the runtime refuses first is noted there).

The worker is the embedded default (`local` provider): sign-in is automatic on loopback, and the consent page is
shown for any redirect URI that is not on loopback, so the browser stops before loading `https://app.example/...`
(nobody needs to listen there). `Browser` (browser.py) keeps cookies as a browser does, `__Host-` ones included.
"""

import html
import json
import time
import urllib.parse

import httpx2
import pytest

from support.browser import Browser, parse_forms
from support.idps import OidcIdP
from support.oauth import GENERIC, Documents, Raw, pkce, provider_worker
from support.worker import free_port

APP = "https://app.example/cb"
APP2 = "https://app.example/other-cb"
PHISH = "https://evil.example/phish"


def authorize_url(base: str, client_id: str, redirect: str, **changes) -> str:
    _, challenge = pkce()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect, "state": "st",
              "code_challenge": challenge, "code_challenge_method": "S256", "resource": base + "/mcp", **changes}
    return base + "/authorize?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})


def register(base: str, uris, name="Claude") -> str:
    r = httpx2.post(base + "/register", json={"redirect_uris": list(uris), "client_name": name,
                                              "token_endpoint_auth_method": "none"})
    assert r.status_code == 201, r.text
    return r.json()["client_id"]


def is_error_page(r) -> bool:
    return (r.status_code == 400 and "location" not in r.headers and "text/html" in r.headers["content-type"]
            and r.headers["x-frame-options"] == "DENY")


def consent_shown(result) -> bool:
    """The browser stopped on Skillport's consent page (decision=None)."""
    return result.status == 200 and any(f.field("pending") and f.field("csrf") for f in parse_forms(result.page or ""))


# --- RFC 9700 4.11.2: no open redirect through authorization errors ----------------------------------------------


def test_an_invalid_request_is_not_redirected_to_a_redirect_uri_nobody_approved(signed_worker):
    base = signed_worker.base
    phisher = register(base, [PHISH], name="Totally Claude")
    for changes in [{"response_type": "token"}, {"code_challenge_method": "plain"}, {"code_challenge": None},
                    {"resource": "https://evil.example/"}]:
        r = httpx2.get(authorize_url(base, phisher, PHISH, **changes))
        assert is_error_page(r), (changes, r.status_code, r.headers.get("location"))
        assert "evil.example" not in r.headers.get("location", "")
    # Once this browser approved the client with that redirect URI, errors go back to it, as OAuth says.
    client = register(base, [APP, APP2])
    browser = Browser()
    approved = browser.authorize(authorize_url(base, client, APP), None, None, APP)
    assert approved.code, approved
    r = browser.request("GET", authorize_url(base, client, APP, response_type="token"))
    assert r.status_code == 302, r.text
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["location"]).query))
    assert r.headers["location"].startswith(APP) and query["error"] == "unsupported_response_type", query
    assert query["state"] == "st" and query["iss"] == base
    # The same client's other redirect URI, or another browser: still a page.
    assert is_error_page(browser.request("GET", authorize_url(base, client, APP2, response_type="token")))
    assert is_error_page(Browser().request("GET", authorize_url(base, client, APP, response_type="token")))


# --- GHSA-6x8h-498w-gv8c: remembered consent is per client and redirect URI ---------------------------------------


def test_remembered_consent_does_not_carry_to_another_client_or_redirect_uri(signed_worker):
    base = signed_worker.base
    with Documents({}) as docs:
        a, b = docs.url("/a/client.json"), docs.url("/b/client.json")
        docs.docs["/a/client.json"] = {"client_id": a, "client_name": "Claude", "redirect_uris": [APP, APP2],
                                       "token_endpoint_auth_method": "none"}
        docs.docs["/b/client.json"] = {"client_id": b, "client_name": "Claude", "redirect_uris": [APP],
                                       "token_endpoint_auth_method": "none"}
        browser = Browser()
        page = browser.authorize(authorize_url(base, a, APP), None, None, APP, decision=None)
        assert consent_shown(page), page
        # Named by the document's host, which the client cannot choose; its chosen name only quoted.
        host = urllib.parse.urlsplit(a).netloc
        assert f"<h1>Allow {host} to use" in page.page, page.page
        assert f"<code>{html.escape(a)}</code>" in page.page and "calls itself &ldquo;Claude&rdquo;" in page.page
        assert "Allow Claude" not in page.page
        approved = browser.authorize(authorize_url(base, a, APP), None, None, APP)
        assert approved.code and any("/consent" in h.url for h in approved.hops), approved
        # Remembered: client A with redirect URI APP completes without the page...
        again = browser.authorize(authorize_url(base, a, APP), None, None, APP, decision=None)
        assert again.code and [h.status for h in again.hops] == [302], again
        # ...but neither A with the other redirect URI its document lists, nor client B with the same redirect URI
        # and the same name.
        for client, redirect in [(a, APP2), (b, APP)]:
            asked = browser.authorize(authorize_url(base, client, redirect), None, None, redirect, decision=None)
            assert consent_shown(asked) and not asked.code, (client, redirect, asked.hops)
        # A client registered here is not covered by the approval of a document client either.
        registered = register(base, [APP])
        asked = browser.authorize(authorize_url(base, registered, APP), None, None, APP, decision=None)
        assert consent_shown(asked) and "<h1>Allow Claude to use" in asked.page


# --- GHSA-rww4-4w9c-7733: consent bound to the browser that signed in ---------------------------------------------


def consent_form(browser: Browser, base: str, client: str):
    """Opens an authorization in `browser` up to Skillport's consent page; returns that page's form fields."""
    page = browser.authorize(authorize_url(base, client, APP), None, None, APP, decision=None)
    assert consent_shown(page), page
    form = next(f for f in parse_forms(page.page) if f.field("pending"))
    return dict(form.values())


def test_a_consent_post_from_another_browser_does_not_complete_the_grant(signed_worker):
    base = signed_worker.base
    client = register(base, [APP])
    victim, other = Browser(), Browser()
    consent_form(other, base, client)  # `other` holds a sign-in cookie of its own
    for name, attacker in [("no cookie", httpx2.Client(follow_redirects=False)), ("its own cookie", other)]:
        fields = consent_form(victim, base, client)
        post = {"pending": fields["pending"], "csrf": fields["csrf"], "decision": "approve"}
        if isinstance(attacker, Browser):
            r = attacker.request("POST", base + "/consent", list(post.items()), initiator=base + "/authorize")
        else:
            r = attacker.post(base + "/consent", data=post)
        assert is_error_page(r), (name, r.status_code, r.headers.get("location"))
        assert "another browser" in r.text, name
        assert "__Host-skillport_consent" not in r.headers.get("set-cookie", ""), name
    # Control: the browser that signed in completes.
    fields = consent_form(victim, base, client)
    r = victim.request("POST", base + "/consent", [(k, fields[k]) for k in ("pending", "csrf")] +
                       [("decision", "approve")], initiator=base + "/authorize")
    assert r.status_code == 302 and r.headers["location"].startswith(APP + "?code="), r.text


def test_an_identity_provider_callback_in_another_browser_does_not_sign_in(start_worker):
    """The attacker starts a sign-in and sends the identity provider's link to the victim: the victim signs in there,
    and the callback reaches Skillport in a browser without the attacker's sign-in cookie. It ends on a page."""
    port = free_port()
    idp = OidcIdP(GENERIC[0], redirect_uris=[f"http://127.0.0.1:{port}/callback"])
    try:
        worker = provider_worker(start_worker, {**GENERIC[1], "client_id": idp.client_id, "issuer": idp.issuer},
                                 "callback-browser", port)
        client = register(worker.base, [APP])
        started = httpx2.get(authorize_url(worker.base, client, APP))
        assert started.status_code == 302 and started.headers["location"].startswith(idp.issuer), started.text
        victim = Browser().authorize(started.headers["location"], "ada", "ada-password", APP)
        assert not victim.query and victim.status == 400, victim
        assert victim.url.startswith(worker.base + "/callback") and "another browser" in victim.page
    finally:
        idp.stop()


# --- Redirect URIs disguised by case, whitespace or control characters --------------------------------------------

DISGUISED = ["JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)", "java\nscript:alert(1)",
             "\x01javascript:alert(1)", "\x01https://app.example/cb", "https://app.example/cb\x00", " " + APP,
             APP + " ", "\u00a0" + APP, "\ufeff" + APP, "HTTPS://app.example/cb", "https:/app.example/cb",
             "https:\\\\evil.example/cb", "VBScript:msgbox(1)", "DATA:text/html,hi", "HTTP://localhost:6274/cb"]


def test_disguised_redirect_uris_are_refused_at_registration(signed_worker):
    for uri in DISGUISED:
        r = httpx2.post(signed_worker.base + "/register",
                        json={"redirect_uris": [uri], "token_endpoint_auth_method": "none"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_redirect_uri", (uri, r.text)


def test_disguised_redirect_uris_are_refused_in_metadata_documents(signed_worker):
    with Documents({}) as docs:
        # One of each kind (every one is refused natively, registration.rs): each document is one outbound fetch.
        for i, uri in enumerate(DISGUISED[:8] + ["HTTPS://app.example/cb", "\u00a0" + APP]):
            url = docs.url(f"/d{i}/client.json")
            docs.docs[f"/d{i}/client.json"] = {"client_id": url, "redirect_uris": [uri],
                                              "token_endpoint_auth_method": "none"}
            r = httpx2.get(authorize_url(signed_worker.base, url, uri))
            assert is_error_page(r), (uri, r.status_code, r.headers.get("location"))
            assert "metadata document cannot be used" in r.text, (uri, r.text)


def test_disguised_redirect_uris_never_match_a_registered_one(signed_worker):
    base = signed_worker.base
    client = register(base, [APP])
    for uri in DISGUISED + ["https://APP.example/cb", "https://app.example:443/cb", "https://app.example./cb",
                            "https://app.example/cb/", "https://app.example/CB", "https://app.example/c%62"]:
        for changes in [{}, {"response_type": "token"}]:
            r = httpx2.get(authorize_url(base, client, uri, **changes))
            assert is_error_page(r), (uri, changes, r.status_code, r.headers.get("location"))


# --- The token audit line ---------------------------------------------------------------------------------------


def test_the_token_audit_line_names_only_an_authenticated_client(signed_worker):
    raw = Raw(signed_worker.base)
    forged = "innocent-client-" + pkce()[0][:12]
    r = raw.token(grant_type="refresh_token", refresh_token="x", client_id=forged)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    real = raw.client()
    r = raw.token(grant_type="refresh_token", refresh_token="not-a-token", client_id=real)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    signed_worker.wait_for_log(real)
    time.sleep(0.3)
    lines = [json.loads(line[line.find('{"audit"'):]) for line in signed_worker.logs().splitlines()
             if '{"audit":"skillport"' in line and '"action":"token"' in line]
    assert forged not in signed_worker.logs()
    refused = [e for e in lines if e["detail"] == "refresh_token refused: invalid_client"]
    assert refused and all("client" not in e for e in refused), refused
    assert any(e.get("client") == real and e["detail"] == "refresh_token refused: invalid_grant" for e in lines), lines


# --- Host values ----------------------------------------------------------------------------------------------------


def raw_get(port: int, path: str, host: bytes) -> tuple[int, bytes]:
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host + b"\r\nconnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_host_values_that_reach_the_worker_get_its_own_4xx(signed_worker):
    """Host values the local runtime passes on reach the worker, which refuses them with its own 4xx (MCP is served
    on loopback only with `local`). Values the runtime cannot make a URL of (`exa mple.com`, `[::1`,
    `localhost:abc`) are answered by workerd itself before the worker runs, with a plain 500 ("invalid hostname when
    stringifying URL" in its log): after each, the worker still serves. tests/host_header.rs sends every value to the
    worker directly."""
    port = int(signed_worker.base.rsplit(":", 1)[1])
    for host in [b"..", b"a_b", b"localhost.evil.example", b"evil.example:8787"]:
        # `local` answers every route, pages included, with the one refusal for a host that is not loopback.
        for path in ["/mcp", "/authorize?client_id=x"]:
            status, data = raw_get(port, path, host)
            assert status == 403 and b"only answers requests addressed to a loopback host" in data, (host, path, data)
    for host in [b"exa mple.com", b"[::1", b"localhost:abc", b"a\\b", b"xn--"]:
        raw_get(port, "/mcp", host)
        assert httpx2.get(signed_worker.base + "/").status_code == 200, host
