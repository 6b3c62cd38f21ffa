"""Webhooks end to end: the worker in workerd serves marketplaces from the GitHub, GitLab and HTTPS stand-ins
(tests/standins/forge.py) with `catalogue.refresh_seconds` at an hour, so only a webhook can make a new commit show.
A signed delivery (GitHub, GitLab, generic form) is answered at once, the marketplace is refreshed after the response,
and `list_plugins` shows the new skill, timed from the delivery (at most 2 s; the measured time is printed). Every
refusal (bad signature, unknown marketplace, marketplace without a secret, replay, stale timestamp, missing delivery
id, oversized body, flood, wrong method) is checked to leave the upstream untouched."""

import hashlib
import hmac
import json
import time
import urllib.parse
import uuid

import httpx2
import pytest

from support.forge import commit, settle, three_kinds
from support.mcp import call_tool
from support.worker import OPEN, Worker

GH_KEY = "gh-hook-secret-0123456789"
GL_KEY = "gl-hook-secret-0123456789"
WEB_KEY = "web-hook-secret-0123456789"
FLOOD_KEY = "flood-hook-secret-0123456789"
LIMIT_SECONDS = 2.0
PER_MINUTE = 30


@pytest.fixture(scope="module")
def forge(tmp_path_factory):
    f = three_kinds(tmp_path_factory.mktemp("hooks-forge"))
    yield f
    f.stop()


@pytest.fixture(scope="module")
def worker(forge):
    marketplaces = "[" + ",".join([
        f'{{id="gh",kind="github",location="acme/plugins",api_base="{forge.base}",webhook_secret="HOOK_GH"}}',
        f'{{id="gl",kind="gitlab",location="tools/skills",api_base="{forge.base}/api/v4",webhook_secret="HOOK_GL"}}',
        f'{{id="web",kind="https",location="{forge.base}/archive/webmarket.zip",webhook_secret="HOOK_WEB"}}',
        f'{{id="quiet",kind="github",location="acme/plugins",api_base="{forge.base}"}}',
        f'{{id="flood",kind="github",location="acme/plugins",api_base="{forge.base}",webhook_secret="HOOK_FLOOD"}}',
    ]) + "]"
    w = Worker({**OPEN, "SKILLPORT_MARKETPLACES": marketplaces, "SKILLPORT_CATALOGUE__REFRESH_SECONDS": "3600",
                "SKILLPORT_SERVER__MAX_BODY_BYTES": "65536", "HOOK_GH": GH_KEY, "HOOK_GL": GL_KEY,
                "HOOK_WEB": WEB_KEY, "HOOK_FLOOD": FLOOD_KEY}, name="webhooks")
    yield w
    w.stop()


def sign(key: str, *parts: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), b"".join(parts), hashlib.sha256).hexdigest()


def post(worker, mid: str, body: bytes, headers: dict) -> httpx2.Response:
    return httpx2.post(f"{worker.base}/hooks/{mid}", content=body, headers=headers, timeout=30)


def github_hook(worker, mid="gh", key=GH_KEY, event="push", body=None, delivery=None):
    body = body if body is not None else json.dumps({"ref": "refs/heads/main", "after": uuid.uuid4().hex}).encode()
    headers = {"content-type": "application/json", "x-github-event": event,
               "x-github-delivery": delivery or str(uuid.uuid4()), "x-hub-signature-256": sign(key, body)}
    return post(worker, mid, body, headers)


def gitlab_hook(worker, mid="gl", token=GL_KEY, event="Push Hook"):
    body = json.dumps({"object_kind": "push", "checkout_sha": uuid.uuid4().hex}).encode()
    return post(worker, mid, body, {"content-type": "application/json", "x-gitlab-token": token,
                                    "x-gitlab-event": event, "x-gitlab-event-uuid": str(uuid.uuid4())})


def generic_hook(worker, mid="web", key=WEB_KEY, ts=None, delivery=None, body=b'{"source":"ci"}', event=None):
    ts = str(int(time.time()) if ts is None else ts)
    delivery = delivery or f"ci-{uuid.uuid4().hex}"
    headers = {"x-skillport-timestamp": ts, "x-skillport-delivery": delivery,
               "x-skillport-signature": sign(key, ts.encode(), b".", delivery.encode(), b".", body)}
    if event:
        headers["x-skillport-event"] = event
    return post(worker, mid, body, headers)


def skills_of(worker, plugin: str) -> set[str]:
    listing = call_tool(worker.base, "list_plugins", {"surface": "all", "limit": 200})
    for p in listing["plugins"]:
        if p["name"] == plugin:
            return {s["name"] for s in p["skills"]}
    raise AssertionError(f"{plugin} not listed: {[p['name'] for p in listing['plugins']]}")


def add_skill(folder, name: str):
    skill = folder / "plugins" / "writing-tools" / "skills" / name / "SKILL.md"
    skill.parent.mkdir(parents=True)
    skill.write_text(f"---\nname: {name}\ndescription: Added by a push ({name}).\n---\n\nDo the thing.\n")


