"""Readers and writers of test-report formats, all producing and consuming the model in
``maestro_test_result_aggregator.model``.

| format | read | write |
|---|---|---|
| JUnit XML (Ant/Jenkins, Surefire, pytest, Playwright, jest-junit) | ``read_junit`` | ``write_junit`` |
| CTRF JSON | ``read_ctrf`` | ``write_ctrf`` (+ ``validate_ctrf``) |
| maestro JSONL | ``read_jsonl`` | ``write_jsonl`` / ``JsonlWriter`` |
| pytest reportlog JSONL | ``read_pytest_reportlog`` | |
| pytest-json-report | ``read_pytest_json_report`` | |
| Playwright JSON reporter | ``read_playwright_json`` | |

``read_report`` detects the format from the content; ``ingest`` reads files, directories and
globs, recording each bad file and carrying on. ``formats.registry`` is the one list of formats
(name, detection, reader, writer) that detection, the CLI and other packages read: a new format
is one ``register_format`` call, and ``get_writer("junit")`` finds a writer by its format's name.

Each name is imported from its module on first use, so importing one format (the JSONL writer a
pytest plugin streams with) does not load every reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from maestro_test_result_aggregator._lazy import lazy_attributes

if TYPE_CHECKING:
    from maestro_test_result_aggregator.formats._detect import (
        FORMATS,
        Format,
        IngestResult,
        detect_format,
        expand_inputs,
        ingest,
        iter_ingest,
        read_report,
    )
    from maestro_test_result_aggregator.formats.ctrf import (
        ctrf_document,
        read_ctrf,
        run_from_ctrf,
        validate_ctrf,
        write_ctrf,
    )
    from maestro_test_result_aggregator.formats.jsonl import (
        JsonlWriter,
        iter_jsonl,
        read_jsonl,
        result_from_record,
        result_to_record,
        write_jsonl,
    )
    from maestro_test_result_aggregator.formats.junit import (
        JUNIT_ENGINES,
        JUNIT_PROFILES,
        iter_junit,
        read_junit,
        write_junit,
    )
    from maestro_test_result_aggregator.formats.playwright import read_playwright_json, run_from_playwright
    from maestro_test_result_aggregator.formats.pytest_reports import read_pytest_json_report, read_pytest_reportlog
    from maestro_test_result_aggregator.formats.registry import (
        ReportFormat,
        get_format,
        get_writer,
        register_format,
        report_formats,
        unregister_format,
        writable_names,
    )

__all__ = [
    "FORMATS",
    "JUNIT_ENGINES",
    "JUNIT_PROFILES",
    "Format",
    "IngestResult",
    "JsonlWriter",
    "ReportFormat",
    "ctrf_document",
    "detect_format",
    "expand_inputs",
    "get_format",
    "get_writer",
    "ingest",
    "iter_ingest",
    "iter_jsonl",
    "iter_junit",
    "read_ctrf",
    "read_jsonl",
    "read_junit",
    "read_playwright_json",
    "read_pytest_json_report",
    "read_pytest_reportlog",
    "read_report",
    "register_format",
    "report_formats",
    "result_from_record",
    "result_to_record",
    "run_from_ctrf",
    "run_from_playwright",
    "unregister_format",
    "validate_ctrf",
    "writable_names",
    "write_ctrf",
    "write_jsonl",
    "write_junit",
]

_LAZY: Final = {
    "FORMATS": "_detect",
    "Format": "_detect",
    "IngestResult": "_detect",
    "detect_format": "_detect",
    "expand_inputs": "_detect",
    "ingest": "_detect",
    "iter_ingest": "_detect",
    "read_report": "_detect",
    "ctrf_document": "ctrf",
    "read_ctrf": "ctrf",
    "run_from_ctrf": "ctrf",
    "validate_ctrf": "ctrf",
    "write_ctrf": "ctrf",
    "JsonlWriter": "jsonl",
    "iter_jsonl": "jsonl",
    "read_jsonl": "jsonl",
    "result_from_record": "jsonl",
    "result_to_record": "jsonl",
    "write_jsonl": "jsonl",
    "JUNIT_ENGINES": "junit",
    "JUNIT_PROFILES": "junit",
    "iter_junit": "junit",
    "read_junit": "junit",
    "write_junit": "junit",
    "read_playwright_json": "playwright",
    "run_from_playwright": "playwright",
    "read_pytest_json_report": "pytest_reports",
    "read_pytest_reportlog": "pytest_reports",
    "ReportFormat": "registry",
    "get_format": "registry",
    "get_writer": "registry",
    "register_format": "registry",
    "report_formats": "registry",
    "unregister_format": "registry",
    "writable_names": "registry",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
