"""Sign-in through real upstream identity providers, end to end in workerd.

The upstream is `oidc-provider` (a certified OpenID provider, tests/standins/idp.mjs) configured as a generic OIDC
provider, as "Google Workspace" (the `hd` claim) and as "Auth0" (namespaced groups and roles), and a GitHub
stand-in (tests/standins/forge.py) with the OAuth web flow, /user, /user/emails and org/team membership. The
client is the Python SDK's OAuth client (discovery, dynamic registration, PKCE, token); the user is a scripted
browser (tests/support/browser.py) that fills in the provider's real login form and Skillport's consent page.
"""

import json
import time

import httpx2
import pytest

from support.browser import Browser
from support.idps import GitHubIdP, OidcIdP
from support.oauth import GENERIC, OAUTH_KEY, REDIRECT, Raw, connect_as, pkce, provider_worker, sign_in_page
from support.worker import free_port

pytestmark = pytest.mark.anyio


def audit_lines(worker, action: str):
    time.sleep(0.5)
    lines = []
    for line in worker.logs().splitlines():
        start = line.find('{"audit":"skillport"')
        if start >= 0:
            event = json.loads(line[start:])
            if event["action"] == action:
                lines.append(event)
    return lines


@pytest.fixture
def oidc_setup(start_worker, request):
    profile, auth = request.param
    port = free_port()
    idp = OidcIdP(profile, redirect_uris=[f"http://127.0.0.1:{port}/callback"],
                  issuer_path="/" if profile == "auth0" else "")
    auth = {**auth, "client_id": idp.client_id}
    auth["issuer"] = idp.issuer
    w = provider_worker(start_worker, auth, f"idp-{profile}", port)
    yield idp, w
    idp.stop()


GOOGLE = ("google", {"provider": "google", "allowed_domains": ["acme.example"]})
AUTH0 = ("auth0", {"provider": "auth0", "domain": "acme.eu.auth0.com",
                   "groups_claim": "https://skillport.test/groups", "roles_claim": "https://skillport.test/roles"})


@pytest.mark.parametrize("oidc_setup", [GENERIC, GOOGLE, AUTH0], indirect=True, ids=["oidc", "google", "auth0"])
async def test_full_flow_through_a_real_openid_provider(oidc_setup):
    idp, worker = oidc_setup
    browser = Browser()
    started = time.monotonic()
    listed, result = await connect_as(worker, browser, "ada", "ada-password")
    elapsed = time.monotonic() - started
    assert listed["total"] == 3
    hosts = [h[1].split("/")[2] for h in result.hops]
    assert idp.base.split("/")[2] in hosts, "the browser went through the identity provider"
    assert any("/consent" in h[1] for h in result.hops), "Skillport asked for consent"
    signed = audit_lines(worker, "sign_in")
    assert signed and signed[-1]["outcome"] == "ok" and signed[-1]["user"]["email"] == "ada@acme.example"
    tokens = [e for e in audit_lines(worker, "token") if e["outcome"] == "ok"]
    assert tokens, "the token grant is audited"
    assert "ada-password" not in worker.logs()
    print(f"full flow ({idp.profile}): {elapsed:.2f} s")

    # Consent is remembered for this client in this browser, and the IdP session too: a second client of the same
    # user still sees the consent page (a new client), but no login form.
    listed, result = await connect_as(worker, browser, None, None)
    assert listed["total"] == 3


@pytest.mark.parametrize("oidc_setup", [GENERIC], indirect=True, ids=["oidc"])
async def test_unverified_email_and_denied_consent(oidc_setup):
    idp, worker = oidc_setup
    refused = sign_in_page(worker, Browser(), "eve", "eve-password")
    assert refused.status == 403, refused
    assert "verified" in refused.page
    denied = sign_in_page(worker, Browser(), "ada", "ada-password")
    # The default decision approves; deny explicitly:
    raw_browser = Browser()
    raw = Raw(worker.base)
    client_id = raw.client()
    _, challenge = pkce()
    url = worker.base + "/authorize?" + str(httpx2.QueryParams({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "s9",
        "code_challenge": challenge, "code_challenge_method": "S256"}))
    result = raw_browser.authorize(url, "ada", "ada-password", REDIRECT, decision="deny")
    assert result.query["error"] == "access_denied" and result.query["state"] == "s9"
    assert result.query["iss"] == worker.base
    assert denied.code


