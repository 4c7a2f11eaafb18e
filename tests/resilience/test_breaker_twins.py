"""The breaker's sync and async drivers agree: one script, every form, identical traces.

``_breaker.py`` keeps a sync and an async twin of each driver (the decorator's ``guarded``,
``_before``/``_before_async``, ``_complete``/``_complete_async``, ``__enter__``/``__aenter__``...):
the lock-free closed path cannot afford a shared generator. Every decision is in methods both twins
call; the twins differ only in calling or awaiting. This test proves it: the same scripted sequence
of outcomes (success, failure, slow call, ignored exception, a result judged a failure, open
rejection, half-open probe success, failure and ignored probe, a probe that hangs past its lease
while a new round's probe closes the breaker, a state change made elsewhere) is driven through the
sync form and the async form, and the sequence of results, metrics and events must be identical.

On the local store time is a ``FakeClock``. On a real redis-server (the session server), each form
has its own storage (a blocking or an asyncio client, as each requires) under its own namespace; the
server's clock is moved as the fake one is (the open time and the probe lease are rewritten in the
breaker's hash), so nothing waits. "Elsewhere" is a manual transition from another thread (local) or
another process's breaker on the same keys (Redis).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

from maestro_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Consecutive,
    CountWindow,
    Event,
    Pipeline,
    RedisStorage,
    Timeout,
)
from maestro_resilience.testing import FakeClock
from tests.resilience.support import asyncio_client, blocking_client

OPEN_FOR = 600.0  # open_duration (long: on Redis, real time must not end it mid-script)
LEASE = 300.0  # probe_lease (likewise)
SLOW = 1.0  # slow_call_duration (the counted configuration)

# (step, argument). A call step runs one call; "pass" lets time pass; "elsewhere" moves the state
# from outside this breaker's calls; "hang" is a probe that, while running, is joined by a call
# rejected (its slot is taken), then outlives the probe lease, then sees a new round's probe close
# the breaker: its own (stale) outcome then changes nothing.
SCRIPT: tuple[tuple[str, Any], ...] = (
    ("call", "ok"),
    ("call", "fail"),
    ("call", "ok"),
    ("call", "ignored"),
    ("call", "slow"),
    ("call", "bad"),
    ("call", "fail"),
    ("call", "fail"),
    ("call", "fail"),
    ("call", "fail"),
    ("call", "ok"),  # rejected: open
    ("pass", OPEN_FOR + 1),
    ("call", "fail"),  # a probe fails: open again
    ("call", "ok"),  # rejected
    ("pass", OPEN_FOR + 1),
    ("call", "ignored"),  # an ignored probe frees its slot
    ("call", "ok"),  # a probe succeeds: closed
    ("call", "fail"),
    ("call", "fail"),
    ("call", "fail"),
    ("call", "fail"),
    ("pass", OPEN_FOR + 1),
    ("call", "hang"),
    ("call", "ok"),
    ("elsewhere", CircuitState.FORCED_OPEN),
    ("call", "ok"),  # rejected: forced open
    ("elsewhere", CircuitState.CLOSED),
    ("call", "ok"),
    ("call", "fail"),  # closed with a failure in the window: the slow path
    ("call", "ok"),
)


class Boom(Exception):
    pass


@dataclass
class Config:
    """A breaker configuration: ``fast`` has the lock-free closed path, ``counted`` never takes it."""

    name: str
    window: Consecutive | CountWindow
    failure_result: Callable[[Any], bool] | None
    pybreaker_listener: bool


CONFIGS = {
    "fast": Config("fast", Consecutive(2), None, False),
    "counted": Config(
        "counted",
        CountWindow(4, failure_rate_threshold=0.5, slow_call_duration=SLOW, slow_call_rate_threshold=0.75),
        lambda result: result == "bad",
        True,
    ),
}


class PyListener:
    """A pybreaker-style listener: what it hears is part of the trace."""

    def __init__(self, heard: list[tuple[Any, ...]]) -> None:
        self.heard = heard

    def before_call(self, cb: Any, func: Any, *args: Any, **kwargs: Any) -> None:
        self.heard.append(("before_call",))

    def state_change(self, cb: Any, old: Any, new: Any) -> None:
        self.heard.append(("py_state_change", old.name, new.name))

    def failure(self, cb: Any, exc: BaseException) -> None:
        self.heard.append(("failure", type(exc).__name__))

    def success(self, cb: Any) -> None:
        self.heard.append(("success",))


@dataclass
class Rig:
    """One breaker under test, its fake clock, what its listeners heard, and how time passes and state moves."""

    breaker: CircuitBreaker
    clock: FakeClock
    heard: list[tuple[Any, ...]]
    shared: bool
    raw: redis.Redis | None = None  # the Redis rigs: a client of the server, to move its clock
    sibling: CircuitBreaker | None = None  # the Redis rigs: another process's breaker on the same keys
    trace: list[tuple[Any, ...]] = field(default_factory=list)

    def pass_time(self, seconds: float) -> None:
        """Time passes: the fake clock, and for Redis the server's (open time and lease moved back)."""
        self.clock.advance(seconds)
        if self.raw is not None:
            key = self.breaker.storage.keys[0]  # type: ignore[union-attr]
            for name in ("open_until", "hsince"):
                if self.raw.hexists(key, name):
                    self.raw.hincrby(key, name, -int(seconds * 1000))

    def elsewhere(self, state: CircuitState) -> None:
        """The state moves from outside this breaker's calls: another thread, or another process."""
        if self.sibling is not None:
            move = self.sibling.force_open if state is CircuitState.FORCED_OPEN else self.sibling.close
        else:
            move = self.breaker.force_open if state is CircuitState.FORCED_OPEN else self.breaker.close
        thread = threading.Thread(target=move)
        thread.start()
        thread.join()

    def listener(self, event: Event) -> None:
        detail = dict(event.detail)
        if self.shared:
            detail.pop("retry_after", None)  # measured on the server's clock
        self.heard.append((event.kind, tuple(sorted(detail.items()))))

    def snapshot(self, metrics: Any) -> tuple[Any, ...]:
        heard = tuple(self.heard)
        self.heard.clear()
        return ("after", metrics, heard)


