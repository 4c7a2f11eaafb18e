"""Timeout on async code (cancellation) and on sync code in thread mode (the caller stops waiting).

"Slow" calls block for ``LONG`` (or on an event nobody sets in time): a deadline cuts them short
within milliseconds, so no test reads the clock. Calls meant to finish in time get a generous
deadline. Signal-mode sync deadlines are in ``test_timeout_signal.py``.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import pytest

from maestro_resilience import Timeout, TimeoutExceeded
from tests.resilience.support import LONG

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
