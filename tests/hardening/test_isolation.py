"""Answers never leak between clients that share the server (the TypeScript SDK's CVE-2026-25536: one server
instance shared between clients sent one client's response to another).

Two users signed in through a real OpenID provider (tests/standins/idp.mjs: ada in group `eng`, bob in `sales`),
with access rules that give each a different view of the example marketplace: ada sees writing-tools and repo-tools,
bob brand-kit and repo-tools. Their clients send hundreds of requests at once, interleaved on the same worker isolate:
on /mcp over keep-alive connections, and on /sse through two event streams per user whose answers arrive
asynchronously on the stream. Each request asks about any plugin, skill or skill:// resource of either view; every
answer must carry its request's id and match its own user's view (a hidden plugin answers as if it did not exist),
and each stream must deliver exactly the answers to the messages posted to it. A user posting to the other's stream
is refused as if the session did not exist.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import urllib.parse
from dataclasses import dataclass, field

import pytest

from harness import Conn, HardWorker
from support.browser import Browser
from support.idps import OidcIdP
from support.mcp import MCP_HEADERS, post_json
from support.oauth import REDIRECT, Raw, pkce
from support.worker import free_port

#: Each user's view of the example marketplace under RULES.
VIEW = {"ada": {"writing-tools@example", "repo-tools@example"}, "bob": {"brand-kit@example", "repo-tools@example"}}
RULES = ('[{effect = "allow", plugin = "writing-tools", groups = ["eng"]}, '
         '{effect = "allow", plugin = "brand-kit", groups = ["sales"]}, '
         '{effect = "allow", plugin = "repo-tools"}]')
OAUTH_KEY = {"OAUTH_KEY": "harden-master-key-0123456789abcdef0123456789", "IDP_SECRET": "skillport-test-secret"}
#: Requests per user on /mcp, and messages per SSE stream.
MCP_REQUESTS, SSE_MESSAGES, MCP_CONNECTIONS = 300, 60, 6


@dataclass
class User:
    name: str
    mcp_token: str
    sse_token: str
    answers: int = 0


@dataclass
class Catalog:
    """Every plugin, skill and skill:// URI of both views (discovered from each user's own answers)."""
    skills: dict[str, list[str]] = field(default_factory=dict)   # plugin -> "plugin/skill" names
    uris: dict[str, list[str]] = field(default_factory=dict)     # plugin -> skill:// URIs


def sign_in(worker, idp_browser, username: str, resource: str) -> str:
    raw = Raw(worker.base)
    client_id = raw.client()
    verifier, challenge = pkce()
    url = worker.base + "/authorize?" + urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "s1",
        "code_challenge": challenge, "code_challenge_method": "S256", "resource": worker.base + resource})
    result = idp_browser.authorize(url, username, f"{username}-password", REDIRECT)
    assert result.query.get("code"), (result.status, result.hops, (result.page or "")[:500])
    r = raw.redeem(client_id, result.query["code"], verifier, resource)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture(scope="module")
def signed():
    port = free_port()
    idp = OidcIdP("generic", redirect_uris=[f"http://127.0.0.1:{port}/callback"])
    auth = {"provider": "oidc", "groups_claim": "groups", "client_id": idp.client_id, "issuer": idp.issuer,
            "client_secret_secret": "IDP_SECRET", "master_key_secret": "OAUTH_KEY"}
    table = ", ".join(f"{k} = {json.dumps(v)}" for k, v in auth.items())
    w = HardWorker({"SKILLPORT_AUTH": "{" + table + "}", **OAUTH_KEY, "SKILLPORT_ACCESS__DEFAULT": "deny",
                    "SKILLPORT_ACCESS__RULES": RULES}, name="isolation", open=False, port=port)
    try:
        users = {}
        for name in VIEW:
            b = Browser()
            users[name] = User(name, sign_in(w, b, name, "/mcp"), sign_in(w, b, name, "/sse"))
        yield w, users
    finally:
        w.stop()
        idp.stop()


def call(kind: str, arg: str | None) -> dict:
    if kind == "list_plugins":
        return {"method": "tools/call", "params": {"name": "list_plugins", "arguments": {"surface": "all"}}}
    if kind == "get_plugin":
        return {"method": "tools/call", "params": {"name": "get_plugin", "arguments": {"name": arg}}}
    if kind == "fetch_skill":
        return {"method": "tools/call", "params": {"name": "fetch_skill",
                                                   "arguments": {"name": arg, "surface": "claude-code"}}}
    return {"method": "resources/read", "params": {"uri": arg}}


