"""Every reader on fixtures shaped like what each tool really writes, and format detection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from maestro_test_result_aggregator.errors import ReportParseError, UnknownFormatError
from maestro_test_result_aggregator.formats import (
    detect_format,
    ingest,
    iter_junit,
    read_report,
)
from maestro_test_result_aggregator.model import Status, TestResult

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ant_jenkins.xml", "junit"),
        ("surefire.xml", "junit"),
        ("pytest_xunit1.xml", "junit"),
        ("playwright.xml", "junit"),
        ("ctrf_current.json", "ctrf"),
        ("ctrf_legacy.json", "ctrf"),
        ("reportlog.jsonl", "pytest-reportlog"),
        ("json_report.json", "pytest-json-report"),
        ("playwright.json", "playwright-json"),
    ],
)
def test_detect_format_by_content(name: str, expected: str, tmp_path: Path) -> None:
    # The file name carries no hint: detection reads the content.
    copy = tmp_path / "report.dat"
    shutil.copy(DATA / name, copy)
    assert detect_format(copy) == expected


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some words\n")
    with pytest.raises(UnknownFormatError, match=r"notes\.txt"):
        read_report(path)


def test_mocha_json_is_not_taken_for_playwright(tmp_path: Path) -> None:
    # A real `npx mocha --reporter json` file (mocha 10.8.2, see data/README.md): its "stats"
    # object counts "suites", which detection took for Playwright JSON, whose reader then failed
    # with "no 'suites' list".
    copy = tmp_path / "report.json"
    shutil.copy(DATA / "mocha_10" / "mocha.json", copy)
    with pytest.raises(UnknownFormatError, match=r"report\.json: mocha JSON is not a format") as caught:
        detect_format(copy)
    assert "xunit" in str(caught.value)
    with pytest.raises(UnknownFormatError, match="mocha JSON"):
        read_report(copy)


def test_ant_jenkins_dialect() -> None:
    run = read_report(DATA / "ant_jenkins.xml")
    by_name = {t.name: t for t in run.tests}
    assert list(by_name) == ["testAdd", "testDivide", "testConnect", "testIgnored"]  # CDATA text is no testcase
    assert by_name["testAdd"].status is Status.PASSED
    assert by_name["testAdd"].suite == ("com.example.CalculatorTest",)
    divide = by_name["testDivide"]
    assert (divide.status, divide.raw_status) == (Status.FAILED, "failure")
    assert divide.message == "expected:<2> but was:<3>"
    assert divide.trace is not None
    assert "CalculatorTest.java:42" in divide.trace
    connect = by_name["testConnect"]
    assert (connect.status, connect.raw_status, connect.duration) == (Status.FAILED, "error", 1200.5)
    assert by_name["testIgnored"].status is Status.SKIPPED
    assert run.start == pytest.approx(1709288130.0)  # suite timestamp, no zone: UTC


def test_surefire_flaky_and_rerun_failures_become_attempts() -> None:
    run = read_report(DATA / "surefire.xml")
    flaky, failing, passing = run.tests
    assert flaky.status is Status.PASSED
    assert flaky.flaky
    assert [a.status for a in flaky.attempts] == [Status.FAILED, Status.PASSED]
    assert flaky.attempts[0].message == "timeout after 100ms"
    assert flaky.attempts[0].stdout == "attempt 1 output"
    assert "FlakyTest.java:21" in (flaky.attempts[0].trace or "")
    assert failing.status is Status.FAILED
    assert not failing.flaky
    assert [a.message for a in failing.attempts] == ["boom 1", "boom 2", "boom 3"]
    assert failing.message == "boom 3"  # the final failure
    assert failing.retries == 2
    assert passing.attempts == ()
    assert run.tests[0].suite == ("com.example.FlakyTest",)  # a lone <testsuite> root


def test_pytest_xunit1_keeps_file_line_properties_and_xfail() -> None:
    run = read_report(DATA / "pytest_xunit1.xml")
    add, sub, skip, xfail = run.tests
    assert (add.file, add.line, add.classname) == ("tests/test_math.py", 9, "tests.test_math")
    assert add.extra == {"properties": {"owner": "team-a"}}
    assert sub.message == "assert 1 == 2"
    assert sub.stdout is not None
    assert "hello" in sub.stdout
    assert (skip.status, skip.raw_status, skip.message) == (Status.SKIPPED, "skipped", "not on CI")
    assert (xfail.status, xfail.raw_status, xfail.message) == (Status.SKIPPED, "xfail", "known bug")
    assert run.start == pytest.approx(1714636800.123456)


def test_pytest_xunit2_setup_error() -> None:
    run = read_report(DATA / "pytest_xunit2.xml")
    assert run.tool.name == "pytest tests"
    query, ok = run.tests
    assert (query.status, query.raw_status) == (Status.FAILED, "error")
    assert query.message == 'failed on setup with "ConnectionError: db down"'
    assert ok.status is Status.PASSED


def test_playwright_junit() -> None:
    run = read_report(DATA / "playwright.xml")
    shows, rejects, remembers = run.tests
    assert shows.suite == ("login.spec.ts",)
    assert rejects.status is Status.FAILED
    assert "Timed out 5000ms" in (rejects.trace or "")
    assert [a.path for a in rejects.attachments] == ["test-results/login-rejects/trace.zip"]
    assert remembers.status is Status.SKIPPED


def test_jest_junit() -> None:
    run = read_report(DATA / "jest_junit.xml")
    adds, totals = run.tests
    assert adds.classname == adds.name == "Cart adds an item"
    assert totals.status is Status.FAILED
    assert totals.message is None
    assert "Expected: 30" in (totals.trace or "")


def test_nested_suites_and_root_timestamp() -> None:
    run = read_report(DATA / "nested.xml")
    assert [(t.suite, t.name) for t in run.tests] == [
        (("api", "users"), "creates"),
        (("api", "users"), "deletes"),
        (("api",), "health"),
        (("web",), "home"),
    ]
    assert run.start == pytest.approx(1704164645.0)


def test_repeated_sibling_testcases_without_rerun_marks_fold_with_the_most_severe_outcome() -> None:
    # No declared count, no hostname, no properties: nothing says reruns, nothing tells the copies
    # apart. One test; the most severe outcome is the final one, never simply the last.
    run = read_report(DATA / "repeated.xml")
    assert [t.name for t in run.tests] == ["test_net", "test_other"]
    net = run.tests[0]
    assert net.status is Status.FAILED
    assert not net.flaky
    assert sorted(a.message or "" for a in net.attempts) == ["", "reset", "reset again"]
    assert net.attempts[-1].message == "reset"


def test_iter_junit_streams_every_result() -> None:
    names = [t.name for t in iter_junit(DATA / "nested.xml")]
    assert names == ["creates", "deletes", "health", "home"]


def test_ctrf_current_spec() -> None:
    run = read_report(DATA / "ctrf_current.json")
    assert (run.tool.name, run.tool.version) == ("playwright", "1.45.0")
    assert run.environment.commit == "abc123"
    assert run.environment.branch == "main"
    assert run.environment.shard == "2"
    assert run.environment.extra == {"buildNumber": "41", "osPlatform": "linux"}
    assert run.start == 1722506400.0
    stable, flaky, broken = run.tests
    assert stable.suite == ("checkout", "cart")
    assert (stable.file, stable.line, stable.tags, stable.duration) == ("tests/cart.spec.ts", 7, ("@smoke",), 0.15)
    assert flaky.flaky
    assert flaky.retries == 2
    assert [a.status for a in flaky.attempts] == [Status.FAILED, Status.FAILED, Status.PASSED]
    assert broken.stdout == "line one\nline two"
    assert broken.raw_status == "timedOut"
    assert broken.parameters == {"browser": "chromium"}
    assert broken.attachments[0].path == "shots/broken.png"


def test_ctrf_legacy_aliases() -> None:
    run = read_report(DATA / "ctrf_legacy.json")
    old_flaky, old_failing = run.tests
    assert old_flaky.flaky  # "flake": true, "retry": 1
    assert [a.status for a in old_flaky.attempts] == [Status.FAILED, Status.PASSED]
    assert old_failing.suite == ("Outer", "Inner")
    assert [a.message for a in old_failing.attempts] == ["first", "nope"]  # "attempts" include the final one


def test_pytest_reportlog_keeps_reruns_as_attempts() -> None:
    run = read_report(DATA / "reportlog.jsonl")
    assert run.tool.version == "8.3.2"
    by_name = {t.name: t for t in run.tests}
    ok = by_name["test_ok"]
    assert (ok.status, ok.file, ok.line, ok.stdout) == (Status.PASSED, "tests/test_api.py", 4, "hi\n")
    assert ok.duration == pytest.approx(0.2502)
    flaky = by_name["test_flaky[a-1]"]
    assert flaky.classname == "TestUsers"
    assert flaky.flaky
    assert flaky.attempts[0].message == "AssertionError: flaked"
    assert "assert False" in (flaky.attempts[0].trace or "")
    assert "flaky" in flaky.tags
    setup_error = by_name["test_setup_error"]
    assert (setup_error.status, setup_error.raw_status) == (Status.FAILED, "error")
    skipped = by_name["test_skipped"]
    assert (skipped.status, skipped.message) == (Status.SKIPPED, "not today")
    assert run.start == 1710000000.0


def test_pytest_json_report() -> None:
    run = read_report(DATA / "json_report.json")
    passed, failed, xfailed = run.tests
    assert (passed.status, passed.line, passed.stdout, passed.tags) == (Status.PASSED, 5, "out\n", ("smoke",))
    assert (failed.status, failed.classname, failed.message) == (
        Status.FAILED,
        "TestX",
        "AssertionError: assert 1 == 2",
    )
    assert failed.extra == {"metadata": {"owner": "team-b"}}
    assert (xfailed.status, xfailed.raw_status) == (Status.SKIPPED, "xfail")
    assert run.start == 1710000000.5
    assert run.stop == 1710000001.75


def test_playwright_json() -> None:
    run = read_report(DATA / "playwright.json")
    assert run.tool.version == "1.45.0"
    shows, flakes, skipped = run.tests
    assert shows.suite == ("login.spec.ts", "login")
    assert shows.parameters == {"project": "chromium"}
    assert shows.tags == ("@smoke",)
    assert flakes.flaky
    assert flakes.attempts[0].raw_status == "timedOut"
    assert flakes.attempts[0].attachments[0].path == "/app/test-results/trace.zip"
    assert flakes.attempts[0].stdout == "try 1\n"
    assert skipped.status is Status.SKIPPED
    assert run.stop is not None
    assert run.start is not None
    assert run.stop - run.start == pytest.approx(9.5005)


def test_ingest_reports_each_bad_file_and_continues(tmp_path: Path) -> None:
    shutil.copy(DATA / "nested.xml", tmp_path / "a.xml")
    shutil.copy(DATA / "ctrf_current.json", tmp_path / "b.json")
    (tmp_path / "broken.xml").write_text("<testsuites><testsuite name='x'>")
    (tmp_path / "ignored.txt").write_text("not a report")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    outcome = ingest([tmp_path])
    assert [len(r.tests) for r in outcome.runs] == [4, 3]
    assert [(p.name, type(e)) for p, e in outcome.errors] == [("broken.xml", ReportParseError)]
    # Inputs are never modified or deleted.
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    with pytest.raises(ReportParseError, match=r"broken\.xml"):
        ingest([tmp_path], strict=True)


def test_ingest_globs(tmp_path: Path) -> None:
    (tmp_path / "shards").mkdir()
    for index in range(3):
        shutil.copy(DATA / "nested.xml", tmp_path / "shards" / f"junit-{index}.xml")
    outcome = ingest([str(tmp_path / "**" / "junit-*.xml")])
    assert [p.name for p in outcome.files] == ["junit-0.xml", "junit-1.xml", "junit-2.xml"]
    missing = ingest([tmp_path / "nope.xml"])
    assert len(missing.errors) == 1
    assert isinstance(missing.errors[0][1], ReportParseError)


@pytest.mark.parametrize("engine", ["fast", "expat"])
def test_playwright_junit_attachment_lines_become_attachments(engine: str) -> None:
    # Playwright 1.65's JUnit reporter lists each attempt's evidence as [[ATTACHMENT|path]] lines
    # in <system-out>; they were kept as output text, and the evidence was lost to the report.
    run = iter_junit_run(DATA / "playwright_1_65" / "artifact" / "junit.xml", engine)
    checkout = next(t for t in run if t.name == "checkout" and t.parameters == {"project": "desktop"})
    assert [a.path for a in checkout.attachments] == [
        "../../test-results/cart-checkout-desktop/error-context.md",
        "../../test-results/cart-checkout-desktop-retry1/error-context.md",
    ]
    assert {a.name for a in checkout.attachments} == {"error-context.md"}
    assert checkout.stdout is None  # nothing but the marks
    assert not any(t.stdout and "[[ATTACHMENT|" in t.stdout for t in run)


def iter_junit_run(path: Path, engine: str) -> list[TestResult]:
    from maestro_test_result_aggregator.formats import read_junit

    return read_junit(path, engine=engine).tests


@pytest.mark.parametrize("engine", ["fast", "expat"])
def test_vitest_4_file_whose_worker_died_is_not_read_as_passes(engine: str) -> None:
    # Real Vitest 4.1.12 output: the killed file's tests are bare <testcase time="0"> in a suite
    # of time 0 declaring no failure. They read as four passes and the gate passed a run Vitest
    # itself failed (exit 1, "1 passed (5)", one error).
    from maestro_test_result_aggregator.formats import read_junit

    run = read_junit(DATA / "vitest_4_worker_killed" / "junit.xml", engine=engine)
    summary = run.summary()
    assert (summary.passed, summary.failed, summary.other) == (1, 1, 4)
    assert [t.name for t in run.tests if t.status is Status.PASSED] == ["runs in another worker"]
    (crashed,) = [t for t in run.tests if t.status is Status.FAILED]
    assert (crashed.name, crashed.raw_status) == ("src/worker.test.js: its worker died", "crashed")
    assert {t.raw_status for t in run.tests if t.status is Status.OTHER} == {"notRun"}


def test_a_vitest_suite_that_really_ran_is_left_alone(tmp_path: Path) -> None:
    # The rule needs all three: a suite time of 0, no declared failure, bare tests of 0 s.
    text = (DATA / "vitest_4_worker_killed" / "junit.xml").read_text()
    ran = tmp_path / "junit.xml"
    ran.write_text(text.replace('tests="4" failures="0" errors="0" skipped="0" time="0"', 'tests="4" time="0.004"'))
    assert read_report(ran).summary().passed == 5
    other_tool = tmp_path / "other.xml"
    other_tool.write_text(text.replace('name="vitest tests"', 'name="jest tests"'))
    assert read_report(other_tool).summary().passed == 5
