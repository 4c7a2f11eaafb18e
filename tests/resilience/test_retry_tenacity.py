"""Retry against tenacity itself: each example of tenacity's documentation runs twice, once through
tenacity and once through ``Retry`` with the same strategy objects, and what a caller can observe is
compared (attempts, the waits asked for, the clock they ran on, the result or the exception that
surfaced, ``statistics``, ``retry_state``). Expectations are tenacity's behaviour, never written by hand.

Both sides run on a ``FakeClock`` (tenacity's ``time.monotonic`` is patched to read it, and its
``sleep=`` advances it) and on the same seed of ``random``. Known, documented differences
(docs/resilience/migrating-from-tenacity.md) are normalised in ``Side.outcome`` and pinned by the
``test_difference_*`` tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import inspect
import logging
import random
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import tenacity
from packaging.version import Version
from tenacity import (
    RetryError,
    TryAgain,
    after_log,
    before_log,
    before_sleep_log,
    retry_if_exception_type,
    retry_if_not_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    stop_before_delay,
    wait_chain,
    wait_exponential,
    wait_fixed,
    wait_random,
    wait_random_exponential,
)

from maestro_resilience import Event, Retry
from maestro_resilience.testing import FakeClock

logger = logging.getLogger(__name__)


class MyException(Exception):
    pass


class ClientError(Exception):
    """Some type of client error."""


@dataclass(frozen=True)
class Raise:
    error: type[BaseException]


@dataclass
class Script:
    """A dependency: one outcome per attempt (the last one repeats), each attempt taking ``seconds``."""

    outcomes: list[Any]
    seconds: float = 0.0
    clock: FakeClock = field(default_factory=FakeClock)
    calls: int = 0

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        self.clock.advance(self.seconds)
        outcome = self.outcomes[min(self.calls, len(self.outcomes)) - 1]
        if isinstance(outcome, Raise):
            raise outcome.error(f"attempt {self.calls}")
        return outcome


class Side:
    """One library under test, on its own fake clock."""

    name = ""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.hooks: list[str] = []

    def script(self, outcomes: list[Any], seconds: float = 0.0) -> Script:
        return Script(outcomes, seconds, self.clock)

    def retry(self, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        raise NotImplementedError

    def retrying(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def call(self, retrying: Any, fn: Callable[..., Any], *args: Any) -> Any:
        raise NotImplementedError

    def outcome(self, thunk: Callable[[], Any]) -> tuple[Any, ...]:
        """What surfaced: ``("returned", value)`` or ``("raised", type, message)``.

        tenacity's ``RetryError`` (raised unless ``reraise=True``) stands for the exception of its last
        attempt: ``Retry`` raises that exception itself (a documented difference).
        """
        try:
            return ("returned", thunk())
        except RetryError as error:
            last = error.last_attempt
            if last.failed:
                exc = last.exception()
                return ("raised", type(exc), str(exc))
            return ("gave up with result", last.result())
        except Exception as exc:
            return ("raised", type(exc), str(exc))


class TenacitySide(Side):
    name = "tenacity"

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__()
        monkeypatch.setattr(tenacity, "time", types.SimpleNamespace(monotonic=self.clock.monotonic))

    def _hooks(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if kwargs.pop("count_hooks", False):
            kwargs["before_sleep"] = lambda state: self.hooks.append(f"retry {state.attempt_number}")
        return kwargs

    def retry(self, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        kwargs = self._hooks(kwargs)

        def decorate(fn: Callable[..., Any]) -> Any:
            sleep = self.clock.asleep if inspect.iscoroutinefunction(fn) else self.clock.sleep
            return tenacity.retry(sleep=sleep, **kwargs)(fn)

        return decorate

    def retrying(self, **kwargs: Any) -> Any:
        return tenacity.Retrying(sleep=self.clock.sleep, **self._hooks(kwargs))

    def async_retrying(self, **kwargs: Any) -> Any:
        return tenacity.AsyncRetrying(sleep=self.clock.asleep, **self._hooks(kwargs))

    def call(self, retrying: Any, fn: Callable[..., Any], *args: Any) -> Any:
        return retrying(fn, *args)


class OursSide(Side):
    """``Retry`` in the vocabulary of docs/resilience/migrating-from-tenacity.md."""

    name = "maestro"

    def translate(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs = dict(kwargs)
        kwargs.pop("reraise", None)  # Retry always raises the original exception
        kwargs.pop("retry_error_callback", None)  # a Fallback in our vocabulary; see the tests using it
        for hook in ("before", "after", "before_sleep"):
            kwargs.pop(hook, None)  # event listeners in our vocabulary
        listeners = []
        if kwargs.pop("count_hooks", False):
            listeners.append(lambda event: self.hooks.append(f"retry {event.detail['attempt']}"))
        # tenacity's defaults, spelled out: Retry's own are 3 attempts, a 30 s deadline and jittered backoff
        kwargs.setdefault("stop", tenacity.stop_never)
        kwargs.setdefault("wait", tenacity.wait_none())
        kwargs.setdefault("retry", retry_if_exception_type())
        return {**kwargs, "deadline": None, "listeners": listeners, "clock": self.clock}

    def retry(self, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        return Retry(**self.translate(kwargs))

    def retrying(self, **kwargs: Any) -> Any:
        return Retry(**self.translate(kwargs))

    def async_retrying(self, **kwargs: Any) -> Any:
        return Retry(**self.translate(kwargs))

    def call(self, retrying: Any, fn: Callable[..., Any], *args: Any) -> Any:
        return retrying.call(fn, *args)


@pytest.fixture
def sides(monkeypatch: pytest.MonkeyPatch) -> Callable[[], tuple[Side, Side]]:
    def make() -> tuple[Side, Side]:
        return TenacitySide(monkeypatch), OursSide()

    return make


def observe(side: Side, run: Callable[[Side], Any], seed: int = 7) -> dict[str, Any]:
    """Run one example on one side; what a caller and a test clock can see."""
    random.seed(seed)
    start = side.clock.monotonic()
    outcome = side.outcome(lambda: run(side))
    return {
        "outcome": outcome,
        "sleeps": [s for s in side.clock.sleeps if s],  # tenacity also sleeps 0 s; Retry skips those
        "elapsed": side.clock.monotonic() - start,
        "hooks": side.hooks,
    }


def same(sides: Callable[[], tuple[Side, Side]], run: Callable[[Side], Any], seed: int = 7) -> dict[str, Any]:
    """Run ``run`` on tenacity and on Retry; assert they behave alike; return tenacity's observation."""
    theirs, ours = sides()
    expected = observe(theirs, run, seed)
    assert observe(ours, run, seed) == expected
    return expected