def rejection(exc: CircuitOpenError, shared: bool) -> tuple[Any, ...]:
    return ("CircuitOpenError", exc.state, None if shared else exc.retry_after)


def build(config: Config, storage: RedisStorage | None) -> Rig:
    clock = FakeClock()
    heard: list[tuple[Any, ...]] = []
    rig = Rig(None, clock, heard, storage is not None)  # type: ignore[arg-type]
    listeners: list[Any] = [rig.listener]
    if config.pybreaker_listener:
        listeners.append(PyListener(heard))
    rig.breaker = CircuitBreaker(
        "twins",
        window=config.window,
        open_duration=OPEN_FOR,
        probe_lease=LEASE,
        ignore_on=KeyError,
        failure_result=config.failure_result,
        storage=storage,
        listeners=listeners,
        clock=clock,
    )
    return rig


def body(rig: Rig, kind: str) -> str:
    """What the guarded function does (the "hang" step's nested calls are the drivers' business)."""
    if kind == "fail":
        raise Boom
    if kind == "ignored":
        raise KeyError(kind)
    if kind == "slow":
        rig.clock.advance(SLOW)
    return "bad" if kind == "bad" else "ok"


# -- the sync forms ----------------------------------------------------------------------------
def sync_outcome(rig: Rig, attempt: Callable[[str], str]) -> Callable[[str], tuple[Any, ...]]:
    def run(kind: str) -> tuple[Any, ...]:
        try:
            return ("returned", attempt(kind))
        except CircuitOpenError as exc:
            return rejection(exc, rig.shared)
        except (Boom, KeyError) as exc:
            return ("raised", type(exc).__name__)

    return run


def sync_body(rig: Rig, run: Callable[[str], tuple[Any, ...]], kind: str) -> str:
    if kind != "hang":
        return body(rig, kind)
    rig.trace.append(("nested", run("ok")))  # rejected: the probe's slot is taken
    rig.pass_time(LEASE + 1)
    rig.trace.append(("nested", run("ok")))  # the lease passed: a new round's probe, which closes
    return "ok"


def sync_decorated(rig: Rig) -> Callable[[str], tuple[Any, ...]]:
    @rig.breaker
    def guarded(kind: str) -> str:
        return sync_body(rig, run, kind)

    run = sync_outcome(rig, guarded)
    return run


def sync_block(rig: Rig) -> Callable[[str], tuple[Any, ...]]:
    def attempt(kind: str) -> str:
        with rig.breaker:
            return sync_body(rig, run, kind)

    run = sync_outcome(rig, attempt)
    return run


def sync_under_timeout(rig: Rig) -> Callable[[str], tuple[Any, ...]]:
    """The breaker inside a ``Timeout`` of the same ``Pipeline``: the cut drivers (never cut here)."""

    @Pipeline(Timeout(3600), rig.breaker)
    def guarded(kind: str) -> str:
        return sync_body(rig, run, kind)

    run = sync_outcome(rig, guarded)
    return run


