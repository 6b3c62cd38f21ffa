"""The sign-in stand-ins and the scripted browser on their own, without the worker: full authorization code flows
through tests/support/browser.py against tests/standins/idp.mjs (each profile) and forge.py's GitHub web flow, with the
code then exchanged the way Skillport's providers do (providers/src/oidc/, github.rs). A small in-process fake of
Skillport's own hops (its cookie, its consent page) checks the browser's consent handling; the browser's cookie
rules are checked directly."""

from __future__ import annotations

import html
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest

from support.browser import Browser, CookieJar, Result, parse_forms
from support.github_schema import schema_for
from support.idps import GitHubIdP, OidcIdP
from support.oauth import pkce
from support.worker import free_port

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx

CALLBACK = "http://127.0.0.1:9/oauth/callback"  # nothing listens there: the browser stops before loading it
NS = "https://skillport.test/"


def oidc_authorize_url(idp: OidcIdP, challenge: str, state: str, nonce: str, redirect_uri: str = CALLBACK) -> str:
    return idp.discovery()["authorization_endpoint"] + "?" + urllib.parse.urlencode({
        "response_type": "code", "client_id": idp.client_id, "redirect_uri": redirect_uri,
        "scope": "openid email profile", "state": state, "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256"})


def oidc_exchange(idp: OidcIdP, code: str, verifier: str, basic: bool) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier}
    auth = None
    if basic:
        auth = (idp.client_id, idp.client_secret)
    else:
        form.update(client_id=idp.client_id, client_secret=idp.client_secret)
    return httpx.post(idp.discovery()["token_endpoint"], data=form, auth=auth, trust_env=False)


def verified_claims(idp: OidcIdP, id_token: str, nonce: str) -> dict:
    discovery = idp.discovery()
    keys = httpx.get(discovery["jwks_uri"], trust_env=False).json()["keys"]
    kid = jwt.get_unverified_header(id_token)["kid"]
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == kid)).key
    claims = jwt.decode(id_token, key, algorithms=["RS256"], audience=idp.client_id, issuer=idp.issuer)
    assert claims["nonce"] == nonce
    return claims


# -- idp.mjs ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["generic", "google", "auth0"])
def idp(request):
    with OidcIdP(request.param, redirect_uris=[CALLBACK]) as started:
        yield started


ACCOUNTS = {"ada": ("ada@acme.example", True, ["eng", "admins"], ["admin"]),
            "bob": ("bob@other.example", True, ["sales"], []),
            "eve": ("eve@acme.example", False, [], [])}


