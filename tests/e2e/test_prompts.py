"""Every skill as an MCP prompt, end to end in workerd, with clients nobody here wrote: the Python SDK in both eras,
the TypeScript SDK, the MCP Inspector's CLI, and the access rules for two users signed in through a real OpenID
provider (one sees a plugin's prompt, the other gets what a prompt that never existed gets)."""

import json

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from support.browser import Browser
from support.idps import OidcIdP
from support.mcp import inspector
from support.oauth import provider_worker, session_as
from support.worker import ROOT, free_port, run_peer

pytestmark = pytest.mark.anyio

SKILLS = ROOT / "examples/marketplace/plugins"
VOICE = "example.brand-kit.brand-voice"
COMMITS = "example.writing-tools.conventional-commits"
ALL = {VOICE, COMMITS, "example.writing-tools.release-notes", "example.repo-tools.repo-map"}


async def all_prompts(client):
    prompts, cursor = [], None
    while True:
        page = await client.list_prompts(cursor=cursor)
        prompts += page.prompts
        cursor = page.next_cursor
        if not cursor:
            return prompts, page


async def check_prompts(client):
    prompts, page = await all_prompts(client)
    assert {p.name for p in prompts} == ALL
    voice = next(p for p in prompts if p.name == VOICE)
    assert voice.title == "brand-voice (brand-kit@example)"
    skill_md = (SKILLS / "brand-kit/skills/brand-voice/SKILL.md").read_text()
    assert voice.description and voice.description in skill_md
    assert [(a.name, a.required) for a in voice.arguments] == [("request", False)]

    got = await client.get_prompt(COMMITS, {"request": "Fix the login bug"})
    first, types, last = got.messages
    commits = SKILLS / "writing-tools/skills/conventional-commits"
    assert first.content.type == "text" and first.content.text.endswith((commits / "SKILL.md").read_text())
    assert types.content.type == "resource"
    assert str(types.content.resource.uri) == "skill://example/writing-tools/conventional-commits/references/types.md"
    assert types.content.resource.text == (commits / "references/types.md").read_text()
    assert last.content.text.endswith("Fix the login bug")

    got = await client.get_prompt(VOICE)
    first, logo = got.messages
    assert first.content.text.endswith(skill_md)
    assert logo.content.type == "resource_link"
    assert str(logo.content.uri) == "skill://example/brand-kit/brand-voice/assets/logo.png"
    # A link is a resource this server reads.
    read = await client.read_resource(str(logo.content.uri))
    assert read.contents[0].blob

    with pytest.raises(MCPError) as unknown:
        await client.get_prompt("example.brand-kit.nope")
    assert unknown.value.error.code == -32602
    return page


async def test_python_stateless_era_lists_and_gets_prompts_with_cache_hints(worker):
    async with Client(worker.base + "/mcp", mode="auto") as client:
        assert client.protocol_version == "2026-07-28"
        assert client.server_capabilities.prompts is not None
        page = await check_prompts(client)
        assert page.ttl_ms == 0 and page.cache_scope == "private"


