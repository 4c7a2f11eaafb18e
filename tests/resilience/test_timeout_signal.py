"""Sync deadlines on the main thread: ``with Timeout(s):`` and ``Timeout(s, sync_mode="signal" | "auto")``.

A ``SIGALRM`` interval timer interrupts the guarded code. "Slow" code sleeps ``LONG``; that the sleep
never finished proves the deadline cut it short, so no test reads the clock. A "lazy" firing (the
timer going off after a block left) is sent with ``os.kill`` where a test must see one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from maestro_resilience import Pipeline, Registry, Retry, Timeout, TimeoutExceeded
from maestro_resilience._alarm import ALARM
from maestro_resilience.testing import capture_events, no_wait
from tests.resilience.support import LONG
from tests.waiting import wait_until

pytestmark = pytest.mark.timing  # real signals and an interval timer


@pytest.fixture(autouse=True)
def _main_thread_alarm() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover - runner-dependent
        pytest.skip("SIGALRM deadlines need the main thread")
    yield
    assert ALARM.active == []  # every block left its deadline


def in_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on another thread and return what it returned or raised."""
    box: list[Any] = []

    def body() -> None:
        try:
            box.append(fn())
        except BaseException as exc:  # handed back to the test
            box.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    return box[0]


def sleep_through(finished: list[str], seconds: float = LONG) -> None:
    """Block in ``time.sleep`` (a system call); note ``"finished"`` only if nothing interrupted it."""
    time.sleep(seconds)
    finished.append("finished")


def late_sigalrm() -> bool:
    """Deliver SIGALRM now, as the lazy timer does when it fires after the blocks it was armed for left.

    Only while our handler holds SIGALRM: once the timer has really fired with no block pending, it has
    handed the signal back to its previous owner (pytest-timeout's handler, which would end the test).
    """
    if signal.getsignal(signal.SIGALRM) is not ALARM.handler:
        return False
    os.kill(os.getpid(), signal.SIGALRM)
    time.sleep(0)  # the handler runs between bytecodes, at the latest here
    return True


# -- sync `with Timeout(s):` -------------------------------------------------------------------------
def test_sync_block_is_interrupted() -> None:
    finished: list[str] = []
    with capture_events() as events, pytest.raises(TimeoutExceeded) as info, Timeout(0.05, name="block"):
        sleep_through(finished)
    assert finished == []  # the deadline interrupted the sleep
    assert isinstance(info.value, TimeoutError)
    assert (info.value.name, info.value.seconds) == ("block", 0.05)
    assert [(e.policy, e.kind) for e in events] == [("block", "timeout")]


def test_a_firing_after_the_block_left_raises_nothing() -> None:
    timeout = Timeout(LONG)
    with timeout as entered:
        assert entered is timeout
        value = 1 + 1
    assert value == 2
    assert late_sigalrm()  # the lazy timer fires after the block left: nothing is raised
    with timeout:
        pass
    assert late_sigalrm()


def test_an_except_clause_for_other_errors_does_not_stop_the_timeout() -> None:
    finished: list[str] = []

    def guarded() -> None:
        with contextlib.suppress(KeyError):
            sleep_through(finished)

    with pytest.raises(TimeoutExceeded), Timeout(0.03):
        guarded()
    assert finished == []


def test_nested_blocks_the_earliest_deadline_fires() -> None:
    finished: list[str] = []
    with pytest.raises(TimeoutExceeded) as info, Timeout(0.05, name="outer"), Timeout(LONG, name="inner"):
        sleep_through(finished)
    assert info.value.name == "outer"
    with Timeout(LONG, name="outer"):
        with pytest.raises(TimeoutExceeded) as info, Timeout(0.03, name="inner"):
            sleep_through(finished)
        assert info.value.name == "inner"
        assert [entry[1] for entry in ALARM.active] == ["outer"]  # the outer block goes on, its deadline pending

    def inner_then_sleep() -> None:
        # an inner block with an earlier deadline arms the timer for it; its body ends long before
        with Timeout(0.1, name="early"):
            pass
        sleep_through(finished)  # re-armed for the outer deadline after the inner one left

    with pytest.raises(TimeoutExceeded) as info, Timeout(0.2, name="late"):
        inner_then_sleep()
    assert info.value.name == "late"
    assert finished == []


def test_leftover_inner_entries_go_with_the_block_whose_deadline_fired() -> None:
    finished: list[str] = []

    def interrupted_inner_bookkeeping() -> None:
        # as if an inner block's bookkeeping had been interrupted by the outer deadline
        ALARM.active.append([time.monotonic() + 0.06, "leftover", 0.06, 0])
        sleep_through(finished)

    with pytest.raises(TimeoutExceeded) as info, Timeout(0.03, name="outer"):
        interrupted_inner_bookkeeping()
    assert info.value.name == "outer"
    assert ALARM.active == []
    # the timer was re-armed for the leftover's deadline: when it fires, in unrelated code, nothing is raised
    wait_until(lambda: ALARM.armed_at == float("inf"), what="the timer re-armed for the leftover to fire")


def test_sync_block_off_the_main_thread_is_refused() -> None:
    def block() -> None:
        with Timeout(1):
            pass

    error = in_thread(block)
    assert isinstance(error, RuntimeError)
    assert "main thread" in str(error)
    assert isinstance(in_thread(lambda: Timeout(1, sync_mode="signal").call(int)), RuntimeError)


