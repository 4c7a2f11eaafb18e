"""Retry: first attempt direct, tenacity strategies, safe defaults, Retry-After, budget, original errors."""

from __future__ import annotations

import asyncio
import sys

import pytest
import tenacity

from maestro_resilience import Event, Retry, RetryBudget
from maestro_resilience.testing import FakeClock, no_wait


class Flaky:
    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self, value: str = "ok") -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"attempt {self.calls}")
        return value

    async def run(self, value: str = "ok") -> str:
        return self(value)


def test_defaults_are_bounded_and_back_off_with_jitter() -> None:
    clock = FakeClock()
    policy = Retry(clock=clock)
    flaky = Flaky(10)
    with pytest.raises(ConnectionError) as info:
        policy.call(flaky)
    assert flaky.calls == 3
    assert "gave up after 3 attempt(s)" in info.value.__notes__[0]
    assert str(info.value) == "attempt 3"  # the LAST original exception
    assert len(clock.sleeps) == 2
    assert all(0 <= s <= 10 for s in clock.sleeps)


def test_success_after_failures_and_decorator_keeps_name() -> None:
    clock = FakeClock()
    flaky = Flaky(2)

    @Retry(attempts=5, clock=clock)
    def fetch(value: str) -> str:
        return flaky(value)

    assert fetch("v") == "v"
    assert flaky.calls == 3
    assert fetch.__name__ == "fetch"


