"""``Registry.from_yaml``: the same registry as TOML, keys as written (YAML 1.1's ``on:`` trap), bounded input."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from maestro_resilience import CircuitBreaker, ConfigurationError, CountWindow, Registry, Retry
from maestro_resilience.testing import FakeClock, no_wait
from tests.resilience.test_registry import TOML

YAML = """
db-breaker:
  type: circuit_breaker
  window: {type: count, size: 10, failure_rate_threshold: 0.5, minimum_calls: 2}
  open_duration: 5
  ignore_on: [KeyError]

db-retry:
  type: retry
  attempts: 2
  on: [ConnectionError, builtins.TimeoutError]   # YAML 1.1 reads an unquoted on: as the boolean True

db:
  type: pipeline
  policies: [db-retry, db-breaker]
"""


def describe(registry: Registry) -> dict[str, tuple[object, ...]]:
    """What tells two registries apart: each policy's kind and settings."""
    out: dict[str, tuple[object, ...]] = {}
    for name, policy in registry.items():
        if isinstance(policy, CircuitBreaker):
            out[name] = ("breaker", policy.window, policy.open_duration, policy._ignore_types)
        elif isinstance(policy, Retry):
            out[name] = ("retry", policy.attempts)
        else:
            out[name] = (type(policy).__name__,)
    return out


def test_yaml_builds_what_the_same_toml_builds(tmp_path: Path) -> None:
    path = tmp_path / "resilience.yaml"
    path.write_text(YAML)
    from_yaml = Registry.from_yaml(path, clock=FakeClock())
    assert describe(from_yaml) == describe(Registry.from_toml(TOML, clock=FakeClock()))
    assert from_yaml["db-breaker"].window == CountWindow(10, failure_rate_threshold=0.5, minimum_calls=2)  # type: ignore[attr-defined]


def test_the_on_key_is_retry_s_exception_list_not_true() -> None:
    assert yaml.safe_load("on: [ConnectionError]") == {True: ["ConnectionError"]}  # the trap, in PyYAML
    registry = Registry.from_yaml(YAML, clock=FakeClock())
    attempts: list[int] = []

    def down() -> None:
        attempts.append(1)
        raise ConnectionError

    def wrong() -> None:
        attempts.append(1)
        raise ValueError

    with no_wait(), pytest.raises(ConnectionError):
        registry["db-retry"].call(down)
    assert len(attempts) == 2  # retried: ConnectionError is in `on`
    with no_wait(), pytest.raises(ValueError, match=r"^$"):
        registry["db-retry"].call(wrong)
    assert len(attempts) == 3  # not retried


@pytest.mark.parametrize("word", ["yes", "no", "off", "On", "TRUE"])
def test_other_boolean_words_stay_the_keys_written(word: str) -> None:
    """A word YAML 1.1 turns into True or False is reported as written, naming the entry."""
    with pytest.raises(ConfigurationError, match="unknown key") as info:
        Registry.from_yaml(f"x:\n  type: retry\n  {word}: 1\n")
    assert (info.value.entry, info.value.field) == ("x", word)
    registry = Registry.from_yaml(f"{word}:\n  type: retry\n")  # an entry named so
    assert list(registry) == [word]


def test_a_dumped_configuration_reads_back() -> None:
    config = {
        "r": {"type": "retry", "attempts": 3, "on": ["ConnectionError"]},
        "off": {"type": "timeout", "seconds": 1},
    }
    assert describe(Registry.from_yaml(yaml.safe_dump(config))) == describe(Registry.from_dict(config))


def test_a_merge_key_may_be_overridden_but_a_duplicate_key_is_refused() -> None:
    registry = Registry.from_yaml("base: &base\n  type: retry\n  attempts: 2\nmore:\n  <<: *base\n  attempts: 5\n")
    assert (registry["base"].attempts, registry["more"].attempts) == (2, 5)  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="'attempts' is given twice") as info:
        Registry.from_yaml("x:\n  type: retry\n  attempts: 2\n  attempts: 3\n")
    assert info.value.field == "attempts"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("x: [unclosed\n", r"(?s)invalid YAML.*line 1, column 4"),
        ("- type: retry\n", "a table of entries"),
        ("", "a table of entries"),
        ("x: {type: retry}\n---\ny: {type: retry}\n", "invalid YAML"),  # one document only
        ("x: !!python/object:os.system {}\n", "invalid YAML"),  # the safe loader builds no objects
        ("? [a, b]\n: 1\n", "must be plain text"),
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply|invalid YAML"),
    ],
)
def test_bad_yaml_is_a_configuration_error(text: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Registry.from_yaml(text)


def test_entry_errors_name_the_entry_and_the_key() -> None:
    with pytest.raises(ConfigurationError, match="must be a table") as info:
        Registry.from_yaml("payments:\n  type: circuit_breaker\n  window: 50\n")
    assert (info.value.entry, info.value.field) == ("payments", "window")


def test_input_is_bounded(tmp_path: Path) -> None:
    big = "x:\n  type: retry\n" + "# padding\n" * 200
    with pytest.raises(ConfigurationError, match="larger than 1000 bytes"):
        Registry.from_yaml(big, max_bytes=1000)
    path = tmp_path / "big.yaml"
    path.write_text(big)
    with pytest.raises(ConfigurationError, match="max_bytes"):
        Registry.from_yaml(path, max_bytes=1000)
    assert list(Registry.from_yaml(path, max_bytes=len(big))) == ["x"]


def test_without_pyyaml_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ImportError, match=r"maestro-resilience\[yaml\]"):
        Registry.from_yaml("x: {type: retry}\n")
