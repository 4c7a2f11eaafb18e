"""Typed usage checked by mypy in test_typing.py (not collected by pytest)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from maestro_resilience import Bulkhead, CircuitBreaker, Fallback, FallbackOutcome, Pipeline, Retry, Timeout

breaker = CircuitBreaker()


@breaker
def get(user_id: int, *, verbose: bool = False) -> str:
    return str(user_id)


@Pipeline(Retry(), breaker, Timeout(1), Bulkhead(2))
async def fetch(url: str) -> bytes:
    return url.encode()


@Retry(attempts=2)
def parse(text: str) -> int:
    return int(text)


@Retry(attempts=2)
async def aparse(text: str) -> int:
    return int(text)


parsed: int = parse("1")
parsed_again: int = parse.retry_with(attempts=3)("2")
parse_ref: Callable[[str], int] = parse
aparse_ref: Callable[[str], Coroutine[Any, Any, int]] = aparse.retry_with(attempts=3)
attempts_made: int = parse.statistics["attempt_number"]
policy_of_parse: Retry = parse.retry


@Fallback("x")
def name() -> str:
    return "n"


sync_ref: Callable[[int], str] = get
async_ref: Callable[[str], Coroutine[Any, Any, bytes]] = fetch
text: str = get(1, verbose=True)
value: str = breaker.call(get, 2)


async def main() -> bytes:
    data: bytes = await fetch("u")
    again: bytes = await breaker.call_async(fetch, "v")
    return data + again


def blocks() -> object:
    with Timeout(1.0) as limited:
        kind: Timeout = limited
    with Fallback("cached") as outcome:
        checked: FallbackOutcome = outcome
        outcome.value = "fresh"
    slow = Timeout(1.0, sync_mode="auto")
    return (kind, checked, outcome.error, outcome.fell_back, slow)
