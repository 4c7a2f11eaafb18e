"""Untrusted input: truncated files, wrong encodings, XXE, billion laughs, huge bodies, and every
reader (and the CLI) failing closed on hostile bytes: only ``ReportParseError`` naming the file
escapes, never a bare traceback, and what a reader accepts is usable by everything downstream."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from maestro_test_result_aggregator.cli import main
from maestro_test_result_aggregator.errors import AggregatorError, ReportParseError, UnsafeInputError
from maestro_test_result_aggregator.formats import (
    _junit_fast,
    detect_format,
    ingest,
    iter_jsonl,
    iter_junit,
    junit,
    read_ctrf,
    read_jsonl,
    read_junit,
    read_playwright_json,
    read_pytest_json_report,
    read_pytest_reportlog,
    read_report,
    write_ctrf,
    write_jsonl,
    write_junit,
)
from maestro_test_result_aggregator.history import HistoryStore
from maestro_test_result_aggregator.html import write_html
from maestro_test_result_aggregator.merge import merge_runs
from maestro_test_result_aggregator.model import DEFAULT_OUTPUT_LIMIT, Attempt, Status, TestResult, TestRun, Tool
from maestro_test_result_aggregator.reports import render_markdown, report_data

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<testsuites><testsuite name="x"><testcase name="&lol9;"/></testsuite></testsuites>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<testsuite name="x"><testcase name="&xxe;"/></testsuite>
"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE testsuite SYSTEM "http://127.0.0.1:9/evil.dtd">
<testsuite name="x"><testcase name="a"/></testsuite>
"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>
<testsuite name="x"/>
"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, XXE, EXTERNAL_DTD, PARAMETER_ENTITY])
def test_doctype_and_entities_are_refused(tmp_path: Path, document: str) -> None:
    path = tmp_path / "evil.xml"
    path.write_text(document)
    with pytest.raises(UnsafeInputError, match="DOCTYPE") as caught:
        read_report(path)
    assert caught.value.source == str(path)
    assert caught.value.line == 2


def test_refusal_comes_before_the_body_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A DOCTYPE can only precede the root, so a refusal costs nothing however big the file is:
    # counted in bytes the reader took from the file, not in seconds.
    path = tmp_path / "evil.xml"
    body = "".join(f'<testcase name="t{i}"/>' for i in range(100_000))
    path.write_text(XXE.replace('<testcase name="&xxe;"/>', body))
    chunk = 64 * 1024
    monkeypatch.setattr(junit, "_CHUNK", chunk)
    monkeypatch.setattr(_junit_fast, "_CHUNK", chunk)
    taken: list[int] = []

    class Counting:
        def __init__(self, file: str, mode: str = "r") -> None:
            self.stream = open(file, mode)  # noqa: SIM115 - the reader's own call, wrapped

        def read(self, size: int = -1) -> bytes:
            data: bytes = self.stream.read(size)
            taken.append(len(data))
            return data

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *_: object) -> None:
            self.stream.close()

    monkeypatch.setattr(junit, "open", Counting, raising=False)
    with pytest.raises(UnsafeInputError):
        read_junit(path)
    assert path.stat().st_size > 30 * chunk
    assert 0 < sum(taken) <= 2 * chunk  # the fast reader's first chunk, then expat's


def test_undeclared_entity_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "e.xml"
    path.write_text('<testsuite name="x">\n  <testcase name="&secret;"/>\n</testsuite>')
    with pytest.raises(ReportParseError, match="undefined entity") as caught:
        read_report(path)
    assert (caught.value.line, caught.value.column) == (2, 3)  # expat points at the element


def test_truncated_xml_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    path.write_text('<testsuites>\n  <testsuite name="x">\n    <testcase name="a"/>\n    <testc')
    with pytest.raises(ReportParseError) as caught:
        read_report(path)
    error = caught.value
    assert error.source == str(path)
    assert error.line == 4
    assert error.column is not None
    assert str(error).startswith(f"{path}:4:")


def test_truncated_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text('{"reportFormat": "CTRF",\n "results": {"tool": {"name": "x"}, "tests": [')
    with pytest.raises(ReportParseError) as caught:
        read_report(path)
    assert caught.value.line == 2


def test_torn_reportlog_line_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"$report_type": "SessionStart", "pytest_version": "8"}\n{"$report_type": "TestRep')
    with pytest.raises(ReportParseError) as caught:
        read_report(path)
    assert caught.value.line == 2


def test_wrong_encoding_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.xml"
    path.write_bytes('<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="caf\u00e9"/>'.encode("latin-1"))
    with pytest.raises(ReportParseError, match="malformed XML") as caught:
        read_report(path)
    assert caught.value.line == 2


def test_declared_latin1_and_utf16_are_read(tmp_path: Path) -> None:
    latin = tmp_path / "latin.xml"
    declared = '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
    latin.write_bytes(
        (declared + '<testsuite name="caf\u00e9"><testcase name="\u00e9"/></testsuite>').encode("latin-1")
    )
    assert read_report(latin).tests[0].suite == ("caf\u00e9",)
    utf16 = tmp_path / "utf16.xml"
    utf16.write_bytes(
        '<?xml version="1.0" encoding="UTF-16"?><testsuite name="s"><testcase name="x"/></testsuite>'.encode("utf-16")
    )
    assert read_report(utf16).tests[0].name == "x"


def test_not_junit_root_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "html.xml"
    path.write_text("<html><body/></html>")
    with pytest.raises(ReportParseError, match="root element is <html>"):
        read_report(path)


def test_binary_garbage_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.xml"
    path.write_bytes(b"<\x00\xff\xfe garbage \x00\x01")
    with pytest.raises(ReportParseError):
        read_report(path)


def test_a_100_mb_message_is_read_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.xml"
    chunk = ("lorem ipsum dolor sit amet " * 40 + "\n").encode()
    with path.open("wb") as stream:
        stream.write(b'<testsuite name="big"><testcase name="huge"><failure message="m">HEAD')
        for _ in range(100 * 1024 * 1024 // len(chunk) + 1):
            stream.write(chunk)
        stream.write(b'TAIL</failure></testcase><testcase name="after"/></testsuite>')
    assert path.stat().st_size > 100 * 1024 * 1024
    tracemalloc.start()
    try:
        run = read_junit(path, text_limit=4096)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024  # bounded by the limit and the chunk size, not the 100 MB body
    huge, after = run.tests
    assert huge.trace is not None
    assert huge.trace.startswith("HEAD")
    assert huge.trace.endswith("TAIL")
    assert "characters truncated by maestro" in huge.trace
    assert after.name == "after"


def test_a_huge_message_attribute_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "attr.xml"
    path.write_text(
        '<testsuite name="s"><testcase name="t"><failure message="' + "m" * 5_000_000 + 'END"/></testcase></testsuite>'
    )
    (result,) = read_junit(path, text_limit=1000).tests
    assert result.message is not None
    assert len(result.message) < 1100
    assert result.message.endswith("END")


# ----------------------------------------------------------------------------- failing closed


def test_an_unknown_encoding_in_the_xml_declaration_is_a_parse_error(tmp_path: Path) -> None:
    # Regression: hypothesis found encoding="TF-8"; pyexpat's LookupError escaped bare.
    path = tmp_path / "doc.xml"
    path.write_bytes(b'<?xml version="1.0" encoding="TF-8"?>\n<testsuite name="x"><testcase name="a"/></testsuite>')
    for engine in ("fast", "expat"):
        with pytest.raises(ReportParseError, match="unsupported encoding 'TF-8' in the XML declaration") as caught:
            read_junit(path, engine=engine)
        assert (caught.value.source, caught.value.line) == (str(path), 1)
        with pytest.raises(ReportParseError, match="unsupported encoding 'TF-8'"):
            list(iter_junit(path, engine=engine))
    with pytest.raises(ReportParseError, match="unsupported encoding 'TF-8'"):
        read_report(path)


@pytest.mark.parametrize(
    ("encoding", "why"),
    [
        ("utf-32", "multi-byte encodings are not supported"),
        ("shift_jis", "multi-byte encodings are not supported"),
        ("base64", "not a text encoding"),
        ("idna", "decoding with 'idna' codec failed"),
        ("punycode", "can't decode"),
        ("undefined", "undefined encoding"),
    ],
)
def test_an_encoding_expat_cannot_use_is_a_parse_error(tmp_path: Path, encoding: str, why: str) -> None:
    path = tmp_path / "doc.xml"
    path.write_bytes(f'<?xml version="1.0" encoding="{encoding}"?>\n<testsuite name="x"/>'.encode())
    for engine in ("fast", "expat"):
        with pytest.raises(ReportParseError, match=f"unsupported encoding '{encoding}'.*{re.escape(why)}"):
            read_junit(path, engine=engine)


def test_nested_suites_are_bounded(tmp_path: Path) -> None:
    # Each level holds its whole suite path: unbounded nesting cost quadratic memory (100,000
    # levels needed tens of gigabytes). 256 levels read; one more is refused where it starts.
    for engine in ("fast", "expat"):
        path = tmp_path / "deep.xml"
        depth = junit.MAX_SUITE_DEPTH
        path.write_text('<testsuite name="s">' * depth + '<testcase name="t"/>' + "</testsuite>" * depth)
        (result,) = read_junit(path, engine=engine).tests
        assert len(result.suite) == depth
        path.write_text("<testsuite>" * 100_000 + "</testsuite>" * 100_000)
        with pytest.raises(ReportParseError, match="nested more than 256 deep") as caught:
            read_junit(path, engine=engine)
        assert (caught.value.line, caught.value.column) == (1, 256 * len("<testsuite>") + 1)


@pytest.mark.parametrize("time", ["nan", "inf", "-Infinity", "1e999", "1e13"])
@pytest.mark.parametrize("accelerator", [True, False])
def test_a_junit_time_that_is_not_a_finite_duration_reads_as_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, time: str, accelerator: bool
) -> None:
    # Regression: "nan" and "inf" became the duration, and the CTRF writer then failed on them.
    if accelerator and _junit_fast._speedups is None:
        pytest.skip("the C accelerator is not built here")
    if not accelerator:
        monkeypatch.setattr(_junit_fast, "_speedups", None)
    path = tmp_path / "t.xml"
    path.write_text(
        f'<testsuite name="s"><testcase name="a" time="{time}"/><testcase name="b" time="{time}"/></testsuite>'
    )
    for engine in ("fast", "expat"):
        assert [t.duration for t in read_junit(path, engine=engine).tests] == [0.0, 0.0]
    write_ctrf(read_junit(path), tmp_path / "out.json")


def test_junit_timestamps_no_date_can_hold_are_dropped(tmp_path: Path) -> None:
    # Regression: "0001-01-01T00:00:00+14:00" is before year 1 in UTC; the JUnit writer failed on it.
    path = tmp_path / "t.xml"
    path.write_text(
        '<testsuites timestamp="0001-01-01T00:00:00+14:00"><testsuite name="s">'
        '<testcase name="a" timestamp="0001-01-01T00:00:00+14:00"/></testsuite></testsuites>'
    )
    run = read_junit(path)
    assert (run.start, run.tests[0].start) == (None, None)
    write_junit(run, tmp_path / "out.xml")


def test_rich_markup_in_reports_is_text(tmp_path: Path) -> None:
    # Regression: a failure message with "[/etc/hosts]" raised rich's MarkupError in the terminal
    # report (a closing tag matching nothing), with a traceback.
    run = TestRun(Tool("x"), [TestResult("test_[/tmp/x]", Status.FAILED, message="missing [/etc/hosts]")])
    path = tmp_path / "run.jsonl"
    write_jsonl(run, path)
    result = CliRunner().invoke(main, ["report", str(path)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "missing [/etc/hosts]" in result.output
    assert "test_[/tmp/x]" in result.output


def _ctrf(tests: object = None, **document: object) -> bytes:
    body: dict[str, object] = {
        "reportFormat": "CTRF",
        "results": {"tool": {"name": "x"}, "summary": {}, "tests": [{"name": "a", "status": "passed"}]},
    }
    if tests is not None:
        body["results"]["tests"] = tests  # type: ignore[index]
    body.update(document)
    return json.dumps(body).encode()


def _ctrf_results(**results: object) -> bytes:
    return json.dumps({"reportFormat": "CTRF", "results": {"tool": {"name": "x"}, "tests": [], **results}}).encode()


def _test(**fields: object) -> dict[str, object]:
    return {"name": "a", "status": "passed", **fields}


def _jsonl(*records: object, header: object = None) -> bytes:
    head = header if header is not None else {"type": "run", "schema": "maestro-results/1", "tool": {"name": "x"}}
    return "".join(json.dumps(r) + "\n" for r in (head, *records)).encode()


def _result(**fields: object) -> dict[str, object]:
    return {"type": "result", "name": "a", "status": "passed", **fields}


def _header(**fields: object) -> dict[str, object]:
    return {"type": "run", "schema": "maestro-results/1", "tool": {"name": "x"}, **fields}


def _reportlog(**fields: object) -> bytes:
    return (json.dumps({"$report_type": "TestReport", "nodeid": "t.py::a", "when": "call", **fields}) + "\n").encode()


def _json_report(tests: object, **document: object) -> bytes:
    return json.dumps({"created": 1, "exitcode": 0, "tests": tests, **document}).encode()


def _playwright(suites: object, **document: object) -> bytes:
    return json.dumps({"config": {}, "suites": suites, "stats": {}, **document}).encode()


def _spec(**result: object) -> list[dict[str, object]]:
    test = {"projectName": "chromium", "results": [{"status": "passed", **result}]}
    return [{"title": "a.spec.ts", "file": "a.spec.ts", "specs": [{"title": "t", "tests": [test]}]}]


def _deep_playwright_suite(depth: int) -> dict[str, object]:
    suite: dict[str, object] = _spec()[0]
    for level in range(depth):
        suite = {"title": f"s{level}", "file": "a.spec.ts", "specs": [], "suites": [suite]}
    return suite


_JUNIT = b'<testsuite name="x"><testcase name="a"/></testsuite>'
_DEEP = 100_000

HOSTILE_BYTES: dict[str, bytes] = {
    # encodings, byte order marks, invalid UTF-8, NUL bytes
    **{
        f"xml declares {name}": f'<?xml version="1.0" encoding="{name}"?>\n'.encode() + _JUNIT
        for name in ("TF-8", "utf-32", "shift_jis", "base64", "idna", "undefined", "punycode")
    },
    "xml with a UTF-8 BOM": b"\xef\xbb\xbf" + _JUNIT,
    "xml UTF-16 with a UTF-8 declaration": "\ufeff<?xml version='1.0' encoding='UTF-8'?>".encode("utf-16-le") + _JUNIT,
    "xml in UTF-32": _JUNIT.decode().encode("utf-32"),
    "xml with invalid UTF-8": b'<testsuite name="\xff\xfe"><testcase name="\xed\xa0\x80"/></testsuite>',
    "xml with a NUL byte": b'<testsuite name="x">\x00</testsuite>',
    "json with a UTF-8 BOM": b"\xef\xbb\xbf" + _ctrf(),
    "json in UTF-16": _ctrf().decode().encode("utf-16"),
    "json in UTF-32": _ctrf().decode().encode("utf-32"),
    "json with invalid UTF-8": _ctrf().replace(b'"a"', b'"\xff"'),
    "json with a NUL byte in a string": _ctrf().replace(b'"a"', b'"\x00"'),
    "jsonl with invalid UTF-8": _jsonl(_result()).replace(b'"a"', b'"\xc3\x28"'),
    "jsonl with a UTF-8 BOM": b"\xef\xbb\xbf" + _jsonl(_result()),
    "a lone surrogate in json": _ctrf([_test(name="\ud800", extra={"\udc00": ["\ud800"]})]),
    "a lone surrogate in jsonl": _jsonl(_result(name="\ud800", suite=["\udfff"], extra={"\ud800": 1})),
    "empty": b"",
    "whitespace": b"  \n\t ",
    "NUL bytes": b"\x00" * 16,
    "a BOM only": b"\xef\xbb\xbf",
    "a UTF-16 BOM only": b"\xff\xfe",
    "an odd UTF-16 length": b"\xff\xfe<\x00t",
    "< then NUL": b"<\x00",
    "{ then NUL": b"{\x00",
    # deep nesting
    "xml suites 100,000 deep": b"<testsuite>" * _DEEP + b"</testsuite>" * _DEEP,
    "xml markup 100,000 deep in a testcase": b'<testsuite><testcase name="a"><failure>'
    + b"<b>" * _DEEP
    + b"</b>" * _DEEP
    + b"</failure></testcase></testsuite>",
    "json 100,000 deep": b'{"reportFormat": "CTRF", "results": ' + b"[" * _DEEP + b"]" * _DEEP + b"}",
    "a ctrf test 100,000 deep": b'{"reportFormat": "CTRF", "results": {"tests": ['
    + b"[" * _DEEP
    + b"]" * _DEEP
    + b"]}}",
    "a jsonl header 100,000 deep": b'{"type": "run", "schema": "maestro-results/1", "tool": '
    + b"[" * _DEEP
    + b"]" * _DEEP
    + b"}\n",
    "a reportlog line 100,000 deep": b'{"$report_type": "TestReport", "x": ' + b"[" * _DEEP + b"]" * _DEEP + b"}\n",
    "playwright suites 3,000 deep": b'{"config": {}, "stats": {}, "suites": ['
    + b'{"title": "a", "suites": [' * 3000
    + b"]}" * 3000
    + b"]}",
    # numbers
    "xml time and line huge": b'<testsuite name="x"><testcase name="a" time="1e999" line="'
    + b"9" * 5000
    + b'"/></testsuite>',
    "xml time nan": b'<testsuite name="x"><testcase name="a" time="nan" timestamp="9999-99-99"/></testsuite>',
    "xml timestamps before year 1": b'<testsuites timestamp="0001-01-01T00:00:00+14:00"><testsuite name="x">'
    b'<testcase name="a" timestamp="0001-01-01T00:00:00+14:00"/></testsuite></testsuites>',
    "a 5,000-digit ctrf duration": _ctrf().replace(b'"passed"}', b'"passed", "duration": ' + b"9" * 5000 + b"}"),
    "a 5,000-digit jsonl duration": _jsonl(_result()).replace(
        b'"passed"}', b'"passed", "duration": ' + b"9" * 5000 + b"}"
    ),
    "ctrf duration 1e999": _ctrf().replace(b'"passed"}', b'"passed", "duration": 1e999}'),
    "ctrf duration NaN": _ctrf().replace(b'"passed"}', b'"passed", "duration": NaN}'),
    "ctrf duration 1e300": _ctrf([_test(duration=1e300)]),
    "ctrf start 1e300": _ctrf([_test(start=1e300)]),
    "ctrf retries 10**9": _ctrf([_test(retries=10**9)]),
    "json-report created 1e308": _json_report([], created=1e308, duration=1e308),
    "playwright duration 1e308": _playwright(_spec(duration=1e308)),
    "playwright run duration 1e308": _playwright([], stats={"startTime": "2024-01-01T00:00:00Z", "duration": 1e308}),
    "jsonl start Infinity": _jsonl(_result(start=float("inf"))),
    "jsonl stop 1e300": _jsonl({"type": "end", "stop": 1e300}),
    "reportlog start 1e300": _reportlog(outcome="passed", start=1e300, stop=1e300),
    # wrong JSON types
    "ctrf document is a list": b'[{"reportFormat": "CTRF"}]',
    "ctrf results is a list": json.dumps({"reportFormat": "CTRF", "results": []}).encode(),
    "ctrf tests is an object": _ctrf({}),
    "ctrf test is a string": _ctrf(["a"]),
    "ctrf name is a list": _ctrf([_test(name=["a"])]),
    "ctrf status is a list": _ctrf([_test(status=["passed"])]),
    "ctrf duration is a string": _ctrf([_test(duration="1")]),
    "ctrf suite is an object": _ctrf([_test(suite={"a": 1})]),
    "ctrf tags hold objects": _ctrf([_test(tags=[{"a": 1}])]),
    "ctrf tags is a number": _ctrf([_test(tags=5)]),
    "ctrf attachments hold numbers": _ctrf([_test(attachments=[1])]),
    "ctrf attachments is an object": _ctrf([_test(attachments={"a": 1})]),
    "ctrf extra is a list": _ctrf([_test(extra=[[1, 2]])]),
    "ctrf extra.maestro is a list": _ctrf([_test(extra={"maestro": [1]})]),
    "ctrf final attempt is a number": _ctrf([_test(extra={"maestro": {"finalAttempt": 3}})]),
    "ctrf parameters is a list": _ctrf([_test(parameters=[1])]),
    "ctrf parameters nest objects": _ctrf([_test(parameters={"a": {"b": [1]}})]),
    "ctrf fields of the wrong kinds": _ctrf([_test(filePath=[5], line="x", rawStatus={}, start="x")]),
    "ctrf retryAttempts hold numbers": _ctrf([_test(retryAttempts=[1])]),
    "ctrf retryAttempts is an object": _ctrf([_test(retryAttempts={"a": 1})]),
    "ctrf retries is a string": _ctrf([_test(retries="3")]),
    "ctrf environment is a list": _ctrf_results(environment=[1]),
    "ctrf environment extra is a list": _ctrf_results(environment={"extra": [1]}),
    "ctrf environment values are containers": _ctrf_results(environment={"commit": [1], "branchName": {}}),
    "ctrf summary is a list": _ctrf_results(summary=[1]),
    "ctrf summary start is a string": _ctrf_results(summary={"start": "x"}),
    "ctrf tool is a list": _ctrf_results(tool=[1]),
    "ctrf tool version is an object": _ctrf_results(tool={"name": "x", "version": {}}),
    "ctrf document extra is a list": _ctrf(extra=[1]),
    "ctrf document extra is a number": _ctrf(extra=5),
    "ctrf runId is an object": _ctrf(runId={}),
    "jsonl name is a list": _jsonl(_result(name=["a"])),
    "jsonl name is null": _jsonl(_result(name=None)),
    "jsonl duration is a string": _jsonl(_result(duration="x")),
    "jsonl suite holds lists": _jsonl(_result(suite=[[1]])),
    "jsonl suite is a string": _jsonl(_result(suite="abc")),
    "jsonl parameters is a list": _jsonl(_result(parameters=[1])),
    "jsonl parameter values are objects": _jsonl(_result(parameters={"a": {}})),
    "jsonl extra is a list": _jsonl(_result(extra=[1])),
    "jsonl attempts hold numbers": _jsonl(_result(attempts=[1])),
    "jsonl attempts is an object": _jsonl(_result(attempts={"a": 1})),
    "jsonl attachments hold numbers": _jsonl(_result(attachments=[1])),
    "jsonl tags is a number": _jsonl(_result(tags=3)),
    "jsonl fields of the wrong kinds": _jsonl(_result(line="x", file=[3], message={}, start="x")),
    "jsonl stop is a string": _jsonl({"type": "end", "stop": "x"}),
    "jsonl record type is a list": _jsonl({"type": ["result"]}),
    "jsonl record is a list": _jsonl([1]),
    "jsonl tool is a string": _jsonl(header=_header(tool="x")),
    "jsonl tool name is a list": _jsonl(header=_header(tool={"name": [1]})),
    "jsonl environment is a list": _jsonl(header=_header(environment=[1])),
    "jsonl environment extra is a list": _jsonl(header=_header(environment={"extra": [1], "commit": {}})),
    "jsonl header start is a string": _jsonl(header=_header(start="x", extra=[1])),
    "jsonl torn header": b'{"type": "run", "schema": "maestro-res',
    "reportlog nodeid is a list": _reportlog(nodeid=["a"], outcome="passed"),
    "reportlog when is a list": _reportlog(when=["call"], outcome="passed"),
    "reportlog duration is a string": _reportlog(outcome="passed", duration="x"),
    "reportlog start is a string": _reportlog(outcome="passed", start="x", stop=[1]),
    "reportlog sections hold numbers": _reportlog(outcome="passed", sections=[1, [2]]),
    "reportlog section titles are numbers": _reportlog(outcome="passed", sections=[[1, 2]]),
    "reportlog longrepr of the wrong kinds": _reportlog(
        outcome="failed", longrepr={"reprcrash": [1], "reprtraceback": {"reprentries": [1]}}
    ),
    "reportlog longrepr sections hold numbers": _reportlog(outcome="failed", longrepr={"sections": [1]}),
    "reportlog location holds numbers": _reportlog(outcome="passed", location=[5, 1, 3]),
    "reportlog keywords hold lists": _reportlog(outcome="passed", keywords={"x": 1, "y": [1]}),
    "reportlog wasxfail is a list": _reportlog(outcome="skipped", wasxfail=[1]),
    "reportlog version is a list": b'{"$report_type": "SessionStart", "pytest_version": [8]}\n',
    "reportlog line is a list": b"[1]\n",
    "json-report tests is an object": _json_report({}),
    "json-report test is a list": _json_report([[1]]),
    "json-report nodeid is a list": _json_report([{"nodeid": ["a"], "outcome": "passed"}]),
    "json-report duration is a string": _json_report([{"nodeid": "a", "outcome": "failed", "call": {"duration": "x"}}]),
    "json-report crash is a list": _json_report(
        [{"nodeid": "a", "outcome": "failed", "call": {"outcome": "failed", "crash": [1]}}]
    ),
    "json-report keywords is a number": _json_report([{"nodeid": "a", "outcome": "passed", "keywords": 5}]),
    "json-report crash message is an object": _json_report(
        [{"nodeid": "a", "outcome": "failed", "call": {"outcome": "failed", "crash": {"message": {}}}}]
    ),
    "json-report environment is a list": _json_report([], environment=[1], created="x", duration=[1]),
    "json-report pytest version is an object": _json_report([], environment={"pytest": {}}),
    "playwright suites is an object": _playwright({}),
    "playwright suite is a list": _playwright([[1]]),
    "playwright suite is a string": _playwright(["a"]),
    "playwright specs is an object": _playwright([{"title": "a", "file": "f", "specs": {"a": 1}}]),
    "playwright spec is a string": _playwright([{"title": "a", "file": "f", "specs": ["x"]}]),
    "playwright tests hold strings": _playwright(
        [{"title": "a", "file": "f", "specs": [{"title": "t", "tests": ["x"]}]}]
    ),
    "playwright results hold strings": _playwright(
        [{"title": "a", "file": "f", "specs": [{"title": "t", "tests": [{"results": ["x"]}]}]}]
    ),
    "playwright errors hold numbers": _playwright(_spec(status="failed", errors=[1])),
    "playwright errors is a string": _playwright(_spec(status="failed", errors="boom")),
    "playwright error message is an object": _playwright(_spec(status="failed", errors=[{"message": {}}])),
    "playwright duration is a string": _playwright(_spec(duration="x")),
    "playwright status is a list": _playwright(_spec(status=["passed"])),
    "playwright attachments hold numbers": _playwright(_spec(attachments=[1])),
    "playwright stdout is a number": _playwright(_spec(stdout=5)),
    "playwright config is a list": _playwright([], config=[1], stats=[1]),
    "playwright config version is an object": _playwright([], config={"version": {}}),
    # suite paths deeper than any reader accepts (writers nested one element per level)
    "jsonl suite 2,000 deep": _jsonl(_result(suite=[f"s{i}" for i in range(2000)])),
    "ctrf suite list 2,000 deep": _ctrf([_test(suite=[f"s{i}" for i in range(2000)])]),
    "playwright suites 300 deep": _playwright([_deep_playwright_suite(300)]),
    "ctrf suite string 2,000 deep": _ctrf([_test(suite=" > ".join(f"s{i}" for i in range(2000)))]),
    "playwright fields of the wrong kinds": _playwright(
        [{"title": [1], "file": {}, "specs": [{"title": {}, "line": "x", "tags": 5, "tests": [{"annotations": 5}]}]}]
    ),
}

READERS: dict[str, Callable[[Path], object]] = {
    "read_junit fast": read_junit,
    "read_junit expat": lambda path: read_junit(path, engine="expat"),
    "iter_junit fast": lambda path: list(iter_junit(path)),
    "iter_junit expat": lambda path: list(iter_junit(path, engine="expat")),
    "read_ctrf": read_ctrf,
    "read_jsonl": read_jsonl,
    "read_jsonl allow_torn_tail": lambda path: read_jsonl(path, allow_torn_tail=True),
    "iter_jsonl": lambda path: list(iter_jsonl(path)),
    "read_pytest_reportlog": read_pytest_reportlog,
    "read_pytest_json_report": read_pytest_json_report,
    "read_playwright_json": read_playwright_json,
    "read_report": read_report,
    "detect_format": detect_format,
    "ingest strict": lambda path: ingest([path], strict=True).runs,
}


def _usable(outcome: object, folder: Path) -> None:
    """Whatever a reader accepted goes through everything downstream without an error."""
    if isinstance(outcome, list):
        runs = [item for item in outcome if isinstance(item, TestRun)]
        results = [item for item in outcome if isinstance(item, TestResult)]
        if results:
            runs.append(TestRun(Tool("streamed"), results))
    else:
        runs = [outcome] if isinstance(outcome, TestRun) else []
    for run in runs:
        merged = merge_runs([run, run])
        for write, name in ((write_ctrf, "o.json"), (write_junit, "o.xml"), (write_jsonl, "o.jsonl")):
            write(merged, folder / name)
            read_report(folder / name)
        write_html(merged, folder / "o.html")
        render_markdown(report_data(merged))
        with HistoryStore.open(":memory:") as store:
            store.load_run(store.add_run(merged))


@pytest.mark.parametrize("name", sorted(HOSTILE_BYTES))
@pytest.mark.parametrize("accelerator", [True, False], ids=["C accelerator", "pure Python"])
def test_every_reader_fails_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, accelerator: bool
) -> None:
    """Only ``AggregatorError`` naming the file leaves a reader; what a reader accepts is usable."""
    if accelerator and _junit_fast._speedups is None:
        pytest.skip("the C accelerator is not built here")
    if not accelerator:
        monkeypatch.setattr(_junit_fast, "_speedups", None)
    path = tmp_path / "report.dat"
    path.write_bytes(HOSTILE_BYTES[name])
    for reader_name, reader in READERS.items():
        try:
            outcome = reader(path)
        except AggregatorError as error:
            if str(path) not in str(error):
                pytest.fail(f"{reader_name}: the error does not name the file: {error}")
            continue
        except Exception as error:
            pytest.fail(f"{reader_name} let {type(error).__name__} escape: {error}")
        try:
            _usable(outcome, tmp_path)
        except Exception as error:
            pytest.fail(f"what {reader_name} accepted broke downstream: {type(error).__name__}: {error}")


@pytest.mark.parametrize("name", sorted(HOSTILE_BYTES))
def test_the_cli_fails_closed_in_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / "report.dat"
    path.write_bytes(HOSTILE_BYTES[name])
    for options in ([], ["--strict"]):
        result = CliRunner().invoke(main, ["merge", str(path), "-o", str(tmp_path / "out.json"), *options])
        assert isinstance(result.exception, SystemExit | None), result.exception  # never a traceback
        assert "Traceback" not in result.output
        if result.exit_code != 0:
            assert result.exit_code == 2
            errors = [line for line in result.output.splitlines() if line.startswith("error:")]
            assert len(errors) == 1, result.output
            if options:
                assert errors[0].startswith(f"error: {path}"), errors  # strict: the file's own error


# ----------------------------------------------------------------------------- bounded memory

_READ_SCRIPT = """
import sys
from maestro_test_result_aggregator.formats import _junit_fast, read_junit
if sys.argv[3] == "pure":
    _junit_fast._speedups = None
