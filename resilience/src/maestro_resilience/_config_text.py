"""The text of a ``Registry`` configuration (TOML or YAML): bounded before it is parsed, UTF-8 or refused.

A configuration is a few kilobytes; a parser handed megabytes (a wrong file, a hostile one) spends
memory and time before it fails. ``read_config`` refuses anything past ``max_bytes`` without reading
more of a file than that, and a file that is not UTF-8, with ``ConfigurationError``.
"""

from __future__ import annotations

from pathlib import Path

from maestro_resilience._exceptions import ConfigurationError

__all__ = ["MAX_CONFIG_BYTES", "read_config"]

#: The largest Registry configuration read by default (1 MiB).
MAX_CONFIG_BYTES = 1 << 20


def read_config(source: str | Path, max_bytes: int, fmt: str) -> str:
    """The text of ``source`` (text or a ``Path``), refused past ``max_bytes``; ``fmt`` names the format in errors."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ConfigurationError(f"max_bytes must be a positive int, got {max_bytes!r}", field="max_bytes")
    if isinstance(source, str):
        data = source.encode("utf-8")
    else:
        with Path(source).open("rb") as file:
            data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ConfigurationError(
            f"the {fmt} Registry configuration is larger than {max_bytes} bytes (max_bytes); refusing to parse it"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"the {fmt} Registry configuration is not UTF-8: {exc}") from exc