def check(user: str, kind: str, plugin: str | None, arg: str | None, rid: int, msg: dict) -> str | None:
    """None when `msg` is the answer to request `rid` as `user` sees the catalogue, else what is wrong."""
    if msg.get("id") != rid:
        return f"id {msg.get('id')!r} for request {rid}"
    visible = plugin is None or plugin in VIEW[user]
    if kind == "resources/read":
        if visible:
            contents = (msg.get("result") or {}).get("contents") or []
            return None if contents and contents[0].get("uri") == arg else f"{arg}: {str(msg)[:200]}"
        return None if (msg.get("error") or {}).get("code") == -32002 else f"hidden {arg} answered: {str(msg)[:200]}"
    result = msg.get("result") or {}
    sc = result.get("structuredContent") or {}
    if kind == "list_plugins":
        names = {p["name"] for p in sc.get("plugins", [])}
        return None if names == VIEW[user] else f"list_plugins as {user}: {sorted(names)}"
    if not visible:
        text = json.dumps(result)
        leaked = plugin.split("@")[0] in json.dumps(sc) or not result.get("isError")
        return f"hidden {arg} answered to {user}: {text[:200]}" if leaked else None
    if result.get("isError"):
        return f"{kind} {arg} as {user}: {str(result)[:200]}"
    if kind == "get_plugin":
        return None if sc.get("name") == plugin else f"get_plugin {arg}: {str(sc)[:200]}"
    return None if sc.get("files") and arg.split("/")[-1] in json.dumps(sc) else f"fetch_skill {arg}: {str(sc)[:200]}"


def discover(w, users: dict[str, User]) -> Catalog:
    cat = Catalog()
    conn_headers = dict(MCP_HEADERS)
    for u in users.values():
        for plugin in VIEW[u.name]:
            st, _, body = post_json(w.base, {"jsonrpc": "2.0", "id": 1, **call("get_plugin", plugin)},
                                            {**conn_headers, "authorization": f"Bearer {u.mcp_token}"})
            assert st == 200, body
            sc = body["result"]["structuredContent"]
            name, mkt = plugin.split("@")
            cat.skills[plugin] = [f"{plugin}/{s['name']}" for s in sc["skills"]]
            cat.uris[plugin] = [f"skill://{mkt}/{name}/{s['name']}/{f['path']}" for s in sc["skills"]
                                for f in s["files"]]
    assert len(cat.skills) == 3 and all(cat.uris.values()), cat
    return cat


def requests_for(user: str, cat: Catalog, n: int, rng: random.Random):
    """(kind, plugin, arg) requests about anything in either view."""
    plugins = sorted(cat.skills)
    out = []
    for _ in range(n):
        kind = rng.choice(["list_plugins", "get_plugin", "fetch_skill", "resources/read"])
        plugin = rng.choice(plugins)
        arg = {"list_plugins": None, "get_plugin": plugin, "fetch_skill": rng.choice(cat.skills[plugin]) if
               cat.skills[plugin] else plugin, "resources/read": rng.choice(cat.uris[plugin])}[kind]
        out.append((kind, None if kind == "list_plugins" else plugin, arg))
    return out


SSE_FRAMING = re.compile(rb"(?:^|\r\n)[0-9a-fA-F]+\r\n")


