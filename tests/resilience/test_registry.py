"""Registry: named policies built from one dict or TOML file; errors name the entry and the key.

Entries with ``redis_url`` are tested against a real server in ``test_redis_storage.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maestro_resilience import Bulkhead, CircuitBreaker, CircuitState, CountWindow, Registry
from maestro_resilience.testing import FakeClock, no_wait

TOML = """
[db-breaker]
type = "circuit_breaker"
window = { type = "count", size = 10, failure_rate_threshold = 0.5, minimum_calls = 2 }
open_duration = 5
ignore_on = ["KeyError"]

[db-retry]
type = "retry"
attempts = 2
on = ["ConnectionError", "builtins.TimeoutError"]

[db]
type = "pipeline"
policies = ["db-retry", "db-breaker"]
"""


def test_registry_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "resilience.toml"
    path.write_text(TOML)
    registry = Registry.from_toml(path, clock=FakeClock())
    assert sorted(registry) == ["db", "db-breaker", "db-retry"]
    breaker = registry["db-breaker"]
    assert isinstance(breaker, CircuitBreaker)
    assert breaker.window == CountWindow(10, failure_rate_threshold=0.5, minimum_calls=2)
    assert breaker.name == "db-breaker"

    def down() -> None:
        raise ConnectionError

    with no_wait(), pytest.raises(ConnectionError):
        registry["db"].call(down)
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(KeyError, match="known"):
        registry["nope"]


@pytest.mark.parametrize(
    ("config", "error", "match"),
    [
        ({"x": {"type": "breaker"}}, ValueError, "unknown type 'breaker'"),
        ({"x": {"size": 1}}, ValueError, "'type' key"),
        ({"x": {"type": "retry", "on": ["NoSuchError"]}}, ValueError, "key 'on'"),
        ({"x": {"type": "retry", "attempts": 0}}, ValueError, "entry 'x'.*attempts"),
        ({"x": {"type": "bulkhead", "max_concurrent": 1, "bogus": 1}}, TypeError, "entry 'x'"),
        ({"x": {"type": "pipeline", "policies": ["y"]}}, ValueError, "unknown policies"),
        ({"x": {"type": "circuit_breaker", "window": {"type": "sliding"}}}, ValueError, "key 'window'"),
        ({"x": {"type": "retry", "redis_url": "redis://127.0.0.1/0"}}, ValueError, "key 'redis_url'"),
    ],
)
def test_registry_errors_name_entry_and_key(config: dict[str, dict[str, object]], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Registry.from_dict(config)


def test_registry_register_and_duplicates() -> None:
    registry = Registry({"a": Bulkhead(1)})
    with pytest.raises(ValueError, match="already"):
        registry.register("a", Bulkhead(1))
    with pytest.raises(TypeError, match="policy"):
        registry.register("b", object())  # type: ignore[arg-type]
    assert len(registry) == 1