def test_a_foreign_sigalrm_handler_is_chained_and_handed_back() -> None:
    calls: list[int] = []
    finished: list[str] = []

    def foreign(signum: int, frame: object) -> None:
        calls.append(signum)

    previous = signal.signal(signal.SIGALRM, foreign)
    signal.setitimer(signal.ITIMER_REAL, 0.05)  # its own timer, pending when the block starts
    try:
        with Timeout(LONG):
            # the foreign handler's deadline passes inside the block: it still runs, and the block goes on
            wait_until(lambda: calls, what="the chained handler to run at its own deadline")
        assert calls == [signal.SIGALRM]
        with pytest.raises(TimeoutExceeded), Timeout(0.05):
            sleep_through(finished)  # our own deadline still works with a chained handler
        assert finished == []
        # the timer fired with no block of ours pending: SIGALRM went back to its owner
        assert signal.getsignal(signal.SIGALRM) is foreign
        assert calls == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


async def test_a_sync_block_inside_a_coroutine_is_refused() -> None:
    import asyncio

    with pytest.raises(TypeError, match="async with"), Timeout(1):
        await asyncio.sleep(0)  # pragma: no cover - refused on entry
    async with Timeout(LONG):
        await asyncio.sleep(0)


@pytest.mark.filterwarnings("ignore:This process.*fork:DeprecationWarning")  # Python >= 3.12 in a threaded worker
def test_a_forked_child_re_arms_the_timer() -> None:
    ALARM.arm(time.monotonic() + 0.5)  # the parent's timer, armed ahead as after a block: a child does not inherit it
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            with Timeout(1.0):  # later than the parent's armed deadline: only a re-armed timer fires
                time.sleep(LONG)
            code = 2  # the sleep finished: nothing interrupted it
        except TimeoutExceeded:
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_at_exit_disarms_and_hands_sigalrm_back() -> None:
    def foreign(signum: int, frame: object) -> None:  # pragma: no cover - never fires
        pass

    previous = signal.signal(signal.SIGALRM, foreign)
    signal.setitimer(signal.ITIMER_REAL, 100)
    try:
        Timeout(5, sync_mode="signal").call(int)  # chains `foreign` and arms our lazy timer
        assert signal.getsignal(signal.SIGALRM) is not foreign
        ALARM.at_exit()  # what the interpreter runs at exit, before it resets signal handlers
        assert signal.getsignal(signal.SIGALRM) is foreign
        assert 5 < signal.getitimer(signal.ITIMER_REAL)[0] <= 100  # its own timer, not our 5 s one
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- sync_mode ------------------------------------------------------------------------------------------
def test_signal_mode_runs_in_the_calling_thread_and_interrupts() -> None:
    generous = Timeout(LONG, sync_mode="signal")
    assert generous.call(threading.current_thread) is threading.main_thread()
    with pytest.raises(ZeroDivisionError):
        generous.call(lambda: 1 / 0)

    @generous
    def own_timeout() -> None:
        raise TimeoutError("the client's own")

    with pytest.raises(TimeoutError) as info:
        own_timeout()
    assert not isinstance(info.value, TimeoutExceeded)
    finished: list[str] = []
    with capture_events() as events, pytest.raises(TimeoutExceeded):
        Timeout(0.05, sync_mode="signal").call(sleep_through, finished)
    assert finished == []
    assert [e.kind for e in events] == ["timeout"]


def test_auto_mode_uses_the_signal_on_the_main_thread_and_a_worker_elsewhere() -> None:
    generous = Timeout(LONG, sync_mode="auto")
    short = Timeout(0.05, sync_mode="auto")
    release = threading.Event()
    try:
        assert generous.call(threading.current_thread) is threading.main_thread()
        name = in_thread(lambda: generous.call(lambda: threading.current_thread().name))
        assert name.startswith("timeout-")
        assert isinstance(in_thread(lambda: short.call(release.wait, LONG)), TimeoutExceeded)
    finally:
        release.set()  # the abandoned call on the worker returns
        generous.shutdown()
        short.shutdown()


def test_signal_mode_inside_retry_limits_each_attempt() -> None:
    attempts: list[int] = []
    finished: list[str] = []

    def slow() -> None:
        attempts.append(1)
        sleep_through(finished)

    pipeline = Pipeline(Retry(attempts=3, on=TimeoutError), Timeout(0.03, sync_mode="signal"))
    with no_wait(), pytest.raises(TimeoutExceeded):
        pipeline.call(slow)
    assert len(attempts) == 3
    assert finished == []  # each attempt was interrupted by its own deadline


def test_bad_sync_mode() -> None:
    with pytest.raises(ValueError, match="sync_mode must be one of"):
        Timeout(1, sync_mode="process")  # type: ignore[arg-type]


def test_registry_passes_sync_mode() -> None:
    timeout = Registry.from_dict({"t": {"type": "timeout", "seconds": LONG, "sync_mode": "signal"}})["t"]
    assert isinstance(timeout, Timeout)
    assert timeout.sync_mode == "signal"
    assert timeout.call(threading.current_thread) is threading.main_thread()


def test_many_deadlines_fire_exactly_for_the_calls_that_overrun() -> None:
    # a quick call returns at once; its deadline is long enough that a loaded machine does not
    # overrun it by itself (only the calls that block for LONG are meant to reach theirs): at
    # 0.15 s a quick call overran it once in CI, with three test runs sharing two cores
    timeout = Timeout(1.0, sync_mode="signal")
    outer = Timeout(LONG, name="outer")
    finished: list[str] = []
    outcomes = []
    for i in range(30):
        try:
            with outer:  # a longer deadline pending around every call: re-arming must keep both
                timeout.call(sleep_through, finished, LONG if i % 3 == 0 else 0)
            outcomes.append("returned")
        except TimeoutExceeded as error:
            outcomes.append(error.name)
    assert outcomes == [timeout.name if i % 3 == 0 else "returned" for i in range(30)]
    assert len(finished) == 20  # the quick ones
    late_sigalrm()  # a last lazy firing finds nothing to do
