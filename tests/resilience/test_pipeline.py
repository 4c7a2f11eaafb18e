"""Pipeline: policies composed outermost first, as one policy; where a Timeout sits decides what it limits."""

from __future__ import annotations

import asyncio
import threading

import pytest

from maestro_resilience import (
    Bulkhead,
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Consecutive,
    Fallback,
    Pipeline,
    Retry,
    Timeout,
    TimeoutExceeded,
)
from maestro_resilience.testing import FakeClock, no_wait
from tests.resilience.support import LONG
from tests.waiting import wait_until


def test_pipeline_order_outermost_first() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(window=Consecutive(2), clock=clock)
    attempts = 0

    def down() -> str:
        nonlocal attempts
        attempts += 1
        raise ConnectionError

    pipeline = Pipeline(Fallback("cached"), Retry(attempts=5, clock=clock), breaker, Bulkhead(4))
    assert pipeline.call(down) == "cached"
    # two failures open the breaker; Retry does not retry its rejection; Fallback replaces it
    assert attempts == 2
    assert len(clock.sleeps) == 2
    assert breaker.state is CircuitState.OPEN


@pytest.mark.timing
async def test_pipeline_retry_outside_timeout_is_per_attempt() -> None:
    calls = 0

    async def slow_then_fast() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(LONG)
        return "fast"  # the second attempt returns without awaiting: its deadline cannot pass first

    pipeline = Pipeline(Retry(attempts=2, on=TimeoutError), Timeout(0.05))
    with no_wait():
        assert await pipeline.call_async(slow_then_fast) == "fast"
    assert calls == 2


async def test_pipeline_decorates_async_and_keeps_metadata() -> None:
    pipeline = Pipeline(Retry(attempts=2), CircuitBreaker(), Timeout(LONG), Bulkhead(2))

    @pipeline
    async def fetch(x: int) -> int:
        """Doc."""
        return x + 1

    assert await fetch(1) == 2
    assert fetch.__doc__ == "Doc."
    assert fetch.__name__ == "fetch"
    with pytest.raises(TypeError, match="policies"):
        Pipeline("retry")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        Pipeline()


@pytest.mark.timing
async def test_timeout_outside_retry_bounds_total() -> None:
    attempts = 0

    async def always_slow() -> None:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(LONG)

    pipeline = Pipeline(Timeout(0.1), Retry(attempts=50, on=TimeoutError))
    with pytest.raises(TimeoutExceeded):
        await pipeline.call_async(always_slow)
    assert attempts == 1  # the outer deadline cancelled the first attempt, and the retries with it


# -- a Timeout outside a CircuitBreaker: the breaker counts the timed-out calls as failures --------


@pytest.mark.timing  # real worker threads and deadlines
@pytest.mark.parametrize("sync_mode", ["thread", "signal"])
def test_timeouts_outside_a_breaker_count_as_its_failures(sync_mode: str) -> None:
    breaker = CircuitBreaker("hanging", window=Consecutive(2))
    timeout = Timeout(0.5, sync_mode=sync_mode)  # type: ignore[arg-type]
    release = threading.Event()
    runs = 0
    returned = 0

    @Pipeline(timeout, breaker)
    def hang() -> None:
        nonlocal runs, returned
        runs += 1
        release.wait(LONG)
        returned += 1

    try:
        for _ in range(2):
            with pytest.raises(TimeoutExceeded):
                hang()
        assert breaker.state is CircuitState.OPEN
        timeout.seconds = LONG  # (read on each call) only a hang would reach it
        with pytest.raises(CircuitOpenError):
            hang()
        assert runs == 2
        assert breaker.metrics.failures == 2
    finally:
        release.set()
        timeout.shutdown()
    if sync_mode == "thread":  # (the signal interrupts the calls themselves: none goes on)
        # abandoned on their workers, the calls return later: their outcomes change nothing (counted once)
        wait_until(lambda: returned == runs, what="the abandoned calls to return")
    assert breaker.metrics.calls == 2
    assert breaker.metrics.failures == 2


@pytest.mark.timing
async def test_async_timeouts_outside_a_breaker_count_as_its_failures() -> None:
    breaker = CircuitBreaker("async-hanging", window=Consecutive(2))
    runs = 0

    @Pipeline(Timeout(0.05), breaker)
    async def hang() -> None:
        nonlocal runs
        runs += 1
        await asyncio.sleep(LONG)

    for _ in range(2):
        with pytest.raises(TimeoutExceeded):
            await hang()
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError):
        await hang()
    assert runs == 2
    assert breaker.metrics.failures == 2


async def test_a_cancelled_call_inside_a_timeout_is_still_ignored() -> None:
    breaker = CircuitBreaker("cancelled", window=Consecutive(1))
    started = asyncio.Event()

    @Pipeline(Timeout(LONG), breaker)
    async def slow() -> None:
        started.set()
        await asyncio.sleep(LONG)

    task = asyncio.create_task(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state is CircuitState.CLOSED
    assert breaker.metrics.ignored == 1


@pytest.mark.timing
def test_a_call_the_timeout_gave_up_on_while_it_was_admitted_does_not_run() -> None:
    timed_out = threading.Event()

    class SlowAdmission:  # a pybreaker listener: before_call runs after admission, before the call
        def before_call(self, *_: object) -> None:
            timed_out.wait(LONG)  # the caller's deadline passes meanwhile

        def state_change(self, *_: object) -> None:
            pass

        def failure(self, *_: object) -> None:
            pass

        def success(self, *_: object) -> None:
            pass

    breaker = CircuitBreaker("slow-admission", window=Consecutive(5), listeners=[SlowAdmission()])
    timeout = Timeout(0.5)  # time enough for an idle worker to start the call, even under load
    ran: list[str] = []

    @Pipeline(timeout, breaker)
    def work() -> None:
        ran.append("ran")

    timeout.call(lambda: None)  # a worker thread, started and idle
    try:
        with pytest.raises(TimeoutExceeded):
            work()
    finally:
        timed_out.set()
    wait_until(lambda: breaker.metrics.calls == 1, what="the late call to be recorded")
    assert breaker.metrics.failures == 1  # recorded as the timeout, once
    assert ran == []  # its caller was gone: it never ran
    timeout.shutdown(wait=True)
