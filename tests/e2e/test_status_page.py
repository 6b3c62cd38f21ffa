"""The admin status page in headless Chromium: /status signs in through the deployment's own OAuth flow (the local
provider here), lands back on /status and shows the marketplaces, their refresh state, plugin counts per surface and
the provider; the screenshot is kept as tests/artifacts/status.png."""

import json
import shutil

import httpx2
import pytest

from conftest import ROOT, run_peer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOT = ROOT / "tests" / "artifacts" / "status.png"


@pytest.mark.skipif(not shutil.which("chromium"), reason="scripts/setup.sh --test installs chromium")
def test_status_page_in_chromium_after_sign_in(signed_worker):
    SHOT.unlink(missing_ok=True)
    done = run_peer(["clients/page-screenshot.mjs", "--url", signed_worker.base + "/status", "--screenshot",
                     str(SHOT), "--chromium", CHROMIUM], timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    page = json.loads(done.stdout.strip().splitlines()[-1])
    assert page["url"] == signed_worker.base + "/status" and page["status"] == 200, page
    urls = [u for _, u in page["hops"]]
    assert any("/authorize?" in u for u in urls) and any("/status/callback?code=" in u for u in urls), urls
    text = page["text"]
    assert "Signed in as developer@localhost" in text
    assert "example" in text and "3 (3 servable)" in text and "ok" in text
    assert "Identity provider: local" in text
    assert "claude-ai" in text and "claude-desktop" in text
    assert SHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_status_page_needs_sign_in(signed_worker):
    r = httpx2.get(signed_worker.base + "/status", follow_redirects=False)
    assert r.status_code == 302 and "/authorize?" in r.headers["location"]
    forged = httpx2.get(signed_worker.base + "/status", follow_redirects=False,
                        headers={"cookie": "__Host-skillport_status=eyJ3aG8iOiJldmUiLCJleHAiOjk5OTk5OTk5OTl9.AAAA"})
    assert forged.status_code == 302
