"""What the HTML report shows when a test is clicked: its class and file, full message and
stack trace, captured output, every attempt with its outcome and evidence, and its history.

Kept apart from the table rows so a 200k-test report stays small: only tests with something to
show beyond their row (not passed, retried, with output, a message or evidence) carry a detail
record; the history is one short string of outcomes per test, shared between tests that have the
same one (most have "every run passed").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from maestro_test_result_aggregator.analysis import strip_ansi
from maestro_test_result_aggregator.model import Attachment, Attempt, Status, TestResult

__all__ = ["HISTORY_LETTERS", "DetailTables", "evidence_href"]

HISTORY_LETTERS: Final = {
    Status.PASSED: "p",
    Status.FAILED: "f",
    Status.SKIPPED: "s",
    Status.PENDING: "n",
    Status.OTHER: "o",
}
"""One letter per outcome in a test's history string (oldest run first)."""

_LINKABLE: Final = ("", "http", "https", "file")


def evidence_href(path: str) -> str | None:
    """``path`` as a link target when it is a relative path or an http(s)/file URL; ``None``
    for anything a click could run (``javascript:``, ``data:``...), shown as text instead.

    Examples:
        >>> evidence_href("test-results/cart-failed/trace.zip"), evidence_href("javascript:alert(1)")
        ('test-results/cart-failed/trace.zip', None)
    """
    stripped = "".join(ch for ch in path if ch.isprintable() and not ch.isspace())
    try:
        scheme = urlsplit(stripped).scheme.lower()
    except ValueError:
        return None
    if len(scheme) == 1:  # a Windows drive letter: C:\\results\\shot.png
        return path
    return path if scheme in _LINKABLE else None


def _evidence(attachments: Sequence[Attachment]) -> list[list[Any]]:
    return [[a.name, a.content_type, a.path, evidence_href(a.path) is not None] for a in attachments]


def _attempt(attempt: Attempt) -> list[Any]:
    return [
        HISTORY_LETTERS[attempt.status],
        round(attempt.duration * 1000),
        strip_ansi(attempt.message) if attempt.message else None,
        strip_ansi(attempt.trace) if attempt.trace else None,
        attempt.start,
        _evidence(attempt.attachments),
        attempt.stdout,
        attempt.stderr,
    ]


class DetailTables:
    """The detail records and history strings of one report, filled test by test.

    Args:
        statuses: each test id's outcomes over the history store's last runs, oldest first.
        durations: the same runs' durations, for the tests that get a detail record.
    """

    def __init__(
        self,
        statuses: Mapping[str, Sequence[Status]] | None = None,
        durations: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        self.details: list[dict[str, Any]] = []
        self.histories: list[str] = []
        self._history_index: dict[str, int] = {}
        self._statuses = statuses
        self._durations = durations or {}

    @staticmethod
    def needs_detail(test: TestResult) -> bool:
        """Whether ``test`` has something to show beyond its table row."""
        return bool(
            test.status is not Status.PASSED
            or test.attempts
            or test.message
            or test.trace
            or test.stdout
            or test.stderr
            or test.attachments
        )

    def history(self, test_id: str) -> int:
        """The index of ``test_id``'s history string, -1 without history."""
        if self._statuses is None:
            return -1
        past = self._statuses.get(test_id)
        if not past:
            return -1
        text = "".join(HISTORY_LETTERS[status] for status in past)
        found = self._history_index.get(text)
        if found is None:
            found = self._history_index[text] = len(self.histories)
            self.histories.append(text)
        return found

    def detail(self, test: TestResult, test_id: str) -> int:
        """The index of ``test``'s detail record (appended), -1 when it has nothing to show."""
        if not self.needs_detail(test):
            return -1
        record: dict[str, Any] = {}
        for key, value in (
            ("line", test.line),
            ("message", strip_ansi(test.message) if test.message else None),
            ("trace", strip_ansi(test.trace) if test.trace else None),
            ("stdout", test.stdout),
            ("stderr", test.stderr),
            ("raw", test.raw_status),
        ):
            if value:
                record[key] = value
        if test.attempts:
            record["attempts"] = [_attempt(attempt) for attempt in test.attempts]
        if test.attachments:
            record["evidence"] = _evidence(test.attachments)
        past = self._durations.get(test_id)
        if past:
            record["durations"] = [round(value * 1000) for value in past]
        self.details.append(record)
        return len(self.details) - 1
