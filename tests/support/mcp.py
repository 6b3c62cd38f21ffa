"""MCP over plain HTTP, for tests and benchmarks that send exactly the requests they mean to (an SDK session sends
several, and each may schedule a refresh): JSON-RPC bodies, the Streamable HTTP headers of each protocol revision
(era), one-request POSTs to /mcp, tool calls, and the MCP Inspector's CLI."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from support.worker import run_peer

#: The headers of a Streamable HTTP POST without a session or protocol version.
MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}

LEGACY = "2025-06-18"
MODERN = "2026-07-28"
ERAS = (LEGACY, MODERN)


def rpc(method, params=None, id=1):
    body = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        body["params"] = params
    return body


def for_era(body, era):
    """`body` as a request of protocol revision `era`: a 2026-07-28 request carries the per-request `_meta` envelope
    (protocol version, client capabilities and client info); a 2025-06-18 one is sent as it is."""
    if era != MODERN or not isinstance(body, dict) or "id" not in body:
        return body
    params = dict(body.get("params") or {})
    params["_meta"] = {"io.modelcontextprotocol/protocolVersion": MODERN,
                       "io.modelcontextprotocol/clientCapabilities": {},
                       "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"}}
    return dict(body, params=params)


def mcp_headers(session=None, body=None, era=LEGACY):
    """Streamable HTTP request headers; for a 2026-07-28 request of `body`, also the method and the name it repeats
    (`Mcp-Method`, and `Mcp-Name` for tools/call, prompts/get and resources/read)."""
    h = {**MCP_HEADERS, "mcp-protocol-version": era}
    if session:
        h["mcp-session-id"] = session
    if era == MODERN and isinstance(body, dict) and "method" in body:
        h["mcp-method"] = body["method"]
        params = body.get("params") or {}
        name = params.get("name") or params.get("uri")
        if name and body["method"] in ("tools/call", "prompts/get", "resources/read"):
            h["mcp-name"] = name
    return h


def jsonrpc_of(headers, raw):
    """The JSON-RPC message of a response, plain JSON or the last `data:` event of an SSE stream."""
    text = raw.decode(errors="replace")
    if headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = data[-1] if data else ""
    try:
        return json.loads(text)
    except ValueError:
        return None


def post(base, body, headers=None, raw=False, path="/mcp", timeout=10):
    """(status, headers, body bytes) of one POST of `body` (JSON, or bytes as they are with `raw`), errors included."""
    data = body if raw else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers={**MCP_HEADERS, **(headers or {})}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def post_json(base: str, body, headers: dict | None = None, path: str = "/mcp", timeout: float = 10):
    """(status, headers, parsed body or raw bytes) of one POST, errors included."""
    status, h, raw = post(base, body, headers, raw=isinstance(body, bytes), path=path, timeout=timeout)
    try:
        return status, h, json.loads(raw)
    except ValueError:
        return status, h, raw


def tool_result(base, name, arguments):
    """The JSON-RPC `result` of one tools/call, in exactly one HTTP request."""
    body = json.dumps(rpc("tools/call", {"name": name, "arguments": arguments})).encode()
    req = urllib.request.Request(base + "/mcp", data=body, method="POST", headers=MCP_HEADERS)
    return json.loads(urllib.request.urlopen(req, timeout=30).read())["result"]


def call_tool(base, name, arguments):
    """The structured content of one tools/call, in exactly one HTTP request."""
    return tool_result(base, name, arguments)["structuredContent"]


def inspector(worker, tmp_path, *args):
    """The MCP Inspector's CLI against the worker's /mcp: its JSON answer (the CLI must succeed)."""
    env = dict(os.environ, MCP_CATALOG_PATH=str(tmp_path / "catalog.json"))
    proc = run_peer(["node_modules/.bin/mcp-inspector", "--cli", worker.base + "/mcp", "--transport", "http", *args],
                    env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)