@pytest.mark.parametrize("username", ["ada", "bob", "eve"])
def test_oidc_code_flow(idp, username):
    verifier, challenge = pkce()
    state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
    with Browser() as browser:
        result = browser.authorize(oidc_authorize_url(idp, challenge, state, nonce), username,
                                   f"{username}-password", CALLBACK)
    assert result.code and result.query["state"] == state and result.query["iss"] == idp.issuer, result
    assert result.page is None and result.url.startswith(CALLBACK + "?")
    paths = [urllib.parse.urlsplit(url).path for _, url in result.hops]
    assert paths[0] == "/auth" and result.hops[0].status == 303
    assert any(p.endswith("/login") for p in paths) and any(p.endswith("/confirm") for p in paths), result.hops
    assert result.hops[-1].status == 303  # the IdP's redirect to the client, which the browser did not load

    # Exchanged as Skillport's providers do it: Basic for generic and Google, the form body for Auth0.
    response = oidc_exchange(idp, result.code, verifier, basic=idp.profile != "auth0")
    assert response.status_code == 200, response.text
    tokens = response.json()
    claims = verified_claims(idp, tokens["id_token"], nonce)
    email, verified, groups, roles = ACCOUNTS[username]
    assert (claims["email"], claims["email_verified"]) == (email, verified)
    if idp.profile == "generic":
        assert claims["groups"] == groups
    elif idp.profile == "google":
        assert claims.get("hd") == (None if username == "bob" else "acme.example") and "groups" not in claims
    else:
        assert claims[NS + "groups"] == groups and claims[NS + "roles"] == roles
        assert claims["sub"].startswith("auth0|")
    info = httpx.get(idp.discovery()["userinfo_endpoint"], trust_env=False,
                     headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert info["sub"] == claims["sub"] and info["email"] == email
    assert [r["auth"] for r in idp.requests() if r["path"].endswith("/token")][-1] == (
        "basic" if idp.profile != "auth0" else None)


def test_oidc_wrong_password_stays_on_the_form(idp):
    _, challenge = pkce()
    with Browser() as browser:
        result = browser.authorize(oidc_authorize_url(idp, challenge, "s", "n"), "ada", "not-her-password", CALLBACK)
    assert result.query == {} and result.status == 200
    assert "Wrong username or password." in result.page
    assert any(f.action.endswith("/login") for f in parse_forms(result.page))


def test_oidc_session_skips_login_and_consent(idp):
    verifier, challenge = pkce()
    with Browser() as browser:
        first = browser.authorize(oidc_authorize_url(idp, challenge, "one", "n1"), "bob", "bob-password", CALLBACK)
        assert first.code
        again = browser.authorize(oidc_authorize_url(idp, challenge, "two", "n2"), None, None, CALLBACK)
    assert again.code and again.query["state"] == "two", again
    assert not any("/interaction/" in url for _, url in again.hops), again.hops
    tokens = oidc_exchange(idp, again.code, verifier, basic=idp.profile != "auth0").json()
    assert verified_claims(idp, tokens["id_token"], "n2")["email"] == "bob@other.example"


def test_oidc_without_pkce_is_refused(idp):
    url = idp.discovery()["authorization_endpoint"] + "?" + urllib.parse.urlencode({
        "response_type": "code", "client_id": idp.client_id, "redirect_uri": CALLBACK, "scope": "openid",
        "state": "nopkce"})
    with Browser() as browser:
        result = browser.authorize(url, "ada", "ada-password", CALLBACK)
    assert result.error == "invalid_request" and result.query["state"] == "nopkce"


def test_oidc_issuer_path_and_auto_consent():
    with OidcIdP("generic", [CALLBACK], issuer_path="/realms/acme", consent="auto") as idp:
        assert idp.issuer.endswith("/realms/acme") and idp.discovery()["issuer"] == idp.issuer
        verifier, challenge = pkce()
        with Browser() as browser:
            result = browser.authorize(oidc_authorize_url(idp, challenge, "p", "n"), "ada", "ada-password", CALLBACK)
        assert result.code and result.query["iss"] == idp.issuer
        assert not any(url.endswith("/confirm") for _, url in result.hops)
        assert all(urllib.parse.urlsplit(url).path.startswith("/realms/acme/") for _, url in result.hops)
        tokens = oidc_exchange(idp, result.code, verifier, basic=False).json()  # either client auth is taken
        assert verified_claims(idp, tokens["id_token"], "n")["groups"] == ["eng", "admins"]


# -- forge.py's GitHub -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def github():
    with GitHubIdP() as started:
        yield started


def github_authorize_url(github: GitHubIdP, challenge: str, state: str, scope="read:user user:email read:org") -> str:
    return f"{github.base}/login/oauth/authorize?" + urllib.parse.urlencode({
        "client_id": github.client_id, "redirect_uri": CALLBACK, "scope": scope, "state": state,
        "code_challenge": challenge, "code_challenge_method": "S256"})


def github_exchange(github: GitHubIdP, code: str, verifier: str) -> dict:
    """As providers/src/github.rs: a form POST with the secret in the body, asking for JSON."""
    response = httpx.post(f"{github.base}/login/oauth/access_token", trust_env=False,
                          headers={"Accept": "application/json", "User-Agent": "skillport"},
                          data={"client_id": github.client_id, "client_secret": github.client_secret, "code": code,
                                "redirect_uri": CALLBACK, "code_verifier": verifier})
    assert response.status_code == 200
    return response.json()


def github_api(github: GitHubIdP, path: str, token: str) -> httpx.Response:
    return httpx.get(github.base + path, trust_env=False, headers={
        "Accept": "application/vnd.github+json", "Authorization": f"Bearer {token}", "User-Agent": "skillport",
        "X-GitHub-Api-Version": "2022-11-28"})


def test_github_web_flow(github):
    verifier, challenge = pkce()
    with Browser() as browser:
        result = browser.authorize(github_authorize_url(github, challenge, "gh1"), "octocat", "octo-password", CALLBACK)
        assert browser.jar.get("user_session") is not None
    assert result.code and result.query["state"] == "gh1", result
    assert [(status, urllib.parse.urlsplit(url).path) for status, url in result.hops] == [
        (302, "/login/oauth/authorize"), (200, "/login"), (302, "/session"), (302, "/login/oauth/authorize")]

    answer = github_exchange(github, result.code, verifier)
    assert answer["token_type"] == "bearer" and answer["scope"] == "read:user,user:email,read:org"
    token = answer["access_token"]
    user = github_api(github, "/user", token).json()
    assert (user["login"], user["id"], user["name"]) == ("octocat", 583231, "The Octocat")
    emails = github_api(github, "/user/emails", token).json()
    assert {"email": "octocat@acme.example", "primary": True, "verified": True, "visibility": "public"} in emails
    membership = github_api(github, "/user/memberships/orgs/acme", token).json()
    assert membership["state"] == "active" and membership["role"] == "admin"
    team = github_api(github, "/orgs/acme/teams/platform/memberships/octocat", token).json()
    assert team["state"] == "active"
    assert github_api(github, "/orgs/acme/members/octocat", token).status_code == 204
    assert github_api(github, "/api/v3/user", token).json()["login"] == "octocat"  # the GHES API base too
    assert github_exchange(github, result.code, verifier)["error"] == "bad_verification_code"  # single use


def test_github_mallory_is_in_no_org(github):
    verifier, challenge = pkce()
    with Browser() as browser:
        result = browser.authorize(github_authorize_url(github, challenge, "m"), "mallory", "mallory-password",
                                   CALLBACK)
    token = github_exchange(github, result.code, verifier)["access_token"]
    assert github_api(github, "/user", token).json()["login"] == "mallory"
    assert github_api(github, "/user/memberships/orgs/acme", token).status_code == 404
    assert github_api(github, "/orgs/acme/teams/platform/memberships/mallory", token).status_code == 404
    assert github_api(github, "/orgs/acme/members/mallory", token).status_code != 204


def test_github_pkce_and_password_are_checked(github):
    verifier, challenge = pkce()
    with Browser() as browser:
        refused = browser.authorize(github_authorize_url(github, challenge, "w"), "octocat", "guess", CALLBACK)
        assert refused.query == {} and "Incorrect username or password." in refused.page
        result = browser.authorize(github_authorize_url(github, challenge, "w2"), "octocat", "octo-password", CALLBACK)
    assert github_exchange(github, result.code, pkce()[0])["error"] == "bad_verification_code"


def test_github_registered_callback():
    registered = "http://127.0.0.1:9/registered"
    with GitHubIdP(client_id="other-app", client_secret="s3", callback=registered) as github, Browser() as browser:
        _, challenge = pkce()
        result = browser.authorize(github_authorize_url(github, challenge, "cb"), "octocat", "octo-password",
                                   registered)
    assert result.error == "redirect_uri_mismatch" and result.query["state"] == "cb"


# -- the Skillport side of the hops: a fake in front of the real IdP --------------------------------------------------

class FakeSkillport:
    """Skillport's hops in miniature: /authorize sets a __Host- cookie (Secure, over loopback http) and sends the
    browser to the IdP; /idp-callback checks the cookie and state and shows the consent page; the POST checks the
    csrf field, the cookie and the Origin, then redirects to the client."""

    def __init__(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.idp: OidcIdP | None = None
        self.seen: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, headers=(), body=""):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                data = body.encode()
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def cookie(self):
                pairs = [p.strip().split("=", 1) for p in (self.headers.get("Cookie") or "").split(";") if "=" in p]
                return dict(pairs).get("__Host-sp")

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                fake.seen.append({"path": url.path, "cookie": self.cookie(), "site": self.headers.get("Sec-Fetch-Site")})
                if url.path == "/authorize":
                    state = secrets.token_urlsafe(8)
                    _, challenge = pkce()
                    target = oidc_authorize_url(fake.idp, challenge, state, "n", redirect_uri=fake.base + "/idp-callback")
                    return self.reply(302, [("Location", target), ("Set-Cookie",
                                      f"__Host-sp={state}; Path=/; Secure; HttpOnly; SameSite=Lax")])
                if url.path == "/idp-callback":
                    if not self.cookie() or query.get("state") != self.cookie():
                        return self.reply(400, body="<p>state does not match the cookie</p>")
                    return self.reply(200, body=(
                        '<h1>Allow Test Client?</h1><form method="post" action="/consent">'
                        f'<input type="hidden" name="pending" value="{html.escape(query["code"])}">'
                        '<input type="hidden" name="csrf" value="c5rf">'
                        '<button type="submit" name="decision" value="approve">Allow</button>'
                        '<button type="submit" name="decision" value="deny">Deny</button></form>'))
                self.reply(404)

            def do_POST(self):
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                fake.seen.append({"path": self.path, "cookie": self.cookie(), "origin": self.headers.get("Origin"),
                                  "form": form})
                if form.get("csrf") != "c5rf" or not self.cookie() or self.headers.get("Origin") != fake.base:
                    return self.reply(403, body="<p>csrf</p>")
                params = {"code": "sp-" + form["pending"][:6]} if form["decision"] == "approve" else {
                    "error": "access_denied"}
                self.reply(302, [("Location", CALLBACK + "?" + urllib.parse.urlencode({**params, "state": "client"}))])

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fake_skillport():
    fake = FakeSkillport()
    with OidcIdP("generic", redirect_uris=[fake.base + "/idp-callback"]) as idp:
        fake.idp = idp
        yield fake
    fake.stop()


@pytest.mark.parametrize("decision", ["approve", "deny", None])
def test_browser_through_skillport_consent(fake_skillport, decision):
    with Browser() as browser:
        result = browser.authorize(fake_skillport.base + "/authorize", "ada", "ada-password", CALLBACK,
                                   decision=decision)
        assert browser.jar.rejected == []
    if decision is None:
        assert result.query == {} and "Allow Test Client?" in result.page and result.status == 200
        return
    assert isinstance(result, Result) and result.query["state"] == "client"
    assert (result.code is not None) == (decision == "approve") and (result.error == "access_denied") == (
        decision == "deny")
    post = fake_skillport.seen[-1]
    assert post["form"]["decision"] == decision and post["origin"] == fake_skillport.base and post["cookie"]
    callback = [s for s in fake_skillport.seen if s["path"] == "/idp-callback"][-1]
    assert callback["cookie"] and callback["site"] == "same-site"  # redirected there from the IdP's origin
    assert result.hops[0].url == fake_skillport.base + "/authorize"


# -- the browser's cookie rules ----------------------------------------------------------------------------------------

def test_cookie_rules():
    jar = CookieJar()
    local, page = "http://127.0.0.1:8787", "http://127.0.0.1:8787/oauth/authorize"
    jar.store(page, "__Host-session=a; Path=/; Secure; HttpOnly; SameSite=Lax")
    jar.store(page, "__Host-bad=1; Path=/; Secure; Domain=127.0.0.1")
    jar.store(page, "__Host-bad=2; Path=/oauth; Secure")
    jar.store(page, "__Host-bad=3; Path=/")
    jar.store(page, "__Secure-bad=4")
    jar.store("http://example.test/", "insecure=5; Secure")
    jar.store(page, "none=6; SameSite=None")
    assert [why for _, why in jar.rejected] == [
        "__Host- prefix needs Secure, Path=/ and no Domain", "__Host- prefix needs Secure, Path=/ and no Domain",
        "__Host- prefix needs Secure, Path=/ and no Domain", "__Secure- prefix without Secure",
        "Secure from an insecure origin", "SameSite=None without Secure"]
    jar.store(page, "scoped=7")  # default path /oauth
    jar.store(page, "strict=8; Path=/; SameSite=Strict")
    assert jar.header(local + "/oauth/callback", same_site=True, top_level_get=True) == \
        "scoped=7; __Host-session=a; strict=8"
    assert jar.header(local + "/mcp", same_site=True, top_level_get=True) == "__Host-session=a; strict=8"
    assert jar.header("http://localhost:8787/mcp", same_site=True, top_level_get=True) is None  # another host
    assert jar.header(local + "/", same_site=False, top_level_get=True) == "__Host-session=a"  # no Strict cross-site
    assert jar.header(local + "/", same_site=False, top_level_get=False) is None  # no Lax on a cross-site POST
    jar.store(page, "__Host-session=gone; Path=/; Secure; Max-Age=0")
    jar.store(page, "strict=x; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    assert jar.header(local + "/", same_site=True, top_level_get=True) is None
    jar.store("http://a.example.test/", "wide=1; Domain=example.test")
    assert jar.header("http://b.example.test/x", same_site=True, top_level_get=True) == "wide=1"  # Domain cookie
    assert jar.header("http://example.test/", same_site=True, top_level_get=True) == "wide=1"
    assert jar.header("http://notexample.test/", same_site=True, top_level_get=True) is None
    jar.store("http://a.example.test/", "evil=1; Domain=other.test")
    assert jar.rejected[-1][1] == "Domain=other.test does not match a.example.test"


def test_forms_are_parsed():
    forms = parse_forms("""<form method="POST" action="/consent"><input type="hidden" name="pending" value="p&amp;1">
        <input type=hidden name=csrf value=c><input type="checkbox" name="remember" value="yes">
        <select name="org"><option value="a">A</option><option value="b" selected>B</option></select>
        <textarea name="note">hi</textarea><button name="decision" value="approve"> Allow
        access </button><button type="button">Help</button><input type="submit" name="decision" value="deny"></form>""")
    (form,) = forms
    assert (form.method, form.action) == ("post", "/consent")
    assert form.values() == [("pending", "p&1"), ("csrf", "c"), ("org", "b"), ("note", "hi")]
    assert [(b["name"], b["value"], b["label"]) for b in form.buttons] == [
        ("decision", "approve", "Allow access"), ("decision", "deny", "deny")]


def test_github_user_api_matches_githubs_openapi(github):
    """The signed-in user's endpoints, validated like test_forge_shapes.py validates the repository ones."""
    import jsonschema

    verifier, challenge = pkce()
    with Browser() as browser:
        result = browser.authorize(github_authorize_url(github, challenge, "s"), "octocat", "octo-password", CALLBACK)
    token = github_exchange(github, result.code, verifier)["access_token"]
    for path, spec_path in [("/user", "/user"), ("/user/emails", "/user/emails"),
                            ("/user/memberships/orgs/acme", "/user/memberships/orgs/{org}"),
                            ("/orgs/acme/teams/platform/memberships/octocat",
                             "/orgs/{org}/teams/{team_slug}/memberships/{username}")]:
        response = github_api(github, path, token)
        assert response.status_code == 200, path
        jsonschema.validate(response.json(), schema_for(spec_path))
    response = github_api(github, "/user/memberships/orgs/nope", token)
    jsonschema.validate(response.json(), schema_for("/user/memberships/orgs/{org}", "404"))
