"""Starts the sign-in stand-ins for the end-to-end and hardening tests: tests/standins/idp.mjs (an OpenID provider
with the generic, google or auth0 profile) and tests/standins/forge.py's GitHub web flow. Each keeps a log in
tests/artifacts/."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
import urllib.request

from support.worker import ARTIFACTS, NODE22, ROOT, free_port, stop_group

IDP_SCRIPT = ROOT / "tests" / "standins" / "idp.mjs"
FORGE_SCRIPT = ROOT / "tests" / "standins" / "forge.py"


class _Process:
    proc: subprocess.Popen
    log_path = None
    base: str

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def requests(self) -> list[dict]:
        """What the stand-in was asked so far (its GET /_requests)."""
        with urllib.request.urlopen(self.base + "/_requests", timeout=5) as r:
            return json.loads(r.read())

    def forget(self):
        urllib.request.urlopen(urllib.request.Request(self.base + "/_requests", method="DELETE"), timeout=5)

    def stop(self):
        stop_group(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class OidcIdP(_Process):
    """tests/standins/idp.mjs: `issuer` is its issuer URL, `client_id`/`client_secret` its one client."""

    def __init__(self, profile: str = "generic", redirect_uris: list[str] | tuple[str, ...] = (),
                 client_id: str = "skillport-test", client_secret: str = "skillport-test-secret",
                 issuer_path: str = "", consent: str = "prompt", port: int | None = None):
        self.profile, self.client_id, self.client_secret = profile, client_id, client_secret
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [str(NODE22), str(IDP_SCRIPT), "--port", str(self.port), "--profile", profile,
                "--client-id", client_id, "--client-secret", client_secret, "--consent", consent]
        if issuer_path:
            args += ["--issuer-path", issuer_path]
        for uri in redirect_uris:
            args += ["--redirect-uri", uri]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / f"idp-{profile}-{self.port}.log"
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
        self.issuer = self._ready(timeout=30)

    def _ready(self, timeout: float) -> str:
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if selector.select(timeout=0.2):
                line = self.proc.stdout.readline()
                if line.startswith("READY "):
                    return line.split(" ", 1)[1].strip()
                if not line:
                    break
        self.stop()
        raise RuntimeError(f"idp.mjs did not become ready:\n{self.logs()}")

    def discovery(self) -> dict:
        with urllib.request.urlopen(self.issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=5) as r:
            return json.loads(r.read())


class GitHubIdP(_Process):
    """tests/standins/forge.py serving GitHub's web flow and API: `base` is both the web and the API base."""

    def __init__(self, client_id: str = "gh-client", client_secret: str = "gh-secret", callback: str | None = None,
                 repos: str | None = None, token: str | None = None, port: int | None = None):
        self.client_id, self.client_secret = client_id, client_secret
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, str(FORGE_SCRIPT), "--port", str(self.port), "--gh-client-id", client_id,
                "--gh-client-secret", client_secret]
        for flag, value in (("--gh-callback", callback), ("--repos", repos), ("--token", token)):
            if value:
                args += [flag, value]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / f"github-{self.port}.log"
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                self.requests()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"forge.py did not start:\n{self.logs()}")
