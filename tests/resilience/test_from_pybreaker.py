"""``CircuitBreaker.from_pybreaker`` carries the current state or refuses: it never drops it silently.

It dropped both before: an open pybreaker breaker became a closed one, and a breaker sharing its
state through ``CircuitRedisStorage`` became a local one without a word.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import ModuleType

import pybreaker
import pytest
import redis

from maestro_resilience import CircuitBreaker, CircuitOpenError, CircuitState, ConfigurationError, RedisStorage
from maestro_resilience.compat import pybreaker as compat
from maestro_resilience.testing import FakeClock


class Boom(Exception):
    pass


def fail() -> None:
    raise Boom


@pytest.fixture(params=[pybreaker, compat], ids=["pybreaker", "compat"])
def pb(request: pytest.FixtureRequest) -> ModuleType:
    """A pybreaker breaker's module: pybreaker itself or the compat module (both migrate the same way)."""
    module: ModuleType = request.param
    return module


def test_an_open_breaker_stays_open_for_what_is_left(pb: ModuleType) -> None:
    legacy = pb.CircuitBreaker(fail_max=2, reset_timeout=30, name="billing")
    legacy.open()
    legacy._state_storage.opened_at = datetime.now(UTC) - timedelta(seconds=20)
    clock = FakeClock()
    breaker = CircuitBreaker.from_pybreaker(legacy, clock=clock)
    with pytest.raises(CircuitOpenError) as refused:
        breaker.call(int)
    assert refused.value.retry_after is not None
    assert 9 < refused.value.retry_after <= 10
    clock.advance(10)
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.call(int) == 0
    assert breaker.state is CircuitState.CLOSED


def test_a_half_open_breaker_admits_a_probe(pb: ModuleType) -> None:
    legacy = pb.CircuitBreaker(reset_timeout=30)
    legacy.half_open()
    breaker = CircuitBreaker.from_pybreaker(legacy, clock=FakeClock())
    assert breaker.state is CircuitState.HALF_OPEN
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.state is CircuitState.OPEN


def test_a_closed_breaker_keeps_its_failure_count(pb: ModuleType) -> None:
    legacy = pb.CircuitBreaker(fail_max=3)
    for _ in range(2):
        with pytest.raises(Boom):
            legacy.call(fail)
    breaker = CircuitBreaker.from_pybreaker(legacy)
    assert breaker.state is CircuitState.CLOSED
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.state is CircuitState.OPEN  # the third failure in a row


def test_shared_redis_state_is_refused_naming_the_way_out(pb: ModuleType, client: redis.Redis) -> None:
    legacy = pb.CircuitBreaker(name="billing", state_storage=pb.CircuitRedisStorage("closed", client, "billing"))
    with pytest.raises(ConfigurationError, match=r"CircuitRedisStorage.*compat\.pybreaker") as refused:
        CircuitBreaker.from_pybreaker(legacy)
    assert refused.value.field == "state_storage"
    shared = CircuitBreaker.from_pybreaker(legacy, storage=RedisStorage(client))  # an explicit choice
    assert shared.storage is not None
    assert shared.current_state == "closed"
