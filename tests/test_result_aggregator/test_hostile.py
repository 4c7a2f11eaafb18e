"""Malformed and hostile inputs: truncated files, wrong encodings, XXE, billion laughs, huge bodies."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from maestro_test_result_aggregator.errors import ReportParseError, UnsafeInputError
from maestro_test_result_aggregator.formats import read_junit, read_report

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


def test_refusal_is_immediate_even_after_many_tests(tmp_path: Path) -> None:
    # A DOCTYPE can only precede the root, so a refusal costs nothing however big the file is.
    path = tmp_path / "evil.xml"
    body = "".join(f'<testcase name="t{i}"/>' for i in range(50_000))
    path.write_text(XXE.replace('<testcase name="&xxe;"/>', body))
    started = time.process_time()
    with pytest.raises(UnsafeInputError):
        read_report(path)
    assert time.process_time() - started < 0.5


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
