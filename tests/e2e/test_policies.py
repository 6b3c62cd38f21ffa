"""Install policies per group, end to end in workerd: three users signed in through a real OpenID provider
(tests/standins/idp.mjs), each in different groups, one of them in two groups whose rules conflict, each see their
own `policy` per plugin in list_plugins (and its `policy` filter), their own `requiredMissing` in check_updates and
their own required plugins in the server instructions. The most specific rule decides, not the most permissive."""

import json

import pytest

from support.browser import Browser
from support.idps import OidcIdP
from support.mcp import post
from support.oauth import provider_worker, session_as
from support.worker import free_port

pytestmark = pytest.mark.anyio

# ada: groups eng+admins; bob: sales; cy: eng+sales (see idp.mjs).
RULES = "[" + ",".join([
    # Everything is required for eng (a rule with no target: the least specific).
    '{effect="allow",groups=["eng"],policy="required"}',
    # More specific, so these win over the eng rule for whoever they select, whichever is more permissive.
    '{effect="allow",plugin="brand-kit@example",groups=["sales"],policy="required"}',
    '{effect="allow",plugin="repo-tools",groups=["sales"],policy="available"}',
    '{effect="allow",plugin="writing-tools",groups=["admins"],policy="recommended"}',
]) + "]"

WANT = {
    "ada": {"writing-tools@example": "recommended", "brand-kit@example": "required", "repo-tools@example": "required"},
    "bob": {"writing-tools@example": "available", "brand-kit@example": "required", "repo-tools@example": "available"},
    # In eng and sales: sales's plugin rule makes repo-tools available although eng requires everything.
    "cy": {"writing-tools@example": "required", "brand-kit@example": "required", "repo-tools@example": "available"},
}


async def as_user(worker, username: str) -> dict:
    """Signs in as `username` (the SDK's OAuth client, a scripted browser) and returns what the policies change."""
    async with session_as(worker, Browser(), username, f"{username}-password") as client:
        listed = await client.call_tool("list_plugins", {"surface": "all"})
        assert not listed.is_error, listed
        required = await client.call_tool("list_plugins", {"surface": "all", "policy": "required"})
        detail = await client.call_tool("get_plugin", {"name": "repo-tools@example"})
        updates = await client.call_tool("check_updates", {"installed": [{"name": "brand-kit@example"}]})
        assert not updates.is_error, updates
        # The text copy says the same as the structured result, for clients that read only text.
        assert json.loads(updates.content[0].text) == updates.structured_content
        return {
            "policies": {p["name"]: p["policy"] for p in listed.structured_content["plugins"]},
            "required": [p["name"] for p in required.structured_content["plugins"]],
            "detail": detail.structured_content["policy"],
            "missing": [m["name"] for m in updates.structured_content["requiredMissing"]],
            "missing_count": updates.structured_content["summary"]["requiredMissing"],
            "instructions": client.instructions or "",
        }


async def test_three_users_of_different_groups_each_see_their_own_policies(start_worker):
    port = free_port()
    idp = OidcIdP("generic", redirect_uris=[f"http://127.0.0.1:{port}/callback"])
    try:
        auth = {"provider": "oidc", "issuer": idp.issuer, "client_id": idp.client_id, "groups_claim": "groups"}
        worker = provider_worker(start_worker, auth, "policies", port, {"SKILLPORT_ACCESS__RULES": RULES})
        seen = {username: await as_user(worker, username) for username in WANT}
        for username, want in WANT.items():
            got = seen[username]
            assert got["policies"] == want, (username, got)
            assert got["required"] == [n for n, p in want.items() if p == "required"], (username, got)
            assert got["detail"] == want["repo-tools@example"], (username, got)
            # brand-kit is installed; what else is required is missing.
            missing = [n for n, p in want.items() if p == "required" and n != "brand-kit@example"]
            assert got["missing"] == missing and got["missing_count"] == len(missing), (username, got)
            assert "Offer to install the required plugins first" in got["instructions"], got["instructions"]
            named = [n for n, p in want.items() if p == "required"]
            assert f"Required for this user: {', '.join(named)}." in got["instructions"], (username, got)
        assert seen["ada"]["missing"] == ["repo-tools@example"]
        assert seen["bob"]["missing"] == []
        assert seen["cy"]["missing"] == ["writing-tools@example"]
        assert "Recommended for this user: writing-tools@example." in seen["ada"]["instructions"]
        assert "Recommended for this user" not in seen["cy"]["instructions"]
    finally:
        idp.stop()


def test_a_policy_on_a_deny_rule_is_a_configuration_error_naming_the_key(start_worker):
    """The Worker refuses to serve a configuration whose deny rule carries a policy, and its log names the key."""
    w = start_worker({"SKILLPORT_ACCESS__RULES": '[{effect="deny",plugin="brand-kit",policy="required"}]'},
                     name="policies-bad")
    status, _, body = post(w.base, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert status == 500 and b"configuration is invalid" in body
    logs = w.wait_for_log("access.rules[0].policy")
    assert "a deny rule cannot carry a policy" in logs


# The same rule matching on what the other OpenID profiles put in the identity: Google's `hd` (read by `domains`;
# bob has no Workspace domain) and Auth0's namespaced roles claim (read by `groups`; ada has the role `admin`).
OTHER_PROFILES = [
    ("google", {"provider": "google"},
     '[{effect="allow",domains=["acme.example"],policy="required"},'
     '{effect="allow",plugin="repo-tools",domains=["acme.example"],policy="available"}]',
     {"ada": {"writing-tools@example": "required", "brand-kit@example": "required", "repo-tools@example": "available"},
      "bob": {"writing-tools@example": "available", "brand-kit@example": "available",
              "repo-tools@example": "available"}}),
    ("auth0", {"provider": "auth0", "domain": "acme.eu.auth0.com", "groups_claim": "https://skillport.test/groups",
               "roles_claim": "https://skillport.test/roles"},
     '[{effect="allow",plugin="brand-kit",groups=["admin"],policy="required"},'
     '{effect="allow",groups=["sales"],policy="recommended"}]',
     {"ada": {"writing-tools@example": "available", "brand-kit@example": "required",
              "repo-tools@example": "available"},
      "bob": {"writing-tools@example": "recommended", "brand-kit@example": "recommended",
              "repo-tools@example": "recommended"}}),
]


@pytest.mark.parametrize("profile, auth, rules, want", OTHER_PROFILES, ids=[p[0] for p in OTHER_PROFILES])
async def test_policies_read_google_hd_and_auth0_roles(start_worker, profile, auth, rules, want):
    port = free_port()
    idp = OidcIdP(profile, redirect_uris=[f"http://127.0.0.1:{port}/callback"],
                  issuer_path="/" if profile == "auth0" else "")
    try:
        auth = {**auth, "issuer": idp.issuer, "client_id": idp.client_id}
        worker = provider_worker(start_worker, auth, f"policies-{profile}", port, {"SKILLPORT_ACCESS__RULES": rules})
        for username, policies in want.items():
            got = await as_user(worker, username)
            assert got["policies"] == policies, (profile, username, got)
            missing = [n for n, p in policies.items() if p == "required" and n != "brand-kit@example"]
            assert got["missing"] == missing, (profile, username, got)
    finally:
        idp.stop()