def wait_visible(worker, plugin: str, skill: str, since: float) -> float:
    """Polls list_plugins until `skill` shows in `plugin`; the seconds from `since`."""
    deadline = since + 15
    while time.time() < deadline:
        if skill in skills_of(worker, plugin):
            return time.time() - since
        time.sleep(0.05)
    raise AssertionError(f"{skill} not in {plugin} 15 s after the webhook")


def status_page(worker) -> str:
    """/status after the local provider's sign-in, following the redirects by hand (its cookies are `__Host-`,
    `Secure`, which a client keeps only over https)."""
    cookies: dict[str, str] = {}
    url = worker.base + "/status"
    for _ in range(10):
        header = "; ".join(f"{k}={v}" for k, v in cookies.items())
        r = httpx2.get(url, headers={"cookie": header} if header else {}, follow_redirects=False, timeout=30)
        for line in r.headers.get_list("set-cookie"):
            name, _, rest = line.partition("=")
            cookies[name] = rest.split(";", 1)[0]
        if r.status_code in (301, 302, 303):
            url = urllib.parse.urljoin(url, r.headers["location"])
            continue
        assert r.status_code == 200, (r.status_code, r.text[:500])
        return r.text
    raise AssertionError("too many redirects on the way to /status")


def test_github_push_is_listed_within_two_seconds_without_a_version_bump(forge, worker):
    before = call_tool(worker.base, "get_plugin", {"name": "writing-tools@gh"})
    repo = forge.root / "github" / "acme" / "plugins"
    name = f"hook-{uuid.uuid4().hex[:8]}"
    add_skill(repo, name)
    commit(repo, f"writing-tools: {name}, no version bump")
    settle(forge, limit=20)
    # Without a webhook the new commit stays unseen: refresh_seconds is an hour.
    assert name not in skills_of(worker, "writing-tools@gh")
    time.sleep(0.5)
    assert name not in skills_of(worker, "writing-tools@gh")

    start = time.time()
    r = github_hook(worker)
    answered = time.time() - start
    assert r.status_code == 202, r.text
    assert r.json()["marketplace"] == "gh" and r.json()["event"] == "push"
    took = wait_visible(worker, "writing-tools@gh", name, start)
    print(f"\nwebhook (GitHub push) -> list_plugins shows the new skill: {took:.3f} s (answered in {answered:.3f} s)")
    assert took <= LIMIT_SECONDS, f"{took:.3f} s"
    after = call_tool(worker.base, "get_plugin", {"name": "writing-tools@gh"})
    assert after["version"] == before["version"] == "1.2.0"
    assert after["digest"] != before["digest"]
    # The marketplace that shares the repository but takes no webhooks still serves its hour-old copy.
    assert name not in skills_of(worker, "writing-tools@quiet")
    settle(forge, limit=20)
    page = status_page(worker)
    assert "last webhook: github `push`" in page and "refreshed to revision" in page, page


def test_github_ping_is_answered_and_refreshes_nothing(forge, worker):
    settle(forge, limit=20)
    forge.forget()
    r = github_hook(worker, event="ping", body=json.dumps({"zen": uuid.uuid4().hex}).encode())
    assert r.status_code == 200 and r.json()["event"] == "ping", r.text
    r = github_hook(worker, event="issues")
    assert r.status_code == 200 and "ignored" in r.json()["outcome"], r.text
    time.sleep(1)
    assert forge.requests() == []


def test_gitlab_push_and_tag_push(forge, worker):
    repo = forge.root / "gitlab" / "tools" / "skills"
    name = f"hook-{uuid.uuid4().hex[:8]}"
    add_skill(repo, name)
    commit(repo, f"writing-tools: {name}")
    settle(forge, limit=20)
    assert name not in skills_of(worker, "writing-tools@gl")
    start = time.time()
    r = gitlab_hook(worker)
    assert r.status_code == 202, r.text
    took = wait_visible(worker, "writing-tools@gl", name, start)
    print(f"\nwebhook (GitLab Push Hook) -> list_plugins shows the new skill: {took:.3f} s")
    assert took <= LIMIT_SECONDS
    settle(forge, limit=20)
    forge.forget()
    r = gitlab_hook(worker, event="Tag Push Hook")
    assert r.status_code == 202, r.text
    settle(forge, limit=20)
    # A forced refresh of an unchanged project: one conditional request.
    reqs = [q for q in forge.requests() if q["path"].startswith("/api/v4/")]
    assert len(reqs) == 1 and reqs[0]["headers"].get("if-none-match"), reqs


def test_generic_signed_delivery_refreshes_an_https_marketplace(forge, worker):
    folder = forge.root / "static" / "webmarket"
    name = f"hook-{uuid.uuid4().hex[:8]}"
    add_skill(folder, name)
    settle(forge, limit=20)
    assert name not in skills_of(worker, "writing-tools@web")
    start = time.time()
    r = generic_hook(worker)
    assert r.status_code == 202, r.text
    took = wait_visible(worker, "writing-tools@web", name, start)
    print(f"\nwebhook (generic signed form) -> list_plugins shows the new skill: {took:.3f} s")
    assert took <= LIMIT_SECONDS


