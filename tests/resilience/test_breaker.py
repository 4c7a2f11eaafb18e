"""CircuitBreaker: windows, classification, half-open probes, generations, manual control, METRICS_ONLY,
three forms (local state; Redis-backed breakers are in ``test_redis_*.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import threading

import pytest

from maestro_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Consecutive,
    CountWindow,
    Event,
    ResilienceError,
    TimeWindow,
)
from maestro_resilience.testing import FakeClock, capture_events, force_state
from tests.waiting import DEADLINE


class Boom(Exception):
    pass


class Business(Exception):
    pass


def fail() -> None:
    raise Boom("down")


def ok() -> str:
    return "ok"


def trip(breaker: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        with pytest.raises(Boom):
            breaker.call(fail)


def test_consecutive_opens_after_n_failures_and_rejects_with_details() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("db", window=Consecutive(3), open_duration=10, clock=clock)
    trip(breaker, 2)
    breaker.call(ok)  # a success resets the count
    trip(breaker, 2)
    assert breaker.state is CircuitState.CLOSED
    trip(breaker, 1)
    assert breaker.state is CircuitState.OPEN
    clock.advance(4)
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(ok)
    error = info.value
    assert isinstance(error, ResilienceError)
    assert (error.name, error.state, error.retry_after) == ("db", "open", pytest.approx(6.0))
    assert "db" in str(error)
    assert "open" in str(error)
    assert pickle.loads(pickle.dumps(error)).retry_after  # noqa: S301 == pytest.approx(6.0)


def test_original_exception_is_reraised_unwrapped() -> None:
    breaker = CircuitBreaker()
    error = Boom("x")

    def raiser() -> None:
        raise error

    with pytest.raises(Boom) as info:
        breaker.call(raiser)
    assert info.value is error


def test_half_open_admits_one_probe_then_closes_on_success() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(window=Consecutive(1), open_duration=5, clock=clock)
    trip(breaker, 1)
    clock.advance(5)
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.call(ok) == "ok"
    assert breaker.state is CircuitState.CLOSED


def test_failed_probe_reopens_and_open_duration_grows_to_cap() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        window=Consecutive(1), open_duration=1, open_duration_multiplier=2, max_open_duration=3, clock=clock
    )
    trip(breaker, 1)
    expected = [2.0, 3.0, 3.0]
    for duration in expected:
        clock.advance(10)
        trip(breaker, 1)  # the probe fails
        with pytest.raises(CircuitOpenError) as info:
            breaker.call(ok)
        assert info.value.retry_after == pytest.approx(duration)
    clock.advance(10)
    breaker.call(ok)
    trip(breaker, 1)  # after a successful close the duration starts again at 1
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(ok)
    assert info.value.retry_after == pytest.approx(1.0)


def test_half_open_rejects_other_callers_at_once_while_probe_runs() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(window=Consecutive(1), half_open_max_calls=2, clock=clock)
    trip(breaker, 1)
    clock.advance(60)
    seen: list[str] = []

    def probe() -> str:
        # while two probes are admitted, a third caller is rejected without waiting
        with pytest.raises(CircuitOpenError) as info:
            breaker.call(ok)
        seen.append(info.value.state)
        return "p"

    def outer() -> str:
        return breaker.call(probe)

    assert breaker.call(outer) == "p"
    assert seen == ["half_open"]
    assert breaker.state is CircuitState.CLOSED  # both probes succeeded


def test_count_window_rate_and_minimum_calls() -> None:
    breaker = CircuitBreaker(window=CountWindow(10, failure_rate_threshold=0.5, minimum_calls=4))
    trip(breaker, 3)
    assert breaker.state is CircuitState.CLOSED  # below minimum_calls
    breaker.call(ok)
    assert breaker.state is CircuitState.CLOSED  # 3/4 failures, but the last outcome was a success
    trip(breaker, 1)
    assert breaker.state is CircuitState.OPEN  # 4/5 >= 0.5
    m = breaker.metrics
    assert (m.failures, m.successes, m.rejections) == (4, 1, 0)


def test_count_window_slides() -> None:
    breaker = CircuitBreaker(window=CountWindow(4, failure_rate_threshold=0.75))
    for _ in range(2):
        trip(breaker, 1)
        breaker.call(ok)
    for _ in range(4):
        breaker.call(ok)
    trip(breaker, 2)
    assert breaker.state is CircuitState.CLOSED  # 2/4
    trip(breaker, 1)
    assert breaker.state is CircuitState.OPEN  # 3/4


def test_time_window_forgets_old_failures() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(window=TimeWindow(10, failure_rate_threshold=0.5, minimum_calls=3), clock=clock)
    trip(breaker, 2)
    clock.advance(11)
    breaker.call(ok)
    trip(breaker, 1)
    assert breaker.state is CircuitState.CLOSED  # the two old failures expired: 1/2 below minimum
    trip(breaker, 1)
    assert breaker.state is CircuitState.OPEN  # 2/3


def test_slow_calls_open_the_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        window=CountWindow(4, slow_call_duration=1.0, slow_call_rate_threshold=0.5, minimum_calls=2), clock=clock
    )

    def slow() -> str:
        clock.advance(2)
        return "slow"

    breaker.call(ok)
    breaker.call(slow)
    assert breaker.state is CircuitState.OPEN
    assert breaker.metrics.slow_calls == 1


def test_classification_ignore_success_and_result_predicate() -> None:
    breaker = CircuitBreaker(
        window=Consecutive(2), ignore_on=KeyError, success_on=Business, failure_result=lambda r: r is None
    )
    trip(breaker, 1)
    with pytest.raises(KeyError):
        breaker.call(lambda: {}["x"])
    trip(breaker, 1)
    assert breaker.state is CircuitState.OPEN  # the ignored KeyError did not reset the count
    assert breaker.metrics.ignored == 1
    breaker.reset()

    def business() -> None:
        raise Business

    trip(breaker, 1)
    with pytest.raises(Business):
        breaker.call(business)
    trip(breaker, 1)
    assert breaker.state is CircuitState.CLOSED  # the business error counted as success
    assert breaker.call(lambda: None) is None
    assert breaker.state is CircuitState.OPEN  # a None result is a failure


def test_record_on_predicate() -> None:
    breaker = CircuitBreaker(window=Consecutive(1), record_on=lambda e: "fatal" in str(e))
    with pytest.raises(Boom):
        breaker.call(lambda: (_ for _ in ()).throw(Boom("minor")))
    assert breaker.state is CircuitState.CLOSED
    with pytest.raises(Boom):
        breaker.call(lambda: (_ for _ in ()).throw(Boom("fatal")))
    assert breaker.state is CircuitState.OPEN


def test_outcome_of_call_started_in_earlier_generation_is_not_counted() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(window=Consecutive(1), clock=clock)
    started = threading.Event()
    release = threading.Event()

    def slow_success() -> str:
        started.set()
        release.wait(DEADLINE)
        return "late"

    thread = threading.Thread(target=breaker.call, args=(slow_success,))
    thread.start()
    assert started.wait(DEADLINE)
    trip(breaker, 1)  # opens while the slow call is in flight
    clock.advance(60)
    force_state(breaker, "half_open")
    release.set()
    thread.join(DEADLINE)
    assert breaker.state is CircuitState.HALF_OPEN  # the late success did not close it

    # and a late failure does not re-open a breaker that closed meanwhile
    started.clear()
    release.clear()

    def slow_failure() -> None:
        started.set()
        release.wait(DEADLINE)
        raise Boom

    errors: list[BaseException] = []

    def run() -> None:
        try:
            breaker.call(slow_failure)
        except BaseException as exc:
            errors.append(exc)

    breaker.call(ok)  # the probe closes it
    assert breaker.state is CircuitState.CLOSED
    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(DEADLINE)
    breaker.reset()
    release.set()
    thread.join(DEADLINE)
    assert isinstance(errors[0], Boom)
    assert breaker.state is CircuitState.CLOSED


def test_manual_control_and_metrics() -> None:
    breaker = CircuitBreaker("m")
    breaker.force_open()
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(ok)
    assert (info.value.state, info.value.retry_after) == ("forced_open", None)
    breaker.disable()
    trip(breaker, 10)
    assert breaker.state is CircuitState.DISABLED
    m = breaker.metrics
    assert (m.failures, m.rejections, m.window_failures) == (10, 1, 10)
    breaker.reset()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.metrics.calls == 0
    assert breaker.metrics.failure_rate == 0.0


async def test_async_decorator_counts_and_rejects() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(window=Consecutive(2), clock=clock)

    @breaker
    async def fetch(x: int) -> int:
        if x < 0:
            raise Boom
        await asyncio.sleep(0)
        return x * 2

    assert await fetch(2) == 4
    for _ in range(2):
        with pytest.raises(Boom):
            await fetch(-1)
    with pytest.raises(CircuitOpenError):
        await fetch(1)
    clock.advance(30)
    assert await breaker.call_async(fetch.__wrapped__, 3) == 6  # type: ignore[attr-defined]
    assert breaker.state is CircuitState.CLOSED
    assert fetch.__name__ == "fetch"


async def test_async_cancellation_is_ignored() -> None:
    breaker = CircuitBreaker(window=Consecutive(1))

    @breaker
    async def hang() -> None:
        await asyncio.sleep(10)

    task = asyncio.create_task(hang())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state is CircuitState.CLOSED
    assert breaker.metrics.ignored == 1


def test_context_manager_sync() -> None:
    breaker = CircuitBreaker(window=Consecutive(2))
    for _ in range(2):
        with pytest.raises(Boom), breaker:
            raise Boom
    with pytest.raises(CircuitOpenError), breaker:
        pytest.fail("must not run")


async def test_context_manager_async_nested() -> None:
    a = CircuitBreaker(window=Consecutive(1))
    b = CircuitBreaker(window=Consecutive(1))

    async def block() -> None:
        async with a:
            async with b:
                pass
            raise Boom

    with pytest.raises(Boom):
        await block()
    assert a.state is CircuitState.OPEN
    assert b.state is CircuitState.CLOSED


def test_events_and_pybreaker_listeners() -> None:
    import pybreaker

    calls: list[str] = []

    class Listener(pybreaker.CircuitBreakerListener):  # type: ignore[misc]
        def before_call(self, cb: object, func: object, *args: object, **kwargs: object) -> None:
            calls.append("before")

        def success(self, cb: object) -> None:
            calls.append("success")

        def failure(self, cb: object, exc: BaseException) -> None:
            calls.append(f"failure:{type(exc).__name__}")

        def state_change(self, cb: object, old: object, new: object) -> None:
            calls.append(f"{getattr(old, 'name', None)}->{getattr(new, 'name', None)}")

    own: list[Event] = []
    breaker = CircuitBreaker("ev", window=Consecutive(1), listeners=[Listener(), own.append])
    breaker.call(ok)
    with capture_events() as events:
        trip(breaker, 1)
    assert calls == ["before", "success", "before", "failure:Boom", "closed->open"]
    assert [e.kind for e in own] == ["state_change"]
    assert own[0].detail == {"old": "closed", "new": "open"}
    assert [e.kind for e in events] == ["state_change"]
    assert breaker.current_state == "open"


def test_from_pybreaker_migrates_settings() -> None:
    import pybreaker

    old = pybreaker.CircuitBreaker(
        fail_max=2, reset_timeout=7, exclude=[Business, lambda e: isinstance(e, KeyError)], name="legacy"
    )
    breaker = CircuitBreaker.from_pybreaker(old)
    assert breaker.name == "legacy"
    assert breaker.open_duration == 7.0
    assert breaker.window == Consecutive(2)

    def business() -> None:
        raise Business

    trip(breaker, 1)
    with pytest.raises(Business):
        breaker.call(business)  # excluded: counts as success, as in pybreaker
    with pytest.raises(KeyError):
        breaker.call(lambda: {}["k"])
    trip(breaker, 1)
    assert breaker.state is CircuitState.CLOSED
    trip(breaker, 1)
    assert breaker.state is CircuitState.OPEN


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"open_duration": 0}, "open_duration"),
        ({"open_duration": -1}, "open_duration"),
        ({"half_open_max_calls": 0}, "half_open_max_calls"),
        ({"open_duration_multiplier": 0.5}, "open_duration_multiplier"),
        ({"open_duration": 10, "max_open_duration": 5}, "max_open_duration"),
    ],
)
def test_bad_configuration_names_the_parameter(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]


def test_bad_windows_and_types() -> None:
    with pytest.raises(ValueError, match="failure_rate_threshold"):
        CountWindow(10, failure_rate_threshold=1.5)
    with pytest.raises(ValueError, match="minimum_calls must be <= size"):
        CountWindow(10, minimum_calls=11)
    with pytest.raises(ValueError, match="size"):
        CountWindow(-1)
    with pytest.raises(ValueError, match="seconds"):
        TimeWindow(0)
    with pytest.raises(ValueError, match="failures"):
        Consecutive(0)
    with pytest.raises(TypeError, match="window"):
        CircuitBreaker(window=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ignore_on"):
        CircuitBreaker(ignore_on=("x",))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="clock"):
        CircuitBreaker(clock=object())  # type: ignore[arg-type]


def test_time_window_counts_every_success() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(window=TimeWindow(60, failure_rate_threshold=0.5, minimum_calls=5), clock=clock)
    for _ in range(20):
        breaker.call(ok)
    trip(breaker, 10)
    assert breaker.state is CircuitState.CLOSED  # 10/30 failures
    assert breaker.metrics.window_calls == 30
    trip(breaker, 10)
    assert breaker.state is CircuitState.OPEN  # 20/40


def test_metrics_count_lock_free_successes_across_windows() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(window=CountWindow(10, minimum_calls=2), clock=clock)
    for _ in range(5):
        breaker.call(ok)
    assert (breaker.metrics.successes, breaker.metrics.window_calls) == (5, 5)
    trip(breaker, 5)  # 5/10 failures: opens
    clock.advance(60)
    breaker.call(ok)  # the probe closes it with a new window
    m = breaker.metrics
    assert (m.successes, m.failures, m.calls, m.window_calls) == (6, 5, 11, 0)
    breaker.call(ok)
    assert breaker.metrics.window_calls == 1
    breaker.reset()
    assert breaker.metrics.successes == 0


# -- METRICS_ONLY and DISABLED: every call passes, the window keeps measuring ---------------------------
def run(breaker: CircuitBreaker, outcomes: str) -> None:
    """``outcomes``: ``f`` fails, ``s`` succeeds."""
    for outcome in outcomes:
        with contextlib.suppress(Boom):
            breaker.call(fail if outcome == "f" else ok)


def thresholds(events: list[Event]) -> list[dict[str, object]]:
    return [e.detail for e in events if e.kind == "threshold_exceeded"]


def test_metrics_only_passes_measures_and_emits_once_per_entry() -> None:
    events: list[Event] = []
    breaker = CircuitBreaker(
        "watched", window=CountWindow(4, failure_rate_threshold=0.5), listeners=[events.append], clock=FakeClock()
    )
    breaker.metrics_only()
    assert breaker.state is CircuitState.METRICS_ONLY
    assert breaker.current_state == "closed"  # pybreaker's vocabulary
    run(breaker, "sfsf")  # 50 %: a CLOSED breaker would trip here
    assert breaker.state is CircuitState.METRICS_ONLY
    assert thresholds(events) == [{"failure_rate": 0.5, "slow_call_rate": 0.0}]
    run(breaker, "ffff")  # still over: no second event in this entry
    assert len(thresholds(events)) == 1
    assert breaker.call(ok) == "ok"
    metrics = breaker.metrics
    assert metrics.state is CircuitState.METRICS_ONLY
    assert (metrics.calls, metrics.failures, metrics.window_calls, metrics.window_failures) == (9, 6, 4, 3)
    breaker.metrics_only()  # a new entry (and a new window): the next crossing is reported again
    run(breaker, "ffff")
    assert len(thresholds(events)) == 2
    assert [(e.detail["old"], e.detail["new"]) for e in events if e.kind == "state_change"] == [
        ("closed", "metrics_only"),
    ]
    breaker.reset()
    run(breaker, "ffff")
    assert breaker.state is CircuitState.OPEN  # out of METRICS_ONLY the window trips again


def test_disabled_measures_without_threshold_events() -> None:
    events: list[Event] = []
    breaker = CircuitBreaker(window=Consecutive(2), listeners=[events.append], clock=FakeClock())
    force_state(breaker, "disabled")
    run(breaker, "fffff")
    assert breaker.state is CircuitState.DISABLED
    assert breaker.metrics.failures == 5
    assert thresholds(events) == []
    force_state(breaker, "metrics_only")
    run(breaker, "ff")
    assert thresholds(events) == [{"failure_rate": 1.0, "slow_call_rate": 0.0}]


def test_metrics_without_storage_are_local() -> None:
    breaker = CircuitBreaker(clock=FakeClock())
    breaker.call(ok)
    assert not breaker.metrics.shared
    assert breaker.metrics.window_slow_calls == 0


def test_a_probe_that_never_returns_is_replaced_after_the_probe_lease() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(window=Consecutive(1), open_duration=5, probe_lease=10, clock=clock)
    trip(breaker, 1)
    clock.advance(5)
    hung = breaker.__enter__()  # a probe that hangs: it holds the only slot and never reports
    clock.advance(4)
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(ok)
    assert (info.value.state, info.value.retry_after) == ("half_open", pytest.approx(6.0))  # never 0: no tight loop
    clock.advance(6)
    assert breaker.call(ok) == "ok"  # the lease passed: a new probe, which closes the breaker
    assert breaker.state is CircuitState.CLOSED
    hung.__exit__(Boom, Boom(), None)  # the lost probe's late failure belongs to an old round
    assert breaker.state is CircuitState.CLOSED


def test_without_a_probe_lease_a_full_half_open_gives_no_retry_after() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(window=Consecutive(1), open_duration=5, probe_lease=None, clock=clock)
    trip(breaker, 1)
    clock.advance(5)
    breaker.__enter__()
    clock.advance(3600)
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(ok)
    assert (info.value.state, info.value.retry_after) == ("half_open", None)
    with pytest.raises(ValueError, match="probe_lease"):
        CircuitBreaker(probe_lease=0)
