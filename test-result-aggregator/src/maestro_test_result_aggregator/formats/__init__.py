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
"""

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
