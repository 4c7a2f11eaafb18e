"""The breaker under many threads and tasks: exactly N half-open probes; no lock held during the call;
a window tripped once, whatever the interleaving."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from maestro_resilience import CircuitBreaker, CircuitOpenError, CircuitState, Consecutive, CountWindow
from maestro_resilience.testing import FakeClock, force_state
from tests.waiting import DEADLINE, async_wait_until, wait_until

pytestmark = pytest.mark.timing  # real threads race through one breaker


def probe_race(probes: int, callers: int = 32) -> tuple[int, int, CircuitState]:
    """``callers`` threads arrive in half-open together; returns (admitted, rejected, final state)."""
    breaker = CircuitBreaker(window=Consecutive(1), half_open_max_calls=probes, clock=FakeClock())
    force_state(breaker, "half_open")
    gate = threading.Event()
    counts = {"admitted": 0, "rejected": 0}
    lock = threading.Lock()

    def probe() -> None:
        with lock:
            counts["admitted"] += 1
        gate.wait(DEADLINE)  # the probes hold their slots until every other caller has been turned away

    def caller() -> None:
        try:
            breaker.call(probe)
        except CircuitOpenError:
            with lock:
                counts["rejected"] += 1

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    wait_until(lambda: counts["rejected"] >= callers - probes, what="every non-probe caller to be rejected")
    gate.set()
    for thread in threads:
        thread.join(DEADLINE)
    return counts["admitted"], counts["rejected"], breaker.state


def test_half_open_admits_exactly_n_probes_among_many_threads() -> None:
    for probes in (1, 3):
        assert probe_race(probes) == (probes, 32 - probes, CircuitState.CLOSED)


async def test_half_open_admits_exactly_n_probes_among_many_tasks() -> None:
    breaker = CircuitBreaker(window=CountWindow(10), half_open_max_calls=4, clock=FakeClock())
    force_state(breaker, "half_open")
    gate = asyncio.Event()
    admitted = 0

    @breaker
    async def probe() -> None:
        nonlocal admitted
        admitted += 1
        await gate.wait()

    tasks = [asyncio.create_task(probe()) for _ in range(50)]
    await async_wait_until(lambda: sum(t.done() for t in tasks) >= 46, what="46 callers rejected")
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert admitted == 4
    assert sum(isinstance(r, CircuitOpenError) for r in results) == 46
    assert breaker.state is CircuitState.CLOSED


def test_threads_run_concurrently_through_one_breaker() -> None:
    breaker = CircuitBreaker()
    inside = 0
    peak = 0
    lock = threading.Lock()
    barrier = threading.Barrier(4, timeout=DEADLINE)

    @breaker
    def work() -> None:
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        barrier.wait()  # BrokenBarrierError (after DEADLINE) if the breaker serialised callers
        with lock:
            inside -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert peak == 4


def test_failures_from_many_threads_trip_exactly_once() -> None:
    transitions: list[str] = []
    breaker = CircuitBreaker(
        window=CountWindow(50, failure_rate_threshold=0.5, minimum_calls=20),
        listeners=[lambda e: transitions.append(e.detail["new"])],
        clock=FakeClock(),  # the open duration never ends here: one trip, whatever the interleaving
    )

    def fail() -> None:
        raise ConnectionError

    def hammer() -> None:
        for i in range(200):
            with contextlib.suppress(ConnectionError, CircuitOpenError):
                breaker.call(fail if i % 2 else (lambda: None))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert transitions == ["open"]
    assert breaker.metrics.rejections > 0
