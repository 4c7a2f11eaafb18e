"""Context-manager forms added for the policies that replace or interrupt: sync ``with Timeout``
(SIGALRM deadline, main thread) and ``sync_mode``, and ``with Fallback(...) as outcome``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from maestro_resilience import Fallback, FallbackOutcome, Pipeline, Retry, Timeout, TimeoutExceeded
from maestro_resilience._alarm import ALARM
from maestro_resilience.testing import capture_events, no_wait


@pytest.fixture(autouse=True)
def _main_thread_alarm() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover - runner-dependent
        pytest.skip("SIGALRM deadlines need the main thread")
    yield
    assert ALARM.active == []  # every block left its deadline


def in_thread(fn: Any) -> Any:
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


# -- sync `with Timeout(s):` -------------------------------------------------------------------------
def sleep_and_note(seconds: float, notes: list[float]) -> None:
    started = time.monotonic()
    try:
        time.sleep(seconds)  # a blocking system call: the handler's exception interrupts it
    finally:
        notes.append(time.monotonic() - started)


def test_sync_block_is_interrupted_on_time() -> None:
    interrupted: list[float] = []
    with capture_events() as events, pytest.raises(TimeoutExceeded) as info, Timeout(0.05, name="block"):
        sleep_and_note(2, interrupted)
    assert interrupted[0] < 0.5
    assert isinstance(info.value, TimeoutError)
    assert (info.value.name, info.value.seconds) == ("block", 0.05)
    assert [(e.policy, e.kind) for e in events] == [("block", "timeout")]


def test_sync_block_in_time_leaves_no_alarm_behind() -> None:
    timeout = Timeout(0.02)
    with timeout as entered:
        assert entered is timeout
        value = 1 + 1
    assert value == 2
    time.sleep(0.08)  # the lazy timer fires after the block left: nothing is raised
    with timeout:
        pass
    time.sleep(0.05)


def test_an_except_clause_for_other_errors_does_not_stop_the_timeout() -> None:
    def guarded() -> None:
        with contextlib.suppress(KeyError):
            time.sleep(1)

    with pytest.raises(TimeoutExceeded), Timeout(0.03):
        guarded()


def test_nested_blocks_the_earliest_deadline_fires() -> None:
    with pytest.raises(TimeoutExceeded) as info, Timeout(0.05, name="outer"), Timeout(5, name="inner"):
        time.sleep(1)
    assert info.value.name == "outer"
    with Timeout(5, name="outer"):
        with pytest.raises(TimeoutExceeded) as info, Timeout(0.03, name="inner"):
            time.sleep(1)
        assert info.value.name == "inner"
        time.sleep(0.01)  # the outer block goes on; its own deadline is still armed

    def inner_then_sleep() -> None:
        with Timeout(0.01, name="early"):
            pass
        time.sleep(1)  # re-armed for the outer deadline after the inner one left

    started = time.monotonic()
    with pytest.raises(TimeoutExceeded) as info, Timeout(0.05, name="late"):
        inner_then_sleep()
    assert info.value.name == "late"
    assert time.monotonic() - started < 0.5


def test_leftover_inner_entries_go_with_the_block_whose_deadline_fired() -> None:
    def interrupted_inner_bookkeeping() -> None:
        # as if an inner block's bookkeeping had been interrupted by the outer deadline
        ALARM.active.append([time.monotonic() + 0.06, "leftover", 0.06, 0])
        time.sleep(1)

    with pytest.raises(TimeoutExceeded) as info, Timeout(0.03, name="outer"):
        interrupted_inner_bookkeeping()
    assert info.value.name == "outer"
    assert ALARM.active == []
    time.sleep(0.08)  # the leftover deadline would have fired here, in unrelated code


def test_sync_block_off_the_main_thread_is_refused() -> None:
    def block() -> None:
        with Timeout(1):
            pass

    error = in_thread(block)
    assert isinstance(error, RuntimeError)
    assert "main thread" in str(error)
    assert isinstance(in_thread(lambda: Timeout(1, sync_mode="signal").call(int)), RuntimeError)


def test_a_foreign_sigalrm_handler_is_chained_and_handed_back() -> None:
    calls: list[float] = []

    def foreign(signum: int, frame: object) -> None:
        calls.append(time.monotonic())

    previous = signal.signal(signal.SIGALRM, foreign)
    signal.setitimer(signal.ITIMER_REAL, 0.05)  # its own timer, pending when the block starts
    try:
        started = time.monotonic()
        with Timeout(0.15):
            time.sleep(0.1)  # the foreign handler's deadline passes inside the block: it still runs
        assert len(calls) == 1
        assert 0.03 < calls[0] - started < 0.1
        with pytest.raises(TimeoutExceeded), Timeout(0.05):
            time.sleep(1)  # our own deadline still works with a chained handler
        time.sleep(0.2)  # the timer fires with no block running: SIGALRM goes back to its owner
        assert signal.getsignal(signal.SIGALRM) is foreign
        assert len(calls) == 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


async def test_a_sync_block_inside_a_coroutine_is_refused() -> None:
    with pytest.raises(TypeError, match="async with"), Timeout(1):
        await asyncio.sleep(0)  # pragma: no cover - refused on entry
    async with Timeout(1):
        await asyncio.sleep(0)


@pytest.mark.filterwarnings("ignore:This process.*fork:DeprecationWarning")  # Python >= 3.12 in a threaded worker
def test_a_forked_child_re_arms_the_timer() -> None:
    with Timeout(0.5):
        pass  # the parent's timer is armed ~0.5 s ahead; a child does not inherit it
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            started = time.monotonic()
            with Timeout(1.0):  # later than the parent's armed deadline: only a re-armed timer fires
                time.sleep(3)
        except TimeoutExceeded:
            code = 0 if time.monotonic() - started < 2.5 else 2
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
        assert 99 < signal.getitimer(signal.ITIMER_REAL)[0] <= 100  # its own timer, not our 5 s one
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- sync_mode ------------------------------------------------------------------------------------------
def test_signal_mode_runs_in_the_calling_thread_and_interrupts() -> None:
    timeout = Timeout(0.05, sync_mode="signal")
    assert timeout.call(threading.current_thread) is threading.main_thread()
    started = time.monotonic()
    with capture_events() as events, pytest.raises(TimeoutExceeded):
        timeout.call(time.sleep, 2)
    assert time.monotonic() - started < 0.5
    assert [e.kind for e in events] == ["timeout"]
    with pytest.raises(ZeroDivisionError):
        timeout.call(lambda: 1 / 0)

    @timeout
    def own_timeout() -> None:
        raise TimeoutError("the client's own")

    with pytest.raises(TimeoutError) as info:
        own_timeout()
    assert not isinstance(info.value, TimeoutExceeded)


def test_auto_mode_uses_the_signal_on_the_main_thread_and_a_worker_elsewhere() -> None:
    timeout = Timeout(0.05, sync_mode="auto")
    try:
        assert timeout.call(threading.current_thread) is threading.main_thread()
        name = in_thread(lambda: timeout.call(lambda: threading.current_thread().name))
        assert name.startswith("timeout-")
        assert isinstance(in_thread(lambda: timeout.call(time.sleep, 1)), TimeoutExceeded)
    finally:
        timeout.shutdown()


def test_signal_mode_inside_retry_limits_each_attempt() -> None:
    attempts = []

    def slow() -> None:
        attempts.append(1)
        time.sleep(1)

    pipeline = Pipeline(Retry(attempts=3, on=TimeoutError), Timeout(0.03, sync_mode="signal"))
    started = time.monotonic()
    with no_wait(), pytest.raises(TimeoutExceeded):
        pipeline.call(slow)
    assert len(attempts) == 3
    assert time.monotonic() - started < 0.8


def test_bad_sync_mode() -> None:
    with pytest.raises(ValueError, match="sync_mode must be one of"):
        Timeout(1, sync_mode="process")  # type: ignore[arg-type]


# -- `with Fallback(...) as outcome:` ------------------------------------------------------------------
def test_fallback_block_suppresses_and_replaces() -> None:
    with capture_events() as events, Fallback("cached", name="fb") as outcome:
        outcome.value = "fresh"
        raise ConnectionError("down")
    assert isinstance(outcome, FallbackOutcome)
    assert outcome.value == "cached"
    assert isinstance(outcome.error, ConnectionError)
    assert outcome.fell_back
    assert [(e.policy, e.kind) for e in events] == [("fb", "fallback")]
    assert "ConnectionError" in repr(outcome)


def test_fallback_block_success_and_unhandled_errors() -> None:
    fallback = Fallback(0, on=ValueError)
    with fallback as outcome:
        outcome.value = 42
    assert (outcome.value, outcome.error, outcome.fell_back) == (42, None, False)
    with pytest.raises(KeyError), fallback as outcome:
        raise KeyError("not handled")
    assert (outcome.value, outcome.fell_back) == (None, False)


def test_fallback_block_func_and_result_predicate() -> None:
    with Fallback(func=lambda error: f"for {type(error).__name__}") as outcome:
        int("x")
    assert outcome.value == "for ValueError"
    with Fallback(-1, result_predicate=lambda value: value is None) as outcome:
        outcome.value = None
    assert (outcome.value, outcome.error, outcome.fell_back) == (-1, None, True)


def test_fallback_block_with_async_func_needs_async_with() -> None:
    async def replacement(error: BaseException | None) -> str:  # pragma: no cover - never awaited
        return "late"

    with pytest.raises(TypeError, match="async with"), Fallback(func=replacement):
        raise ConnectionError


async def test_fallback_async_block() -> None:
    async def replacement(error: BaseException | None) -> str:
        await asyncio.sleep(0)
        return f"async for {type(error).__name__}"

    fallback = Fallback(func=replacement, on=ConnectionError)

    async def guarded(fail: bool) -> FallbackOutcome:
        async with fallback as outcome:
            await asyncio.sleep(0.01)
            if fail:
                raise ConnectionError
            outcome.value = "ok"
        return outcome

    ok, failed = await asyncio.gather(guarded(False), guarded(True))  # concurrent blocks keep their own outcome
    assert (ok.value, ok.fell_back) == ("ok", False)
    assert (failed.value, failed.fell_back) == ("async for ConnectionError", True)
    with pytest.raises(KeyError):
        async with fallback:
            raise KeyError


def test_registry_passes_sync_mode() -> None:
    from maestro_resilience import Registry

    timeout = Registry.from_dict({"t": {"type": "timeout", "seconds": 1, "sync_mode": "signal"}})["t"]
    assert isinstance(timeout, Timeout)
    assert timeout.sync_mode == "signal"
    assert timeout.call(threading.current_thread) is threading.main_thread()


def test_many_deadlines_fire_exactly_for_the_calls_that_overrun() -> None:
    # deadlines long enough that a loaded machine does not overrun the quick calls by itself
    timeout = Timeout(0.04, sync_mode="signal")
    outer = Timeout(5, name="outer")
    outcomes = []
    for i in range(60):
        try:
            with outer:  # a longer deadline pending around every call: re-arming must keep both
                timeout.call(time.sleep, 1 if i % 3 == 0 else 0)
            outcomes.append("returned")
        except TimeoutExceeded as error:
            outcomes.append(error.name)
    assert outcomes == [timeout.name if i % 3 == 0 else "returned" for i in range(60)]
    time.sleep(0.05)  # a last lazy firing finds nothing to do
