"""Fallback: a value or ``func(error)`` instead of a failure or a bad result; decorator, call, and
``with fallback as outcome:`` blocks (sync and async)."""

from __future__ import annotations

import asyncio

import pytest

from maestro_resilience import Fallback, FallbackOutcome
from maestro_resilience.testing import capture_events


def test_fallback_value_func_and_predicates() -> None:
    assert Fallback("cached").call(lambda: 1 / 0) == "cached"
    assert Fallback(func=lambda e: type(e).__name__).call(lambda: 1 / 0) == "ZeroDivisionError"
    with pytest.raises(KeyError):
        Fallback(0, on=ValueError).call(lambda: {}["x"])
    narrowed = Fallback(0, on=ValueError, predicate=lambda e: "soft" in str(e))
    with pytest.raises(ValueError, match="hard"):
        narrowed.call(lambda: int("hard"))
    assert Fallback(-1, result_predicate=lambda r: r is None).call(lambda: None) == -1
    with pytest.raises(TypeError, match="exactly one"):
        Fallback()


async def test_fallback_async_with_async_func() -> None:
    async def replacement(error: BaseException | None) -> str:
        await asyncio.sleep(0)
        return f"fallback for {type(error).__name__}"

    @Fallback(func=replacement)
    async def broken() -> str:
        raise ConnectionError

    assert await broken() == "fallback for ConnectionError"


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
            await asyncio.sleep(0)  # the two blocks below interleave here
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
