"""`bash scripts/dev.sh`, the local server a newcomer runs, stays up after requests the worker refuses for their size.

The worker refuses a body past `server.max_body_bytes` with 413, reading only up to the cap (src/platform/mod.rs
to_http). Answering with most of a body unread is correct HTTP, but wrangler dev 4.86.0's proxy did not survive it:
after one 2.5 MiB chunked POST refused that way, the next request got a 500 ("Network connection lost") or a 503
("Your worker restarted mid-request"), and within a few such requests `wrangler dev` exited with an empty error;
sent straight to the worker's own workerd socket, the same sequence was clean. So the worker now reads the rest of a
refused body, up to 16 MiB, and throws it away before answering (DRAIN_LIMIT_BYTES).

Through dev.sh's own port, as a newcomer's client would send them: several refused bodies in a row, chunked and with
Content-Length, each answered 413 and followed by normal requests that must all answer 200, and the server process
must still be running at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from harness import ROOT, WORK
from support.worker import free_port

MAX_BODY = 1_048_576
LIST = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def dev_server():
    """`bash scripts/dev.sh` on a free port (PORT), on the existing build (SKILLPORT_PREBUILT=1), with loopback
    requests let through without a token (`auth.open`, as its README line shows) and its own inspector port and
    local state, so that it runs beside other workers."""
    port = free_port()
    state = WORK / f"dev-state-{port}"
    log_path = ROOT / "tests" / "artifacts" / f"harden-dev-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PORT=str(port), SKILLPORT_PREBUILT="1", SKILLPORT_AUTH__OPEN="true", CI="true",
               WRANGLER_SEND_METRICS="false")
    log = open(log_path, "w")
    proc = subprocess.Popen(["bash", "scripts/dev.sh", "--inspector-port", str(free_port()), "--persist-to",
                             str(state), "--log-level", "log"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        assert proc.poll() is None, f"dev.sh exited early:\n{log_path.read_text()[-3000:]}"
        assert time.time() < deadline, f"dev.sh did not answer within 120 s:\n{log_path.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(base + "/", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    yield proc, port, log_path
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log.close()
    subprocess.run(["rm", "-rf", str(state)], check=False)


def chunked_post(port: int, total: int, chunk: int = 1 << 16) -> bytes:
    """POSTs `total` bytes to /mcp with Transfer-Encoding: chunked and returns the answer's first bytes. Like an HTTP
    client that watches for an early answer (curl does), it reads while it sends and stops sending once an answer has
    come: a server that answers before reading a body closes the connection, and the unread rest makes the close a
    reset, which would otherwise discard the answer in the client's kernel."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        answer = bytearray()

        def read():
            try:
                while b"\r\n\r\n" not in answer:
                    got = s.recv(4096)
                    if not got:
                        return
                    answer.extend(got)
            except OSError:
                return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        s.sendall((f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
                   "accept: application/json, text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n").encode())
        block = b"%x\r\n" % chunk + b"[" * chunk + b"\r\n"
        sent = 0
        try:
            while sent < total and not answer:
                s.sendall(block)
                sent += chunk
            if sent >= total:
                s.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        reader.join(30)
        return bytes(answer)


def post(port: int, body: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", data=body, headers=HEADERS, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError as e:
        return 0, str(e).encode()


@pytest.mark.parametrize("size", [int(2.5 * MAX_BODY), 8 * MAX_BODY], ids=["2.5-MiB", "8-MiB"])
def test_dev_server_survives_refused_chunked_bodies(dev_server, size):
    proc, port, log_path = dev_server
    bad = []
    for attempt in range(4):
        head = chunked_post(port, size)
        assert head.startswith(b"HTTP/1.1 413"), head[:200]
        for i in range(5):
            status, body = post(port, LIST)
            if status != 200 or b'"list_plugins"' not in body:
                bad.append((attempt, i, status, body[:160]))
    time.sleep(1)
    assert proc.poll() is None, f"dev.sh exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}"
    assert not bad, f"requests after a refused body failed: {bad[:5]}"


def test_dev_server_survives_a_refused_body_with_content_length(dev_server):
    proc, port, log_path = dev_server
    for _ in range(3):
        status, _ = post(port, b"[" * (2 * MAX_BODY))
        assert status == 413
        status, body = post(port, LIST)
        assert status == 200 and b'"list_plugins"' in body, (status, body[:200])
    assert proc.poll() is None, f"dev.sh exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}"
