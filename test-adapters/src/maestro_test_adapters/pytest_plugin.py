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
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from maestro_test_adapters._reporter import MaestroReporter

__all__ = ["ATTACHMENT_PROPERTY", "MaestroReporter", "attach", "pytest_addoption", "pytest_configure"]

ATTACHMENT_PROPERTY: Final = "maestro_attachment"
"""The ``user_properties`` key under which fixtures record an attachment for the current attempt."""

_META: Final = "_maestro_meta"
_DEFAULT_OUTPUT_LIMIT: Final = 64 * 1024  # the aggregator's DEFAULT_OUTPUT_LIMIT, without importing it here
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
        default=_DEFAULT_OUTPUT_LIMIT,
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


class _MetadataCollector:
    """Runs where the test runs (a worker or the only process): puts markers and parameters on the
    setup report, from which they travel to the controller with the report."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        if call.when == "setup":
            tags = [m.name for m in item.iter_markers() if m.name not in _IGNORED_MARKERS]
            callspec = getattr(item, "callspec", None)
            params = {k: _parameter_value(v) for k, v in callspec.params.items()} if callspec is not None else {}
            setattr(report, _META, {"tags": list(dict.fromkeys(tags)), "params": params})
        return report


def __getattr__(name: str) -> Any:
    if name == "MaestroReporter":
        from maestro_test_adapters._reporter import MaestroReporter

        return MaestroReporter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
