"""fetch_skill, its download link and check_updates end to end in workerd, through the Python MCP SDK."""

import base64
import hashlib
import io
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest
from mcp import Client

from support.worker import ROOT

BRAND_VOICE = ROOT / "examples/marketplace/plugins/brand-kit/skills/brand-voice"

pytestmark = pytest.mark.anyio


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def local_url(worker, url: str) -> str:
    """The link's path on the test worker: public_url is http://localhost:8787, the worker runs on another port."""
    parsed = urllib.parse.urlsplit(url)
    assert parsed.path.startswith("/download/"), url
    return worker.base + parsed.path


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


async def fetch(worker, args):
    async with Client(worker.base + "/mcp", mode="legacy") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"fetch_skill", "check_updates"} <= set(tools)
        for name in ("fetch_skill", "check_updates"):
            assert tools[name].annotations.read_only_hint is True
            assert tools[name].annotations.destructive_hint is False
            assert tools[name].output_schema["type"] == "object"
        return await client.call_tool("fetch_skill", args)


async def test_fetch_skill_files_equal_the_folder(worker):
    result = await fetch(worker, {"name": "brand-voice", "surface": "claude-ai"})
    assert not result.is_error, result.content
    data = result.structured_content
    assert data["name"] == "brand-kit@example/brand-voice"
    assert data["plugin"] == "brand-kit@example" and data["marketplace"] == "example"
    assert data["version"] == "0.3.1" and data["digest"].startswith("sha256:")

    expected = folder_files(BRAND_VOICE)
    got = {}
    for f in data["files"]:
        assert f["encoding"] in ("utf-8", "base64"), f
        assert "content" in f, f
        raw = base64.b64decode(f["content"]) if f["encoding"] == "base64" else f["content"].encode()
        assert f["size"] == len(raw)
        assert f["sha256"] == "sha256:" + hashlib.sha256(raw).hexdigest()
        got[f["path"]] = raw
    assert got == expected
    logo = next(f for f in data["files"] if f["path"] == "assets/logo.png")
    assert logo["encoding"] == "base64" and logo["mimeType"] == "image/png"
    assert "Settings > Capabilities > Skills" in data["install"]
    assert data["resources"][0] == "skill://example/brand-kit/brand-voice/SKILL.md"


async def test_download_link_serves_the_skill_zip(worker):
    result = await fetch(worker, {"name": "brand-kit@example/brand-voice"})
    download = result.structured_content["download"]
    assert download["fileName"] == "brand-voice.skill"
    assert download["url"].startswith(worker.base + "/download/")
    url = local_url(worker, download["url"])

    status, headers, body = get(url)
    assert status == 200, body
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers["content-type"] == "application/zip"
    assert headers["content-disposition"] == 'attachment; filename="brand-voice.skill"'
    assert headers["cache-control"] == "private, max-age=0"
    assert "sha256:" + hashlib.sha256(body).hexdigest() == download["sha256"]

    with zipfile.ZipFile(io.BytesIO(body)) as z:
        assert z.testzip() is None
        names = z.namelist()
        assert all(n.startswith("brand-voice/") for n in names), names
        unpacked = {n[len("brand-voice/"):]: z.read(n) for n in names if not n.endswith("/")}
    assert unpacked == folder_files(BRAND_VOICE)

    # A tampered or meaningless token is refused with a reason, never served.
    token = url.rsplit("/", 1)[1]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (worker.base + "/download/" + flipped, worker.base + "/download/garbage"):
        status, _, body = get(bad)
        assert status == 403, (bad, status)
        assert b"not valid" in body


async def test_check_updates(worker):
    fetched = (await fetch(worker, {"name": "brand-voice"})).structured_content
    async with Client(worker.base + "/mcp", mode="legacy") as client:
        result = await client.call_tool("check_updates", {"installed": [
            {"name": fetched["name"], "version": fetched["version"], "digest": fetched["digest"]},
            {"name": fetched["name"], "version": "0.1.0"},
            {"name": "made-up-plugin@example"},
        ]})
        assert not result.is_error, result.content
        data = result.structured_content
        assert [r["status"] for r in data["results"]] == ["up_to_date", "update_available", "removed"]
        assert data["results"][1]["latestVersion"] == "0.3.1"
        assert data["summary"] == {"upToDate": 1, "updateAvailable": 1, "removed": 1, "ambiguous": 0, "unknown": 0}

        bad = await client.call_tool("check_updates", {"installed": []})
        assert bad.is_error
        assert "1 to 200 items" in bad.content[0].text
