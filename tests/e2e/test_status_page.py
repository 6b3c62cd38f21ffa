"""The admin status page in headless Chromium: /status signs in through the deployment's own OAuth flow (the local
provider here), lands back on /status and shows the marketplaces, their refresh state, plugin counts per surface and
the provider; the screenshot is kept as tests/artifacts/status.png. The page is for `access.admins` alone (with the
local provider and none listed, the development user): anyone else gets one 403 page that reveals nothing."""

import json
import shutil

import httpx2
import pytest

from support.oauth import session_cookie, status_sign_in
from support.worker import ROOT, run_peer

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


def test_the_development_user_is_the_admin_with_local(signed_worker):
    done = status_sign_in(signed_worker.base)
    assert done.status_code == 302 and done.headers["location"].endswith("/status"), done.text
    page = httpx2.get(signed_worker.base + "/status", headers={"cookie": session_cookie(done)})
    assert page.status_code == 200
    assert "Signed in as developer@localhost" in page.text and "<td>example</td>" in page.text


def test_status_is_for_admins_alone_and_others_learn_nothing(start_worker):
    """With admins listed, the development user is not one of them: after signing in it gets a 403 page, no session,
    and the page is the same byte for byte on deployments serving different marketplaces under different rules."""
    plain = start_worker({"SKILLPORT_ACCESS__ADMINS__EMAILS": '["ops@example.com"]'}, name="status-admins", open=False)
    other = start_worker({
        "SKILLPORT_ACCESS__ADMINS": '{groups = ["skillport-admins"], domains = ["example.com"]}',
        "SKILLPORT_MARKETPLACES": '[{id="secret-vendor",kind="bundled",location="marketplace"}]',
        "SKILLPORT_ACCESS__DEFAULT": "deny",
    }, name="status-admins-other", open=False)
    pages = []
    for w in (plain, other):
        r = status_sign_in(w.base)
        assert r.status_code == 403, r.text
        assert "skillport_status=" not in " ".join(r.headers.get_list("set-cookie")), "no session for a non-admin"
        for word in ("example", "secret-vendor", "developer@localhost", "marketplace", "bundled", "local"):
            assert word not in r.text, (word, r.text)
        pages.append((r.status_code, r.text))
        # Without a session /status only ever starts sign-in again.
        assert httpx2.get(w.base + "/status", follow_redirects=False).status_code == 302
    assert pages[0] == pages[1]
    # The refusal is in the audit trail, for the admins.
    plain.wait_for_log('"action":"status","outcome":"refused"')
