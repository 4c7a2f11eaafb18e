"""The Maestro pytest reporting plugin: one JSONL line per finished test, written as it finishes.

Inert unless enabled with ``--maestro-report=PATH``. It is registered as a ``pytest11`` entry
point (so it loads in every pytest run of the environment, doing nothing) and can be named
explicitly::

    pytest -p maestro_test_adapters.pytest_plugin --maestro-report=results.jsonl

Each test becomes ONE ``TestResult``: setup, call and teardown are folded into one status while
the raw outcome is kept in ``raw_status`` (``passed``, ``failed``, ``error`` for a failure in
setup or teardown, ``skipped``, ``xfailed``, ``xpassed``, ``crashed``). Every rerun made by
pytest-rerunfailures is kept as an ``Attempt``. With pytest-xdist only the controller writes
(the workers' reports reach it). Markers become ``tags``, parametrisation ``parameters``; file,
line, duration, captured stdout/stderr (and log records in ``extra["log"]``) are kept, bounded
by ``--maestro-output-limit`` characters. Browser fixtures add attachments (screenshots,
traces) through ``user_properties`` entries named ``maestro_attachment``.

``--maestro-inflight=PATH`` also writes ``+nodeid`` when a test starts and ``-nodeid`` when its
result is written, so a supervisor that sees pytest die can name the test(s) in flight.
"""

# ruff: noqa: PLC0415 - optional and heavy dependencies are imported where they are used

from __future__ import annotations

import os
import warnings
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Final

import pytest

from maestro_test_adapters._constants import (
    ATTACHMENT_PROPERTY,
    DEFAULT_OUTPUT_LIMIT,
    META_ATTRIBUTE,
    WARNING_LIMIT,
    WARNING_TEXT_LIMIT,
    WARNINGS_ATTRIBUTE,
)

if TYPE_CHECKING:
    from maestro_test_adapters._reporter import MaestroReporter

__all__ = ["ATTACHMENT_PROPERTY", "MaestroReporter", "attach", "pytest_addoption", "pytest_configure"]

_IGNORED_MARKERS: Final = frozenset({"parametrize", "usefixtures", "filterwarnings"})
_PARAMETER_LIMIT: Final = 200


def attach(item_or_request: Any, name: str, content_type: str, path: str | os.PathLike[str]) -> None:
    """Attach a file to the current attempt of a test (call it from a fixture or the test).

    Args:
        item_or_request: the ``pytest.Item`` or the ``request`` fixture (``request.node`` is used).
        name: a short label (``screenshot``, ``trace``...).
        content_type: the MIME type (``image/png``, ``application/zip``...).
        path: where the file is; stored as a path, never as bytes.
    """
    node = getattr(item_or_request, "node", item_or_request)
    node.user_properties.append(
        (ATTACHMENT_PROPERTY, {"name": name, "content_type": content_type, "path": os.fspath(path)})
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--maestro-*`` options."""
    group = parser.getgroup("maestro", "Maestro test reporting (maestro-test-adapters)")
    group.addoption(
        "--maestro-report",
        metavar="PATH",
        default=None,
        help="stream one JSON line per finished test to PATH (maestro-results JSONL)",
    )
    group.addoption(
        "--maestro-inflight",
        metavar="PATH",
        default=None,
        help="write +nodeid/-nodeid lines to PATH when tests start/finish (for crash reports)",
    )
    group.addoption(
        "--maestro-output-limit",
        metavar="CHARS",
        type=int,
        default=DEFAULT_OUTPUT_LIMIT,
        help="characters of captured output kept per test (head and tail)",
    )
    group.addoption(
        "--maestro-artifacts",
        metavar="DIR",
        default=None,
        help="folder for browser screenshots, traces and logs (default: next to the report)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Enable the reporter when ``--maestro-report`` is given (on the xdist controller only)."""
    path = config.getoption("maestro_report", None)
    if not path:
        return
    config.pluginmanager.register(_MetadataCollector(), "maestro-metadata")
    if not hasattr(config, "workerinput"):
        from maestro_test_adapters._reporter import MaestroReporter

        config.pluginmanager.register(MaestroReporter(config, path), "maestro-reporter")


def _parameter_value(value: object) -> str:
    try:
        text = repr(value) if not isinstance(value, str) else value
    except Exception:  # a broken __repr__ must not break the report
        text = f"<{type(value).__name__}>"
    return text if len(text) <= _PARAMETER_LIMIT else text[: _PARAMETER_LIMIT - 3] + "..."


def _warning_record(message: warnings.WarningMessage, when: str) -> dict[str, object]:
    text = str(message.message)
    if len(text) > WARNING_TEXT_LIMIT:
        text = text[: WARNING_TEXT_LIMIT - 3] + "..."
    return {
        "category": message.category.__name__,
        "message": text,
        "filename": str(message.filename),
        "lineno": message.lineno,
        "when": when,
    }


class _ItemWarnings:
    """The warnings a test emitted so far, and how many were handed on already."""

    __slots__ = ("handed", "log")

    def __init__(self, log: list[warnings.WarningMessage]) -> None:
        self.log = log
        self.handed = 0


class _MetadataCollector:
    """Runs where the test runs (a worker or the only process): puts markers and parameters on the
    setup report, and the warnings each phase emitted on its report, from which they travel to the
    controller with the report.

    pytest hands a test's warnings on only after its last report (``pytest_warning_recorded``
    comes after teardown), too late for a line written when the test finishes: they are recorded
    here too, inside pytest's own recording, and given back to it unchanged at the end.

    The reports are marked in ``pytest_runtest_logreport`` (first, before xdist sends a worker's
    report and before the reporter reads it), for the test whose protocol is running: a plain
    hook per phase costs less than a wrapper around ``pytest_runtest_makereport``."""

    __slots__ = ("_item", "_warnings")

    def __init__(self) -> None:
        self._item: pytest.Item | None = None
        self._warnings: _ItemWarnings | None = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as log:  # keeps the filters pytest set for this test
                self._item, self._warnings = item, _ItemWarnings(log)
                try:
                    return (yield)
                finally:
                    self._item = self._warnings = None
                    caught = list(log)
        finally:  # handed to pytest's recording (its summary, pytest_warning_recorded) as if never caught
            for message in caught:
                warnings.showwarning(
                    message.message, message.category, message.filename, message.lineno, message.file, message.line
                )

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        item = self._item
        if item is None:
            return
        when = report.when
        if when == "setup":
            tags = [m.name for m in item.iter_markers() if m.name not in _IGNORED_MARKERS]
            callspec = getattr(item, "callspec", None)
            params = {k: _parameter_value(v) for k, v in callspec.params.items()} if callspec is not None else {}
            setattr(report, META_ATTRIBUTE, {"tags": list(dict.fromkeys(tags)), "params": params})
        recorded = self._warnings
        if recorded is not None and len(recorded.log) > recorded.handed:
            new = recorded.log[recorded.handed : WARNING_LIMIT]
            recorded.handed = len(recorded.log)
            if new:
                setattr(report, WARNINGS_ATTRIBUTE, [_warning_record(message, str(when)) for message in new])


def __getattr__(name: str) -> Any:
    if name == "MaestroReporter":
        from maestro_test_adapters._reporter import MaestroReporter

        return MaestroReporter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
