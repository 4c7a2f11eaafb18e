"""The JSON readers stream: identical results at every chunk boundary, errors with line and
column, and memory bounded by the largest test rather than the file (tracemalloc)."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maestro_test_result_aggregator.errors import ReportParseError
from maestro_test_result_aggregator.formats import (
    _jsonstream,
    read_ctrf,
    read_playwright_json,
    read_pytest_json_report,
    run_from_ctrf,
    run_from_playwright,
)
from maestro_test_result_aggregator.formats._jsonstream import JsonStream
from maestro_test_result_aggregator.model import TestRun

DATA = Path(__file__).parent / "data"
READERS: dict[str, Callable[[Path], TestRun]] = {
    "ctrf_current.json": read_ctrf,
    "ctrf_legacy.json": read_ctrf,
    "json_report.json": read_pytest_json_report,
    "playwright.json": read_playwright_json,
}


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    def set_chunk(size: int) -> None:
        monkeypatch.setattr(_jsonstream, "CHUNK", size)

    return set_chunk


@pytest.mark.parametrize("name", sorted(READERS))
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_every_chunk_boundary_gives_the_same_run(name: str, chunk: int, small_chunks: Callable[[int], None]) -> None:
    reader = READERS[name]
    whole = reader(DATA / name)
    small_chunks(chunk)
    assert reader(DATA / name) == whole


def test_streamed_ctrf_equals_the_whole_document_reading() -> None:
    for name in ("ctrf_current.json", "ctrf_legacy.json"):
        document = json.loads((DATA / name).read_text())
        assert read_ctrf(DATA / name) == run_from_ctrf(document, source=str(DATA / name))


def test_streamed_playwright_equals_the_whole_document_reading() -> None:
    document = json.loads((DATA / "playwright.json").read_text())
    assert read_playwright_json(DATA / "playwright.json") == run_from_playwright(document)


def _reorder(suite: dict[str, Any], first: tuple[str, ...]) -> dict[str, Any]:
    """The suite with ``first`` keys written first (specs before the title, for instance)."""
    ordered = {key: suite[key] for key in first if key in suite}
    ordered.update({key: value for key, value in suite.items() if key not in ordered})
    if "suites" in ordered:
        ordered["suites"] = [_reorder(child, first) for child in ordered["suites"]]
    return ordered


@pytest.mark.parametrize(
    "first", [("specs", "suites"), ("suites", "specs"), ("suites", "title", "specs"), ("title", "suites", "specs")]
)
def test_playwright_suites_in_any_key_order_give_the_same_results(tmp_path: Path, first: tuple[str, ...]) -> None:
    document = json.loads((DATA / "playwright.json").read_text())
    # one more spec at the outer level, so a file suite has both specs and child suites
    outer = document["suites"][0]
    outer["specs"] = [dict(outer["suites"][0]["specs"][0], title="outer spec")]
    expected = run_from_playwright(document)
    document["suites"] = [_reorder(suite, first) for suite in document["suites"]]
    path = tmp_path / "pw.json"
    path.write_text(json.dumps(document))
    got = read_playwright_json(path)
    assert [t.name for t in got.tests] == [t.name for t in expected.tests]
    assert got == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"results": {"tests": [1, 2,, 3]}}',
        '{"results":\n {"tests": [\n {"name": "a" "status": "passed"}]}}',
        '{"results": {"tests": [{"name": "caf\u00e9\\x"}]}}',
        '{"results": {"tests": []}}\n  x',
        '{"a": 1 "b": 2}',
        '{"a" 1}',
        '{"results": {"tests": [{"name": "unterminated',
        "[1, 2",
    ],
)
@pytest.mark.parametrize("chunk", [1, 5, 1 << 20])
def test_errors_name_the_line_and_column_json_would(text: str, chunk: int) -> None:
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        expected = (error.lineno, error.colno)
    else:  # pragma: no cover - every case above is malformed
        raise AssertionError(text)
    reader = JsonStream(io.BytesIO(text.encode()), "doc.json", chunk=chunk)
    with pytest.raises(ReportParseError) as caught:
        _walk_all(reader)
    assert (caught.value.line, caught.value.column) == expected
    assert caught.value.source == "doc.json"


def _walk_all(reader: JsonStream) -> None:
    reader.skip()
    reader.end()


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 9])
def test_values_split_anywhere_decode_whole(chunk: int) -> None:
    document = {
        "n": [123456789, -0.5e-7, True, False, None, 1e300],
        "s": 'caf\u00e9 \u6f22\u5b57 \U0001f600 \\ " \n',
        "deep": {"a": [{"b": [[], {}]}]},
    }
    for encoding in ("utf-8", "utf-16", "utf-32"):
        raw = json.dumps(document, ensure_ascii=False).encode(encoding)
        reader = JsonStream(io.BytesIO(raw), "doc.json", chunk=chunk)
        assert reader.value() == document
        reader.end()


def test_a_huge_value_is_read_in_doubling_steps() -> None:
    text = "x" * (3 << 20)
    raw = json.dumps({"big": text, "after": 1}).encode()
    reads: list[int] = []

    class Counting(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(size or -1)
            return super().read(size)

    reader = JsonStream(Counting(raw), "doc.json", chunk=4096)
    assert {key: reader.value() for key in reader.object()} == {"big": text, "after": 1}
    assert len(reads) < 20  # 3 MiB in 4 KiB chunks would be ~770 reads without doubling


def _peak(read: Callable[[Path], TestRun], path: Path) -> tuple[int, TestRun]:
    tracemalloc.start()
    try:
        run = read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, run


BIG = "lorem ipsum dolor sit amet " * 2000  # ~54 kB per test


def test_ctrf_memory_is_bounded_by_the_largest_test(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with path.open("w") as out:
        out.write('{"reportFormat": "CTRF", "specVersion": "0.0.0", "results": {"tool": {"name": "x"}, "tests": [')
        for index in range(500):
            out.write(
                ("," if index else "")
                + json.dumps({"name": f"t{index}", "status": "passed", "duration": 1, "snippet": BIG})
            )
        out.write('], "summary": {"tests": 500}}}')
    size = path.stat().st_size
    peak, run = _peak(read_ctrf, path)
    assert len(run.tests) == 500
    assert size > 25_000_000
    assert peak < min(size / 3, 8 << 20), (peak, size)  # a few 1 MiB chunks, not the file


def test_pytest_json_report_memory_is_bounded_by_the_largest_test(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    with path.open("w") as out:
        out.write('{"created": 1.0, "duration": 2.0, "exitcode": 0, "collectors": [')
        out.write(
            ",".join(json.dumps({"nodeid": f"t.py::c{i}", "outcome": "passed", "result": []}) for i in range(20_000))
        )
        out.write('], "tests": [')
        for index in range(500):
            test = {
                "nodeid": f"t.py::test_{index}",
                "outcome": "passed",
                "lineno": 1,
                "call": {"duration": 0.1, "outcome": "passed", "stdout": BIG},
            }
            out.write(("," if index else "") + json.dumps(test))
        out.write('], "environment": {"pytest": "8.3"}}')
    size = path.stat().st_size
    peak, run = _peak(lambda p: read_pytest_json_report(p, text_limit=1000), path)
    assert len(run.tests) == 500
    assert run.tool.version == "8.3"
    assert run.stop == 3.0
    assert len(run.tests[0].stdout or "") < 1100
    assert peak < min(size / 3, 8 << 20), (peak, size)  # a few 1 MiB chunks, not the file


def test_playwright_memory_is_bounded_by_the_largest_spec(tmp_path: Path) -> None:
    path = tmp_path / "pw.json"
    with path.open("w") as out:
        out.write('{"config": {"version": "1.45.0"}, "suites": [{"title": "a.spec.ts", "file": "a.spec.ts", "specs": [')
        for index in range(500):
            spec = {
                "title": f"spec {index}",
                "file": "a.spec.ts",
                "line": index,
                "tests": [
                    {
                        "projectName": "chromium",
                        "results": [{"status": "passed", "duration": 5, "stdout": [{"text": BIG}]}],
                    }
                ],
            }
            out.write(("," if index else "") + json.dumps(spec))
        out.write(']}], "stats": {"startTime": "2024-06-01T12:00:00.000Z", "duration": 1000}}')
    size = path.stat().st_size
    peak, run = _peak(lambda p: read_playwright_json(p, text_limit=1000), path)
    assert len(run.tests) == 500
    assert run.tool.version == "1.45.0"
    assert run.tests[-1].suite == ("a.spec.ts",)
    assert peak < min(size / 3, 8 << 20), (peak, size)  # a few 1 MiB chunks, not the file


def test_a_bad_test_names_its_index_and_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        '{"results": {"tool": {"name": "x"},\n"tests": [{"name": "a", "status": "passed", "duration": 1},\n'
        '{"name": "b", "status": "exploded", "duration": 1}]}}'
    )
    with pytest.raises(ReportParseError, match=r"results\.tests\[1\]") as caught:
        read_ctrf(path)
    assert caught.value.line == 3


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=20,
)


@given(document=JSON_VALUES, chunk=st.integers(min_value=1, max_value=17), ascii_only=st.booleans())
def test_any_document_decodes_and_skips_at_any_chunk_size(document: Any, chunk: int, ascii_only: bool) -> None:
    text = json.dumps(document, ensure_ascii=ascii_only, indent=1 if chunk % 2 else None)
    reader = JsonStream(io.BytesIO(text.encode()), "doc.json", chunk=chunk)
    assert reader.value() == document
    reader.end()
    skipping = JsonStream(io.BytesIO(text.encode()), "doc.json", chunk=chunk)
    skipping.skip()
    skipping.end()