def drive_sync(rig: Rig, form: Callable[[Rig], Callable[[str], tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
    run = form(rig)
    storage = rig.breaker.storage
    for step, arg in SCRIPT:
        if step == "call":
            rig.trace.append((step, arg, run(arg)))
        elif step == "pass":
            rig.pass_time(arg)
        else:
            rig.elsewhere(arg)
        if storage is not None:
            storage.flush()  # deferred outcomes now, not whenever the background flush runs
        rig.trace.append(rig.snapshot(rig.breaker.metrics))
    return rig.trace


# -- the async forms ---------------------------------------------------------------------------
AsyncRun = Callable[[str], Awaitable[tuple[Any, ...]]]


def async_outcome(rig: Rig, attempt: Callable[[str], Awaitable[str]]) -> AsyncRun:
    async def run(kind: str) -> tuple[Any, ...]:
        try:
            return ("returned", await attempt(kind))
        except CircuitOpenError as exc:
            return rejection(exc, rig.shared)
        except (Boom, KeyError) as exc:
            return ("raised", type(exc).__name__)

    return run


async def async_body(rig: Rig, run: AsyncRun, kind: str) -> str:
    if kind != "hang":
        return body(rig, kind)
    rig.trace.append(("nested", await run("ok")))
    rig.pass_time(LEASE + 1)
    rig.trace.append(("nested", await run("ok")))
    return "ok"


def async_decorated(rig: Rig) -> AsyncRun:
    @rig.breaker
    async def guarded(kind: str) -> str:
        return await async_body(rig, run, kind)

    run = async_outcome(rig, guarded)
    return run


def async_block(rig: Rig) -> AsyncRun:
    async def attempt(kind: str) -> str:
        async with rig.breaker:
            return await async_body(rig, run, kind)

    run = async_outcome(rig, attempt)
    return run


def async_under_timeout(rig: Rig) -> AsyncRun:
    @Pipeline(Timeout(3600), rig.breaker)
    async def guarded(kind: str) -> str:
        return await async_body(rig, run, kind)

    run = async_outcome(rig, guarded)
    return run


async def drive_async(rig: Rig, form: Callable[[Rig], AsyncRun]) -> list[tuple[Any, ...]]:
    run = form(rig)
    storage = rig.breaker.storage
    for step, arg in SCRIPT:
        if step == "call":
            rig.trace.append((step, arg, await run(arg)))
        elif step == "pass":
            rig.pass_time(arg)
        else:
            rig.elsewhere(arg)
        if storage is not None:
            await storage.flush_async()
        rig.trace.append(rig.snapshot(await rig.breaker.metrics_async()))
    return rig.trace


FORMS = {
    "decorator": (sync_decorated, async_decorated),
    "with block": (sync_block, async_block),
    "under a timeout": (sync_under_timeout, async_under_timeout),
}


def covers_the_script(trace: list[tuple[Any, ...]]) -> None:
    """The script reached what it is meant to exercise (else agreeing traces would prove little)."""
    after = [entry for entry in trace if entry[0] == "after"]
    states = {metrics.state for _, metrics, _ in after}
    assert {CircuitState.CLOSED, CircuitState.OPEN, CircuitState.FORCED_OPEN} <= states
    results = [entry[-1] for entry in trace if entry[0] in ("call", "nested")]
    assert ("CircuitOpenError", "half_open") in [r[:2] for r in results]  # the hung probe's slot
    assert ("CircuitOpenError", "open") in [r[:2] for r in results]
    assert ("CircuitOpenError", "forced_open") in [r[:2] for r in results]
    heard = [event for _, _, events in after for event in events]
    changes = [dict(event[1]) for event in heard if event[0] == "state_change"]
    assert {"old": "half_open", "new": "closed"} in changes
    assert {"old": "half_open", "new": "open"} in changes


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
async def test_the_local_twins_agree(config: Config, form: tuple[Any, Any]) -> None:
    sync_trace = drive_sync(build(config, None), form[0])
    async_trace = await drive_async(build(config, None), form[1])
    covers_the_script(sync_trace)
    assert async_trace == sync_trace


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
async def test_the_redis_twins_agree(redis_url: str, config: Config, form: tuple[Any, Any]) -> None:
    raw = blocking_client(redis_url)
    sync_client, async_client = blocking_client(redis_url), asyncio_client(redis_url)
    traces = []
    try:
        for client in (sync_client, async_client):
            namespace = f"twins-{uuid.uuid4().hex}"

            def storage(c: Any, namespace: str = namespace) -> RedisStorage:
                # flush_delay: no background flush mid-script (each step flushes); probe lease as the local one
                return RedisStorage(c, namespace=namespace, flush_delay=3600, probe_lease=LEASE)

            rig = build(config, storage(client))
            rig.raw = raw
            rig.sibling = CircuitBreaker("twins", window=config.window, storage=storage(raw))
            if client is sync_client:
                traces.append(drive_sync(rig, form[0]))
                rig.breaker.storage.close()  # type: ignore[union-attr]
            else:
                traces.append(await drive_async(rig, form[1]))
                await rig.breaker.storage.aclose()  # type: ignore[union-attr]
    finally:
        await async_client.aclose()
        sync_client.close()
        raw.close()
    covers_the_script(traces[0])
    assert all(entry[1].shared for entry in traces[0] if entry[0] == "after")
    assert traces[1] == traces[0]
