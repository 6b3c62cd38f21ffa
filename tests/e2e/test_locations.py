"""A marketplace URL's query (and any credentials in a URL) never reaches a user, end to end in workerd: an HTTPS
marketplace read from `…/webmarket.zip?token=…` (served by the forge stand-in, which ignores the query) and one whose
host refuses connections, through fetch_skill's install steps, list_plugins' marketplace errors, check_updates, the
admin status page and the Worker log."""

import json
import shutil

import httpx2
import pytest

from support.forge import Forge, settle
from support.mcp import tool_result
from support.oauth import session_cookie, status_sign_in
from support.worker import ROOT, free_port

SECRET = "s3cr3t-query-value"


@pytest.fixture(scope="module")
def forge(tmp_path_factory):
    root = tmp_path_factory.mktemp("forge-locations")
    shutil.copytree(ROOT / "examples" / "marketplace", root / "static" / "webmarket")
    f = Forge(root)
    yield f
    f.stop()


def test_a_marketplace_urls_query_reaches_no_user(forge, start_worker):
    shown = f"{forge.base}/archive/webmarket.zip"
    closed = f"http://127.0.0.1:{free_port()}/archive/gone.zip"
    w = start_worker({"SKILLPORT_MARKETPLACES": "[" + ",".join([
        f'{{id="web",kind="https",location="{shown}?token={SECRET}"}}',
        f'{{id="down",kind="https",location="{closed}?token={SECRET}"}}',
    ]) + "]"}, name="locations")
    tool_result(w.base, "list_plugins", {"surface": "all"})
    settle(forge)
    listing = tool_result(w.base, "list_plugins", {"surface": "all"})
    text = json.dumps(listing)
    assert "web" in text and "brand-kit@web" in text, text
    errors = listing["structuredContent"].get("marketplaceErrors", [])
    assert [e["marketplace"] for e in errors] == ["down"], errors

    fetched = tool_result(w.base, "fetch_skill", {"name": "brand-kit@web/brand-voice", "surface": "claude-code"})
    install = fetched["structuredContent"]["install"]
    assert f"/plugin marketplace add {shown}`" in install, install

    updates = tool_result(w.base, "check_updates", {"installed": [{"name": "anything@down"}]})
    page = status_sign_in(w.base)
    assert page.status_code == 302, page.text
    status = httpx2.get(w.base + "/status", headers={"cookie": session_cookie(page)})
    assert status.status_code == 200 and shown in status.text, status.text

    # The fetches themselves used the whole URL: the forge saw the query.
    assert any(SECRET in r["path"] for r in forge.requests()), forge.requests()
    for what, seen in [("list_plugins", text), ("fetch_skill", json.dumps(fetched)),
                       ("check_updates", json.dumps(updates)), ("/status", status.text), ("log", w.logs())]:
        assert SECRET not in seen, (what, seen[-3000:])