@pytest.mark.parametrize("oidc_setup", [GOOGLE], indirect=True, ids=["google"])
async def test_google_hd_outside_the_allowed_domains_is_refused(oidc_setup):
    idp, worker = oidc_setup
    result = sign_in_page(worker, Browser(), "bob", "bob-password")
    assert result.status == 403, result
    assert "not allowed" in result.page
    assert audit_lines(worker, "sign_in")[-1]["outcome"] == "denied"


async def test_github_web_flow_with_org_and_team(start_worker):
    port = free_port()
    gh = GitHubIdP(client_secret=OAUTH_KEY["IDP_SECRET"], callback=f"http://127.0.0.1:{port}/callback")
    try:
        w = provider_worker(start_worker, {"provider": "github", "client_id": gh.client_id, "api_base": gh.base,
                                           "web_base": gh.base, "org": "acme", "teams": ["platform"]},
                            "github-signin", port)
        listed, result = await connect_as(w, Browser(), "octocat", "octo-password")
        assert listed["total"] == 3
        signed = audit_lines(w, "sign_in")
        assert signed[-1]["user"]["provider"] == "github" and signed[-1]["user"]["subject"] == "583231"
        refused = sign_in_page(w, Browser(), "mallory", "mallory-password")
        assert refused.status == 403, refused
        assert "acme" in refused.page
    finally:
        gh.stop()


@pytest.mark.parametrize("oidc_setup", [GENERIC], indirect=True, ids=["oidc"])
async def test_cancel_at_the_provider_and_a_bad_state_end_on_clear_pages(oidc_setup):
    idp, worker = oidc_setup
    raw = Raw(worker.base)
    client_id = raw.client()
    _, challenge = pkce()
    r = raw.authorize(client_id, challenge)
    assert r.status_code == 302 and r.headers["location"].startswith(idp.issuer)
    state = dict(httpx2.QueryParams(r.headers["location"].split("?", 1)[1]))["state"]
    # The browser's sign-in cookie (httpx keeps Secure cookies off plain http, browsers do not on loopback).
    cookie = {"cookie": r.headers["set-cookie"].split(";")[0]}
    # The provider sends the user back with access_denied (what it does when they press Cancel).
    back = raw.http.get(worker.base + "/callback", params={"error": "access_denied", "state": state}, headers=cookie)
    assert back.status_code == 403 and "text/html" in back.headers["content-type"]
    assert "cancelled at the identity provider" in back.text and "Traceback" not in back.text
    # The same state again, or a made-up one: expired or not ours.
    again = raw.http.get(worker.base + "/callback", params={"code": "x", "state": state})
    assert again.status_code == 400 and "expired or was already used" in again.text
    forged = raw.http.get(worker.base + "/callback", params={"code": "x", "state": "not-ours"})
    assert forged.status_code == 400
    # A code the provider never issued: the exchange fails on a page, not a 500.
    r = raw.authorize(client_id, challenge)
    state = dict(httpx2.QueryParams(r.headers["location"].split("?", 1)[1]))["state"]
    cookie = {"cookie": r.headers["set-cookie"].split(";")[0]}
    bad_code = raw.http.get(worker.base + "/callback", params={"code": "forged-code", "state": state},
                            headers=cookie)
    assert bad_code.status_code == 400 and "did not accept the sign-in code" in bad_code.text


async def test_provider_down_ends_on_a_clear_page(start_worker):
    dead = f"http://127.0.0.1:{free_port()}"
    w = provider_worker(start_worker, {"provider": "oidc", "issuer": dead, "client_id": "c"}, "idp-down", free_port())
    raw = Raw(w.base)
    client_id = raw.client()
    _, challenge = pkce()
    r = raw.authorize(client_id, challenge)
    assert r.status_code == 502, r.text
    assert "identity provider is unavailable" in r.text and "location" not in r.headers
    assert audit_lines(w, "sign_in")[-1]["outcome"] == "error"
