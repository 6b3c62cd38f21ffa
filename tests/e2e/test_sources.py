"""Marketplace sources end to end: the worker in workerd reads real git repositories (made here with real commits)
through a GitHub API stand-in, a GitLab API stand-in and a plain HTTPS archive host (tests/standins/forge.py),
merges them with the bundled marketplace, and is checked with the Python MCP SDK. Upstream requests are counted
from the stand-in's own log."""

import base64
import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from mcp import Client

from support.forge import EXAMPLE, by_kind, git, make_repo, settle, three_kinds
from support.mcp import call_tool

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def forge(tmp_path_factory):
    f = three_kinds(tmp_path_factory.mktemp("forge"))
    yield f
    f.stop()


def marketplaces(forge):
    return ("[" + ",".join([
        f'{{id="gh",kind="github",location="acme/plugins",api_base="{forge.base}"}}',
        f'{{id="gl",kind="gitlab",location="tools/skills",api_base="{forge.base}/api/v4"}}',
        f'{{id="web",kind="https",location="{forge.base}/archive/webmarket.zip"}}',
        '{id="example",kind="bundled",location="marketplace"}',
    ]) + "]")


def one_request(base):
    return call_tool(base, "list_plugins", {"surface": "all", "limit": 200})


async def list_all(base):
    async with Client(base + "/mcp", mode="legacy") as c:
        r = await c.call_tool("list_plugins", {"surface": "all", "limit": 200})
        return r.structured_content


async def test_merged_catalogue_cold_and_warm(forge, start_worker):
    forge.forget()
    w = start_worker({"SKILLPORT_MARKETPLACES": marketplaces(forge),
                      "SKILLPORT_CATALOGUE__REFRESH_SECONDS": "3600"}, name="sources")
    data = await list_all(w.base)
    cold = by_kind(forge.requests())
    # Cold load: GitHub = commit lookup + tarball (302) + codeload; GitLab = default branch, commit, archive;
    # HTTPS archive = one download. At most 5 each, whatever the marketplace's size.
    assert 1 <= cold["github"] <= 5 and 1 <= cold["gitlab"] <= 5 and cold["https"] == 1, cold
    names = {p["name"] for p in data["plugins"]}
    for mkt in ["gh", "gl", "web", "example"]:
        assert {f"writing-tools@{mkt}", f"brand-kit@{mkt}", f"repo-tools@{mkt}"} <= names
    assert data["total"] == 12

    # Warm: tool calls make no upstream request at all.
    forge.forget()
    async with Client(w.base + "/mcp", mode="legacy") as c:
        for _ in range(10):
            await c.call_tool("list_plugins", {"surface": "all"})
        got = await c.call_tool("get_plugin", {"name": "brand-kit@gh"})
        assert got.structured_content["marketplace"] == "gh"
        png = await c.read_resource("skill://gh/brand-kit/brand-voice/assets/logo.png")
        logo = (EXAMPLE / "plugins/brand-kit/skills/brand-voice/assets/logo.png").read_bytes()
        assert base64.b64decode(png.contents[0].blob) == logo
        # An unqualified name present in four marketplaces is ambiguous, and says so.
        amb = await c.call_tool("get_plugin", {"name": "brand-kit"})
        assert amb.is_error and "ambiguous" in amb.content[0].text
    assert by_kind(forge.requests()) == {"github": 0, "gitlab": 0, "https": 0}


