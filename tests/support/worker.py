"""The built Skillport worker in the real workerd (`wrangler dev`), and the ports and Node peers the tests run beside it.

The worker is built once (scripts/build.sh, or scripts/test.sh); each `Worker` reuses that build
(SKILLPORT_PREBUILT=1) on a free port of its own, with its own state directory and a log in tests/artifacts/, so that
tests and suites running side by side never collide.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"
ARTIFACTS = ROOT / "tests" / "artifacts"
PEERS = ROOT / "tests" / "peers"
NODE22 = PEERS / "node_modules" / ".bin" / "node"

#: The MCP-layer tests talk to /mcp without signing in: `auth.open` lets loopback requests through with the local
#: provider. The sign-in tests use the embedded default, where /mcp needs a token.
OPEN = {"SKILLPORT_AUTH__OPEN": "true"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen):
    """Ends a process started with `start_new_session=True` and everything it started (wrangler runs two workerd
    processes; node runs its own children): SIGTERM to the group, SIGKILL after 10 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


class Worker:
    """A local workerd running the connector, with its log captured for assertions."""

    def __init__(self, vars: dict[str, str] | None = None, name: str = "worker", port: int | None = None):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = ARTIFACTS / f"{name}-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        args = [
            str(WRANGLER), "dev", "--ip", "127.0.0.1", "--port", str(self.port),
            "--inspector-port", str(free_port()), "--show-interactive-dev-session=false",
            "--log-level", "log", "--persist-to", str(ROOT / ".wrangler" / f"state-{self.port}"),
        ]
        # OAuth metadata and redirects are built from the public URL: it must be where this worker really is.
        vars = {"SKILLPORT_SERVER__PUBLIC_URL": self.base, **(vars or {})}
        for k, v in vars.items():
            args += ["--var", f"{k}:{v}"]
        env = dict(os.environ, SKILLPORT_PREBUILT="1", WRANGLER_SEND_METRICS="false", CI="true")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        self._wait()

    def _wait(self):
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"wrangler dev exited early:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(self.base + "/", timeout=2) as r:
                    if r.status in (200, 500):
                        return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.25)
        raise RuntimeError(f"worker did not answer within 90 s:\n{self.log_path.read_text()}")

    def logs(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def wait_for_log(self, text: str, timeout: float = 10) -> str:
        """The log so far, once it contains `text` (workerd's console output reaches wrangler's log with a delay)."""
        deadline = time.time() + timeout
        while True:
            logs = self.logs()
            if text in logs or time.time() > deadline:
                assert text in logs, f"{text!r} not in log:\n{logs}"
                return logs
            time.sleep(0.2)

    def stop(self):
        stop_group(self.proc)
        self.log.close()


def run_peer(args: list[str], timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """Runs a Node test peer under the Node 22 that tests/peers installs from npm."""
    return subprocess.run([str(NODE22), *args], cwd=PEERS, capture_output=True, text=True, timeout=timeout, **kw)