def test_first_attempt_success_does_not_touch_tenacity(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = Retry()

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("RetryCallState built on the success path")

    monkeypatch.setattr(tenacity, "RetryCallState", boom)
    assert policy.call(lambda: 42) == 42


def test_tenacity_strategies_and_combinations() -> None:
    clock = FakeClock()
    policy = Retry(
        stop=tenacity.stop_after_attempt(10) | tenacity.stop_after_delay(5),
        wait=tenacity.wait_fixed(2),
        retry=tenacity.retry_if_exception_type(ConnectionError) & tenacity.retry_if_not_exception_message(match="x"),
        deadline=None,
        clock=clock,
    )
    flaky = Flaky(100)
    with pytest.raises(ConnectionError):
        policy.call(flaky)
    assert clock.sleeps == [2, 2, 2]  # stop_after_delay(5) after the 4th attempt at t=6
    assert flaky.calls == 4


def test_non_retryable_errors_raise_at_once_without_note() -> None:
    flaky = Flaky(1, error=KeyError)
    with pytest.raises(KeyError) as info:
        Retry(on=ConnectionError, clock=FakeClock()).call(flaky)
    assert flaky.calls == 1
    assert not getattr(info.value, "__notes__", [])


def test_result_strategy_retries_on_bad_results() -> None:
    results = iter([None, None, "x"])
    policy = Retry(retry=tenacity.retry_if_result(lambda r: r is None), attempts=5, clock=FakeClock())
    assert policy.call(lambda: next(results)) == "x"
    exhausted = Retry(retry=tenacity.retry_if_result(lambda r: r is None), attempts=2, clock=FakeClock())
    assert exhausted.call(lambda: None) is None


def test_deadline_stops_before_a_wait_that_would_cross_it() -> None:
    clock = FakeClock()
    policy = Retry(attempts=100, deadline=10, wait=tenacity.wait_fixed(4), clock=clock)
    flaky = Flaky(100)
    with pytest.raises(ConnectionError):
        policy.call(flaky)
    assert clock.sleeps == [4, 4]
    assert flaky.calls == 3


def test_retry_after_hook_overrides_wait() -> None:
    class Throttled(Exception):
        def __init__(self, after: float) -> None:
            self.after = after

    calls = iter([Throttled(7), Throttled(1)])

    def call() -> str:
        error = next(calls, None)
        if error:
            raise error
        return "done"

    clock = FakeClock()
    policy = Retry(attempts=5, deadline=None, retry_after=lambda e: getattr(e, "after", None), clock=clock)
    assert policy.call(call) == "done"
    assert clock.sleeps == [7, 1]


def test_budget_caps_retries_across_calls() -> None:
    clock = FakeClock()
    budget = RetryBudget(0.5, min_per_second=0, clock=clock)
    policy = Retry(attempts=3, budget=budget, clock=clock)
    flaky = Flaky(1000)
    for _ in range(4):
        with pytest.raises(ConnectionError):
            policy.call(flaky)
    # 4 calls deposit 2 tokens: only 2 retries happened in total
    assert flaky.calls == 4 + 2
    with pytest.raises(ValueError, match="ratio"):
        RetryBudget(0)


def test_no_wait_switch_and_events() -> None:
    events: list[Event] = []
    policy = Retry(attempts=3, wait=tenacity.wait_fixed(30), listeners=[events.append])
    with no_wait():
        assert policy.call(Flaky(2)) == "ok"
    assert [e.detail["attempt"] for e in events] == [1, 2]
    assert events[0].kind == "retry"
    assert events[0].detail["delay"] == 30


def test_concurrent_calls_do_not_share_statistics() -> None:
    clock = FakeClock()
    policy = Retry(attempts=3, clock=clock)
    a, b = Flaky(2), Flaky(5)
    assert policy.call(a) == "ok"
    with pytest.raises(ConnectionError) as info:
        policy.call(b)
    assert "after 3 attempt(s)" in info.value.__notes__[0]


async def test_async_retry() -> None:
    clock = FakeClock()
    flaky = Flaky(2)
    policy = Retry(attempts=3, clock=clock)

    @policy
    async def fetch(value: str) -> str:
        await asyncio.sleep(0)
        return flaky(value)

    assert await fetch("a") == "a"
    assert len(clock.sleeps) == 2
    with pytest.raises(ConnectionError) as info:
        await policy.call_async(Flaky(9).run)
    assert "gave up after 3" in info.value.__notes__[0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"attempts": 0}, ValueError, "attempts"),
        ({"deadline": -1}, ValueError, "deadline"),
        ({"stop": 5}, TypeError, "stop"),
        ({"wait": "fast"}, TypeError, "wait"),
        ({"on": "Exception"}, TypeError, "on"),
        ({"budget": 3}, TypeError, "budget"),
    ],
)
def test_bad_configuration(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Retry(**kwargs)  # type: ignore[arg-type]


def test_notes_need_python_311() -> None:
    assert sys.version_info >= (3, 11)


def test_block_form_retries_a_with_block() -> None:
    clock = FakeClock()
    flaky = Flaky(2)
    policy = Retry(attempts=5, clock=clock)
    numbers = []
    for attempt in policy:
        with attempt:
            numbers.append(attempt.number)
            value = flaky()
    assert value == "ok"
    assert numbers == [1, 2, 3]
    assert len(clock.sleeps) == 2


def run_block(policy: Retry, error: Exception) -> int:
    runs = 0
    for attempt in policy:
        with attempt:
            runs += 1
            raise error
    return runs


def test_block_form_gives_up_with_original_exception_and_passes_others() -> None:
    policy = Retry(attempts=2, on=ConnectionError, clock=FakeClock())
    with pytest.raises(ConnectionError) as info:
        run_block(policy, ConnectionError("down"))
    assert "gave up after 2 attempt(s)" in info.value.__notes__[0]
    assert info.value.__traceback__ is not None
    with pytest.raises(KeyError) as key_error:
        run_block(policy, KeyError("not retried"))
    assert not getattr(key_error.value, "__notes__", [])
    with pytest.raises(TypeError, match="for attempt in retry"), policy:
        pass


async def test_async_block_form() -> None:
    clock = FakeClock()
    flaky = Flaky(1)
    async for attempt in Retry(attempts=3, clock=clock):
        with attempt:
            result = await flaky.run("v")
    assert result == "v"
    assert len(clock.sleeps) == 1


def test_stop_before_delay_sees_the_upcoming_wait_as_in_tenacity() -> None:
    clock = FakeClock()
    attempts: list[float] = []

    def down() -> None:
        attempts.append(clock.monotonic())
        raise ConnectionError

    policy = Retry(stop=tenacity.stop_before_delay(6), wait=tenacity.wait_exponential(1), clock=clock)
    with pytest.raises(ConnectionError):
        policy.call(down)
    # tenacity: attempts at 0, 1 and 3 s; the next would start at 7 s, past 6 s, so it stops
    assert [t - attempts[0] for t in attempts] == [0.0, 1.0, 3.0]


async def test_async_stop_before_delay_sees_the_upcoming_wait() -> None:
    clock = FakeClock()
    attempts: list[float] = []

    async def down() -> None:
        attempts.append(clock.monotonic())
        raise ConnectionError

    policy = Retry(stop=tenacity.stop_before_delay(6), wait=tenacity.wait_exponential(1), clock=clock)
    with pytest.raises(ConnectionError):
        await policy.call_async(down)
    assert [t - attempts[0] for t in attempts] == [0.0, 1.0, 3.0]


def test_try_again_retries_whatever_the_retry_strategy_as_in_tenacity() -> None:
    calls = 0

    def flaky() -> str | None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise tenacity.TryAgain
        return "ok"

    policy = Retry(attempts=5, retry=tenacity.retry_if_result(lambda r: r is None), clock=FakeClock())
    assert policy.call(flaky) == "ok"
    assert calls == 3


def test_statistics_are_the_last_started_call_never_a_mix() -> None:
    clock = FakeClock()
    retry = Retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_fixed(1), clock=clock)
    attempts: list[float] = []

    @retry
    def inner() -> str:
        return "in"

    inner_started: list[float] = []

    @retry
    def outer() -> str:
        attempts.append(clock.monotonic())
        if len(attempts) == 1:
            raise ConnectionError("once")
        inner_started.append(clock.monotonic())
        return inner()  # a call through the same policy starts while outer is on its second attempt

    assert outer() == "in"
    assert retry.statistics == {
        "start_time": inner_started[0],
        "attempt_number": 1,
        "idle_for": 0,
        "delay_since_first_attempt": 0,
    }
    assert outer.statistics == retry.statistics  # the decorated function's view is the policy's
