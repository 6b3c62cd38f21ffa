"""Marketplaces in real git repositories, served by the forge stand-in (tests/standins/forge.py: GitHub API, GitLab
API and plain HTTPS archives over one folder of repositories), and the stand-in's own log and fault controls.

`make_repo` turns the example marketplace into a git repository under a forge folder (`github/<owner>/<repo>`,
`gitlab/<group>/<project>`, `static/<name>`); `Forge(root)` serves that folder on a free port.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from support.worker import ROOT, free_port

EXAMPLE = ROOT / "examples" / "marketplace"
FORGE_SCRIPT = ROOT / "tests" / "standins" / "forge.py"


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def commit(repo, message: str):
    """Commits everything in `repo`'s work tree."""
    git(repo, "-c", "user.name=Test", "-c", "user.email=t@example.com", "add", "-A")
    git(repo, "-c", "user.name=Test", "-c", "user.email=t@example.com", "commit", "-q", "-m", message)


def make_repo(path: Path, name: str):
    """A copy of the example marketplace at `path`, renamed `name`, as a git repository with one commit on main."""
    shutil.copytree(EXAMPLE, path)
    mj = path / ".claude-plugin" / "marketplace.json"
    data = json.loads(mj.read_text())
    data["name"] = name
    mj.write_text(json.dumps(data, indent=2))
    git(path, "init", "-q", "-b", "main")
    commit(path, "initial marketplace")


class Forge:
    """tests/standins/forge.py over `root` on a free port; with `token`, every API answers only with that token."""

    def __init__(self, root: Path, token: str | None = None):
        self.root = root
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, str(FORGE_SCRIPT), "--port", str(self.port), "--repos", str(root)]
        if token:
            args += ["--token", token]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                urllib.request.urlopen(self.base + "/_requests", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("forge did not start")

    def requests(self):
        """What the stand-in was asked so far (its GET /_requests)."""
        return json.loads(urllib.request.urlopen(self.base + "/_requests").read())

    def forget(self):
        urllib.request.urlopen(urllib.request.Request(self.base + "/_requests", method="DELETE"))

    def _control(self, body: dict) -> dict:
        req = urllib.request.Request(self.base + "/_control", data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"{}")

    def fail(self, **fault):
        """Arms a fault (see forge.py's /_control), or clears them all with `clear=True`."""
        self._control(fault)

    def pending(self) -> list:
        """The faults armed and not yet used up."""
        return self._control({})["faults"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def three_kinds(root: Path) -> Forge:
    """The forge serving the example marketplace three ways: GitHub `acme/plugins` (named acme-github), GitLab
    `tools/skills` (tools-gitlab) and the archive `webmarket`."""
    make_repo(root / "github" / "acme" / "plugins", "acme-github")
    make_repo(root / "gitlab" / "tools" / "skills", "tools-gitlab")
    shutil.copytree(EXAMPLE, root / "static" / "webmarket")
    return Forge(root)


def by_kind(reqs):
    """Upstream requests counted by the source kind they serve."""
    out = {"github": 0, "gitlab": 0, "https": 0}
    for r in reqs:
        p = r["path"]
        if p.startswith("/repos/") or p.startswith("/_codeload/"):
            out["github"] += 1
        elif p.startswith("/api/v4/"):
            out["gitlab"] += 1
        elif p.startswith("/archive/") or p.startswith("/static/"):
            out["https"] += 1
    return out


def settle(forge, at_least=0, quiet=1.0, limit=30):
    """Waits until the refreshes in flight (they run after the response) have finished: at least `at_least` upstream
    requests seen, then none for `quiet` seconds. A fixed sleep is too short on a busy machine."""
    deadline, seen, since = time.time() + limit, len(forge.requests()), time.time()
    while time.time() < deadline:
        time.sleep(0.2)
        now = len(forge.requests())
        if now != seen:
            seen, since = now, time.time()
        elif now >= at_least and time.time() - since >= quiet:
            return
    raise AssertionError(f"upstream not settled after {limit} s (at least {at_least}): {forge.requests()[-5:]}")
