"""What ``compat.pybreaker`` keeps from this package's engine, beyond pybreaker's behaviour.

(pybreaker's behaviour itself is checked against pybreaker in ``test_compat_pybreaker.py``.)
No lock held while the guarded call runs, an immediate refusal in half-open instead of a wait, a
stale outcome that changes nothing, listener calls one at a time, asyncio, and a Redis that
refuses writes never failing a call that ran.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from maestro_resilience import CircuitOpenError
from maestro_resilience.compat import pybreaker
from tests.resilience.support import inside
from tests.waiting import DEADLINE, wait_until


class Boom(Exception):
    pass


def boom() -> None:
    raise Boom


class WallClock:
    """The compat module's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    wall = WallClock()
    monkeypatch.setattr(pybreaker, "_utcnow", wall)
    return wall


def run(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def test_no_lock_is_held_during_the_call() -> None:
    """Two threads are inside the guarded function at once (pybreaker serialises them: this would break)."""
    breaker = pybreaker.CircuitBreaker()
    both_inside = threading.Barrier(2, timeout=DEADLINE)
    results: list[int] = []

    @breaker
    def meet() -> int:
        return both_inside.wait()

    threads = [run(lambda: results.append(meet())) for _ in range(2)]
    for thread in threads:
        thread.join(DEADLINE)
    assert sorted(results) == [0, 1]
    assert breaker.fail_counter == 0


def test_half_open_refuses_at_once_while_the_trial_call_runs(clock: WallClock) -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=30)
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(boom)
    clock.advance(30)
    release = threading.Event()
    trial = run(breaker.call, release.wait, DEADLINE)
    wait_until(lambda: inside(trial, "wait"), what="the trial call to run")
    with pytest.raises(pybreaker.CircuitBreakerError, match="Trial call in progress") as refused:
        breaker.call(boom)
    assert (refused.value.state, refused.value.retry_after) == ("half_open", 30.0)
    assert breaker.fail_counter == 1  # the refused call never ran
    release.set()
    trial.join(DEADLINE)
    assert breaker.current_state == "closed"


def test_a_trial_call_that_never_returns_frees_its_place_after_reset_timeout(clock: WallClock) -> None:
    breaker = pybreaker.CircuitBreaker(reset_timeout=10)
    breaker.half_open()
    release = threading.Event()
    hung = run(breaker.call, release.wait, DEADLINE)
    wait_until(lambda: inside(hung, "wait"), what="the trial call to hang")
    clock.advance(9)
    with pytest.raises(pybreaker.CircuitBreakerError) as refused:
        breaker.call(lambda: "never")
    assert refused.value.retry_after == pytest.approx(1.0)
    clock.advance(1)
    assert breaker.call(lambda: "second trial") == "second trial"
    assert breaker.current_state == "closed"
    release.set()
    hung.join(DEADLINE)
    assert breaker.current_state == "closed"


def test_the_outcome_of_a_call_admitted_before_a_state_change_changes_nothing() -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=1)
    go = threading.Event()

    def slow_failure() -> None:
        go.wait(DEADLINE)
        raise Boom

    def admitted_while_closed() -> None:
        with pytest.raises(Boom):
            breaker.call(slow_failure)

    old = run(admitted_while_closed)
    wait_until(lambda: inside(old, "slow_failure"), what="the call to start")
    breaker.open()
    breaker.close()
    go.set()
    old.join(DEADLINE)
    assert (breaker.current_state, breaker.fail_counter) == ("closed", 0)  # it would have tripped fail_max=1


