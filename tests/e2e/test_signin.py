"""Sign-in end to end in workerd: real OAuth clients (the Python SDK's) against Skillport's authorization server.

With the embedded default (the `local` provider) the production flow runs whole — discovery, dynamic client
registration, PKCE, an automatic sign-in, the code and the token — and /mcp refuses requests without a token.
"""

import json
import urllib.parse

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from support.oauth import REDIRECT, Documents, MemoryStorage, Raw, follow_until_client, oauth, pkce

pytestmark = pytest.mark.anyio


async def test_local_provider_runs_the_whole_oauth_flow_with_the_python_sdk(signed_worker):
    base = signed_worker.base
    # Without a token: 401 and where to find the metadata.
    r = httpx2.post(base + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                    headers={"accept": "application/json, text/event-stream"})
    assert r.status_code == 401
    assert f'resource_metadata="http://localhost:8787/.well-known/oauth-protected-resource/mcp"' in \
        r.headers["www-authenticate"] or "resource_metadata=" in r.headers["www-authenticate"]

    storage = MemoryStorage()
    auth = oauth(base, follow_until_client, storage)
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http:
        async with Client(streamable_http_client(base + "/mcp", http_client=http), mode="legacy") as client:
            tools = await client.list_tools()
            assert {t.name for t in tools.tools} >= {"list_plugins", "fetch_skill"}
            listed = await client.call_tool("list_plugins", {"surface": "all"})
            assert listed.structured_content["total"] == 3
    assert storage.tokens.access_token and storage.tokens.refresh_token
    assert storage.client.client_id


# --- The negative suite, against the real Durable Object store ---------------------------------------------------


def test_code_replay_50_concurrent_redemptions_take_the_code_once_and_leave_no_live_token(signed_worker):
    raw = Raw(signed_worker.base)
    client_id = raw.client()
    verifier, challenge = pkce()
    code = raw.code(client_id, challenge)

    def redeem(_):
        with httpx2.Client(timeout=30) as h:
            return h.post(raw.base + "/token", data={"grant_type": "authorization_code", "code": code,
                                                     "client_id": client_id, "redirect_uri": REDIRECT,
                                                     "code_verifier": verifier})

    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(redeem, range(50)))
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 400}, statuses
    # Exactly one redemption takes the code; the other 49 are replays (RFC 6749 4.1.2: refused, and they revoke
    # what the code granted). Whether the one that took it answers 200 or finds its grant already revoked depends on
    # which request the server finishes first, so both are right; what must never happen is a second taker, or a
    # token that still works once the replays are in.
    replays = [a for a in answers if a.status_code == 400 and "already used" in a.json()["error_description"]]
    assert len(replays) == 49, [(a.status_code, a.text) for a in answers]
    taker = next(a for a in answers if a not in replays)
    if taker.status_code == 200:
        assert raw.mcp(taker.json()["access_token"]).status_code == 401, "the replays revoked the grant"
    else:
        assert taker.json()["error"] == "invalid_grant" and "revoked" in taker.json()["error_description"], taker.text


