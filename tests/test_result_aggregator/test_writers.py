"""Writers: CTRF against the shipped official schema, JUnit profiles, JSONL; lossless round trips."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from defusedxml import ElementTree as ET
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maestro_test_result_aggregator.errors import SchemaValidationError
from maestro_test_result_aggregator.formats import (
    ctrf_document,
    read_report,
    validate_ctrf,
    write_ctrf,
    write_jsonl,
    write_junit,
)
from maestro_test_result_aggregator.formats._schema import ctrf_schema
from maestro_test_result_aggregator.model import Attempt, Environment, Status, TestResult, TestRun, Tool
from maestro_test_result_aggregator.testing import make_run
from tests.test_result_aggregator.strategies import results

DATA = Path(__file__).parent / "data"


def sample_run() -> TestRun:
    return TestRun(
        Tool("pytest", "8.3"),
        [
            TestResult(
                "a",
                Status.PASSED,
                0.5,
                suite=("s1", "s2"),
                file="f.py",
                classname="C",
                line=3,
                parameters={"x": "1"},
                tags=("slow",),
            ),
            TestResult(
                "b",
                Status.PASSED,
                0.25,
                suite=("s1",),
                attempts=(
                    Attempt(Status.FAILED, 0.1, raw_status="failure", message="boom", trace="tb", stdout="o1"),
                    Attempt(Status.PASSED, 0.25),
                ),
            ),
            TestResult(
                "c",
                Status.FAILED,
                0.25,
                suite=("s1",),
                raw_status="failure",
                message="m2",
                trace="t2",
                attempts=(
                    Attempt(Status.FAILED, 0.1, raw_status="failure", message="m1", trace="t1"),
                    Attempt(Status.FAILED, 0.25, raw_status="failure", message="m2", trace="t2"),
                ),
            ),
            TestResult("d", Status.SKIPPED, suite=("s1",), raw_status="skipped", message="why", stdout="out\nx"),
            TestResult("e", Status.FAILED, 1.5, suite=("s1",), raw_status="error", message="setup", trace="tb"),
        ],
        environment=Environment(
            commit="abc",
            branch="main",
            build_url="https://ci/1",
            shard="3",
            extra={"buildNumber": "7", "custom": "yes"},
        ),
        start=1_700_000_000.0,
        stop=1_700_000_010.0,
        run_id="run-1",
    )


def by_id(run: TestRun) -> dict[str, TestResult]:
    return {t.test_id: t for t in run.tests}


# ----------------------------------------------------------------------------- CTRF


def test_ctrf_is_valid_against_the_official_schema(tmp_path: Path) -> None:
    path = tmp_path / "ctrf.json"
    write_ctrf(sample_run(), path)
    document = json.loads(path.read_text())
    validate_ctrf(document)
    jsonschema.validate(document, ctrf_schema())  # the reference validator agrees
    summary = document["results"]["summary"]
    assert (summary["tests"], summary["passed"], summary["failed"], summary["flaky"]) == (5, 2, 2, 1)
    flaky = document["results"]["tests"][1]
    assert (flaky["flaky"], flaky["retries"], len(flaky["retryAttempts"])) == (True, 1, 1)
    assert flaky["retryAttempts"][0] == {
        "attempt": 1,
        "status": "failed",
        "duration": 100,
        "message": "boom",
        "trace": "tb",
        "stdout": ["o1"],
        "extra": {"rawStatus": "failure"},
    }
    assert document["results"]["environment"]["buildNumber"] == 7


def test_ctrf_round_trip_is_lossless(tmp_path: Path) -> None:
    run = sample_run()
    path = tmp_path / "ctrf.json"
    write_ctrf(run, path)
    again = read_report(path)
    assert again.tests == run.tests
    assert (again.environment, again.start, again.stop, again.run_id, again.tool) == (
        run.environment,
        run.start,
        run.stop,
        run.run_id,
        run.tool,
    )


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(results(), max_size=5))
def test_ctrf_round_trip_property(tmp_path: Path, tests: list[TestResult]) -> None:
    run = TestRun(Tool("x"), tests)
    path = tmp_path / "p.json"
    write_ctrf(run, path)
    validate_ctrf(json.loads(path.read_text()))
    assert read_report(path).tests == tests


def test_ctrf_pretty_and_streamed_output_are_the_same_document(tmp_path: Path) -> None:
    run = sample_run()
    write_ctrf(run, tmp_path / "a.json")
    write_ctrf(run, tmp_path / "b.json", indent=2)
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    for doc in (a, b):
        doc.pop("reportId")
        doc.pop("timestamp")
    assert a == b


def test_ctrf_insights_are_written(tmp_path: Path) -> None:
    path = tmp_path / "i.json"
    write_ctrf(sample_run(), path, insights={"passRate": {"current": 0.5}, "runsAnalyzed": 3})
    document = json.loads(path.read_text())
    validate_ctrf(document)
    assert document["insights"]["runsAnalyzed"] == 3


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.pop("reportFormat"), "missing required property 'reportFormat'"),
        (lambda d: d["results"]["tests"][0].update(status="broken"), "results.tests[0].status"),
        (lambda d: d["results"]["tests"][0].update(duration=1.5), "expected integer"),
        (lambda d: d["results"]["tests"][0].update(unknownKey=1), "unknown property 'unknownKey'"),
        (lambda d: d["results"]["summary"].pop("stop"), "missing required property 'stop'"),
        (lambda d: d.update(specVersion="1.0"), "does not match"),
        (lambda d: d.update(reportId="not-a-uuid"), "not a valid uuid"),
        (lambda d: d["results"]["tests"][0].update(suite=[]), "fewer than 1"),
        (lambda d: d["results"]["tests"][0].update(labels={"k": []}), "matches none"),
    ],
)
def test_validate_ctrf_names_each_violation(mutate, fragment: str) -> None:  # type: ignore[no-untyped-def]
    document = ctrf_document(sample_run())
    mutate(document)
    with pytest.raises(SchemaValidationError, match="not valid CTRF") as caught:
        validate_ctrf(document)
    assert any(fragment in e for e in caught.value.errors), caught.value.errors
    with pytest.raises(jsonschema.ValidationError):  # the reference validator agrees it is invalid
        jsonschema.validate(document, ctrf_schema(), format_checker=jsonschema.FormatChecker())


def test_official_examples_validate() -> None:
    validate_ctrf(json.loads((DATA / "ctrf_current.json").read_text()))
    legacy = json.loads((DATA / "ctrf_legacy.json").read_text())
    with pytest.raises(SchemaValidationError):
        validate_ctrf(copy.deepcopy(legacy))  # legacy reports are read, but are not valid current CTRF


# ----------------------------------------------------------------------------- JUnit


def test_xunit2_one_testcase_per_test_and_well_formed(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(sample_run(), path)
    root = ET.parse(path).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == 5  # never one <testcase> per retry
    assert root.get("tests") == "5"
    assert (root.get("failures"), root.get("errors"), root.get("skipped")) == ("1", "1", "1")
    assert not root.findall(".//flakyFailure")
    b = next(c for c in cases if c.get("name") == "b")
    props = {p.get("name"): p.get("value") for p in b.iter("property")}
    assert (props["maestro.retries"], props["maestro.flaky"]) == ("1", "true")
    # The earlier attempt, so the file reads back to the same attempts (xunit2 has no element).
    assert json.loads(props["maestro.attempt.1"])["status"] == "failed"
    e = next(c for c in cases if c.get("name") == "e")
    assert e.find("error") is not None


def test_surefire_profile_writes_flaky_and_rerun_failures(tmp_path: Path) -> None:
    path = tmp_path / "surefire.xml"
    write_junit(sample_run(), path, profile="surefire")
    root = ET.parse(path).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert len(cases) == 5
    flaky = cases["b"].find("flakyFailure")
    assert flaky is not None
    assert flaky.get("message") == "boom"
    assert flaky.findtext("stackTrace") == "tb"
    failing = cases["c"]
    failure = failing.find("failure")
    assert failure is not None
    assert failure.get("message") == "m1"
    assert [r.get("message") for r in failing.findall("rerunFailure")] == ["m2"]


def test_surefire_round_trip_is_lossless_for_junit_fields(tmp_path: Path) -> None:
    run = sample_run()
    path = tmp_path / "surefire.xml"
    write_junit(run, path, profile="surefire")
    again = read_report(path)
    original = by_id(run)
    assert set(by_id(again)) == set(original)
    for test_id, result in by_id(again).items():
        assert result == original[test_id]
    assert again.start == run.start


def test_unknown_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="profile must be one of xunit2, surefire"):
        write_junit(sample_run(), tmp_path / "x.xml", profile="nunit")


def test_huge_messages_are_truncated_with_a_marker(tmp_path: Path) -> None:
    huge = "x" * 200_000 + "THE END"
    run = TestRun(Tool("t"), [TestResult("big", Status.FAILED, message=huge, trace=huge, suite=("s",))])
    path = tmp_path / "big.xml"
    write_junit(run, path, message_limit=1000, text_limit=10_000)
    assert path.stat().st_size < 20_000
    result = read_report(path).tests[0]
    assert result.message is not None
    assert result.trace is not None
    assert "characters truncated by maestro" in result.message
    assert result.message.endswith("THE END")
    assert "characters truncated by maestro" in result.trace


def test_xml_illegal_characters_are_escaped_visibly(tmp_path: Path) -> None:
    nasty = 'bell\x07 nul\x00 esc\x1b ufffe\ufffe amp& lt< quote" cr\r tab\t'
    run = TestRun(
        Tool("t"), [TestResult("n\x01ame", Status.FAILED, message=nasty, trace=nasty, stdout=nasty, suite=("s",))]
    )
    path = tmp_path / "nasty.xml"
    write_junit(run, path)
    ET.parse(path)  # well-formed for a strict parser
    result = read_report(path).tests[0]
    assert result.name == "n\\u0001ame"
    assert result.message == 'bell\\u0007 nul\\u0000 esc\\u001b ufffe\\ufffe amp& lt< quote" cr\r tab\t'
    assert result.trace == result.message


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(results(), max_size=4, unique_by=lambda r: r.name))
def test_junit_always_well_formed(tmp_path: Path, tests: list[TestResult]) -> None:
    path = tmp_path / "h.xml"
    write_junit(TestRun(Tool("x"), tests), path, profile="surefire")
    assert len(ET.parse(path).getroot().findall(".//testcase")) == len(tests)
    assert len(read_report(path).tests) == len({t.test_id for t in tests})


# ----------------------------------------------------------------------------- JSONL


def test_jsonl_round_trip_is_lossless(tmp_path: Path) -> None:
    run = sample_run()
    path = tmp_path / "run.jsonl"
    write_jsonl(run, path)
    again = read_report(path)
    assert again.tests == run.tests
    assert (again.environment, again.start, again.stop) == (run.environment, run.start, run.stop)


def test_every_writer_then_reader_keeps_the_counts(tmp_path: Path) -> None:
    run = make_run(500, fail_every=7, flaky_every=11, skip_every=13)
    expected = run.summary()
    for name, write in (("a.json", write_ctrf), ("a.xml", write_junit), ("a.jsonl", write_jsonl)):
        write(run, tmp_path / name)
        summary = read_report(tmp_path / name).summary()
        assert (summary.tests, summary.passed, summary.failed, summary.skipped) == (
            expected.tests,
            expected.passed,
            expected.failed,
            expected.skipped,
        ), name


def test_junit_carries_evidence_as_attachment_lines_gitlab_reads(tmp_path: Path) -> None:
    # GitLab's test report shows a failed test's first [[ATTACHMENT|path]] in <system-out>
    # (the pattern of its JUnit parser); what we write reads back to the same evidence.
    import re

    from maestro_test_result_aggregator.model import Attachment

    evidence = (
        Attachment("test-failed-1.png", "image/png", "test-results/cart/test-failed-1.png"),
        Attachment("trace.zip", "application/zip", "test-results/cart/trace.zip"),
    )
    run = TestRun(
        Tool("playwright"),
        [
            TestResult("pays", Status.FAILED, message="boom", stdout="placing order", attachments=evidence),
            TestResult("lists", Status.PASSED, attachments=evidence[:1]),
        ],
    )
    for profile in ("xunit2", "surefire"):
        path = tmp_path / f"{profile}.xml"
        write_junit(run, path, profile=profile)
        outputs = [case.findtext("system-out") or "" for case in ET.parse(path).getroot().iter("testcase")]
        assert [re.findall(r"\[\[ATTACHMENT\|(?<path>.+?)\]\]".replace("?<", "?P<"), text) for text in outputs] == [
            ["test-results/cart/test-failed-1.png", "test-results/cart/trace.zip"],
            ["test-results/cart/test-failed-1.png"],
        ]
        again = {t.name: t for t in read_report(path).tests}
        assert again["pays"].attachments == evidence
        assert again["pays"].stdout == "placing order\n"
        assert again["lists"].attachments == evidence[:1]
        assert again["lists"].stdout is None
