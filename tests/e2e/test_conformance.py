"""The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in tests/peers/package.json)
against the built worker in workerd.

- `conformance server --suite all`: every server scenario, in both protocol eras (the handshake revisions and the
  stateless 2026-07-28), the header-validation, caching, session and SEP-2640 skills scenarios included.
  tests/conformance/expected-failures.yml lists the scenarios that call the suite's own reference-server fixtures
  (`test_*` tools and prompts, `test://` resources, task fixtures...), each with its reason; any other failure, or a
  listed scenario that starts to pass, fails the run.
- `conformance authorization`: authorization-server metadata and the authorization-code grant against Skillport's
  own OAuth server, signed in through the `local` provider and through a real OpenID provider (tests/standins/idp.mjs).
  The suite prints the authorization URL and waits for its callback; the scripted browser (tests/support/browser.py) plays
  the user, and its last hop is delivered to the suite's callback server, as a browser would follow it.
"""

import queue
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from support.browser import Browser
from support.idps import OidcIdP
from support.oauth import Raw, provider_worker
from support.worker import ARTIFACTS, NODE22, PEERS, ROOT, free_port

CONFORMANCE = "node_modules/.bin/conformance"
EXPECTED = ROOT / "tests" / "conformance" / "expected-failures.yml"


def summary_of(stdout: str) -> str:
    return stdout[stdout.rfind("=== SUMMARY ==="):] if "=== SUMMARY ===" in stdout else stdout[-6000:]


@pytest.mark.parametrize("spec_version", [None, "2025-11-25"], ids=["latest", "handshake-2025-11-25"])
def test_server_suite_all(worker, tmp_path, spec_version):
    """Without --spec-version each scenario runs at the newest revision it applies to (2026-07-28, stateless, for
    everything that revision still has); with 2025-11-25 the same scenarios run over the initialize handshake."""
    version = ["--spec-version", spec_version] if spec_version else []
    proc = subprocess.run([str(NODE22), CONFORMANCE, "server", "--url", worker.base + "/mcp", "--suite", "all",
                           *version, "--expected-failures", str(EXPECTED), "-o", str(tmp_path)],
                          cwd=PEERS, capture_output=True, text=True, timeout=900)
    summary = summary_of(proc.stdout)
    ARTIFACTS.mkdir(exist_ok=True)
    name = f"conformance-summary-{spec_version or 'latest'}.txt"
    (ARTIFACTS / name).write_text(summary)
    assert proc.returncode == 0, summary + proc.stderr[-3000:]
    passing = ["server-initialize", "tools-list", "resources-list", "dns-rebinding-protection",
               "server-session-lifecycle", "ping", "logging-set-level"]
    if not spec_version:
        # (server-stateless and caching have fixture checks baselined one by one, so they are not all green.)
        passing += ["http-header-validation", "sep-2164-resource-not-found", "sep-2640-skills-enumeration",
                    "sep-2640-skills-manifest", "sep-2640-skills-directory"]
    for passed in passing:
        assert re.search(rf"✓ {re.escape(passed)}\b", summary), f"{passed} did not pass:\n{summary}"


def authorize(issuer: str, resource: str, client_id: str, port: int, sign_in) -> tuple[int, str]:
    """Runs `conformance authorization` and answers its authorization URL with `sign_in(url) -> redirect URL`."""
    out_dir = ARTIFACTS / f"conformance-authorization-{port}"
    proc = subprocess.Popen([str(NODE22), CONFORMANCE, "authorization", "--url", issuer, "--client-id", client_id,
                             "--resource", resource, "--port", str(port), "-o", str(out_dir)],
                            cwd=PEERS, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # A reader thread, not select() on the pipe: lines the file object has already buffered are invisible to select.
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout] + [lines.put(None)], daemon=True).start()
    seen, deadline = [], time.time() + 180
    try:
        while time.time() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            seen.append(line)
            if line.startswith(issuer) and "/authorize?" in line:
                redirect = sign_in(line.strip())
                deliver(redirect)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return proc.returncode, "".join(seen)


def deliver(redirect: str):
    """Follows the last hop to the suite's callback server, which may print the authorization URL a moment before it
    listens (with `local` the sign-in takes a few milliseconds): a refused connection is tried again for 10 s."""
    deadline = time.time() + 10
    while True:
        try:
            with urllib.request.urlopen(redirect, timeout=30) as r:
                assert r.status == 200
                return
        except urllib.error.URLError as e:
            if not isinstance(e.reason, ConnectionRefusedError) or time.time() > deadline:
                raise
            time.sleep(0.1)


def assert_authorization_passes(code: int, out: str):
    ARTIFACTS.mkdir(exist_ok=True)
    assert code == 0, out
    for scenario in ["authorization-server-metadata-endpoint", "authorization-code-grant"]:
        assert re.search(rf"✓ {scenario}\b", out) or re.search(rf"{scenario}.*SUCCESS", out), f"{scenario}:\n{out}"
    assert "FAILURE" not in out and "✗" not in out, out


def register(base: str, port: int) -> str:
    r = Raw(base).register(redirect_uris=[f"http://127.0.0.1:{port}/callback"])
    assert r.status_code == 201, r.text
    return r.json()["client_id"]


def test_authorization_server_signed_in_through_local(signed_worker):
    port = free_port()
    client_id = register(signed_worker.base, port)
    browser = Browser()

    def sign_in(url):
        # `local` signs the development user in, and a loopback client needs no consent page.
        result = browser.authorize(url, None, None, f"http://127.0.0.1:{port}/callback")
        assert result.code, f"stopped at {result.status} {result.url}: {result.hops}\n{(result.page or '')[:2000]}"
        return result.url

    code, out = authorize(signed_worker.base, signed_worker.base + "/mcp", client_id, port, sign_in)
    (ARTIFACTS / "conformance-authorization-local.txt").write_text(out)
    assert_authorization_passes(code, out)


def test_authorization_server_signed_in_through_an_openid_provider(start_worker):
    port = free_port()
    idp = OidcIdP("generic", redirect_uris=[f"http://127.0.0.1:{port}/callback"])
    try:
        worker = provider_worker(start_worker, {"provider": "oidc", "client_id": idp.client_id, "issuer": idp.issuer},
                                 "conformance-oidc", port)
        client_port = free_port()
        client_id = register(worker.base, client_port)
        browser = Browser()

        def sign_in(url):
            # The provider's real login form, then Skillport's consent page.
            result = browser.authorize(url, "ada", "ada-password", f"http://127.0.0.1:{client_port}/callback")
            assert result.code, f"stopped at {result.status} {result.url}: {result.hops}\n{(result.page or '')[:2000]}"
            assert any(idp.base.split("/")[2] in h.url for h in result.hops), "signed in at the provider"
            return result.url

        code, out = authorize(worker.base, worker.base + "/mcp", client_id, client_port, sign_in)
        (ARTIFACTS / "conformance-authorization-oidc.txt").write_text(out)
        assert_authorization_passes(code, out)
    finally:
        idp.stop()
