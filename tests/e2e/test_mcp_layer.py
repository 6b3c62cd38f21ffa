"""The MCP layer end to end in workerd, with clients nobody here wrote: the Python SDK in both eras and over the
legacy SSE transport, the TypeScript SDK, the MCP Inspector (including its SEP-2640 skills verifier), mcp-remote
over stdio (what Claude Desktop runs). The official conformance suite has its own file, test_conformance.py."""

import base64
import hashlib
import json
import os

import pytest
from mcp import Client
from mcp.client.sse import sse_client

from support.worker import NODE22, ROOT, run_peer

pytestmark = pytest.mark.anyio

LOGO = ROOT / "examples/marketplace/plugins/brand-kit/skills/brand-voice/assets/logo.png"
LOGO_URI = "skill://example/brand-kit/brand-voice/assets/logo.png"
TYPES_URI = "skill://example/writing-tools/conventional-commits/references/types.md"


async def exercise(client):
    """initialize (done by the client) -> tools/list -> tools/call -> resources/read, text and binary."""
    tools = await client.list_tools()
    assert {t.name for t in tools.tools} >= {"list_plugins", "get_plugin"}
    for t in tools.tools:
        # What a connector directory asks of every tool: a title, and the read-only / destructive / open-world hints.
        assert t.title and t.annotations.title == t.title, t
        hints = (t.annotations.read_only_hint, t.annotations.destructive_hint, t.annotations.open_world_hint)
        assert hints == (True, False, False), t
    listed = await client.call_tool("list_plugins", {"surface": "all"})
    assert not listed.is_error
    assert listed.structured_content["total"] == 3
    text = await client.read_resource(TYPES_URI)
    assert text.contents[0].text.startswith("# Commit types")
    blob = await client.read_resource(LOGO_URI)
    assert base64.b64decode(blob.contents[0].blob) == LOGO.read_bytes()
    assert blob.contents[0].mime_type == "image/png"


async def test_python_auto_mode_speaks_the_stateless_era(worker):
    async with Client(worker.base + "/mcp", mode="auto") as client:
        assert client.protocol_version == "2026-07-28"
        await exercise(client)


async def test_python_legacy_mode_handshake(worker):
    async with Client(worker.base + "/mcp", mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
        await exercise(client)


async def test_python_over_legacy_sse(worker):
    async with Client(sse_client(worker.base + "/sse"), mode="legacy") as client:
        await exercise(client)


async def test_sse_reconnect_gets_a_fresh_working_session(worker):
    for _ in range(2):
        async with Client(sse_client(worker.base + "/sse"), mode="legacy") as client:
            got = await client.call_tool("get_plugin", {"name": "repo-tools"})
            assert got.structured_content["skills"][0]["name"] == "repo-map"


def test_typescript_sdk(worker):
    proc = run_peer(["clients/ts-client.mjs", worker.base + "/mcp"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["tools"] == ["list_plugins", "get_plugin", "fetch_skill", "check_updates"]
    assert out["total"] == 3
    assert out["logoSha256"] == hashlib.sha256(LOGO.read_bytes()).hexdigest()


def test_mcp_remote_over_stdio(worker):
    """What Claude Desktop runs: mcp-remote bridges stdio to the remote server."""
    proc = run_peer(["clients/stdio-client.mjs", str(NODE22), "node_modules/.bin/mcp-remote", worker.base + "/mcp"],
                    timeout=90, env=dict(os.environ, MCP_REMOTE_CONFIG_DIR=str(ROOT / ".wrangler" / "mcp-remote")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["tools"] == ["list_plugins", "get_plugin", "fetch_skill", "check_updates"]
    assert out["total"] == 3
    assert out["text"].startswith("# Commit types")


def test_inspector_verifies_the_skills_extension(worker, tmp_path):
    env = dict(os.environ, MCP_CATALOG_PATH=str(tmp_path / "catalog.json"))
    proc = run_peer(["node_modules/.bin/mcp-inspector", "--cli", worker.base + "/mcp", "--transport", "http",
                     "--method", "skills/list", "--verify", "--require-digests"], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 4, proc.stdout

