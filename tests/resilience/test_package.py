"""maestro-resilience's public surface, version, typing marker and lazy optional imports."""

import pytest

import maestro_resilience
from tests.package_checks import assert_lazy_imports, assert_public_surface


def test_public_surface() -> None:
    assert_public_surface(maestro_resilience, "maestro-resilience")


def test_optional_dependencies_are_imported_lazily() -> None:
    assert_lazy_imports("maestro_resilience", ["redis", "tenacity", "pybreaker", "asyncio", "opentelemetry", "yaml"])


def test_the_pybreaker_drop_in_imports_neither_pybreaker_nor_redis() -> None:
    assert_lazy_imports("maestro_resilience.compat.pybreaker", ["redis", "tenacity", "pybreaker", "asyncio", "yaml"])


def test_redis_classes_load_on_first_use() -> None:
    from maestro_resilience import _redis

    assert maestro_resilience.RedisStorage is _redis.RedisStorage
    assert maestro_resilience.RedisRateLimiter is _redis.RedisRateLimiter
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        maestro_resilience.Nope  # noqa: B018