# -- "Basic Retry" and "Stopping" -------------------------------------------------------------------
def test_do_something_unreliable(sides: Callable[[], tuple[Side, Side]]) -> None:
    def run(lib: Side) -> Any:
        flaky = lib.script([Raise(IOError), Raise(IOError), Raise(IOError), "Awesome sauce!"])

        @lib.retry()
        def do_something_unreliable() -> Any:
            return flaky()

        return do_something_unreliable(), flaky.calls

    assert same(sides, run)["outcome"] == ("returned", ("Awesome sauce!", 4))


def test_stop_after_7_attempts(sides: Callable[[], tuple[Side, Side]]) -> None:
    def run(lib: Side) -> Any:
        down = lib.script([Raise(Exception)])
        return lib.retry(stop=stop_after_attempt(7))(down)()

    assert same(sides, run)["outcome"] == ("raised", Exception, "attempt 7")


@pytest.mark.parametrize("seconds", [0.5, 3.0, 4.0])
def test_stop_after_10_s(sides: Callable[[], tuple[Side, Side]], seconds: float) -> None:
    def run(lib: Side) -> Any:
        return lib.retry(stop=stop_after_delay(10), wait=wait_fixed(1))(lib.script([Raise(Exception)], seconds))()

    same(sides, run)


@pytest.mark.parametrize("seconds", [0.5, 3.0, 4.0])
def test_stop_before_10_s(sides: Callable[[], tuple[Side, Side]], seconds: float) -> None:
    def run(lib: Side) -> Any:
        return lib.retry(stop=stop_before_delay(10), wait=wait_fixed(1))(lib.script([Raise(Exception)], seconds))()

    same(sides, run)


@pytest.mark.parametrize("seconds", [1.0, 4.0])
def test_stop_after_10_s_or_5_retries(sides: Callable[[], tuple[Side, Side]], seconds: float) -> None:
    def run(lib: Side) -> Any:
        stop = stop_after_delay(10) | stop_after_attempt(5)
        return lib.retry(stop=stop)(lib.script([Raise(Exception)], seconds))()

    same(sides, run)


def test_stop_before_delay_with_exponential_wait_from_the_issue(sides: Callable[[], tuple[Side, Side]]) -> None:
    def run(lib: Side) -> Any:
        return lib.retry(stop=stop_before_delay(6), wait=wait_exponential(1))(lib.script([Raise(Exception)]))()

    assert same(sides, run)["outcome"] == ("raised", Exception, "attempt 3")


