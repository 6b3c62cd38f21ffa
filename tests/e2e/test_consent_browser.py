"""Skillport's consent page in a real browser: Debian's headless Chromium, driven by playwright-core
(tests/peers/clients/consent-browser.mjs), through a real OpenID provider (tests/standins/idp.mjs, generic profile).

The browser opens /authorize, signs in at the IdP's login form, allows the IdP's consent, comes back through
/callback to Skillport's consent page (screenshot kept as tests/artifacts/consent-<decision>[-csp].png), presses
Approve or Deny, and stops at the MCP client's loopback redirect URI (nobody listens there: the URL Chromium asks for
is the result). Everything a real browser enforces and the scripted one (tests/support/browser.py) only imitates is real here: the
`__Host-` cookies over http://127.0.0.1, SameSite on the IdP's redirect back, the form post, the page's CSP on the
redirect to the client.
"""

import json
import urllib.parse
import shutil
import struct

import httpx2
import pytest

from support.idps import OidcIdP
from support.oauth import GENERIC, pkce, provider_worker
from support.worker import ARTIFACTS, Worker, free_port, run_peer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Distinctive, and with HTML's special characters: the page must show it as text, escaped.
CLIENT_NAME = "Consent Probe <Desk> & Co 7f3a"

@pytest.fixture(scope="module")
def consent_setup():
    """A worker signing in through idp.mjs (oidc provider), shared by this module's tests, and the client's redirect
    URI: a loopback port nobody listens on."""
    assert shutil.which(CHROMIUM), "no chromium: scripts/setup.sh --test installs Debian's"
    port = free_port()
    idp = OidcIdP(GENERIC[0], redirect_uris=[f"http://127.0.0.1:{port}/callback"])
    started = []

    def start(vars, name, open, port):
        assert not open
        started.append(Worker(vars, name=name, port=port))
        return started[-1]

    try:
        worker = provider_worker(start, {**GENERIC[1], "client_id": idp.client_id, "issuer": idp.issuer},
                                 "consent-browser", port)
        yield worker, idp, f"http://127.0.0.1:{free_port()}/callback"
    finally:
        for w in started:
            w.stop()
        idp.stop()


class FormActionBlocked(AssertionError):
    """Chromium refused to follow the consent form's redirect to the client: the consent page's CSP `form-action`."""


def run_browser(worker, redirect: str, decision: str, state: str, bypass_csp: bool):
    """Registers a client named CLIENT_NAME and runs Chromium through its authorization, pressing `decision` on
    Skillport's consent page. Returns (result, verifier, client_id, screenshot); raises FormActionBlocked when the
    browser cancelled the consent form's redirect for the page's CSP (after checking the page itself)."""
    http = httpx2.Client(timeout=30)
    r = http.post(worker.base + "/register", json={"redirect_uris": [redirect], "client_name": CLIENT_NAME,
                                                   "token_endpoint_auth_method": "none",
                                                   "grant_types": ["authorization_code", "refresh_token"]})
    assert r.status_code == 201, r.text
    client_id = r.json()["client_id"]
    verifier, challenge = pkce()
    url = worker.base + "/authorize?" + str(httpx2.QueryParams({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect, "state": state,
        "code_challenge": challenge, "code_challenge_method": "S256", "resource": worker.base + "/mcp"}))
    shot = ARTIFACTS / f"consent-{decision}{'' if bypass_csp else '-csp'}.png"
    shot.unlink(missing_ok=True)
    done = run_peer(["clients/consent-browser.mjs", "--url", url, "--redirect-prefix", redirect, "--username", "ada",
                     "--password", "ada-password", "--decision", decision, "--screenshot", str(shot),
                     "--chromium", CHROMIUM, "--timeout-ms", "15000"] + (["--bypass-csp"] if bypass_csp else []),
                    timeout=60)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        try:
            failure = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise AssertionError(f"consent-browser.mjs failed:\n{done.stderr[-4000:]}") from None
        error = failure["error"]
        if failure.get("consent"):
            check_consent_page({"consent": failure["consent"], "hops": error["hops"]}, worker, shot)
        violations = [m for m in error["console"] if "Content Security Policy directive" in m and "form-action" in m]
        if error["cancelled"] and violations:
            raise FormActionBlocked(f"{error['message']}; Chromium: {violations}; requests: {error['requests'][-3:]}")
        raise AssertionError(json.dumps(error, indent=1)[-6000:])
    return json.loads(done.stdout.strip().splitlines()[-1]), verifier, client_id, shot