async def test_refresh_unchanged_new_commit_and_outage(forge, start_worker):
    w = start_worker({"SKILLPORT_MARKETPLACES": marketplaces(forge),
                      "SKILLPORT_CATALOGUE__REFRESH_SECONDS": "0"}, name="refresh")
    one_request(w.base)
    settle(forge)  # the refresh the first request scheduled runs after its response
    forge.forget()
    one_request(w.base)
    settle(forge, at_least=3)  # one conditional request per marketplace
    unchanged = by_kind(forge.requests())
    assert unchanged == {"github": 1, "gitlab": 1, "https": 1}, forge.requests()
    assert all(r["headers"].get("if-none-match") for r in forge.requests()), forge.requests()

    async with Client(w.base + "/mcp", mode="legacy") as c:
        before = (await c.call_tool("get_plugin", {"name": "repo-tools@gh"})).structured_content["digest"]
    repo = forge.root / "github" / "acme" / "plugins"
    skill = repo / "plugins/repo-tools/skills/repo-map/SKILL.md"
    skill.write_text(skill.read_text() + "\n5. Note the licence.\n")
    git(repo, "-c", "user.name=Test", "-c", "user.email=t@example.com", "commit", "-q", "-am", "repo-map: licence")
    # Each request schedules a refresh; one already in flight (say, from the session above) may have read the old
    # commit, and a refresh asked for while one runs is dropped, so keep asking until a refresh has seen the new one.
    deadline = time.time() + 30
    while time.time() < deadline:
        after = call_tool(w.base, "get_plugin", {"name": "repo-tools@gh"})
        if after["digest"] != before:
            break
        time.sleep(0.5)
    assert after["digest"] != before, "no refresh saw the new commit in 30 s"
    async with Client(w.base + "/mcp", mode="legacy") as c:
        # What a client that installed the old copy learns: content changed without a version bump.
        upd = (await c.call_tool("check_updates", {"installed": [
            {"name": "repo-tools@gh", "digest": before}, {"name": "writing-tools@gh", "version": "1.2.0"},
            {"name": "gone@gh", "version": "1.0.0"}]})).structured_content
        status = {r["name"]: r["status"] for r in upd["results"]}
        assert status == {"repo-tools@gh": "update_available", "writing-tools@gh": "up_to_date",
                          "gone@gh": "removed"}, upd
        text = await c.read_resource("skill://gh/repo-tools/repo-map/SKILL.md")
        assert "Note the licence." in text.contents[0].text

    # GitHub goes down, then answers garbage, then resets connections: each time the last good copy is still
    # served, the result says how old it is, and the worker log names the failure.
    # After each failure in a row the next try waits twice as long (refresh_seconds, at least 1 s, doubling), so
    # requests keep coming until the worker has met this fault.
    for fault, words in [("500", "500"), ("malformed", "refresh"), ("reset", "refresh")]:
        failures = w.logs().count("refresh of marketplace gh failed")
        forge.fail(clear=True, fail=fault, count=50, path="/repos/")
        for _ in range(40):
            one_request(w.base)
            time.sleep(0.5)
            if w.logs().count("refresh of marketplace gh failed") > failures:
                break
        data = one_request(w.base)
        assert "repo-tools@gh" in {p["name"] for p in data["plugins"]}, fault
        notes = {n["marketplace"]: n for n in data.get("marketplaceErrors", [])}
        assert notes["gh"]["served"] is True and notes["gh"]["copyAgeSeconds"] >= 0, (fault, notes)
        assert "gl" not in notes and "web" not in notes
        w.wait_for_log("refresh of marketplace gh failed")
    forge.fail(clear=True)


async def test_broken_items_are_reported_on_the_item(forge, start_worker, tmp_path):
    """A missing plugin folder and a SKILL.md without frontmatter: the rest of the marketplace is served."""
    repo = forge.root / "github" / "acme" / "broken"
    make_repo(repo, "acme-broken")
    shutil.rmtree(repo / "plugins" / "repo-tools")
    voice = repo / "plugins/brand-kit/skills/brand-voice/SKILL.md"
    voice.write_text("# Brand voice\n\nNo frontmatter here.\n")
    git(repo, "-c", "user.name=Test", "-c", "user.email=t@example.com", "add", "-A")
    git(repo, "-c", "user.name=Test", "-c", "user.email=t@example.com", "commit", "-q", "-m", "break things")
    w = start_worker({"SKILLPORT_MARKETPLACES":
                      f'[{{id="broken",kind="github",location="acme/broken",api_base="{forge.base}"}}]'}, name="broken")
    data = one_request(w.base)
    got = {p["plugin"]: p for p in data["plugins"]}
    assert got["writing-tools"]["status"] == "servable"
    assert got["repo-tools"]["status"] == "invalid" and "plugins/repo-tools" in got["repo-tools"]["reason"]
    async with Client(w.base + "/mcp", mode="legacy") as c:
        kit = (await c.call_tool("get_plugin", {"name": "brand-kit"})).structured_content
        problems = " ".join(kit["skills"][0]["problems"])
        assert "frontmatter" in problems, kit
        ok = await c.call_tool("fetch_skill", {"name": "writing-tools@broken/conventional-commits"})
        assert not ok.is_error


