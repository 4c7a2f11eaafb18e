"""What every policy refuses loudly, whatever the policy: an ``async def`` handed to the sync ``call``,
and generator functions (calling one only creates the generator; the work runs while it is iterated)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator

import pytest

from maestro_resilience import (
    Bulkhead,
    Chaos,
    CircuitBreaker,
    Fallback,
    Pipeline,
    Policy,
    RateLimiter,
    Retry,
    Timeout,
)


def policies() -> list[Policy]:
    return [
        CircuitBreaker("breaker"),
        Retry(),
        Timeout(1.0),
        Bulkhead(2),
        RateLimiter(100),
        Fallback(lambda _: None),
        Chaos(),
        Pipeline(Retry(), CircuitBreaker("inner")),
    ]


@pytest.mark.parametrize("policy", policies(), ids=lambda p: type(p).__name__)
def test_sync_call_of_an_async_function_raises_pointing_to_call_async(policy: Policy) -> None:
    started: list[str] = []

    async def fetch(key: str) -> str:
        started.append(key)
        return key

    for fn in (fetch, functools.partial(fetch)):
        with pytest.raises(TypeError, match=r"call_async") as info:
            policy.call(fn, "k")  # type: ignore[arg-type]
        assert "fetch" in str(info.value)
    assert started == []
    if isinstance(policy, CircuitBreaker):
        assert policy.metrics.calls == 0  # nothing recorded as a success


@pytest.mark.parametrize("policy", policies(), ids=lambda p: type(p).__name__)
def test_generator_functions_are_refused(policy: Policy) -> None:
    def rows() -> Iterator[int]:
        yield 1

    async def stream() -> AsyncIterator[int]:
        yield 1

    for fn in (rows, stream):
        with pytest.raises(TypeError, match=r"generator function") as info:
            policy(fn)  # type: ignore[arg-type]
        assert fn.__name__ in str(info.value)
        with pytest.raises(TypeError, match=r"generator function"):
            policy.call(fn)  # type: ignore[arg-type]
    if isinstance(policy, CircuitBreaker):
        assert policy.metrics.calls == 0


async def test_call_async_still_runs_async_functions() -> None:
    breaker = CircuitBreaker("async-ok")

    async def fetch() -> str:
        return "ok"

    assert await breaker.call_async(fetch) == "ok"
    assert await Retry().call_async(fetch) == "ok"
    assert await Timeout(1.0).call_async(fetch) == "ok"


def double(x: int) -> int:
    return 2 * x


async def adouble(x: int) -> int:
    return 2 * x


def counted_builds(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count how often each policy of ``pipeline`` wraps a function."""
    builds: list[str] = []
    for policy in pipeline.policies:
        for kind in ("_wrap_sync", "_wrap_async"):
            original = getattr(policy, kind)

            def counting(fn: object, original: object = original, name: str = f"{policy.name}{kind}") -> object:
                builds.append(name)
                return original(fn)  # type: ignore[operator]

            monkeypatch.setattr(policy, kind, counting)
    return builds


def test_call_builds_a_pipeline_once_per_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """``pipeline.call(fn, ...)`` used to compose every policy again on each call (µs per call)."""
    pipeline = Pipeline(Retry(name="r"), CircuitBreaker("b"), Bulkhead(2, name="k"))
    builds = counted_builds(pipeline, monkeypatch)
    assert [pipeline.call(double, i) for i in range(3)] == [0, 2, 4]
    assert builds == ["k_wrap_sync", "b_wrap_sync", "r_wrap_sync"]  # innermost first, once


async def test_call_async_builds_a_pipeline_once_per_function(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = Pipeline(Retry(name="r"), CircuitBreaker("b"))
    builds = counted_builds(pipeline, monkeypatch)
    assert [await pipeline.call_async(adouble, i) for i in range(3)] == [0, 2, 4]
    assert builds == ["b_wrap_async", "r_wrap_async"]


def test_call_keeps_no_wrapper_of_a_short_lived_function() -> None:
    """A lambda or nested function may be made per call: keeping its wrapper would keep it and what it closes over."""
    breaker = CircuitBreaker("short")
    for i in range(3):

        def nested(i: int = i) -> int:
            return i

        assert breaker.call(nested) == i
        assert breaker.call(lambda i=i: i) == i
    assert breaker.call(double, 1) == 2
    assert list(breaker._sync_wrappers) == [double]


def test_a_kept_function_is_still_refused_when_misused() -> None:
    breaker = CircuitBreaker("misuse")
    for _ in range(2):
        with pytest.raises(TypeError, match="call_async"):
            breaker.call(adouble, 1)  # type: ignore[arg-type]
    assert breaker._sync_wrappers == {}