async def test_python_handshake_era_lists_and_gets_prompts(worker):
    async with Client(worker.base + "/mcp", mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
        assert client.server_capabilities.prompts is not None
        await check_prompts(client)


async def test_prompts_can_be_turned_off_or_limited(start_worker):
    off = start_worker({"SKILLPORT_PROMPTS__ENABLED": "false"}, name="prompts-off")
    limited = start_worker({
        "SKILLPORT_MARKETPLACES": '[{id="example",kind="bundled",location="marketplace"},'
                                  '{id="extra",kind="bundled",location="marketplace"}]',
        "SKILLPORT_PROMPTS__MARKETPLACES": '["extra"]'}, name="prompts-limited")
    async with Client(off.base + "/mcp", mode="legacy") as client:
        assert client.server_capabilities.prompts is None
        with pytest.raises(MCPError) as missing:
            await client.list_prompts()
        assert missing.value.error.code == -32601
    assert "prompts off" in off.logs()
    async with Client(limited.base + "/mcp", mode="auto") as client:
        prompts, _ = await all_prompts(client)
        assert {p.name for p in prompts} == {n.replace("example.", "extra.", 1) for n in ALL}
    assert "prompts on for extra" in limited.logs()


def test_typescript_sdk_lists_and_gets_prompts(worker):
    proc = run_peer(["clients/ts-prompts.mjs", worker.base + "/mcp", COMMITS])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(out["names"]) == ALL
    assert out["capability"] is True
    assert out["first"].endswith((SKILLS / "writing-tools/skills/conventional-commits/SKILL.md").read_text())
    assert out["last"].endswith("Make it shorter")
    assert out["kinds"] == ["text", "resource"]


def test_inspector_cli_lists_and_gets_prompts(worker, tmp_path):
    out = inspector(worker, tmp_path, "--method", "prompts/list")
    assert {p["name"] for p in out["prompts"]} == ALL
    got = inspector(worker, tmp_path, "--method", "prompts/get", "--prompt-name", "example.repo-tools.repo-map",
                    "--prompt-args", "request=map this repository")
    text = got["messages"][0]["content"]["text"]
    assert text.endswith((SKILLS / "repo-tools/skills/repo-map/SKILL.md").read_text())
    assert got["messages"][-1]["content"]["text"].endswith("map this repository")


async def prompts_as(worker, username: str, password: str):
    """Signs in as `username` through the real OpenID provider (the SDK's OAuth client, a scripted browser) and
    returns the names prompts/list gives them and the error prompts/get gives them for two names."""
    async with session_as(worker, Browser(), username, password) as client:
        prompts, _ = await all_prompts(client)
        errors = {}
        for name in (VOICE, "example.brand-kit.never-existed"):
            try:
                await client.get_prompt(name)
                errors[name] = None
            except MCPError as e:
                errors[name] = (e.error.code, e.error.message.replace(name, "<name>"))
        return {p.name for p in prompts}, errors


async def test_a_hidden_skills_prompt_is_absent_for_one_user_and_present_for_another(start_worker):
    port = free_port()
    idp = OidcIdP("generic", redirect_uris=[f"http://127.0.0.1:{port}/callback"])
    try:
        auth = {"provider": "oidc", "issuer": idp.issuer, "client_id": idp.client_id, "groups_claim": "groups"}
        worker = provider_worker(start_worker, auth, "prompts-access", port,
                                 {"SKILLPORT_ACCESS__RULES": '[{effect="deny",plugin="brand-kit",groups=["sales"]}]'})
        # ada (groups eng, admins) sees brand-kit; bob (sales) does not.
        ada, ada_errors = await prompts_as(worker, "ada", "ada-password")
        bob, bob_errors = await prompts_as(worker, "bob", "bob-password")
        assert ada == ALL
        assert bob == ALL - {VOICE}
        assert ada_errors[VOICE] is None
        # For bob, the hidden prompt answers exactly as a name that never existed.
        assert bob_errors[VOICE] == bob_errors["example.brand-kit.never-existed"] == (-32602, "Unknown prompt: <name>")
        # Each use is audited: ada's as `ok`, bob's as `not_found`, his hidden name and the unknown one alike.
        logs = worker.wait_for_log('"email":"bob@other.example"},"detail":"unknown prompt `example.brand-kit.never')
        uses = [json.loads(line[line.find('{"audit"'):]) for line in logs.splitlines()
                if '"action":"get_prompt"' in line]
        assert sorted((u["user"]["email"], u["outcome"], u.get("skill")) for u in uses) == [
            ("ada@acme.example", "not_found", None), ("ada@acme.example", "ok", "brand-voice"),
            ("bob@other.example", "not_found", None), ("bob@other.example", "not_found", None)]
    finally:
        idp.stop()
