"""Timeout on async code (cancellation) and on sync code in thread mode (the caller stops waiting).

"Slow" calls block for ``LONG`` (or on an event nobody sets in time): a deadline cuts them short
within milliseconds, so no test reads the clock. Calls meant to finish in time get a generous
deadline. Signal-mode sync deadlines are in ``test_timeout_signal.py``.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import weakref

import pytest

from maestro_resilience import Timeout, TimeoutExceeded
from tests.resilience.support import LONG
from tests.waiting import wait_until

pytestmark = pytest.mark.timing  # real deadlines on the event loop and on worker threads


async def test_timeout_cancels_async_calls() -> None:
    cancelled = asyncio.Event()

    @Timeout(0.05, name="slow")
    async def slow() -> None:
        try:
            await asyncio.sleep(LONG)
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
            await asyncio.sleep(LONG)
    async with Timeout(LONG):
        await asyncio.sleep(0)


async def test_timeout_passes_own_timeout_errors_through() -> None:
    async def own() -> None:
        raise TimeoutError("from the client")

    with pytest.raises(TimeoutError) as info:
        await Timeout(LONG).call_async(own)
    assert not isinstance(info.value, TimeoutExceeded)


async def test_timeout_many_concurrent_calls_only_slow_ones_expire() -> None:
    timeout = Timeout(0.05)

    @timeout
    async def run(slow: bool) -> bool:
        # a quick call yields once and returns in the same loop iterations as its start: the loop runs
        # it before any timer, so it never meets its deadline, however late that iteration runs
        await asyncio.sleep(LONG if slow else 0)
        return slow

    kinds = [False, True, False, True, False, False] * 5
    results = await asyncio.gather(*(run(slow) for slow in kinds), return_exceptions=True)
    for slow, result in zip(kinds, results, strict=True):
        if slow:
            assert isinstance(result, TimeoutExceeded)
        else:
            assert result is False
    assert await run(False) is False  # the queue is reusable after expiries


async def test_timeout_leaves_outer_cancellation_alone() -> None:
    started = asyncio.Event()

    @Timeout(LONG)
    async def wait_forever() -> None:
        started.set()
        await asyncio.sleep(2 * LONG)

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
            await asyncio.sleep(LONG)
        except asyncio.CancelledError:
            return "swallowed"
        return "finished"

    assert await stubborn() == "swallowed"
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0)  # a stale cancellation would be delivered here


async def test_timeout_per_event_loop_state() -> None:
    timeout = Timeout(0.05)

    @timeout
    async def slow() -> None:
        await asyncio.sleep(LONG)

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
    timeout = Timeout(LONG)

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


# -- sync calls, thread mode --------------------------------------------------------------------------
def test_thread_mode_runs_on_a_worker_and_gives_up_on_time() -> None:
    generous = Timeout(LONG)
    short = Timeout(0.05)
    release = threading.Event()
    try:
        assert generous.call(lambda: threading.current_thread().name).startswith("timeout-")
        with pytest.raises(ZeroDivisionError):
            generous.call(lambda: 1 / 0)
        with pytest.raises(TimeoutExceeded):
            short.call(release.wait, LONG)
        assert not release.is_set()  # the caller gave up while the call still ran on its worker
    finally:
        release.set()
        generous.shutdown()
        short.shutdown()


def test_hung_calls_do_not_starve_healthy_ones_in_thread_mode() -> None:
    timeout = Timeout(0.05, max_workers=2)
    release = threading.Event()

    @timeout
    def hang() -> None:
        release.wait(LONG)

    @timeout
    def instant(value: int) -> int:
        return value

    try:
        for _ in range(2):  # both workers hang
            with pytest.raises(TimeoutExceeded):
                hang()
        assert timeout.abandoned == 2
        timeout.seconds = LONG  # (read on each call) a generous deadline: only starvation would reach it
        assert [instant(i) for i in range(5)] == [0, 1, 2, 3, 4]  # a worker each abandoned call replaces
    finally:
        release.set()
        wait_until(lambda: timeout.abandoned == 0, what="the abandoned calls to return")
        timeout.shutdown()


def test_abandoned_calls_grow_the_workers_only_up_to_a_bound() -> None:
    timeout = Timeout(0.05, max_workers=1, max_abandoned=1)
    release = threading.Event()
    ran: list[int] = []

    @timeout
    def hang() -> None:
        release.wait(LONG)

    @timeout
    def instant(value: int) -> int:
        ran.append(value)
        return value

    try:
        for _ in range(2):  # the worker, then its one replacement, hang
            with pytest.raises(TimeoutExceeded):
                hang()
        assert timeout.abandoned == 2
        with pytest.raises(TimeoutExceeded):
            instant(1)  # no third thread: it waits in the queue past its deadline ...
        assert ran == []  # ... and is dropped without running
    finally:
        release.set()
        wait_until(lambda: timeout.abandoned == 0, what="the abandoned calls to return")
    timeout.seconds = LONG
    assert instant(2) == 2
    assert ran == [2]
    with pytest.raises(ValueError, match="max_abandoned"):
        Timeout(1, max_abandoned=-1)
    timeout.shutdown()


def test_thread_mode_runs_the_call_in_the_callers_context() -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    request_id.set("r-42")

    @Timeout(LONG)
    def handler() -> str:
        return request_id.get()

    assert handler() == "r-42"
