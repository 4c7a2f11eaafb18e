"""Typed usage checked by mypy in test_typing.py (not collected by pytest)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from maestro_resilience import Bulkhead, CircuitBreaker, Fallback, Pipeline, Retry, Timeout

breaker = CircuitBreaker()


@breaker
def get(user_id: int, *, verbose: bool = False) -> str:
    return str(user_id)


@Pipeline(Retry(), breaker, Timeout(1), Bulkhead(2))
async def fetch(url: str) -> bytes:
    return url.encode()


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