class Stream:
    """One GET /sse event stream, read as answers arrive."""

    def __init__(self, w, token: str):
        self.w, self.token = w, token
        self.raw = b""
        self.path = ""

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.w.port)
        self.writer.write((f"GET /sse HTTP/1.1\r\nHost: 127.0.0.1:{self.w.port}\r\naccept: text/event-stream\r\n"
                           f"authorization: Bearer {self.token}\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        while "sessionId=" not in self.text() or "\n\n" not in self.text().split("sessionId=", 1)[1]:
            self.raw += await asyncio.wait_for(self.reader.read(65536), 10)
        self.path = self.text().split("data: ", 1)[1].split("\n", 1)[0].strip()

    def text(self) -> str:
        return SSE_FRAMING.sub(b"", self.raw).decode(errors="replace")

    def messages(self) -> list[dict]:
        # Complete events only: the last block may still be arriving.
        return [json.loads(block.split("data: ", 1)[1]) for block in self.text().split("\n\n")[:-1]
                if block.startswith("event: message\n")]

    async def read_until(self, ids: set[int], timeout: float):
        async def go():
            while not ids <= {m.get("id") for m in self.messages()}:
                chunk = await self.reader.read(65536)
                assert chunk, "the stream closed"
                self.raw += chunk
        await asyncio.wait_for(go(), timeout)

    def close(self):
        self.writer.close()


def test_concurrent_users_each_see_only_their_own_answers(signed, report):
    w, users = signed
    cat = discover(w, users)
    rng = random.Random(25536)
    ids = itertools.count(1000)
    errors: list[str] = []
    refused_cross = []

    async def mcp_slot(user: User, plan: list):
        conn = Conn("127.0.0.1", w.port)
        headers = {**MCP_HEADERS, "authorization": f"Bearer {user.mcp_token}"}
        try:
            for kind, plugin, arg in plan:
                rid = next(ids)
                status, _, data = await conn.request("POST", "/mcp", json.dumps(
                    {"jsonrpc": "2.0", "id": rid, **call(kind, arg)}).encode(), headers)
                err = f"HTTP {status}" if status != 200 else check(user.name, kind, plugin, arg, rid, json.loads(data))
                if err:
                    errors.append(f"/mcp {user.name}: {err}")
                user.answers += 1
                await asyncio.sleep(0)
        finally:
            conn.close()

    async def sse_slot(user: User, stream: Stream, other: Stream, plan: list):
        conn = Conn("127.0.0.1", w.port)
        headers = {**MCP_HEADERS, "authorization": f"Bearer {user.sse_token}"}
        sent = {}
        try:
            for i, (kind, plugin, arg) in enumerate(plan):
                rid = next(ids)
                sent[rid] = (kind, plugin, arg)
                status, _, data = await conn.request("POST", stream.path, json.dumps(
                    {"jsonrpc": "2.0", "id": rid, **call(kind, arg)}).encode(), headers)
                if status != 202:
                    errors.append(f"/sse {user.name}: POST answered {status}: {data[:200]!r}")
                if i % 10 == 0:  # the other user's stream, with this user's token: as if it did not exist
                    status, _, data = await conn.request("POST", other.path, json.dumps(
                        {"jsonrpc": "2.0", "id": -rid, **call("list_plugins", None)}).encode(), headers)
                    refused_cross.append(status)
                    if status != 404:
                        errors.append(f"/sse {user.name} posted to another user's session: {status} {data[:200]!r}")
            await stream.read_until(set(sent), 60)
        finally:
            conn.close()
        got = stream.messages()
        if sorted(m.get("id") for m in got) != sorted(sent):
            errors.append(f"/sse {user.name}: stream delivered ids {sorted(m.get('id') for m in got)[:20]}... for "
                          f"{sorted(sent)[:20]}...")
        for m in got:
            if m.get("id") in sent:
                kind, plugin, arg = sent[m["id"]]
                err = check(user.name, kind, plugin, arg, m["id"], m)
                if err:
                    errors.append(f"/sse {user.name}: {err}")
        user.answers += len(got)

    async def go():
        streams = {name: [Stream(w, u.sse_token), Stream(w, u.sse_token)] for name, u in users.items()}
        for s in itertools.chain(*streams.values()):
            await s.open()
        try:
            tasks = []
            for name, u in users.items():
                other = streams["bob" if name == "ada" else "ada"][0]
                plan = requests_for(name, cat, MCP_REQUESTS, rng)
                tasks += [mcp_slot(u, plan[i::MCP_CONNECTIONS]) for i in range(MCP_CONNECTIONS)]
                tasks += [sse_slot(u, s, other, requests_for(name, cat, SSE_MESSAGES, rng)) for s in streams[name]]
            rng.shuffle(tasks)
            await asyncio.gather(*tasks)
        finally:
            for s in itertools.chain(*streams.values()):
                s.close()

    asyncio.run(go())
    total = sum(u.answers for u in users.values())
    report.add("Answers between users (CVE-2026-25536)", [
        f"Two users through a real OpenID provider, access rules giving each a different view (ada: "
        f"{sorted(VIEW['ada'])}, bob: {sorted(VIEW['bob'])}); per user {MCP_REQUESTS} requests on /mcp over "
        f"{MCP_CONNECTIONS} keep-alive connections and {SSE_MESSAGES} messages on each of two /sse streams, all at "
        f"once, about any plugin, skill or resource of either view. {total:,} answers checked against their request "
        f"id and their user's view; {len(refused_cross)} posts to the other user's stream, answered "
        f"{sorted(set(refused_cross))}. Errors: {len(errors)}."])
    assert not errors, f"{len(errors)} wrong answers, first: {errors[:5]}"
    assert total == 2 * (MCP_REQUESTS + 2 * SSE_MESSAGES), total
