"""The MCP Inspector's CLI mode (a client nobody here wrote) against the worker in workerd."""

from support.mcp import inspector


def test_inspector_cli_lists_tools(worker, tmp_path):
    out = inspector(worker, tmp_path, "--method", "tools/list")
    assert {t["name"] for t in out["tools"]} >= {"list_plugins", "get_plugin"}


def test_inspector_cli_calls_list_plugins(worker, tmp_path):
    out = inspector(worker, tmp_path, "--method", "tools/call", "--tool-name", "list_plugins", "--tool-arg",
                    "surface=all")
    assert out.get("isError") in (False, None)
    assert {p["plugin"] for p in out["structuredContent"]["plugins"]} == {"writing-tools", "brand-kit", "repo-tools"}
