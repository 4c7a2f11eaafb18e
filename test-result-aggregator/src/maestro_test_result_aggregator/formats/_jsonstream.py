"""A pull reader for big JSON documents: memory bounded by the largest value a reader asks for.

The JSON readers (CTRF, pytest-json-report, Playwright) walk the outer structure of a document
by hand (``object()`` yields keys, ``array()`` yields once per element) and decode each value
they want whole with the standard library's C decoder (``JSONDecoder.raw_decode``): one test
object at a time, never the document. The file is read in chunks and decoded incrementally;
text already consumed is dropped, so the buffer holds at most a chunk plus the value being
decoded. A value cut by the end of a chunk is decoded again once more text has been read (the
read size doubles while one value keeps growing, so a 100 MB message costs O(n log n), not
O(n^2)). Values a reader does not need are skipped element by element (``skip``), so a huge
``collectors`` list costs no memory either.

Errors carry the file, 1-based line and column of the offending character, as ``json`` reports
them for a whole document.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import IO, Any, Final

from maestro_test_result_aggregator.errors import ReportParseError

__all__ = ["JsonStream"]

CHUNK: Final = 1 << 20
"""Bytes read at a time (tests lower it to exercise every chunk boundary)."""

_WS: Final = re.compile(r"[ \t\n\r]*")
_MARGIN: Final = 16
"""An error this close to the end of the buffer may be a value the next chunk completes."""


class JsonStream:
    """Structure navigation plus whole-value decoding over one binary stream.

    Args:
        stream: the file, opened in binary mode (UTF-8, or UTF-16/32 as ``json`` detects).
        source: the file name errors report.
        chunk: bytes read at a time.
    """

    def __init__(self, stream: IO[bytes], source: str, *, chunk: int | None = None) -> None:
        self._stream = stream
        self.source = source
        self._chunk = chunk or CHUNK
        self._decode = json.JSONDecoder().raw_decode
        head = stream.read(max(self._chunk, 4))
        encoding = json.detect_encoding(head) if head else "utf-8"
        self._decoder = codecs.getincrementaldecoder(encoding)("strict")
        self._eof = not head
        self._buffer = self._text(head, self._eof)
        self._pos = 0
        self._line = 1  # line of the buffer's first character
        self._column = 1  # its column

    # ------------------------------------------------------------------ buffer

    def _text(self, raw: bytes, final: bool) -> str:
        try:
            return self._decoder.decode(raw, final)
        except UnicodeDecodeError as error:
            raise ReportParseError(self.source, f"not valid text: {error.reason}") from None

    def _fill(self, size: int) -> bool:
        """Drop consumed text and read at least ``size`` more bytes; False at end of file."""
        if self._eof:
            return False
        consumed = self._buffer[: self._pos]
        if consumed:
            newlines = consumed.count("\n")
            if newlines:
                self._line += newlines
                self._column = len(consumed) - consumed.rfind("\n")
            else:
                self._column += len(consumed)
        raw = self._stream.read(size)
        self._eof = not raw
        self._buffer = self._buffer[self._pos :] + self._text(raw, self._eof)
        self._pos = 0
        return True

    def where(self, position: int | None = None) -> tuple[int, int]:
        """The 1-based (line, column) of a buffer position (default: the current one)."""
        at = self._pos if position is None else position
        buffer = self._buffer
        newlines = buffer.count("\n", 0, at)
        if newlines:
            return self._line + newlines, at - buffer.rfind("\n", 0, at)
        return self._line, self._column + at

    def error(self, reason: str, position: int | None = None) -> ReportParseError:
        """A ``ReportParseError`` naming the file and where the reader stands."""
        line, column = self.where(position)
        return ReportParseError(self.source, reason, line=line, column=column)

    def peek(self) -> str:
        """The next character that is not whitespace (consumed up to it); '' at the end."""
        while True:
            buffer = self._buffer
            self._pos = _WS.match(buffer, self._pos).end()  # type: ignore[union-attr]  # always matches
            if self._pos < len(buffer):
                return buffer[self._pos]
            if not self._fill(self._chunk):
                return ""

    def document(self, not_ours: str) -> Iterator[str]:
        """Enter the top-level object (``object``); a document that is another JSON value is
        refused with ``not_ours``, an empty or non-JSON one with the position."""
        if self.peek() != "{":
            if self.peek():
                raise ReportParseError(self.source, not_ours)
            raise self.error("not JSON: expecting value")
        return self.object()

    def _expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            raise self.error(f"not JSON: expecting {what}")
        self._pos += 1

    # ------------------------------------------------------------------ structure

    def object(self) -> Iterator[str]:
        """Enter an object; yield each key with the reader positioned at its value, which the
        caller must consume (``value``, ``skip``, ``object`` or ``array``) before the next key."""
        self._expect("{", "'{'")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            if self.peek() != '"':
                raise self.error("not JSON: expecting property name enclosed in double quotes")
            key = self.value()
            self._expect(":", "':' delimiter")
            yield key
            char = self.peek()
            self._pos += 1
            if char == "}":
                return
            if char != ",":
                self._pos -= 1
                raise self.error("not JSON: expecting ',' delimiter")

    def array(self) -> Iterator[int]:
        """Enter an array; yield each element's index with the reader positioned at it (the
        caller consumes it before the next)."""
        self._expect("[", "'['")
        if self.peek() == "]":
            self._pos += 1
            return
        index = 0
        while True:
            self.peek()
            yield index
            index += 1
            char = self.peek()
            self._pos += 1
            if char == "]":
                return
            if char != ",":
                self._pos -= 1
                raise self.error("not JSON: expecting ',' delimiter")

    def value(self) -> Any:
        """Decode the next value whole (C speed), reading more text while it is incomplete."""
        if not self.peek():
            raise self.error("not JSON: expecting value")
        size = self._chunk
        while True:
            try:
                value, end = self._decode(self._buffer, self._pos)
            except json.JSONDecodeError as error:
                incomplete = error.msg.startswith("Unterminated string") or error.pos >= len(self._buffer) - _MARGIN
                if incomplete and self._fill(size):
                    size = max(size, len(self._buffer))
                    continue
                raise self.error(f"not JSON: {error.msg}", error.pos) from None
            except RecursionError:
                raise self.error("not readable: JSON nested too deeply") from None
            except ValueError as error:  # a number beyond the integer conversion limit
                raise self.error(f"not readable: {error}") from None
            if isinstance(value, int | float) and end > len(self._buffer) - _MARGIN and self._fill(size):
                continue  # a number may go on in the next chunk ("12" then "34", "1" then ".5e3")
            self._pos = end
            return value

    def skip(self) -> None:
        """Step over the next value without keeping it: a container one element (or member) at a
        time, each decoded whole and dropped, so memory stays bounded by its largest element."""
        char = self.peek()
        if char == "{":
            for _ in self.object():
                self.value()
        elif char == "[":
            for _ in self.array():
                self.value()
        else:
            self.value()

    def end(self) -> None:
        """Check that only whitespace follows the document."""
        if self.peek():
            raise self.error("not JSON: Extra data")
