"""Incremental readers of files another process is appending to (for live progress)."""

# ruff: noqa: PLC0415 - optional and heavy dependencies are imported where they are used

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from maestro_test_result_aggregator.model import TestResult, TestRun

__all__ = ["LineTail", "ReportTail", "complete_report", "read_inflight"]


class LineTail:
    """Returns the complete new lines of a growing file at each ``read()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read(self) -> list[str]:
        """New complete lines since the last call (a half-written last line waits)."""
        try:
            with open(self.path, "rb") as stream:
                stream.seek(self._offset)
                data = stream.read()
        except FileNotFoundError:
            return []
        if not data:
            return []
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        return [line.decode("utf-8", "replace") for line in lines if line]


class ReportTail:
    """Follows a maestro-results JSONL file another process writes (pytest with our plugin): each
    ``read()`` parses only the complete lines added since the last one, so when the writer is gone
    the run is known without reading the file again. A torn last line (the writer killed
    mid-line) is never parsed; a complete line that is not a record makes the file unreadable
    (``problem``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lines = LineTail(path)
        self._number = 0
        self.header = False
        self.results: list[TestResult] = []
        self.stop: float | None = None
        self.problem: str | None = None

    def read(self) -> list[TestResult]:
        """Parse the new complete lines; return the results among them (also kept in ``results``)."""
        from maestro_test_result_aggregator.formats import result_from_record

        new: list[TestResult] = []
        for line in self._lines.read():
            self._number += 1
            try:
                record = json.loads(line)
                kind = record.get("type") if isinstance(record, dict) else None
                if kind == "run":
                    self.header = True
                elif kind == "result":
                    new.append(result_from_record(record))
                elif kind == "end":
                    stop = record.get("stop")
                    self.stop = float(stop) if stop is not None else time.time()
                else:
                    raise ValueError(f"unknown record type {kind!r}")
            except (KeyError, TypeError, ValueError, RecursionError) as error:
                self.problem = self.problem or f"{self.path}, line {self._number}: {error}"
        self.results.extend(new)
        return new

    def run(self) -> TestRun | None:
        """The run so far: its header (read back through the aggregator's reader, one line), the
        results read, ``stop`` when the end line was; ``None`` before the header."""
        from maestro_test_result_aggregator.formats import iter_jsonl

        if not self.header:
            return None
        run = next(iter_jsonl(self.path, allow_torn_tail=True))  # the header only: the reader streams
        if not isinstance(run, TestRun):  # pragma: no cover - the reader yields the header first
            return None
        run.tests = list(self.results)
        run.stop = self.stop
        return run


def complete_report(path: Path, run: TestRun) -> None:
    """Give a JSONL file a dead writer left unfinished its missing results and end line: ``run``
    is written again with the aggregator's writer beside it, then put in its place in one step
    (a torn last line goes with the old file)."""
    from maestro_test_result_aggregator.formats import write_jsonl

    partial = path.with_name(path.name + ".partial")
    try:
        write_jsonl(run, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def read_inflight(path: Path) -> list[str]:
    """Node ids started (``+id``) but not finished (``-id``), in start order."""
    started: dict[str, None] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    for line in text.splitlines():
        if line.startswith("+"):
            started[line[1:]] = None
        elif line.startswith("-"):
            started.pop(line[1:], None)
    return list(started)