# -- "Waiting before retrying" ----------------------------------------------------------------------
WAITS = {
    "wait_2_s": lambda: wait_fixed(2),
    "wait_random_1_to_2_s": lambda: wait_random(min=1, max=2),
    "wait_exponential_1": lambda: wait_exponential(multiplier=1, min=4, max=10),
    "wait_fixed_jitter": lambda: wait_fixed(3) + wait_random(0, 2),
    "wait_exponential_jitter": lambda: wait_random_exponential(multiplier=1, max=60),
    "wait_fixed_chained": lambda: wait_chain(
        *[wait_fixed(3) for _ in range(3)] + [wait_fixed(7) for _ in range(2)] + [wait_fixed(9)]
    ),
}


@pytest.mark.parametrize("example", sorted(WAITS))
def test_waiting_before_retrying(sides: Callable[[], tuple[Side, Side]], example: str) -> None:
    def run(lib: Side) -> Any:
        flaky = lib.script([Raise(Exception)] * 7 + ["done"], seconds=0.25)
        return lib.retry(wait=WAITS[example](), stop=stop_after_attempt(10))(flaky)()

    observed = same(sides, run)
    assert len(observed["sleeps"]) == 7


# -- "Whether to retry" -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "outcomes", [[Raise(Exception)], [Raise(IOError), Raise(IOError), "ok"], [Raise(IOError), Raise(KeyError)]]
)
def test_might_io_error(sides: Callable[[], tuple[Side, Side]], outcomes: list[Any]) -> None:
    def run(lib: Side) -> Any:
        flaky = lib.script(outcomes)
        return lib.retry(retry=retry_if_exception_type(IOError))(flaky)(), flaky.calls

    same(sides, run)


@pytest.mark.parametrize("outcomes", [[Raise(Exception), Raise(ClientError)], [Raise(IOError), "ok"]])
def test_might_client_error(sides: Callable[[], tuple[Side, Side]], outcomes: list[Any]) -> None:
    def run(lib: Side) -> Any:
        return lib.retry(retry=retry_if_not_exception_type(ClientError))(lib.script(outcomes))()

    same(sides, run)


def is_none_p(value: Any) -> bool:
    """Return True if value is None"""
    return value is None


def test_might_return_none(sides: Callable[[], tuple[Side, Side]]) -> None:
    def run(lib: Side) -> Any:
        flaky = lib.script([None, None, None, 42])
        return lib.retry(retry=retry_if_result(is_none_p))(flaky)(), flaky.calls

    assert same(sides, run)["outcome"] == ("returned", (42, 4))


@pytest.mark.parametrize("outcomes", [[None, Raise(IOError), None, "x"], [Raise(ValueError), None, 0]])
def test_might_return_none_or_raise(sides: Callable[[], tuple[Side, Side]], outcomes: list[Any]) -> None:
    def run(lib: Side) -> Any:
        flaky = lib.script(outcomes)
        return lib.retry(retry=(retry_if_result(is_none_p) | retry_if_exception_type()))(flaky)(), flaky.calls

    same(sides, run)


@pytest.mark.parametrize("strategy", ["default", "result"])
def test_try_again(sides: Callable[[], tuple[Side, Side]], strategy: str) -> None:
    def run(lib: Side) -> Any:
        something_else = lib.script([23, 23, 5])
        kwargs = {"retry": retry_if_result(is_none_p)} if strategy == "result" else {}

        @lib.retry(**kwargs)
        def do_something() -> Any:
            result = something_else()
            if result == 23:
                raise TryAgain
            return result

        return do_something(), something_else.calls

    assert same(sides, run)["outcome"] == ("returned", (5, 3))


# -- "Error Handling" -------------------------------------------------------------------------------
def test_raise_my_exception_reraise(sides: Callable[[], tuple[Side, Side]]) -> None:
    def run(lib: Side) -> Any:
        return lib.retry(reraise=True, stop=stop_after_attempt(3))(lib.script([Raise(MyException)]))()

    assert same(sides, run)["outcome"] == ("raised", MyException, "attempt 3")


# -- "Before and After Retry, and Logging", "Custom Callbacks" ---------------------------------------
@pytest.mark.parametrize(
    "hook",
    [
        {"before": before_log(logger, logging.DEBUG)},
        {"after": after_log(logger, logging.DEBUG)},
        {"before_sleep": before_sleep_log(logger, logging.DEBUG)},
    ],
    ids=["before_log", "after_log", "before_sleep_log"],
)
def test_logging_hooks_do_not_change_attempts(sides: Callable[[], tuple[Side, Side]], hook: dict[str, Any]) -> None:
    def run(lib: Side) -> Any:
        down = lib.script([Raise(MyException)])
        return lib.retry(stop=stop_after_attempt(3), **hook)(down)(), down.calls

    same(sides, run)


