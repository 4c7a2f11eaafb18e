"""Helpers shared by the resilience tests (the fixtures built on them are in ``conftest.py``).

* ``LONG``: how long a "slow" call blocks; only a broken deadline lets it run that long.
* Redis clients without client-side retries (each kind of client with its own redis-py ``Retry``
  class, as ``RedisStorage`` advises), closed the same way on every redis-py version we support.
* ``PrivateRedis``: a redis-server of one test's own, which the test may kill and restart.
* ``wait_until_half_open``: wait for a shared breaker's open duration to pass on the Redis clock.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from maestro_devtools.servers import ServerProcess, start_server
from maestro_resilience import CircuitBreaker, CircuitState
from tests.waiting import DEADLINE, async_wait_until, wait_until

#: Seconds a "slow" call blocks (a sleep, an event nobody sets in time). A deadline cuts it short
#: within milliseconds; only a broken one lets it run that long, so no test asserts on elapsed time.
LONG = 30.0

#: Socket timeouts of the tests' clients: only a hang reaches them. A killed server refuses or resets
#: connections at once, so outage tests need no short timeout, and a loaded machine must not look
#: like an outage (a reply 0.5 s late would send a breaker to its local fallback mid-test).
TIMEOUTS = {"socket_timeout": DEADLINE, "socket_connect_timeout": DEADLINE}


def blocking_client(url: str) -> redis.Redis:
    """A ``redis.Redis`` for ``url`` without client-side retries: the breaker, not the client, handles an outage."""
    return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **TIMEOUTS)


def asyncio_client(url: str) -> redis.asyncio.Redis:
    """A ``redis.asyncio.Redis`` for ``url`` without retries (redis-py's asyncio ``Retry`` class)."""
    return redis.asyncio.Redis.from_url(url, retry=AsyncRetry(NoBackoff(), 0), **TIMEOUTS)


def wait_until_half_open(breaker: CircuitBreaker) -> None:
    """Wait until ``breaker`` (a blocking ``RedisStorage``) reports HALF_OPEN: its open duration passed in Redis.

    Each poll is a round trip ("get") that refreshes the local copy, so this holds with a ``FakeClock``
    too: the copy reports half-open once Redis says no open time remains.
    """
    wait_until(lambda: breaker.state is CircuitState.HALF_OPEN, what=f"breaker {breaker.name!r} to turn half-open")


async def async_wait_until_half_open(breaker: CircuitBreaker) -> None:
    """``wait_until_half_open`` for an asyncio ``RedisStorage`` (on the system clock).

    An asyncio storage's ``state`` reads the local copy without a round trip; its open time is measured
    from when this process received the reply that opened it, so it ends no earlier than Redis's.
    Send deferred outcomes first (``flush_async``) so that the copy has seen the trip.
    """
    await async_wait_until(
        lambda: breaker.state is CircuitState.HALF_OPEN, what=f"breaker {breaker.name!r} to turn half-open"
    )


def inside(thread: threading.Thread, function: str) -> bool:
    """Whether ``thread`` is running ``function`` right now (a frame of that name is on its stack)."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False


class PrivateRedis:
    """A redis-server of one test's own, on a port that stays the same across ``kill()`` and ``restart()``."""

    def __init__(self, executable: Path, state_dir: Path) -> None:
        self._executable = executable
        self._state_dir = state_dir
        self.process = self._start(None)
        self.port = self.process.port
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def _start(self, port: int | None) -> ServerProcess:
        def argv(p: int) -> list[str]:
            return [
                str(self._executable),
                "--port", str(p),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", str(self._state_dir),
            ]  # fmt: skip

        return start_server("redis-server", argv, log_path=self._state_dir / "redis.log", port=port)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL): an outage, as its clients see it."""
        self.process.stop(signal.SIGKILL)

    def restart(self) -> None:
        """Start a fresh, empty server on the same port."""
        self.process = self._start(self.port)

    def stop(self) -> None:
        """Stop the server by its process id, if it still runs."""
        self.process.stop()