def test_replay_after_success_revokes_the_grant(signed_worker):
    raw = Raw(signed_worker.base)
    client_id = raw.client()
    verifier, challenge = pkce()
    code = raw.code(client_id, challenge)
    first = raw.redeem(client_id, code, verifier)
    assert first.status_code == 200
    access = first.json()["access_token"]
    assert raw.mcp(access).status_code == 200
    again = raw.redeem(client_id, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert raw.mcp(access).status_code == 401, "a replayed code revokes what it granted"


def test_wrong_verifier_plain_method_and_missing_pkce(signed_worker):
    raw = Raw(signed_worker.base)
    client_id = raw.client()
    verifier, challenge = pkce()
    code = raw.code(client_id, challenge)
    wrong = raw.redeem(client_id, code, pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    plain = raw.authorize(client_id, verifier, method="plain")
    assert plain.status_code == 302
    assert "error=invalid_request" in plain.headers["location"]
    none = raw.http.get(raw.base + "/authorize?" + urllib.parse.urlencode(
        {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT}))
    assert "error=invalid_request" in none.headers["location"]


def test_redirect_mismatch_and_open_redirects_get_a_page_not_a_redirect(signed_worker):
    raw = Raw(signed_worker.base)
    client_id = raw.client()
    _, challenge = pkce()
    for target in ["https://evil.example/cb", REDIRECT + "/../evil", REDIRECT + "?x=1", "http://127.0.0.1:33418/",
                   REDIRECT.upper()]:
        r = raw.authorize(client_id, challenge, redirect_uri=target)
        assert r.status_code == 400, (target, r.status_code)
        assert "location" not in r.headers
        assert "text/html" in r.headers["content-type"]
        assert r.headers["x-frame-options"] == "DENY"
    unknown = raw.authorize("no-such-client", challenge)
    assert unknown.status_code == 400 and "location" not in unknown.headers


def test_registration_refuses_unsafe_redirects(signed_worker):
    raw = Raw(signed_worker.base)
    for uri in ["javascript:alert(1)", "http://evil.example/cb", "data:text/html,hi", "https://a.example/cb#frag"]:
        r = raw.register([uri])
        assert r.status_code == 400, uri
        assert r.json()["error"] == "invalid_redirect_uri"
    for uri in ["https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback",
                "http://localhost:6274/oauth/callback"]:
        assert raw.register([uri]).status_code == 201, uri


def test_unknown_client_at_the_token_endpoint_is_401_invalid_client(signed_worker):
    raw = Raw(signed_worker.base)
    r = raw.token(grant_type="authorization_code", code="x", client_id="never-registered", redirect_uri=REDIRECT,
                  code_verifier="v" * 43)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_a_token_is_bound_to_its_resource(signed_worker):
    raw = Raw(signed_worker.base)
    _, sse_tokens = raw.tokens(resource="/sse")
    assert raw.mcp(sse_tokens["access_token"]).status_code == 401
    r = raw.mcp(sse_tokens["access_token"])
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_refresh_rotates_and_a_replay_after_rotation_revokes(signed_worker):
    raw = Raw(signed_worker.base)
    client_id, t = raw.tokens()
    first_refresh = t["refresh_token"]
    r1 = raw.token(grant_type="refresh_token", refresh_token=first_refresh, client_id=client_id)
    assert r1.status_code == 200, r1.text
    second = r1.json()
    assert second["refresh_token"] != first_refresh
    # The new refresh token is used: the old one is now a replay, which revokes the grant.
    r2 = raw.token(grant_type="refresh_token", refresh_token=second["refresh_token"], client_id=client_id)
    assert r2.status_code == 200
    third = r2.json()
    replay = raw.token(grant_type="refresh_token", refresh_token=first_refresh, client_id=client_id)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert raw.mcp(third["access_token"]).status_code == 401
    dead = raw.token(grant_type="refresh_token", refresh_token=third["refresh_token"], client_id=client_id)
    assert dead.status_code == 400


def test_revoked_token_no_longer_works(signed_worker):
    raw = Raw(signed_worker.base)
    client_id, t = raw.tokens()
    assert raw.mcp(t["access_token"]).status_code == 200
    r = raw.http.post(raw.base + "/revoke", data={"token": t["refresh_token"], "client_id": client_id})
    assert r.status_code == 200
    assert raw.mcp(t["access_token"]).status_code == 401


def test_expired_access_token_is_refused(start_worker):
    w = start_worker({"SKILLPORT_AUTH__ACCESS_TTL_SECONDS": "3"}, name="shortttl", open=False)
    raw = Raw(w.base)
    _, t = raw.tokens()
    assert raw.mcp(t["access_token"]).status_code == 200
    import time
    time.sleep(3.5)
    r = raw.mcp(t["access_token"])
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_audit_lines_name_user_action_plugin_and_version(signed_worker):
    storage = MemoryStorage()
    async with httpx2.AsyncClient(auth=oauth(signed_worker.base, follow_until_client, storage), timeout=30) as http:
        async with Client(streamable_http_client(signed_worker.base + "/mcp", http_client=http),
                          mode="legacy") as client:
            got = await client.call_tool("get_plugin", {"name": "brand-kit@example"})
            fetched = await client.call_tool("fetch_skill", {"name": "brand-kit@example/brand-voice"})
            await client.call_tool("get_plugin", {"name": "no-such-plugin"})
            await client.call_tool("check_updates", {"installed": [{"name": "brand-kit@example", "version": "0.0.1"}]})
    with httpx2.Client() as h:
        assert h.get(fetched.structured_content["download"]["url"].replace(
            "http://127.0.0.1", "http://127.0.0.1")).status_code == 200
    import time
    time.sleep(0.5)
    events = [json.loads(line[line.find('{"audit"'):]) for line in signed_worker.logs().splitlines()
              if '{"audit":"skillport"' in line]
    by_action = {}
    for e in events:
        by_action.setdefault(e["action"], []).append(e)
    assert by_action["sign_in"][-1]["user"]["email"] == "developer@localhost"
    assert any(e["outcome"] == "ok" for e in by_action["token"])
    plugin_reads = by_action["get_plugin"]
    assert {"brand-kit@example", "no-such-plugin"} <= {e["plugin"] for e in plugin_reads}
    ok_read = [e for e in plugin_reads if e["outcome"] == "ok"][-1]
    assert ok_read["user"]["subject"] == "local-developer" and ok_read["version"] == got.structured_content["version"]
    assert [e for e in plugin_reads if e["outcome"] == "not_found"]
    assert by_action["fetch_skill"][-1]["plugin"] == "brand-kit@example"
    assert by_action["check_updates"][-1]["detail"].startswith("1 item(s)")
    assert by_action["download"][-1]["outcome"] == "ok"
    logs = signed_worker.logs()
    assert storage.tokens.access_token not in logs and storage.tokens.refresh_token not in logs
    for e in events:
        assert set(e) <= {"audit", "time", "action", "outcome", "user", "client", "plugin", "skill", "version",
                          "detail"}


def test_client_id_metadata_document_client(signed_worker):
    """A client identified by the URL of its metadata document (no registration): fetched once, cached, used."""
    with Documents({}) as docs:
        url = docs.url("/oauth/client.json")
        docs.docs["/oauth/client.json"] = {"client_id": url, "client_name": "CIMD e2e client",
                                           "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
        raw = Raw(signed_worker.base)
        meta = raw.http.get(raw.base + "/.well-known/oauth-authorization-server").json()
        assert meta["client_id_metadata_document_supported"] is True
        for _ in range(2):
            verifier, challenge = pkce()
            code = raw.code(url, challenge)
            r = raw.redeem(url, code, verifier)
            assert r.status_code == 200, r.text
            assert raw.mcp(r.json()["access_token"]).status_code == 200
        assert docs.hits == ["/oauth/client.json"], "fetched once, then cached"
        # A redirect URI the document does not list gets a page, never a redirect.
        _, challenge = pkce()
        bad = raw.authorize(url, challenge, redirect_uri="http://127.0.0.1:1/elsewhere")
        assert bad.status_code == 400 and "location" not in bad.headers