def test_before_sleep_fires_where_retry_events_do(sides: Callable[[], tuple[Side, Side]]) -> None:
    def run(lib: Side) -> Any:
        return lib.retry(stop=stop_after_attempt(3), count_hooks=True)(lib.script([Raise(MyException)]))()

    assert same(sides, run)["hooks"] == ["retry 1", "retry 2"]


def test_eventually_return_false(sides: Callable[[], tuple[Side, Side]]) -> None:
    def return_last_value(retry_state: tenacity.RetryCallState) -> Any:
        """return the result of the last call attempt"""
        assert retry_state.outcome is not None
        return retry_state.outcome.result()

    def is_false(value: Any) -> bool:
        """Return True if value is False"""
        return value is False

    def run(lib: Side) -> Any:
        flaky = lib.script([False])
        decorated = lib.retry(
            stop=stop_after_attempt(3), retry_error_callback=return_last_value, retry=retry_if_result(is_false)
        )(flaky)
        return decorated(), flaky.calls

    assert same(sides, run)["outcome"] == ("returned", (False, 3))


# -- "Statistics" and "Changing Arguments at Run Time" -----------------------------------------------
STAT_KEYS = ("start_time", "attempt_number", "idle_for", "delay_since_first_attempt")


STALE_FUNCTION_STATISTICS = Version(importlib.metadata.version("tenacity")) < Version("9.1")


@pytest.mark.parametrize(
    "outcomes", [[Raise(MyException)], ["ok"], [Raise(MyException), "ok"]], ids=["fails", "first-try", "second"]
)
def test_statistics(sides: Callable[[], tuple[Side, Side]], outcomes: list[Any]) -> None:
    def run(lib: Side) -> Any:
        raise_my_exception = lib.retry(stop=stop_after_attempt(3), wait=wait_fixed(1.5))(lib.script(outcomes, 0.5))
        before = dict(raise_my_exception.retry.statistics)
        with contextlib.suppress(Exception):
            raise_my_exception()
        if STALE_FUNCTION_STATISTICS:  # tenacity < 9.1 keeps no statistics of the last call to compare
            return before
        return (
            before,
            {key: raise_my_exception.retry.statistics[key] for key in STAT_KEYS},
            {key: raise_my_exception.statistics[key] for key in STAT_KEYS},
        )

    same(sides, run)


def test_retry_with(sides: Callable[[], tuple[Side, Side]]) -> None:
    def run(lib: Side) -> Any:
        down = lib.script([Raise(MyException)])
        raise_my_exception = lib.retry(stop=stop_after_attempt(3))(down)
        with contextlib.suppress(Exception):
            raise_my_exception.retry_with(stop=stop_after_attempt(4))()
        after_retry_with = (down.calls, dict(raise_my_exception.retry.statistics))
        with contextlib.suppress(Exception):
            raise_my_exception()
        return after_retry_with, down.calls, raise_my_exception.statistics["attempt_number"]

    assert same(sides, run)["outcome"] == ("returned", ((4, {}), 7, 3))


def test_try_never_good_enough(sides: Callable[[], tuple[Side, Side]]) -> None:
    def never_good_enough(arg1: str) -> None:
        raise Exception(f"Invalid argument: {arg1}")

    def run(lib: Side) -> Any:
        retryer = lib.retrying(stop=stop_after_attempt(3), reraise=True)
        lib.call(retryer, never_good_enough, "I really do try")

    assert same(sides, run)["outcome"] == ("raised", Exception, "Invalid argument: I really do try")


# -- "Retrying code block" --------------------------------------------------------------------------
@pytest.mark.parametrize("outcomes", [[Raise(Exception)], [Raise(Exception), "ok"]])
def test_retrying_code_block(sides: Callable[[], tuple[Side, Side]], outcomes: list[Any]) -> None:
    def run(lib: Side) -> Any:
        work = lib.script(outcomes, seconds=1.0)
        seen = []
        for attempt in lib.retrying(stop=stop_after_attempt(3), wait=wait_fixed(2)):
            with attempt:
                state = attempt.retry_state
                seen.append((state.attempt_number, state.idle_for, state.start_time, state.outcome))
                work()
            state = attempt.retry_state
            assert state.outcome is not None
            seen.append((state.outcome.failed, state.seconds_since_start))
        return seen

    same(sides, run)


