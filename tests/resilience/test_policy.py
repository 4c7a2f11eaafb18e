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