def test_refusals_have_no_side_effects_and_do_not_reveal_marketplaces(forge, worker):
    settle(forge, limit=20)
    forge.forget()
    bad_sig = github_hook(worker, key="not-the-secret-at-all")
    unknown = github_hook(worker, mid="nope")
    no_secret = github_hook(worker, mid="quiet")
    gitlab_bad = gitlab_hook(worker, token="not-the-secret-at-all")
    gitlab_unknown = gitlab_hook(worker, mid="nope")
    generic_bad = generic_hook(worker, key="not-the-secret-at-all")
    generic_unknown = generic_hook(worker, mid="nope")
    unsigned = post(worker, "gh", b"{}", {"x-github-event": "push", "x-github-delivery": "x"})
    everything = [bad_sig, unknown, no_secret, gitlab_bad, gitlab_unknown, generic_bad, generic_unknown, unsigned]
    for r in everything:
        assert (r.status_code, r.content) == (401, bad_sig.content), (r.status_code, r.text)
    # Signed, but unusable: a stale timestamp, a missing delivery id.
    stale = generic_hook(worker, ts=int(time.time()) - 3600)
    assert stale.status_code == 400 and "Timestamp" in stale.text, stale.text
    body = b'{"ref":"refs/heads/main"}'
    no_id = post(worker, "gh", body, {"x-github-event": "push", "x-hub-signature-256": sign(GH_KEY, body)})
    assert no_id.status_code == 400 and "delivery id" in no_id.text, no_id.text
    # Bigger than server.max_body_bytes: refused before anything is read.
    big = b"x" * 70_000
    assert post(worker, "gh", big, {"x-hub-signature-256": sign(GH_KEY, big), "x-github-event": "push",
                                     "x-github-delivery": "big"}).status_code == 413
    assert httpx2.get(worker.base + "/hooks/gh", timeout=10).status_code == 405
    time.sleep(1.5)
    assert forge.requests() == [], "a refused delivery reached the upstream"

    # A replay: the same delivery id, or the same body under a new id.
    body = json.dumps({"ref": "refs/heads/main", "after": uuid.uuid4().hex}).encode()
    first = github_hook(worker, body=body, delivery="replay-me")
    assert first.status_code == 202, first.text
    settle(forge, limit=20)
    forge.forget()
    again = github_hook(worker, delivery="replay-me")
    same_body = github_hook(worker, body=body)
    assert (again.status_code, same_body.status_code) == (409, 409), (again.text, same_body.text)
    ts = str(int(time.time()))
    g1 = generic_hook(worker, ts=ts, delivery="ci-replay")
    g2 = generic_hook(worker, ts=ts, delivery="ci-replay")
    assert (g1.status_code, g2.status_code) == (202, 409), (g1.text, g2.text)
    settle(forge, limit=20)
    assert [q for q in forge.requests() if q["path"].startswith("/repos/")] == [], "a replay refreshed"


def test_a_flood_is_refused_with_retry_after(forge, worker):
    # Pings count without refreshing; all in one minute window of the limiter.
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)
    for n in range(PER_MINUTE):
        r = github_hook(worker, mid="flood", key=FLOOD_KEY, event="ping", body=f'{{"n":{n}}}'.encode())
        assert r.status_code == 200, (n, r.text)
    settle(forge, limit=20)
    forge.forget()
    r = github_hook(worker, mid="flood", key=FLOOD_KEY)
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60, r.text
    # Another marketplace's budget is its own.
    assert github_hook(worker, event="ping", body=json.dumps({"zen": uuid.uuid4().hex}).encode()).status_code == 200
    time.sleep(1)
    assert [q for q in forge.requests() if q["path"].startswith("/repos/")] == []


def test_requests_that_wait_for_the_first_load_are_answered(forge):
    """A first load slower than a client's patience: the requests that arrive meanwhile wait for it and are answered
    (they were once never woken, and workerd cancelled them as hung)."""
    import threading
    forge.fail(fail="timeout", count=1, delay=3, path="/repos/acme/plugins")
    marketplaces = f'[{{id="gh",kind="github",location="acme/plugins",api_base="{forge.base}"}}]'
    # Starting it sends GET / with a 2 s timeout, again and again: the first builds, the next ones wait.
    w = Worker({**OPEN, "SKILLPORT_MARKETPLACES": marketplaces}, name="webhooks-slow-start")
    try:
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(httpx2.get(w.base + "/", timeout=30).status_code))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers == [200, 200, 200]
        logs = w.wait_for_log("skillport: configuration loaded")
        assert "had hung" not in logs and "500 Internal Server Error" not in logs, logs[-3000:]
    finally:
        forge.fail(clear=True)
        w.stop()
