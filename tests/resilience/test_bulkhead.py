"""Bulkhead (threads and tasks share one pool of permits) and ThreadPoolBulkhead (its own workers).

Holders wait on events, not sleeps; a caller is known to be waiting for a slot when
``Bulkhead.waiting`` counts it (or, for a thread, when it is inside ``Bulkhead.acquire``).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from maestro_resilience import Bulkhead, BulkheadFullError, ThreadPoolBulkhead
from tests.resilience.support import inside
from tests.waiting import DEADLINE, async_wait_until, wait_until

pytestmark = pytest.mark.timing  # real threads and tasks contend for the slots


def test_bulkhead_rejects_when_full_and_releases() -> None:
    bulkhead = Bulkhead(1)
    inside_call = threading.Event()
    release = threading.Event()

    @bulkhead
    def hold() -> str:
        inside_call.set()
        release.wait(DEADLINE)
        return "held"

    thread = threading.Thread(target=hold)
    thread.start()
    assert inside_call.wait(DEADLINE)
    with pytest.raises(BulkheadFullError) as info:
        bulkhead.call(lambda: None)
    assert info.value.max_concurrent == 1
    with pytest.raises(BulkheadFullError), bulkhead:
        pass
    release.set()
    thread.join(DEADLINE)
    assert bulkhead.active == 0
    assert bulkhead.call(lambda: 3) == 3


def test_bulkhead_waits_up_to_max_wait() -> None:
    bulkhead = Bulkhead(1, max_wait=DEADLINE)
    done: list[str] = []
    with bulkhead:
        thread = threading.Thread(target=lambda: done.append(bulkhead.call(lambda: "later")))
        thread.start()
        wait_until(lambda: inside(thread, "acquire"), what="the second caller to wait for the slot")
        assert done == []
    thread.join(DEADLINE)
    assert done == ["later"]  # it got the slot when the first caller left
    short = Bulkhead(1, max_wait=0.05)
    with short, pytest.raises(BulkheadFullError):
        short.call(lambda: None)  # waited 50 ms, then gave up


async def test_bulkhead_async_waits_then_rejects() -> None:
    bulkhead = Bulkhead(2, max_wait=0.05)
    gate = asyncio.Event()

    @bulkhead
    async def hold() -> int:
        await gate.wait()
        return 1

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    await async_wait_until(lambda: bulkhead.active == 2, what="both holders to take their slot")
    with pytest.raises(BulkheadFullError):
        await hold()  # waited 50 ms, then gave up: nobody left
    gate.set()
    assert await asyncio.gather(*holders) == [1, 1]
    async with bulkhead:
        assert bulkhead.active == 1
    assert bulkhead.active == 0


async def test_bulkhead_async_waiter_gets_the_released_slot() -> None:
    bulkhead = Bulkhead(2, max_wait=DEADLINE)
    gate = asyncio.Event()

    @bulkhead
    async def hold() -> int:
        await gate.wait()
        return 1

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    waiter = asyncio.create_task(Bulkhead.call_async(bulkhead, hold))
    await async_wait_until(lambda: bulkhead.waiting == 1, what="the third caller to wait for a slot")
    gate.set()
    assert await asyncio.gather(*holders, waiter) == [1, 1, 1]
    assert bulkhead.active == 0


async def test_bulkhead_never_exceeds_limit_with_threads_and_tasks() -> None:
    bulkhead = Bulkhead(3, max_wait=DEADLINE)
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
        time.sleep(0.002)  # the work itself: holds the slot a moment
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
        thread.join(DEADLINE)
    assert peak == 3
    assert bulkhead.active == 0


# -- ThreadPoolBulkhead ----------------------------------------------------------------------------
async def test_thread_pool_bulkhead_bounds_queue() -> None:
    pool = ThreadPoolBulkhead(1, max_queue=1)
    release = threading.Event()
    try:
        running = pool.run_async(release.wait, DEADLINE)  # takes the worker (or waits for it) ...
        queued = pool.run_async(lambda: "b")  # ... and this the one queue place, both at once
        with pytest.raises(BulkheadFullError):
            pool.call(lambda: "c")  # no room left: rejected at once, not queued
        release.set()
        assert await running is True
        assert await queued == "b"
        assert await asyncio.to_thread(pool.call, lambda: "d") == "d"  # room again

        async def nope() -> None:
            pass

        with pytest.raises(TypeError, match="async def"):
            pool(nope)
        with pytest.raises(TypeError, match="async def"):
            pool.run_async(nope)  # type: ignore[arg-type]
    finally:
        release.set()
        pool.shutdown()


def test_thread_pool_bulkhead_runs_calls_on_its_workers() -> None:
    pool = ThreadPoolBulkhead(2, name="isolated")
    try:
        assert pool.call(lambda: threading.current_thread().name).startswith("bulkhead-isolated")
        with pytest.raises(ZeroDivisionError):
            pool.call(lambda: 1 / 0)
    finally:
        pool.shutdown()


async def test_thread_pool_bulkhead_from_async() -> None:
    pool = ThreadPoolBulkhead(2)
    try:
        assert await pool.run_async(lambda x: x + 1, 1) == 2
    finally:
        pool.shutdown()


async def test_bulkhead_serves_threads_and_tasks_in_arrival_order() -> None:
    bulkhead = Bulkhead(1, max_wait=DEADLINE)
    served: list[str] = []

    def thread_caller(name: str) -> None:
        bulkhead.call(served.append, name)

    async def task_caller(name: str) -> None:
        await bulkhead.call_async(asyncio.sleep, 0)
        served.append(name)

    threads: list[threading.Thread] = []
    tasks: list[asyncio.Task[None]] = []
    bulkhead.acquire()  # the slot is taken: every caller below waits, in this order
    try:
        for i, kind in enumerate(["thread", "task", "thread", "task", "task", "thread"]):
            name = f"{kind}-{i}"
            if kind == "thread":
                threads.append(threading.Thread(target=thread_caller, args=(name,)))
                threads[-1].start()
            else:
                tasks.append(asyncio.create_task(task_caller(name)))
            await async_wait_until(lambda i=i: bulkhead.waiting == i + 1, what=f"caller {i} to wait")
    finally:
        bulkhead.release()
    await asyncio.gather(*tasks)
    for thread in threads:
        await asyncio.to_thread(thread.join, DEADLINE)
    assert served == ["thread-0", "task-1", "thread-2", "task-3", "task-4", "thread-5"]
    assert bulkhead.active == 0
    assert bulkhead.waiting == 0
