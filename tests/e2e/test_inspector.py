"""The MCP Inspector's CLI mode (a client nobody here wrote) against the worker in workerd."""

import json
import os

from conftest import run_peer


def inspector(worker, tmp_path, *args):
    env = dict(os.environ, MCP_CATALOG_PATH=str(tmp_path / "catalog.json"))
    proc = run_peer(["node_modules/.bin/mcp-inspector", "--cli", worker.base + "/mcp", "--transport", "http", *args],
                    env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_inspector_cli_lists_tools(worker, tmp_path):
    out = inspector(worker, tmp_path, "--method", "tools/list")
    assert {t["name"] for t in out["tools"]} >= {"list_plugins", "get_plugin"}


def test_inspector_cli_calls_list_plugins(worker, tmp_path):
    out = inspector(worker, tmp_path, "--method", "tools/call", "--tool-name", "list_plugins", "--tool-arg",
                    "surface=all")
    assert out.get("isError") in (False, None)
    assert {p["plugin"] for p in out["structuredContent"]["plugins"]} == {"writing-tools", "brand-kit", "repo-tools"}