run = read_junit(sys.argv[1], engine=sys.argv[2])
assert [t.name for t in run.tests] == ["t", "after"], [t.name for t in run.tests]
"""

# Linux keeps a process's peak RSS across exec, so a reader started straight from this (large)
# pytest process would report at least this process's peak. A small launcher runs the reader
# and reports its child's peak (RUSAGE_CHILDREN): the reader's own, from a fresh address space.
_LAUNCHER = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_rss_kib(script: str, *args: str) -> int:
    """The peak RSS (KiB) of a fresh interpreter running ``script`` with ``args``."""
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, script, *args], check=True, capture_output=True, text=True)
    return int(done.stdout)


_TOKEN_BODIES: dict[str, str] = {
    # 1 MB each: before the fix, the fast reader's regex kept a backtracking frame per repeat
    # (a 2 MB comment cost 1.1 GB; these 280 MB to 700 MB).
    "comment": "<!--" + "x" * 1_000_000 + "-->",
    "comment with single dashes": "<!--" + "-x" * 500_000 + "-->",
    "text of references": "<system-out>" + "&lt;" * 250_000 + "</system-out>",
    "text of brackets": "<system-out>" + "]x" * 500_000 + "</system-out>",
    "text of CRLF": "<system-out>" + "\r\n" * 500_000 + "</system-out>",
}


@pytest.mark.parametrize("token", sorted(_TOKEN_BODIES))
@pytest.mark.parametrize(
    ("engine", "accelerator"), [("fast", "c"), ("fast", "pure"), ("expat", "pure")], ids=["C", "pure", "expat"]
)
def test_a_big_token_is_read_in_bounded_memory(tmp_path: Path, token: str, engine: str, accelerator: str) -> None:
    if accelerator == "c" and _junit_fast._speedups is None:
        pytest.skip("the C accelerator is not built here")
    path = tmp_path / "token.xml"
    path.write_text(
        f'<testsuite name="s"><testcase name="t">{_TOKEN_BODIES[token]}</testcase><testcase name="after"/></testsuite>',
        newline="",
    )
    rss_kib = _peak_rss_kib(_READ_SCRIPT, str(path), engine, accelerator)
    # The interpreter and the package take about 25 MB, the 1 MB token a few times its size.
    assert rss_kib < 64 * 1024, f"{token} ({engine}, {accelerator}): {rss_kib // 1024} MB"


@pytest.mark.parametrize("write", [write_junit, write_ctrf, write_jsonl], ids=["junit", "ctrf", "jsonl"])
def test_writers_do_not_recurse_on_a_deep_suite_path(tmp_path: Path, write: Callable[..., object]) -> None:
    # Regression: 2,000 nested suites crashed `merge --format junit` with a RecursionError.
    depth = 2000
    suite = tuple(f"s{i}" for i in range(depth))
    run = TestRun(Tool("x"), [TestResult("t", Status.FAILED, 1.0, suite=suite), TestResult("u", Status.PASSED)])
    path = tmp_path / "deep.out"
    write(run, path)
    text = path.read_text()
    if write is write_junit:
        assert text.count("<testsuite ") == depth + 1
        assert text.count("</testsuite>") == depth + 1
        assert '<testsuite name="s0" tests="1" failures="1"' in text
    # What was written past the readers' limit is refused by name, not crashed on.
    with pytest.raises(ReportParseError, match="nested more than 256 deep") as caught:
        read_report(path)
    assert str(path) in str(caught.value)


def test_merge_refuses_a_deep_suite_path_by_name(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_bytes(_jsonl(_result(suite=[f"s{i}" for i in range(2000)])))
    result = CliRunner().invoke(main, ["merge", str(path), "--format", "junit", "-o", str(tmp_path / "o.xml")])
    assert isinstance(result.exception, SystemExit | None), result.exception
    assert result.exit_code == 2, result.output
    assert f"error: {path}" in result.output
    assert "nested more than 256 deep" in result.output


@pytest.mark.parametrize("write", [write_ctrf, write_jsonl, write_junit], ids=["ctrf", "jsonl", "junit"])
def test_every_reader_cuts_messages_to_the_same_size(tmp_path: Path, write: Callable[..., object]) -> None:
    # One bounded-size policy: CTRF and JSONL used to keep a 100 MB message whole while JUnit
    # cut it at 64 KiB. Written whole (text_limit for JUnit), read back cut to the default.
    body = "HEAD" + "x" * 2_000_000 + "TAIL"
    attempts = (
        () if write is write_junit else (Attempt(Status.PASSED), Attempt(Status.FAILED, message=body, trace=body))
    )
    result = TestResult("t", Status.FAILED, message=body, trace=body, stdout=body, attempts=attempts)
    path = tmp_path / "big.out"
    if write is write_junit:
        write(TestRun(Tool("x"), [result]), path, message_limit=10**8, text_limit=10**8)
    else:
        write(TestRun(Tool("x"), [result]), path)
    assert path.stat().st_size > 2_000_000  # the writer kept it whole
    (read,) = read_report(path).tests
    texts = [read.message, read.trace, read.stdout] + [a.message for a in read.attempts if a.message]
    assert texts
    for text in texts:
        assert text is not None
        assert len(text) <= DEFAULT_OUTPUT_LIMIT + 100
        assert text.startswith("HEAD")
        assert text.endswith("TAIL")
        assert "characters truncated by maestro" in text
