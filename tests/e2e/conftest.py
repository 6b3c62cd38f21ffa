"""Fixtures of the end-to-end suite: workers in the real workerd (tests/support/worker.py), started once per
session or per test."""

import pytest

from support.worker import OPEN, Worker


@pytest.fixture(scope="session")
def worker():
    w = Worker(OPEN, name="default")
    yield w
    w.stop()


@pytest.fixture(scope="session")
def signed_worker():
    w = Worker(name="signed")
    yield w
    w.stop()


@pytest.fixture
def start_worker():
    started = []

    def start(vars=None, name="custom", open=True, port=None):
        w = Worker({**(OPEN if open else {}), **(vars or {})}, name=name, port=port)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture
def anyio_backend():
    return "asyncio"
