"""Registry.from_toml reads a bounded document and fails closed: every refusal is a ConfigurationError.

Before: no size bound (megabytes were parsed), a non-UTF-8 file raised ``UnicodeDecodeError`` and a
deeply nested array ``RecursionError``; ``from_yaml`` already had its 1 MiB bound.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maestro_resilience import ConfigurationError, Registry
from maestro_resilience._config_text import MAX_CONFIG_BYTES

ENTRY = '[x]\ntype = "retry"\nattempts = 2\n'


def padded(size: int) -> str:
    """A valid configuration of exactly ``size`` bytes: one entry and a comment."""
    return ENTRY + "#" + "p" * (size - len(ENTRY) - 2) + "\n"


def test_a_toml_document_past_the_default_bound_is_refused_before_parsing() -> None:
    assert len(padded(MAX_CONFIG_BYTES).encode()) == MAX_CONFIG_BYTES == 1 << 20
    assert list(Registry.from_toml(padded(MAX_CONFIG_BYTES))) == ["x"]
    with pytest.raises(ConfigurationError, match=r"TOML .* larger than 1048576 bytes \(max_bytes\)"):
        Registry.from_toml(padded(MAX_CONFIG_BYTES + 1))


def test_max_bytes_bounds_text_and_files(tmp_path: Path) -> None:
    path = tmp_path / "resilience.toml"
    path.write_text(padded(5000), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="max_bytes"):
        Registry.from_toml(padded(5000), max_bytes=4999)
    with pytest.raises(ConfigurationError, match="max_bytes"):
        Registry.from_toml(path, max_bytes=4999)
    assert list(Registry.from_toml(path, max_bytes=5000)) == ["x"]


def test_a_file_is_read_no_further_than_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.toml"
    path.write_bytes(b"#" * 100_000)
    asked: list[int] = []
    real_open = Path.open

    def recording_open(self: Path, *args: object, **kwargs: object) -> object:
        file = real_open(self, *args, **kwargs)  # type: ignore[call-overload]
        real_read = file.read

        def read(size: int = -1) -> bytes:
            asked.append(size)
            return real_read(size)  # type: ignore[no-any-return]

        file.read = read
        return file

    monkeypatch.setattr(Path, "open", recording_open)
    with pytest.raises(ConfigurationError, match="max_bytes"):
        Registry.from_toml(path, max_bytes=1000)
    assert asked == [1001]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1000"])
def test_max_bytes_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="max_bytes must be a positive int"):
        Registry.from_toml(ENTRY, max_bytes=bad)  # type: ignore[arg-type]


def test_a_toml_file_that_is_not_utf8_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[x]\ntype = "retry"\n# caf\u00e9\n'.encode("latin-1"))
    with pytest.raises(ConfigurationError, match="TOML Registry configuration is not UTF-8"):
        Registry.from_toml(path)


def test_deeply_nested_toml_is_a_configuration_error_not_a_recursion_error() -> None:
    with pytest.raises(ConfigurationError, match="nested too deeply"):
        Registry.from_toml("x = " + "[" * 100_000)