@pytest.mark.parametrize("stop", [20, 5])
def test_retrying_code_block_with_retry_if_result(sides: Callable[[], tuple[Side, Side]], stop: int) -> None:
    def run(lib: Side) -> Any:
        seen = []
        for attempt in lib.retrying(retry=retry_if_result(lambda x: x < 8), stop=stop_after_attempt(stop)):
            with attempt:
                result = attempt.retry_state.attempt_number  # some complex calculation
            if not attempt.retry_state.outcome.failed:
                attempt.retry_state.set_result(result)
            seen.append((result, attempt.retry_state.next_action))
        return seen

    theirs, ours = sides()
    expected = observe(theirs, run)
    observed = observe(ours, run)
    if stop == 5:  # stop gives up on a result: RetryError in tenacity, the block's result stands here
        assert expected["outcome"][0] == "gave up with result"
        assert observed["outcome"][1][-1][0] == expected["outcome"][1]
        return
    assert observed == expected


def test_retrying_code_block_next_action_and_statistics(sides: Callable[[], tuple[Side, Side]]) -> None:
    def run(lib: Side) -> Any:
        work = lib.script([Raise(IOError), Raise(IOError), "ok"], seconds=0.5)
        retrying = lib.retrying(stop=stop_after_attempt(5), wait=wait_exponential(multiplier=1))
        seen = []
        for attempt in retrying:
            with attempt:
                work()
            action = attempt.retry_state.next_action
            seen.append(None if action is None else action.sleep)
        return seen, {key: retrying.statistics[key] for key in STAT_KEYS}

    same(sides, run)


async def test_async_retrying_code_block(monkeypatch: pytest.MonkeyPatch) -> None:
    results = []
    for lib in (TenacitySide(monkeypatch), OursSide()):
        random.seed(3)
        work = lib.script([Raise(IOError), 1, 2, 5])
        seen = []
        retry = retry_if_result(lambda x: x < 3) | retry_if_exception_type()
        async for attempt in lib.async_retrying(retry=retry, wait=wait_random(0, 1)):
            with attempt:
                await asyncio.sleep(0)
                result = work()
            failed = attempt.retry_state.outcome.failed
            if not failed:
                attempt.retry_state.set_result(result)
            seen.append((attempt.retry_state.attempt_number, failed, attempt.retry_state.idle_for))
        results.append((seen, result, [s for s in lib.clock.sleeps if s], work.calls))
    assert results[1] == results[0]


async def test_async_decorator(monkeypatch: pytest.MonkeyPatch) -> None:
    results = []
    for lib in (TenacitySide(monkeypatch), OursSide()):
        flaky = lib.script([Raise(OSError), Raise(OSError), "addr"], seconds=0.1)

        @lib.retry(wait=wait_exponential(0.5), stop=stop_after_attempt(5))
        async def my_async_function(flaky: Script = flaky) -> Any:
            await asyncio.sleep(0)
            return flaky()

        results.append(
            (await my_async_function(), [s for s in lib.clock.sleeps if s], dict(my_async_function.statistics))
        )
    assert results[1] == results[0]


# -- the documented differences, pinned --------------------------------------------------------------
def test_difference_retry_error_versus_original_exception(sides: Callable[[], tuple[Side, Side]]) -> None:
    theirs, ours = sides()
    for lib, expected in ((theirs, RetryError), (ours, MyException)):
        with pytest.raises(expected):
            lib.retry(stop=stop_after_attempt(2))(lib.script([Raise(MyException)]))()


def test_difference_retry_with_refuses_tenacity_only_keywords() -> None:
    retried = Retry(stop=stop_after_attempt(2))(int)
    with pytest.raises(ValueError, match="reraise="):
        retried.retry_with(reraise=True)
    with pytest.raises(ValueError, match=r"before_sleep=.*listeners"):
        retried.retry_with(before_sleep=print)


def test_retry_events_carry_what_before_sleep_saw() -> None:
    events: list[Event] = []
    retried = Retry(stop=stop_after_attempt(3), wait=wait_fixed(2), listeners=[events.append], clock=FakeClock())
    with pytest.raises(MyException):
        retried.call(Script([Raise(MyException)]))
    assert [(e.detail["attempt"], e.detail["delay"]) for e in events if e.kind == "retry"] == [(1, 2.0), (2, 2.0)]


def test_difference_giving_up_on_a_result_returns_it(sides: Callable[[], tuple[Side, Side]]) -> None:
    def run(lib: Side) -> Any:
        return lib.retry(retry=retry_if_result(is_none_p), stop=stop_after_attempt(3))(lib.script([None]))()

    theirs, ours = sides()
    assert observe(theirs, run)["outcome"] == ("gave up with result", None)  # tenacity: RetryError
    assert observe(ours, run)["outcome"] == ("returned", None)
