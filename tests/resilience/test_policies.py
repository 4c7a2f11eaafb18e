"""Bulkhead, ThreadPoolBulkhead, Timeout, Fallback, RateLimiter, Chaos: sync and async, three forms."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from maestro_resilience import (
    Bulkhead,
    BulkheadFullError,
    Chaos,
    ChaosFault,
    Fallback,
    RateLimiter,
    RateLimitExceeded,
    ThreadPoolBulkhead,
    Timeout,
    TimeoutExceeded,
)
from maestro_resilience.testing import FakeClock


# -- Bulkhead -----------------------------------------------------------------------------------
def test_bulkhead_rejects_when_full_and_releases() -> None:
    bulkhead = Bulkhead(1)
    inside = threading.Event()
    release = threading.Event()

    @bulkhead
    def hold() -> str:
        inside.set()
        release.wait(5)
        return "held"

    thread = threading.Thread(target=hold)
    thread.start()
    inside.wait(5)
    with pytest.raises(BulkheadFullError) as info:
        bulkhead.call(lambda: None)
    assert info.value.max_concurrent == 1
    with pytest.raises(BulkheadFullError), bulkhead:
        pass
    release.set()
    thread.join(5)
    assert bulkhead.active == 0
    assert bulkhead.call(lambda: 3) == 3


def test_bulkhead_waits_up_to_max_wait() -> None:
    bulkhead = Bulkhead(1, max_wait=2.0)
    with bulkhead:
        started = time.monotonic()
        done: list[str] = []
        thread = threading.Thread(target=lambda: done.append(bulkhead.call(lambda: "later")))
        thread.start()
        time.sleep(0.05)
    thread.join(5)
    assert done == ["later"]
    assert time.monotonic() - started < 2.0
    short = Bulkhead(1, max_wait=0.05)
    with short, pytest.raises(BulkheadFullError):
        short.call(lambda: None)


async def test_bulkhead_async_waits_and_rejects() -> None:
    bulkhead = Bulkhead(2, max_wait=0.05)
    gate = asyncio.Event()

    @bulkhead
    async def hold() -> int:
        await gate.wait()
        return 1

    tasks = [asyncio.create_task(hold()) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(BulkheadFullError):
        await hold()
    waiter = asyncio.create_task(Bulkhead.call_async(bulkhead, hold))
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*tasks, waiter) == [1, 1, 1]
    async with bulkhead:
        assert bulkhead.active == 1
    assert bulkhead.active == 0


async def test_bulkhead_never_exceeds_limit_with_threads_and_tasks() -> None:
    bulkhead = Bulkhead(3, max_wait=5)
    active = 0
    peak = 0
    lock = threading.Lock()

    def enter() -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)

    def leave() -> None:
        nonlocal active
        with lock:
            active -= 1

    @bulkhead
    def work() -> None:
        enter()
        time.sleep(0.002)
        leave()

    @bulkhead
    async def awork() -> None:
        enter()
        await asyncio.sleep(0.002)
        leave()

    threads = [threading.Thread(target=lambda: [work() for _ in range(5)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    await asyncio.gather(*(awork() for _ in range(40)))
    for thread in threads:
        thread.join(10)
    assert peak == 3
    assert bulkhead.active == 0


def test_thread_pool_bulkhead_bounds_queue() -> None:
    pool = ThreadPoolBulkhead(1, max_queue=1)
    release = threading.Event()
    results: list[str] = []
    try:
        runner = threading.Thread(target=lambda: results.append(pool.call(lambda: (release.wait(5), "a")[1])))
        runner.start()
        time.sleep(0.05)
        queued = threading.Thread(target=lambda: results.append(pool.call(lambda: "b")))
        queued.start()
        time.sleep(0.05)
        with pytest.raises(BulkheadFullError):
            pool.call(lambda: "c")
        release.set()
        runner.join(5)
        queued.join(5)
        assert sorted(results) == ["a", "b"]
        with pytest.raises(TypeError, match="async def"):

            @pool
            async def nope() -> None:
                pass
    finally:
        pool.shutdown()


async def test_thread_pool_bulkhead_from_async() -> None:
    pool = ThreadPoolBulkhead(2)
    try:
        assert await pool.run_async(lambda x: x + 1, 1) == 2
    finally:
        pool.shutdown()


# -- Timeout ------------------------------------------------------------------------------------
async def test_timeout_cancels_async_calls() -> None:
    cancelled = asyncio.Event()

    @Timeout(0.05, name="slow")
    async def slow() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutExceeded) as info:
        await slow()
    assert isinstance(info.value, TimeoutError)
    assert (info.value.name, info.value.seconds) == ("slow", 0.05)
    assert cancelled.is_set()
    with pytest.raises(TimeoutExceeded):
        async with Timeout(0.01):
            await asyncio.sleep(1)
    async with Timeout(1):
        await asyncio.sleep(0)


async def test_timeout_passes_own_timeout_errors_through() -> None:
    async def own() -> None:
        raise TimeoutError("from the client")

    with pytest.raises(TimeoutError) as info:
        await Timeout(5).call_async(own)
    assert not isinstance(info.value, TimeoutExceeded)


def test_timeout_sync_runs_on_worker_and_returns_on_time() -> None:
    timeout = Timeout(0.05)
    try:
        assert timeout.call(lambda: threading.current_thread().name).startswith("timeout-")
        started = time.monotonic()
        with pytest.raises(TimeoutExceeded):
            timeout.call(time.sleep, 0.5)
        assert time.monotonic() - started < 0.4
        with pytest.raises(ZeroDivisionError):
            timeout.call(lambda: 1 / 0)
    finally:
        timeout.shutdown()


# -- Fallback -----------------------------------------------------------------------------------
def test_fallback_value_func_and_predicates() -> None:
    assert Fallback("cached").call(lambda: 1 / 0) == "cached"
    assert Fallback(func=lambda e: type(e).__name__).call(lambda: 1 / 0) == "ZeroDivisionError"
    with pytest.raises(KeyError):
        Fallback(0, on=ValueError).call(lambda: {}["x"])
    narrowed = Fallback(0, on=ValueError, predicate=lambda e: "soft" in str(e))
    with pytest.raises(ValueError, match="hard"):
        narrowed.call(lambda: int("hard"))
    assert Fallback(-1, result_predicate=lambda r: r is None).call(lambda: None) == -1
    with pytest.raises(TypeError, match="exactly one"):
        Fallback()


async def test_fallback_async_with_async_func() -> None:
    async def replacement(error: BaseException | None) -> str:
        await asyncio.sleep(0)
        return f"fallback for {type(error).__name__}"

    @Fallback(func=replacement)
    async def broken() -> str:
        raise ConnectionError

    assert await broken() == "fallback for ConnectionError"


# -- RateLimiter --------------------------------------------------------------------------------
def test_rate_limiter_bursts_then_rejects_then_refills() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, per=1.0, burst=2, clock=clock)
    limiter.call(lambda: None)
    limiter.call(lambda: None)
    with pytest.raises(RateLimitExceeded) as info:
        limiter.call(lambda: None)
    assert info.value.retry_after == pytest.approx(0.5)
    clock.advance(0.5)
    limiter.call(lambda: None)


def test_rate_limiter_waits_within_max_wait_in_order() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, per=1.0, burst=1, max_wait=1.0, clock=clock)
    for _ in range(3):
        with limiter:
            pass
    assert clock.sleeps == [pytest.approx(0.1), pytest.approx(0.1)]
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(1, burst=0)


async def test_rate_limiter_async() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, per=2.0, max_wait=5, clock=clock)

    @limiter
    async def ping() -> str:
        return "pong"

    assert [await ping(), await ping()] == ["pong", "pong"]
    assert clock.sleeps == [pytest.approx(2.0)]
    async with limiter:
        pass


# -- Chaos --------------------------------------------------------------------------------------
def test_chaos_injects_faults_and_latency_reproducibly() -> None:
    clock = FakeClock()
    chaos = Chaos(fault_rate=0.5, latency=0.2, latency_rate=1.0, seed=7, clock=clock)
    outcomes = []
    for _ in range(20):
        try:
            chaos.call(lambda: None)
            outcomes.append("ok")
        except ChaosFault:
            outcomes.append("fault")
    assert 3 < outcomes.count("fault") < 17
    assert clock.sleeps == [0.2] * 20
    chaos.enabled = False
    chaos.call(lambda: None)
    assert len(clock.sleeps) == 20
    with pytest.raises(ValueError, match="fault_rate"):
        Chaos(fault_rate=2)


async def test_chaos_async_custom_fault() -> None:
    chaos = Chaos(fault_rate=1.0, fault=lambda: ConnectionResetError("drill"))
    with pytest.raises(ConnectionResetError):
        async with chaos:
            pass


@pytest.mark.parametrize(
    ("factory", "error", "match"),
    [
        (lambda: Bulkhead(0), ValueError, "max_concurrent must be an int >= 1"),
        (lambda: Bulkhead(1, max_wait=-1), ValueError, "max_wait"),
        (lambda: ThreadPoolBulkhead(0), ValueError, "max_workers"),
        (lambda: ThreadPoolBulkhead(1, max_queue=-1), ValueError, "max_queue"),
        (lambda: Timeout(0), ValueError, "seconds must be a number > 0"),
        (lambda: Timeout(1, max_workers=0), ValueError, "max_workers"),
        (lambda: Fallback(1, on="Exception"), TypeError, "on must be"),
        (lambda: Fallback(func=3), TypeError, "func"),
        (lambda: RateLimiter(1, per=0), ValueError, "per"),
        (lambda: RateLimiter(1, max_wait=-1), ValueError, "max_wait"),
        (lambda: Chaos(latency=-1), ValueError, "latency"),
        (lambda: Chaos(fault=3), TypeError, "fault"),
        (lambda: Bulkhead(1, name=""), TypeError, "name"),
        (lambda: Bulkhead(1, listeners=[3]), TypeError, "listeners"),
    ],
)
def test_bad_configuration_fails_at_construction(factory: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        factory()  # type: ignore[operator]


async def test_timeout_many_concurrent_calls_only_slow_ones_expire() -> None:
    timeout = Timeout(0.05)

    @timeout
    async def sleep_for(seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    delays = [0.0, 0.2, 0.01, 0.2, 0.0, 0.02] * 5
    results = await asyncio.gather(*(sleep_for(d) for d in delays), return_exceptions=True)
    for delay, result in zip(delays, results, strict=True):
        if delay > 0.05:
            assert isinstance(result, TimeoutExceeded)
        else:
            assert result == delay
    assert await sleep_for(0) == 0  # the queue is reusable after expiries


async def test_timeout_leaves_outer_cancellation_alone() -> None:
    started = asyncio.Event()

    @Timeout(5)
    async def wait_forever() -> None:
        started.set()
        await asyncio.sleep(10)

    task = asyncio.create_task(wait_forever())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelling() == 1  # an outer cancellation is not turned into TimeoutExceeded


async def test_timeout_swallowed_cancellation_keeps_task_usable() -> None:
    @Timeout(0.01)
    async def stubborn() -> str:
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            return "swallowed"
        return "finished"

    assert await stubborn() == "swallowed"
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0.001)  # the task is not cancelled later by a stale count


async def test_timeout_per_event_loop_state() -> None:
    timeout = Timeout(0.05)

    @timeout
    async def slow() -> None:
        await asyncio.sleep(1)

    def in_other_loop() -> bool:
        try:
            asyncio.run(slow())
        except TimeoutExceeded:
            return True
        return False

    assert await asyncio.to_thread(in_other_loop)
    with pytest.raises(TimeoutExceeded):
        await slow()


def test_timeout_does_not_keep_closed_loops_alive() -> None:
    import gc
    import weakref

    timeout = Timeout(1)

    @timeout
    async def quick() -> int:
        return 1

    refs = []
    for _ in range(3):
        loop = asyncio.new_event_loop()
        assert loop.run_until_complete(quick()) == 1
        loop.close()
        refs.append(weakref.ref(loop))
        del loop
    gc.collect()
    assert sum(ref() is not None for ref in refs) <= 1  # at most the most recent one, cached
