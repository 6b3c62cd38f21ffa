"""Real MCP clients doing Skillport's OAuth themselves, against the embedded default (`signed_worker`: the `local`
provider, /mcp needs a token; sign-in is automatic and loopback redirect URIs are approved without a page).

- The official TypeScript SDK (tests/peers/clients/ts-oauth-client.mjs): its own discovery, dynamic registration,
  PKCE and token exchange through an OAuthClientProvider, then tools/list and tools/call.
- mcp-remote, the stdio bridge Claude Desktop runs: it registers, opens the authorization URL in "the browser" (here
  tests/peers/clients/headless-open.mjs, through the `open` package's xdg-open and $BROWSER), takes the code on its
  own localhost callback and keeps the tokens in MCP_REMOTE_CONFIG_DIR; driven over stdio by the TypeScript SDK's
  stdio client (tests/peers/clients/stdio-client.mjs).
"""

import json
import os
import time

from support.worker import NODE22, PEERS, free_port, run_peer

MCP_REMOTE = PEERS / "node_modules" / "mcp-remote" / "dist" / "proxy.js"
HEADLESS_OPEN = PEERS / "clients" / "headless-open.mjs"


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_typescript_sdk_completes_the_oauth_flow(signed_worker):
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    started = time.monotonic()
    done = run_peer(["clients/ts-oauth-client.mjs", signed_worker.base + "/mcp", redirect], timeout=60)
    assert done.returncode == 0, done.stderr[-4000:]
    out = last_json(done.stdout)
    # The first connect was refused for want of a token, and the SDK went to the browser exactly once.
    assert out["unauthorized"] is not None and out["authorizations"] == 1, out
    assert out["authorizeEndpoint"] == signed_worker.base + "/authorize"
    q = out["authorize"]
    assert q["response_type"] == "code" and q["code_challenge_method"] == "S256" and q["redirect_uri"] == redirect
    assert q["client_id"] == out["clientId"] and q["resource"] == signed_worker.base + "/mcp", q
    # The local provider signed in and approved at once: one redirect, straight to the client, with code, state, iss.
    landed = out["landed"]
    assert landed["code"] and out["stateMatches"] and landed["iss"] == signed_worker.base, landed
    assert [status for status, _ in landed["hops"]] == [302], landed["hops"]
    assert out["tokens"] == {"type": "Bearer", "access": True, "refresh": True, "scope": out["tokens"]["scope"],
                             "expiresIn": out["tokens"]["expiresIn"]} and out["tokens"]["expiresIn"] > 0
    assert {"list_plugins", "get_plugin", "fetch_skill", "check_updates"} <= set(out["tools"]), out["tools"]
    assert out["total"] == 3
    assert out["pingAfterReconnect"] == {}, "the saved token is used again without a browser"
    print(f"TypeScript SDK OAuth flow: {time.monotonic() - started:.2f} s")


def mcp_remote(worker, config_dir, browser_log, callback_port):
    """stdio-client.mjs driving mcp-remote against `worker`, with headless-open.mjs as the browser."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DESKTOP_SESSION", "KDE_FULL_SESSION", "GNOME_DESKTOP_SESSION_ID",
                        "MATE_DESKTOP_SESSION_ID", "LXQT_SESSION_CONFIG", "DBUS_SESSION_BUS_ADDRESS")}
    env.update({
        # `open` runs its bundled xdg-open; with a generic desktop, xdg-open runs $BROWSER with the URL.
        "BROWSER": f"{NODE22} {HEADLESS_OPEN}", "XDG_CURRENT_DESKTOP": "X-Generic",
        "HEADLESS_OPEN_LOG": str(browser_log),
        # A fresh token store: nothing from earlier runs (or the developer's ~/.mcp-auth) leaks in.
        "MCP_REMOTE_CONFIG_DIR": str(config_dir),
    })
    return run_peer(["clients/stdio-client.mjs", str(NODE22), str(MCP_REMOTE), worker.base + "/mcp",
                     str(callback_port)], timeout=60, env=env)


def browser_hops(log) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_mcp_remote_signs_in_through_the_browser_and_keeps_its_tokens(signed_worker, tmp_path):
    config_dir, browser_log, port = tmp_path / "mcp-auth", tmp_path / "browser.jsonl", free_port()
    started = time.monotonic()
    done = mcp_remote(signed_worker, config_dir, browser_log, port)
    first = time.monotonic() - started
    hops = browser_hops(browser_log)
    assert done.returncode == 0, f"{done.stderr[-5000:]}\nbrowser: {hops}"
    out = last_json(done.stdout)
    assert {"list_plugins", "fetch_skill"} <= set(out["tools"]) and out["total"] == 3, out
    assert out["text"], "resources/read through the bridge"
    # The browser went to Skillport's /authorize, was sent straight to mcp-remote's own localhost callback with a
    # code, and that page answered 200.
    assert hops and hops[0]["url"].startswith(signed_worker.base + "/authorize?"), hops
    assert hops[0]["status"] == 302 and hops[0]["location"].startswith(f"http://localhost:{port}/oauth/callback?code="), hops
    assert hops[-1]["done"] == 200, hops
    # The tokens were kept in the fresh config dir.
    stored = [p.name for p in config_dir.rglob("*") if p.is_file()]
    assert any(name.endswith("_tokens.json") for name in stored), stored

    # A restart (Claude Desktop relaunching the bridge) reuses them: no browser this time.
    started = time.monotonic()
    again = mcp_remote(signed_worker, config_dir, browser_log, port)
    assert again.returncode == 0, again.stderr[-5000:]
    assert last_json(again.stdout)["total"] == 3
    assert browser_hops(browser_log) == hops, "the saved token was used; the browser was not opened again"
    print(f"mcp-remote: first run with sign-in {first:.2f} s, restart {time.monotonic() - started:.2f} s")
