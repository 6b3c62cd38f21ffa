"""End to end in the real workerd: the Python MCP SDK (a client nobody here wrote) against the built worker."""

import json
import urllib.error
import urllib.request

import pytest
from mcp import Client

from support.mcp import post
from support.worker import ROOT

EXAMPLE = json.loads((ROOT / "examples/marketplace/.claude-plugin/marketplace.json").read_text())

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_python_sdk_lists_and_calls_tools(worker, mode):
    async with Client(worker.base + "/mcp", mode=mode) as client:
        assert client.server_info.name == "skillport"
        tools = await client.list_tools()
        names = {t.name for t in tools.tools}
        assert {"list_plugins", "get_plugin"} <= names
        lp = next(t for t in tools.tools if t.name == "list_plugins")
        assert lp.annotations.read_only_hint is True
        assert lp.output_schema["type"] == "object"

        result = await client.call_tool("list_plugins", {"surface": "all"})
        assert not result.is_error
        data = result.structured_content
        expected = {p["name"]: p for p in EXAMPLE["plugins"]}
        got = {p["plugin"]: p for p in data["plugins"]}
        assert set(got) == set(expected)
        assert data["total"] == len(expected)
        for name, p in got.items():
            assert p["name"] == f"{name}@example"
            assert p["marketplace"] == "example"
            assert p["status"] == "servable", p
            assert p["description"] == expected[name]["description"]
        # The text content carries the same JSON as structuredContent.
        assert json.loads(result.content[0].text) == data
        # Versions: plugin.json first, then the marketplace entry.
        assert got["writing-tools"]["version"] == "1.2.0"
        assert got["brand-kit"]["version"] == "0.3.1"
        assert sorted(s["name"] for s in got["writing-tools"]["skills"]) == ["conventional-commits", "release-notes"]
        # Surfaces from tags and the `surfaces` field.
        assert got["brand-kit"]["surfaces"] == ["claude-desktop", "claude-ai"]
        assert got["repo-tools"]["surfaces"] == ["claude-code"]


async def test_filters_and_get_plugin(worker):
    async with Client(worker.base + "/mcp", mode="legacy") as client:
        code_only = await client.call_tool("list_plugins", {"surface": "claude-code"})
        assert {p["plugin"] for p in code_only.structured_content["plugins"]} == {"writing-tools", "repo-tools"}
        q = await client.call_tool("list_plugins", {"query": "logo"})
        assert [p["plugin"] for p in q.structured_content["plugins"]] == ["brand-kit"]

        paged = await client.call_tool("list_plugins", {"limit": 2, "surface": "all"})
        first = paged.structured_content
        assert len(first["plugins"]) == 2 and "nextCursor" in first
        rest = await client.call_tool("list_plugins", {"limit": 2, "surface": "all", "cursor": first["nextCursor"]})
        assert len(rest.structured_content["plugins"]) == 1
        assert "nextCursor" not in rest.structured_content

        detail = await client.call_tool("get_plugin", {"name": "brand-kit"})
        assert not detail.is_error
        d = detail.structured_content
        assert d["name"] == "brand-kit@example"
        skill = d["skills"][0]
        assert skill["name"] == "brand-voice"
        files = {f["path"]: f for f in skill["files"]}
        logo = (ROOT / "examples/marketplace/plugins/brand-kit/skills/brand-voice/assets/logo.png").read_bytes()
        import hashlib
        assert files["assets/logo.png"]["sha256"] == "sha256:" + hashlib.sha256(logo).hexdigest()
        assert files["assets/logo.png"]["size"] == len(logo)
        assert skill["digest"].startswith("sha256:")

        missing = await client.call_tool("get_plugin", {"name": "nope"})
        assert missing.is_error and "list_plugins" in missing.content[0].text
        bad = await client.call_tool("get_plugin", {"name": 5})
        assert bad.is_error and "`name`" in bad.content[0].text


def test_start_log_says_mcp_is_open(worker):
    post(worker.base, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    logs = worker.wait_for_log("/mcp is OPEN without a token")
    assert "marketplace example: 3 plugins" in logs


def test_start_log_of_the_embedded_default_says_sign_in_is_automatic(signed_worker):
    post(signed_worker.base, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    signed_worker.wait_for_log("automatic through the OAuth flow")


def test_local_provider_refuses_a_public_host(worker):
    init = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    status, _, body = post(worker.base, init, {"host": "skillport.example.com"})
    assert status == 403
    assert "loopback" in json.loads(body)["error_description"]
    status, _, _ = post(worker.base, init)
    assert status == 200


def test_protocol_errors(worker):
    status, _, body = post(worker.base, b"{not json", raw=True)
    assert status == 400 and json.loads(body)["error"]["code"] == -32700
    status, _, body = post(worker.base, [{"jsonrpc": "2.0", "id": 1, "method": "ping"}])
    assert status == 400 and json.loads(body)["error"]["code"] == -32600
    status, _, body = post(worker.base, {"jsonrpc": "2.0", "id": 7, "method": "nope"})
    assert status == 200 and json.loads(body)["error"]["code"] == -32601
    status, _, _ = post(worker.base, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert status == 202
    status, _, _ = post(worker.base, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"origin": "https://evil.example"})
    assert status == 403
    status, headers, _ = post(worker.base, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"origin": worker.base})
    assert status == 200 and "Mcp-Session-Id" in headers.get("access-control-expose-headers", "")
    status, _, _ = post(worker.base, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"mcp-protocol-version": "1999-01-01"})
    assert status == 400
    status, _, body = post(worker.base, b"x" * (2 * 1024 * 1024), raw=True)
    assert status == 413
    status, _, _ = post(worker.base, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"content-type": "text/plain"})
    assert status == 415
    req = urllib.request.Request(worker.base + "/mcp", data=b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
                                 headers={"content-type": "application/json"}, method="POST")
    req.remove_header("Accept")
    try:
        urllib.request.urlopen(req, timeout=10)
        status = 200
    except urllib.error.HTTPError as e:
        status = e.code
    assert status == 406
    # Deeply nested JSON is a clean parse error, not a crash.
    status, _, body = post(worker.base, b"[" * 100000 + b"]" * 100000, raw=True)
    assert status == 400
    status, _, _ = post(worker.base, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert status == 200


def test_invalid_config_answers_500_and_logs_the_key(start_worker):
    w = start_worker({"SKILLPORT_AUTH__PROVIDER": "bogus", "GITHUB_TOKEN": "ghp_topsecretvalue"}, name="badconfig")
    status, _, body = post(w.base, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert status == 500
    assert b"configuration is invalid" in body
    logs = w.wait_for_log("auth.provider")
    assert "Worker vars and secrets" in logs
    assert "ghp_topsecretvalue" not in logs
    assert "ghp_topsecretvalue".encode() not in body


def test_env_var_layer_overrides_the_embedded_config(start_worker):
    # A Worker var re-points the catalogue with no code change: the same bundled marketplace under another id.
    w = start_worker({"SKILLPORT_MARKETPLACES": '[{id="acme",kind="bundled",location="marketplace"}]'}, name="envlayer")
    status, _, body = post(w.base, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                    "params": {"name": "list_plugins", "arguments": {"surface": "all"}}})
    assert status == 200
    names = {p["name"] for p in json.loads(body)["result"]["structuredContent"]["plugins"]}
    assert names == {f"{p['name']}@acme" for p in EXAMPLE["plugins"]}