def test_listener_calls_are_one_at_a_time() -> None:
    entered: list[str] = []
    threads: dict[str, threading.Thread] = {}

    class Slow(pybreaker.CircuitBreakerListener):
        def success(self, cb: Any) -> None:
            me = threading.current_thread().name
            entered.append(me)
            if len(entered) == 1:  # the first one waits until the other call wants the breaker too
                other = threads["b" if me == "a" else "a"]
                wait_until(
                    lambda: inside(other, "_admit") or inside(other, "_succeeded"), what="the other call to wait"
                )
                assert entered == [me]

    breaker = pybreaker.CircuitBreaker(listeners=[Slow()])
    for name in ("a", "b"):
        threads[name] = threading.Thread(target=breaker.call, args=(int,), name=name, daemon=True)
    for thread in threads.values():
        thread.start()
    for thread in threads.values():
        thread.join(DEADLINE)
    assert sorted(entered) == ["a", "b"]


def test_the_error_is_also_the_package_s_circuit_open_error(clock: WallClock) -> None:
    breaker = pybreaker.CircuitBreaker(name="search", reset_timeout=30)
    breaker.open()
    clock.advance(10)
    with pytest.raises(CircuitOpenError) as refused:
        breaker.call(int)
    assert isinstance(refused.value, pybreaker.CircuitBreakerError)
    assert (refused.value.name, refused.value.state, refused.value.retry_after) == ("search", "open", 20.0)
    assert str(refused.value) == "Timeout not elapsed yet, circuit breaker still open"


# -- asyncio ------------------------------------------------------------------------------------------
async def test_asyncio_calls_are_guarded() -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=2)

    async def down() -> None:
        raise Boom

    @breaker
    async def decorated() -> None:
        raise Boom

    async def answer(value: int) -> int:
        return value

    with pytest.raises(Boom):
        await breaker.call_async(down)
    with pytest.raises(pybreaker.CircuitBreakerError):
        await decorated()
    assert breaker.current_state == "open"
    breaker.close()
    assert await breaker.acall(answer, 42) == 42


async def test_misused_async_code_fails_loudly() -> None:
    breaker = pybreaker.CircuitBreaker()

    async def coroutine_function() -> int:
        return 1

    def generator() -> Iterator[int]:
        yield 1

    async def async_generator() -> AsyncIterator[int]:
        yield 1

    with pytest.raises(TypeError, match="call_async"):
        breaker.call(coroutine_function)
    with pytest.raises(TypeError, match="acall does not support generator"):
        await breaker.acall(generator)
    with pytest.raises(TypeError, match="acall does not support async generators"):
        await breaker.acall(async_generator)
    assert (breaker.fail_counter, breaker.current_state) == (0, "closed")


async def test_a_cancelled_trial_call_is_no_verdict_and_frees_its_place() -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=1)
    breaker.half_open()
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(breaker.acall(hang))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (breaker.current_state, breaker.fail_counter) == ("half-open", 0)

    async def fine() -> str:
        return "ok"

    assert await breaker.acall(fine) == "ok"  # the trial place was given back
    assert breaker.current_state == "closed"


async def test_concurrent_tasks_are_not_serialised() -> None:
    breaker = pybreaker.CircuitBreaker()
    both = asyncio.Barrier(2)

    async def meet() -> int:
        async with asyncio.timeout(DEADLINE):
            return await both.wait()

    assert sorted(await asyncio.gather(breaker.acall(meet), breaker.acall(meet))) == [0, 1]


# -- Redis refusing writes ------------------------------------------------------------------------------
def test_a_redis_refusing_writes_never_fails_a_call_that_ran(private_redis: Any, caplog: Any) -> None:
    """At maxmemory (noeviction) Redis answers OOM: the call's result still comes back; pybreaker raised
    from its state read once the state key was gone (its re-initialisation is not guarded)."""
    client = redis.Redis.from_url(private_redis.url, socket_timeout=DEADLINE)
    try:
        breaker = pybreaker.CircuitBreaker(state_storage=pybreaker.CircuitRedisStorage("closed", client))
        client.delete("pybreaker:state")
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", 1)
        ran: list[int] = []
        assert breaker.call(lambda: ran.append(1) or "done") == "done"
        with pytest.raises(Boom):
            breaker.call(boom)
        assert ran == [1]
        assert "RedisError" in caplog.text
    finally:
        client.close()
