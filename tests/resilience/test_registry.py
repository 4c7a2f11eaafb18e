"""Registry: named policies built from one dict or TOML file; errors name the entry and the key.

Entries with ``redis_url`` are tested against a real server in ``test_redis_storage.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from maestro_resilience import Bulkhead, CircuitBreaker, CircuitState, ConfigurationError, CountWindow, Registry
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
    ("config", "key", "match"),
    [
        ({"x": {"type": "breaker"}}, "type", "unknown type 'breaker'"),
        ({"x": {"size": 1}}, "type", "no 'type'"),
        ({"x": {"type": ["retry"]}}, "type", "must be a string"),
        ({"x": 3}, None, "must be a table"),
        ({"x": {"type": "retry", "on": ["NoSuchError"]}}, "on", "not an exception class"),
        ({"x": {"type": "retry", "on": ["no_such_module.Error"]}}, "on", "not an exception class"),
        ({"x": {"type": "retry", "on": 3}}, "on", "exception class names"),
        ({"x": {"type": "retry", "attempts": 0}}, "attempts", "attempts must be an int >= 1"),
        ({"x": {"type": "bulkhead", "max_concurrent": 1, "bogus": 1}}, "bogus", "unknown key; allowed"),
        ({"x": {"type": "bulkhead"}}, "max_concurrent", "missing"),
        ({"x": {"type": "retry", "name": "y"}}, "name", "the entry's name"),
        ({"x": {"type": "bulkhead", "max_concurrent": 1, "max_wait": math.nan}}, "max_wait", "finite"),
        ({"x": {"type": "circuit_breaker", "open_duration": math.inf}}, "open_duration", "finite"),
        ({"x": {"type": "rate_limiter", "rate": math.inf}}, "rate", "finite"),
        ({"x": {"type": "pipeline", "policies": ["y"]}}, "policies", "unknown policies"),
        ({"x": {"type": "pipeline", "policies": "y"}}, "policies", "non-empty list"),
        ({"x": {"type": "pipeline", "policies": ["x"]}}, "policies", "cycle"),
        ({"x": {"type": "circuit_breaker", "window": {"type": "sliding"}}}, "window", "unknown type 'sliding'"),
        ({"x": {"type": "circuit_breaker", "window": 50}}, "window", "must be a table"),
        ({"x": {"type": "circuit_breaker", "window": {"type": "count", "size": 0}}}, "window", "size"),
        ({"x": {"type": "circuit_breaker", "window": {"type": "count", "sise": 5}}}, "window", "sise"),
        ({"x": {"type": "retry", "redis_url": "redis://127.0.0.1/0"}}, "redis_url", "only circuit_breaker"),
    ],
)
def test_registry_errors_name_entry_and_key(config: dict[str, object], key: str | None, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as info:
        Registry.from_dict(config)  # type: ignore[arg-type]
    assert info.value.entry == "x"
    assert info.value.field == key
    where = "registry entry 'x'" + ("" if key is None else f", key '{key}'")
    assert str(info.value).startswith(where + ": ")


@pytest.mark.parametrize("config", [[{"type": "retry"}], "retry", None])
def test_registry_refuses_a_configuration_that_is_not_a_table(config: object) -> None:
    with pytest.raises(ConfigurationError, match="a table of entries"):
        Registry.from_dict(config)  # type: ignore[arg-type]


def test_registry_refuses_bad_toml_as_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="TOML"):
        Registry.from_toml("[x\ntype = 'retry'")


def test_a_pipeline_may_name_policies_declared_after_it() -> None:
    registry = Registry.from_dict(
        {
            "outer": {"type": "pipeline", "policies": ["inner", "limit"]},
            "inner": {"type": "pipeline", "policies": ["breaker"]},
            "breaker": {"type": "circuit_breaker"},
            "limit": {"type": "bulkhead", "max_concurrent": 2},
        }
    )
    assert registry["outer"].call(lambda: "ok") == "ok"


def test_registry_register_and_duplicates() -> None:
    registry = Registry({"a": Bulkhead(1)})
    with pytest.raises(ValueError, match="already"):
        registry.register("a", Bulkhead(1))
    with pytest.raises(TypeError, match="policy"):
        registry.register("b", object())  # type: ignore[arg-type]
    assert len(registry) == 1
