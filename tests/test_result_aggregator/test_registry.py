"""The formats registry: one list (name, detection, reader, writer) that detection, ``read_report``,
the CLI and other packages read, so a new format is one registration."""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from maestro_test_result_aggregator import Status, TestResult, TestRun, Tool, formats, read_report
from maestro_test_result_aggregator.cli import main
from maestro_test_result_aggregator.errors import UnknownFormatError
from maestro_test_result_aggregator.formats import (
    FORMATS,
    ReportFormat,
    detect_format,
    get_format,
    get_writer,
    register_format,
    report_formats,
    unregister_format,
    writable_names,
)
from maestro_test_result_aggregator.testing import make_run

DATA = Path(__file__).parent / "data"


def test_every_builtin_format_is_registered_with_its_reader_and_writer() -> None:
    assert [f.name for f in report_formats()][:6] == [
        "junit",
        "pytest-reportlog",
        "jsonl",
        "ctrf",
        "pytest-json-report",
        "playwright-json",
    ]
    assert set(FORMATS) >= {"junit", "ctrf", "jsonl", "pytest-reportlog", "pytest-json-report", "playwright-json"}
    assert writable_names() == ("junit", "jsonl", "ctrf")
    assert get_format("ctrf").read is formats.read_ctrf


@pytest.mark.parametrize("name", ["ctrf", "junit", "jsonl"])
def test_writers_are_found_by_format_name_and_by_function_name(name: str) -> None:
    # maestro-test-adapters looked writers up with getattr(formats, "write_ctrf"): both spellings work.
    assert get_writer(name) is get_writer(f"write_{name}") is getattr(formats, f"write_{name}")


def test_a_read_only_or_unknown_format_has_no_writer() -> None:
    with pytest.raises(UnknownFormatError, match="'playwright-json' is read, not written"):
        get_writer("playwright-json")
    with pytest.raises(UnknownFormatError, match=r"format must be one of junit, .*got 'xlsx'"):
        get_writer("xlsx")


def test_register_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="'junit' is already registered"):
        register_format(ReportFormat("junit", "again"))


@pytest.fixture
def tap_format() -> Iterator[ReportFormat]:
    def read_tap(path: str) -> TestRun:
        lines = Path(path).read_text().splitlines()
        return TestRun(
            Tool("tap"),
            [
                TestResult(line.split(" - ", 1)[1], Status.PASSED if line.startswith("ok") else Status.FAILED)
                for line in lines
                if line.startswith(("ok ", "not ok "))
            ],
        )

    def write_tap(run: TestRun, path: str) -> None:
        words = {Status.PASSED: "ok"}
        lines = [f"{words.get(t.status, 'not ok')} {n} - {t.name}" for n, t in enumerate(run.tests, 1)]
        Path(path).write_text("TAP version 13\n" + "\n".join(lines) + "\n")

    tap = ReportFormat("tap", "TAP", lambda peek: peek.text.startswith("TAP version"), read_tap, write_tap)
    register_format(tap)
    yield tap
    unregister_format("tap")


def test_one_registration_reaches_detection_reading_and_the_cli(tap_format: ReportFormat, tmp_path: Path) -> None:
    source = tmp_path / "results.xml"
    formats.write_junit(make_run(4, fail_every=2), source)
    written = tmp_path / "out.tap"
    outcome = CliRunner().invoke(main, ["merge", str(source), "--format", "tap", "-o", str(written)])
    assert outcome.exit_code == 0, outcome.output
    assert detect_format(written) == "tap"
    assert read_report(written).summary().failed == 2
    assert "tap" in FORMATS
    # A folder holding it is ingested like any other format's report.
    outcome = CliRunner().invoke(main, ["gate", str(written), "--min-pass-rate", "50"])
    assert outcome.exit_code == 0, outcome.output


def test_unregistered_format_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "out.tap"
    path.write_text("TAP version 13\nok 1 - a\n")
    with pytest.raises(UnknownFormatError, match="not a known report format"):
        detect_format(path)


def test_detection_still_tells_every_builtin_apart(tmp_path: Path) -> None:
    for name, expected in [("reportlog.jsonl", "pytest-reportlog"), ("ctrf_current.json", "ctrf")]:
        copy = tmp_path / name
        shutil.copy(DATA / name, copy)
        assert detect_format(copy) == expected


def test_every_writer_takes_a_run_and_a_path() -> None:
    for name in writable_names():
        assert list(inspect.signature(get_writer(name)).parameters)[:2] == ["run", "path"]
