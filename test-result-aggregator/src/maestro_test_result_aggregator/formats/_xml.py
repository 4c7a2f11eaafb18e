"""XML text helpers shared by the JUnit writer and reader: escaping, illegal characters, bounded text."""

from __future__ import annotations

import re
from typing import Final

from maestro_test_result_aggregator.model import bound_text

__all__ = ["BoundedText", "attr", "clean", "text"]

# Characters XML 1.0 forbids (C0 controls except tab/newline/return, lone surrogates, U+FFFE/F).
_ILLEGAL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape_char(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def clean(value: str) -> str:
    """``value`` with every XML-illegal character replaced by a visible ``\\uXXXX`` escape."""
    if _ILLEGAL.search(value) is None:
        return value
    return _ILLEGAL.sub(_escape_char, value)


def text(value: str) -> str:
    """``value`` escaped for XML character data."""
    value = clean(value)
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


class BoundedText:
    """Collects character data in bounded memory: the first ``limit`` characters and a rolling
    tail, so a 100 MB ``<failure>`` body costs a few hundred kilobytes. ``value()`` returns the
    text cut like ``model.bound_text`` (head, a marker saying how much was dropped, tail)."""

    __slots__ = ("_dropped", "_head", "_head_len", "_limit", "_tail", "_tail_len")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._head: list[str] = []
        self._head_len = 0
        self._tail: list[str] = []
        self._tail_len = 0
        self._dropped = 0

    def add(self, data: str) -> None:
        """Append a chunk (the expat ``CharacterDataHandler``)."""
        if self._head_len < self._limit:
            self._head.append(data)
            self._head_len += len(data)
            return
        self._tail.append(data)
        self._tail_len += len(data)
        if self._tail_len > 2 * self._limit:
            joined = "".join(self._tail)
            half = self._limit // 2
            self._dropped += len(joined) - half
            self._tail = [joined[-half:]]
            self._tail_len = half

    def value(self) -> str:
        """The collected text, cut to about ``limit`` characters with a marker when too long."""
        head = "".join(self._head)
        tail = "".join(self._tail)
        if self._dropped == 0:
            return bound_text(head + tail, self._limit) or ""
        half = self._limit // 2
        dropped = len(head) - half + self._dropped + len(tail) - half
        return f"{head[:half]}\n[... {dropped} characters truncated by maestro ...]\n{tail[-half:]}"


def attr(value: str) -> str:
    """``value`` escaped for a double-quoted XML attribute (newlines and tabs kept as references)."""
    value = text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "\n" in value or "\t" in value:
        value = value.replace("\n", "&#10;").replace("\t", "&#9;")
    return value
