"""Misuse mypy must reject (test_typing.py expects exactly these errors)."""

from __future__ import annotations

from maestro_resilience import CircuitBreaker, Retry, Timeout

breaker = CircuitBreaker()


@breaker
def get(user_id: int) -> str:
    return str(user_id)


@Retry()
async def fetch(url: str) -> bytes:
    return url.encode()


get("not an int")  # E: arg-type
number: int = get(1)  # E: assignment
data: bytes = fetch("u")  # E: assignment
breaker.call(get, "x")  # E: arg-type
Timeout(1, sync_mode="process")  # E: arg-type
again: bytes = fetch.retry_with(attempts=2)("u")  # E: assignment
