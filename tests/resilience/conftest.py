"""Fixtures of the resilience tests that talk to Redis (helpers in ``support.py``).

The session-wide server is ``tests.fixtures.redis`` (``redis_url``, emptied before each test). A test
that takes Redis away uses ``private_redis``: its own server, stopped at teardown whatever happens.
No test leaves a ``RedisStorage`` flush timer behind (``no_flush_timer_left``): a timer outliving its
test would run (and could fail) during another one.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio

from maestro_resilience import RedisStorage
from tests.fixtures import binaries
from tests.fixtures.services import require
from tests.resilience.support import PrivateRedis, asyncio_client, blocking_client


@pytest.fixture(autouse=True)
def no_flush_timer_left() -> Iterator[None]:
    """Close every ``RedisStorage`` whose background flush is still pending when the test ends.

    Autouse, so set up before (and torn down after) the test's clients and servers: a storage whose
    server is gone by then falls back quietly, as ``close()`` promises.
    """
    yield
    for thread in threading.enumerate():
        storage = getattr(getattr(thread, "function", None), "__self__", None)
        if isinstance(thread, threading.Timer) and isinstance(storage, RedisStorage):
            storage.close()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A blocking client of the session server."""
    c = blocking_client(redis_url)
    yield c
    c.close()


@pytest.fixture
async def async_client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """An asyncio client of the session server, closed on the test's own event loop."""
    c = asyncio_client(redis_url)
    yield c
    await c.aclose()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server only this test uses (it may kill and restart it), stopped at teardown whatever happens."""
    executable = require(binaries.redis_server(), "redis-server", "redis-server")
    server = PrivateRedis(executable, tmp_path)
    try:
        yield server
    finally:
        server.stop()