async def test_external_plugin_sources(forge, start_worker):
    """A marketplace whose plugins live in other repositories (git-subdir pinned by sha, github by ref) and one
    that cannot run on Workers (npm): the first two are fetched and served, the npm one is listed with its reason."""
    ext = forge.root / "github" / "ext" / "plugin-repo"
    skill = ext / "plugins" / "ext-tool" / "skills" / "ext-skill"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: ext-skill\ndescription: A skill that lives in another repository.\n---\n\nBody.\n")
    (ext / "plugins" / "ext-tool" / ".claude-plugin").mkdir(parents=True)
    (ext / "plugins" / "ext-tool" / ".claude-plugin" / "plugin.json").write_text('{"name": "ext-tool", "version": "2.0.0"}')
    git(ext, "init", "-q", "-b", "main")
    git(ext, "add", "-A")
    git(ext, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "ext plugin")
    sha = subprocess.run(["git", "-C", str(ext), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()

    market = forge.root / "github" / "acme" / "withext"
    (market / ".claude-plugin").mkdir(parents=True)
    host = forge.base.removeprefix("http://")
    (market / ".claude-plugin" / "marketplace.json").write_text(json.dumps({"name": "withext", "plugins": [
        {"name": "ext-tool", "source": {"source": "git-subdir", "url": f"http://{host}/ext/plugin-repo.git",
                                        "path": "plugins/ext-tool", "sha": sha}},
        {"name": "whole-repo", "source": {"source": "github", "repo": "acme/plugins", "ref": "main"}},
        {"name": "from-npm", "source": {"source": "npm", "package": "@acme/tool"}},
    ]}))
    git(market, "init", "-q", "-b", "main")
    git(market, "add", "-A")
    git(market, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "marketplace")

    forge.forget()
    w = start_worker({"SKILLPORT_MARKETPLACES":
                      f'[{{id="wx",kind="github",location="acme/withext",api_base="{forge.base}"}}]'}, name="external")
    data = one_request(w.base)
    got = {p["plugin"]: p for p in data["plugins"]}
    # `github` sources name github.com, which this machine cannot reach: listed with why it could not be fetched,
    # never dropped.
    assert got["whole-repo"]["status"] == "not_servable", got["whole-repo"]
    assert "could not be fetched: " in got["whole-repo"]["reason"], got["whole-repo"]
    assert got["from-npm"]["status"] == "not_servable" and "Workers" in got["from-npm"]["reason"]
    assert got["ext-tool"]["status"] == "servable", got["ext-tool"]
    assert got["ext-tool"]["version"] == "2.0.0"
    assert by_kind(forge.requests())["github"] <= 3 + 3 + 3  # marketplace, ext repo, github.com attempt is not ours
    async with Client(w.base + "/mcp", mode="legacy") as c:
        fetched = await c.call_tool("fetch_skill", {"name": "ext-tool@wx/ext-skill"})
        assert not fetched.is_error, fetched.content[0].text
        files = {f["path"]: f for f in fetched.structured_content["files"]}
        assert files["SKILL.md"]["content"] == (skill / "SKILL.md").read_text()
    # A new isolate serves the copy kept in KV, which still says why the plugin could not be fetched (word for word:
    # not fetched again), without asking upstream.
    port = w.port
    w.stop()
    forge.forget()
    w = start_worker({"SKILLPORT_MARKETPLACES":
                      f'[{{id="wx",kind="github",location="acme/withext",api_base="{forge.base}"}}]'},
                     name="external-again", port=port)
    again = {p["plugin"]: p for p in one_request(w.base)["plugins"]}
    assert again["whole-repo"]["reason"] == got["whole-repo"]["reason"]
    assert again["ext-tool"]["status"] == "servable"
    assert by_kind(forge.requests())["github"] == 0


async def test_a_fresh_isolate_answers_from_an_older_kv_copy_before_revalidating_it(forge, start_worker):
    """A fresh isolate whose KV copy is older than `refresh_seconds` (within `stale_seconds`) answers from it at once
    and revalidates it after that answer: the first request never waits for the upstream, here one that hangs for
    20 s (longer than the 15 s upstream timeout a revalidation before the answer would wait for)."""
    gh = f'[{{id="gh",kind="github",location="acme/plugins",api_base="{forge.base}"}}]'
    w = start_worker({"SKILLPORT_MARKETPLACES": gh}, name="kv-copy")
    before = {p["name"] for p in one_request(w.base)["plugins"]}
    port = w.port
    w.stop()
    forge.forget()
    forge.fail(fail="timeout", delay=20, count=5, path="/repos/")
    try:
        t0 = time.time()
        # With `refresh_seconds` 0 the copy in KV is older than that; `stale_seconds` is a day.
        w = start_worker({"SKILLPORT_MARKETPLACES": gh, "SKILLPORT_CATALOGUE__REFRESH_SECONDS": "0"},
                         name="kv-copy-again", port=port)
        data = one_request(w.base)
        took = time.time() - t0
        assert took < 12, f"start and first answers took {took:.1f} s: the first request waited for the upstream"
        assert {p["name"] for p in data["plugins"]} == before
        assert not data.get("marketplaceErrors"), data.get("marketplaceErrors")
        # The revalidation went out after the first answer: a conditional request, now hanging at the upstream.
        deadline = time.time() + 10
        while time.time() < deadline and not forge.requests():
            time.sleep(0.2)
        reqs = forge.requests()
        assert by_kind(reqs)["github"] >= 1 and reqs[0]["headers"].get("if-none-match"), reqs
    finally:
        forge.fail(clear=True)


async def test_requests_that_never_read_the_catalogue_do_not_wait_for_its_first_load(forge, start_worker):
    """A fresh isolate with nothing in KV answers the metadata document, `tools/list` and `initialize` while its
    catalogue's first load waits on an upstream that hangs for 20 s; that load starts after the first answer."""
    from support.mcp import rpc
    gh = f'[{{id="gh",kind="github",location="acme/plugins",api_base="{forge.base}"}}]'
    forge.forget()
    forge.fail(fail="timeout", delay=20, count=5, path="/repos/")
    try:
        t0 = time.time()
        # Its first request is GET /. With `refresh_seconds` 0 the upstream is asked even if a former run left a copy
        # in KV under this port.
        w = start_worker({"SKILLPORT_MARKETPLACES": gh, "SKILLPORT_CATALOGUE__REFRESH_SECONDS": "0"}, name="no-kv-yet")
        with urllib.request.urlopen(w.base + "/.well-known/oauth-protected-resource", timeout=10) as r:
            assert "resource" in json.loads(r.read())
        req = urllib.request.Request(w.base + "/mcp", data=json.dumps(rpc("tools/list")).encode(), headers={
            "content-type": "application/json", "accept": "application/json, text/event-stream",
            "mcp-protocol-version": "2025-06-18"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert [t["name"] for t in json.loads(r.read())["result"]["tools"]][:2] == ["list_plugins", "get_plugin"]
        init = rpc("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                  "clientInfo": {"name": "t", "version": "1"}})
        req = urllib.request.Request(w.base + "/mcp", data=json.dumps(init).encode(), headers={
            "content-type": "application/json", "accept": "application/json, text/event-stream"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["result"]["protocolVersion"] == "2025-06-18"
        took = time.time() - t0
        assert took < 12, f"start and the first answers took {took:.1f} s: they waited for the catalogue"
        deadline = time.time() + 10
        while time.time() < deadline and not forge.requests():
            time.sleep(0.2)
        assert by_kind(forge.requests())["github"] >= 1, "the first load did not start after the first answer"
    finally:
        forge.fail(clear=True)


async def test_upstream_timeout_serves_the_last_good_copy(forge, start_worker):
    w = start_worker({"SKILLPORT_MARKETPLACES": marketplaces(forge), "SKILLPORT_CATALOGUE__REFRESH_SECONDS": "0",
                      "SKILLPORT_CATALOGUE__UPSTREAM_TIMEOUT_MS": "500"}, name="timeout")
    one_request(w.base)
    forge.fail(fail="timeout", count=20, path="/repos/", delay=3)
    try:
        t0 = time.time()
        one_request(w.base)  # answered from the copy in hand; the refresh runs after the response
        assert time.time() - t0 < 2
        # A request that comes while a refresh is running schedules none of its own, so the refresh that meets the
        # hanging upstream may be a later request's.
        for _ in range(20):
            if "timed out" in w.logs():
                break
            time.sleep(0.5)
            t0 = time.time()
            one_request(w.base)
            assert time.time() - t0 < 2
        w.wait_for_log("timed out")
        data = one_request(w.base)
        assert "writing-tools@gh" in {p["name"] for p in data["plugins"]}
        assert any(n["marketplace"] == "gh" and n["served"] for n in data.get("marketplaceErrors", []))
    finally:
        forge.fail(clear=True)


def write_big_static_marketplace(root: Path, n: int, version: str):
    """`n` plugins on a plain static server, each a plugin.json, a SKILL.md and a reference file, with the
    `skillport-index.json` that `skillport validate --write-index` writes (every path with its sha256)."""
    import hashlib
    (root / ".claude-plugin").mkdir(parents=True, exist_ok=True)
    plugins = [{"name": f"p{i:03}", "source": f"./plugins/p{i:03}", "description": f"Plugin {i}."} for i in range(n)]
    (root / ".claude-plugin" / "marketplace.json").write_text(json.dumps({"name": "big", "plugins": plugins}))
    for i in range(n):
        p = root / "plugins" / f"p{i:03}"
        (p / ".claude-plugin").mkdir(parents=True, exist_ok=True)
        (p / ".claude-plugin" / "plugin.json").write_text(json.dumps({"name": f"p{i:03}", "version": version}))
        s = p / "skills" / f"s{i:03}"
        s.mkdir(parents=True, exist_ok=True)
        (s / "SKILL.md").write_text(f"---\nname: s{i:03}\ndescription: Skill {i}.\n---\n\nSee reference.md ({version}).\n")
        (s / "reference.md").write_text(f"# Reference {i}\n")
    files = sorted(str(f.relative_to(root)) for f in root.rglob("*") if f.is_file() and f.name != "skillport-index.json")
    index = [{"path": f, "sha256": "sha256:" + hashlib.sha256((root / f).read_bytes()).hexdigest()} for f in files]
    (root / "skillport-index.json").write_text(json.dumps(index))
    return len(files)


async def test_a_large_https_marketplace_loads_within_the_subrequest_budget(forge, start_worker):
    """286 plugins on a plain HTTPS server (1 + 286 * 3 files): far more requests than one Worker invocation may make.
    Each refresh makes at most `catalogue.subrequests_per_refresh` (40; Cloudflare's free plan allows 50), serves
    what it has with a `loading` note, and the next request's refresh carries on until the catalogue is whole."""
    n_files = write_big_static_marketplace(forge.root / "static" / "big", 286, "1.0.0")
    forge.forget()
    w = start_worker({"SKILLPORT_MARKETPLACES":
                      f'[{{id="big",kind="https",location="{forge.base}/static/big/.claude-plugin/marketplace.json"}}]',
                      "SKILLPORT_CATALOGUE__REFRESH_SECONDS": "3600"}, name="bighttps")

    # The worker's first requests (start_worker's readiness probe) loaded the first part.
    data = one_request(w.base)
    assert data["total"] == 286, "every plugin is listed from the first part (the manifest comes first)"
    notes = {m["marketplace"]: m for m in data.get("marketplaceErrors", [])}
    assert "still loading" in notes["big"]["loading"], notes
    deadline = time.time() + 240
    while time.time() < deadline:
        if not data.get("marketplaceErrors"):
            break
        time.sleep(0.3)
        data = one_request(w.base)  # each request while loading schedules the next part, in its own invocation
    assert not data.get("marketplaceErrors"), data.get("marketplaceErrors")
    # Each refresh and each cold load logs the upstream requests it made: never more than the budget.
    logs = w.wait_for_log("nothing left loading")
    used = [int(m) for m in re.findall(r"refresh made (\d+) upstream request\(s\) of at most 40", logs)]
    assert len(used) >= n_files // 40 and max(used) <= 40, used
    # And the upstream saw exactly those: every file once, plus the index once per run (a 304 while carrying on).
    upstream = len([r for r in forge.requests() if r["path"].startswith("/static/big/")])
    assert upstream == sum(used) == n_files + len(used), (upstream, sum(used), n_files, used)
    plugins = {p["name"]: p for p in data["plugins"]}
    assert len(plugins) == 200 and all(len(p["skills"]) == 1 for p in plugins.values())

    async with Client(w.base + "/mcp", mode="legacy") as c:
        got = (await c.call_tool("get_plugin", {"name": "p285@big"})).structured_content
        assert got["version"] == "1.0.0" and [s["name"] for s in got["skills"]] == ["s285"]
        text = await c.read_resource("skill://big/p285/s285/reference.md")
        assert text.contents[0].text == "# Reference 285\n"