def check_consent_page(result, worker, shot):
    consent = result["consent"]
    assert consent, "the browser never saw Skillport's consent page"
    assert consent["url"].startswith(worker.base + "/callback"), consent["url"]
    assert consent["status"] == 200
    headers = {k.lower(): v for k, v in consent["headers"].items()}
    assert "frame-ancestors 'none'" in headers["content-security-policy"], headers
    assert headers["x-frame-options"] == "DENY", headers
    assert "no-store" in headers.get("cache-control", ""), headers
    # It names the client (as text: escaped in the HTML, shown literally) and who signed in, and where the code goes.
    assert CLIENT_NAME in consent["text"], consent["text"]
    assert "Signed in as ada@acme.example" in consent["text"], consent["text"]
    assert "127.0.0.1" in consent["text"], consent["text"]
    # The browser really went through the identity provider's login form (a hop on another port than Skillport's).
    hosts = {url.split("/")[2] for _, url in result["hops"]}
    assert len(hosts - {worker.base.split("/")[2]}) >= 1, result["hops"]
    # The screenshot is a real PNG of a page-sized image.
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", shot
    width, height = struct.unpack(">II", data[16:24])
    assert data[12:16] == b"IHDR" and width >= 800 and height >= 300, (width, height)
    assert len(data) > 5000, len(data)


def redeem(worker, client_id, redirect, verifier, code, result):
    """The code is a real one: it redeems at /token, and the access token opens /mcp."""
    http = httpx2.Client(timeout=30)
    r = http.post(worker.base + "/token", data={"grant_type": "authorization_code", "code": code,
                                                "client_id": client_id, "redirect_uri": redirect,
                                                "code_verifier": verifier, "resource": worker.base + "/mcp"})
    assert r.status_code == 200, (r.text, result["redirect"], result["hops"][-3:])
    ping = http.post(worker.base + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                     headers={"authorization": f"Bearer {r.json()['access_token']}",
                              "accept": "application/json, text/event-stream"})
    assert ping.status_code == 200, ping.text


def check_outcome(decision, result, worker, state, redeem_with=None):
    query = result["query"]
    if decision == "approve":
        assert query.get("code") and query["state"] == state and query["iss"] == worker.base, query
        assert "error" not in query
        # Skillport's __Host- cookies, which Chromium accepts over http://127.0.0.1 (a secure context).
        names = {c["name"] for c in result["cookies"] if c["domain"] == "127.0.0.1"}
        assert "__Host-skillport_consent" in names, result["cookies"]
        redeem(*redeem_with, query["code"], result)
    else:
        assert query["error"] == "access_denied" and query["state"] == state and query["iss"] == worker.base, query
        assert "code" not in query


#: Chromium enforces a page's CSP `form-action` on the redirects that follow a form submission, not only on the form's
#: own action (Firefox does not): the consent page names the client's origin there, or Approve would do nothing.
@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_consent_in_chromium_under_the_pages_own_csp(consent_setup, decision):
    worker, _, redirect = consent_setup
    state = f"st-{decision}-csp"
    result, verifier, client_id, shot = run_browser(worker, redirect, decision, state, bypass_csp=False)
    check_consent_page(result, worker, shot)
    check_outcome(decision, result, worker, state, (worker, client_id, redirect, verifier))
    headers = {k.lower(): v for k, v in result["consent"]["headers"].items()}
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(redirect))
    assert f"form-action 'self' {origin};" in headers["content-security-policy"], headers


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_consent_in_chromium_with_csp_bypassed(consent_setup, decision):
    """Everything but the CSP block above: the same flow with Chromium told to ignore the pages' CSP (the headers are
    still checked as sent)."""
    worker, _, redirect = consent_setup
    state = f"st-{decision}"
    result, verifier, client_id, shot = run_browser(worker, redirect, decision, state, bypass_csp=True)
    check_consent_page(result, worker, shot)
    check_outcome(decision, result, worker, state, (worker, client_id, redirect, verifier))
