"""Incremental readers of files another process is appending to (for live progress)."""

# ruff: noqa: PLC0415 - optional and heavy dependencies are imported where they are used

from __future__ import annotations

import json
from pathlib import Path

from maestro_test_result_aggregator.model import TestResult

__all__ = ["LineTail", "read_inflight", "results_in"]


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


def results_in(lines: list[str]) -> list[TestResult]:
    """The results among JSONL lines (header and end lines are skipped)."""
    from maestro_test_result_aggregator.formats import result_from_record

    found = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("type") == "result":
            found.append(result_from_record(record))
    return found


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
