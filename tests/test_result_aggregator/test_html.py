"""The HTML report in a real headless Chromium: it renders, charts appear, nothing errors, the
page makes no request, and a 200k-test report stays usable.

Playwright's sync driver lives for this module only (see tests/harness/conftest.py for why)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from maestro_test_result_aggregator.history import HistoryStore
from maestro_test_result_aggregator.html import render_html, write_html
from maestro_test_result_aggregator.model import Status, TestResult, TestRun, Tool
from maestro_test_result_aggregator.testing import make_result, make_run

WAIT_MS = 120_000
"""How long a wait for the page may take: only a hang reaches it on a loaded 2-core machine."""


@pytest.fixture(scope="module")
def browser(chromium_executable: Path, chromium_args: list[str]) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium_executable), args=chromium_args)
        try:
            yield launched
        finally:
            launched.close()


class Opened:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))


def open_report(browser: Browser, path: Path) -> Opened:
    page = browser.new_page()
    opened = Opened(page)
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    return opened


def test_report_renders_with_charts_and_filters(browser: Browser, tmp_path: Path) -> None:
    store = HistoryStore.open(tmp_path / "h.db")
    for number in range(6):
        store.add_run(make_run(60, fail_every=5 + number, start=1_700_000_000.0 + number))
    run = make_run(60, fail_every=6, flaky_every=9)
    run.tests.append(TestResult('<script>alert("x")</script>', Status.FAILED, message="<img src=x onerror=alert(1)>"))
    path = tmp_path / "report.html"
    write_html(run, path, history=store, baseline=make_run(60), title="Nightly")
    store.close()
    opened = open_report(browser, path)
    page = opened.page
    try:
        assert page.title() == "Nightly"
        assert page.locator("svg.trend").count() == 4  # outcomes + three trends from history
        assert page.locator("svg.trend polyline").count() == 3
        assert page.locator("#clusters details").count() == 2
        assert page.locator("#baseline h3").first.inner_text() == "New failures (11)"
        assert page.locator("#count").inner_text() == "61 of 61 tests"
        assert page.locator("#spacer .row").count() > 10  # the virtual table drew the visible rows
        page.fill("#search", "test_1")
        expect(page.locator("#count")).to_have_text(re.compile(r"^11 of"), timeout=WAIT_MS)
        page.fill("#search", "")
        page.select_option("#status", "failed")
        expect(page.locator("#count")).to_have_text(re.compile(r"^11 of"), timeout=WAIT_MS)
        page.select_option("#status", "flaky")
        expect(page.locator("#count")).to_have_text(re.compile(r"^3 of"), timeout=WAIT_MS)
        # Hostile names are text, never markup.
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert opened.errors == []
        assert opened.requests == [path.as_uri()]  # offline: nothing but the file itself
    finally:
        page.close()


@pytest.mark.slow
def test_200k_tests_stay_usable(browser: Browser, tmp_path: Path) -> None:
    # Usable means bounded work, counted here: the file size, the rows in the DOM (only the
    # visible ones) and the filters reaching the right counts. How long each step takes is a
    # figure for bench/, not an assertion that a loaded machine could break.
    tests = [make_result(i, status=Status.FAILED if i % 97 == 0 else Status.PASSED) for i in range(200_000)]
    run = TestRun(Tool("pytest"), tests)
    path = tmp_path / "big.html"
    write_html(run, path)
    assert path.stat().st_size < 25 * 1024 * 1024
    opened = open_report(browser, path)
    page = opened.page
    try:
        assert page.locator("#count").inner_text() == "200000 of 200000 tests"
        assert page.locator("#spacer .row").count() < 200  # only the visible rows exist
        page.fill("#search", "test_199999")
        expect(page.locator("#count")).to_have_text(re.compile(r"^1 of"), timeout=WAIT_MS)
        page.fill("#search", "")
        page.select_option("#status", "failed")
        expect(page.locator("#count")).to_have_text(re.compile(f"^{len(range(0, 200_000, 97))} of"), timeout=WAIT_MS)
        rows = page.locator("#spacer .row")
        first = rows.first.inner_text()
        page.evaluate("document.getElementById('viewport').scrollTop = 1e6")
        expect(rows.first).not_to_have_text(first, timeout=WAIT_MS)  # the rows further down were drawn
        assert 0 < rows.count() < 200
        # the detail view works at this size too; scrolled to the end, the last drawn row is on screen
        # (the first is in the overscan above it: clicking it scrolls, redraws, and may miss)
        rows.last.click()
        expect(page.locator("#detail")).to_contain_text("outcome", timeout=WAIT_MS)
        assert opened.errors == []
    finally:
        page.close()


HOSTILE = [
    "Hello<!-- -->World",
    "<!--",
    "-->",
    "</script><script>document.body.dataset.pwned='1'</script>",
    "</SCRIPT ><img src=x onerror=alert(1)>",
    "<script>",
    "<!--<script>",
    "a\u2028b\u2029c",
    "&lt;&amp;&#x3c;",
    "]]></x>",
    "\\u003c!--",
]


def test_hostile_messages_stay_text_and_every_test_is_listed(browser: Browser, tmp_path: Path) -> None:
    # One `<!--` in a message (React SSR snapshots contain `Hello<!-- -->World`) used to make the
    # embedded JSON invalid and the whole table empty.
    tests = [make_result(i) for i in range(20)]
    tests += [TestResult(f"hostile_{i}", Status.FAILED, classname=text, message=text) for i, text in enumerate(HOSTILE)]
    run = TestRun(Tool("jest"), tests)
    path = tmp_path / "hostile.html"
    write_html(run, path)
    opened = open_report(browser, path)
    page = opened.page
    try:
        total = len(tests)
        assert page.locator("#count").inner_text() == f"{total} of {total} tests"
        page.fill("#search", "hostile_")
        expect(page.locator("#count")).to_have_text(f"{len(HOSTILE)} of {total} tests", timeout=WAIT_MS)
        shown = page.evaluate(
            "Array.from(document.querySelectorAll('#spacer .row .ms')).map(function(e){return e.textContent})"
        )
        assert sorted(shown) == sorted(HOSTILE)  # the hostile text shows as text, byte for byte
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert page.evaluate("document.body.dataset.pwned") is None
        assert page.evaluate("document.querySelectorAll('script').length") == 2
        assert opened.errors == []
    finally:
        page.close()


def test_ansi_colour_codes_are_not_shown_in_the_table() -> None:
    coloured = "Error: \x1b[31mexpected\x1b[39m 3, got \x1b[32m2\x1b[39m"
    page = render_html(TestRun(Tool("playwright"), [TestResult("t", Status.FAILED, message=coloured)]))
    assert "\x1b" not in page
    assert "\\u001b" not in page
    assert "Error: expected 3, got 2" in page


SEP = " \u203a "
"""How the table joins suite, class and test name."""


def _detailed_run() -> TestRun:
    from maestro_test_result_aggregator.model import Attachment, Attempt

    screenshot = Attachment("screenshot", "image/png", "test-results/checkout-chromium/test-failed-1.png")
    hostile = Attachment("trace", "application/zip", "javascript:document.body.dataset.pwned='1'")
    flaky = TestResult(
        "test_checkout",
        Status.PASSED,
        2.0,
        suite=("e2e",),
        classname="TestOrders",
        file="tests/e2e/test_orders.py",
        line=42,
        stdout="order 812 placed",
        attempts=(
            Attempt(
                Status.FAILED,
                30.0,
                message="TimeoutError: \x1b[31mlocator.click\x1b[39m",
                trace="at page.click (checkout.spec.ts:14)\nat run (runner.ts:9)",
                start=1_700_000_000.0,
                attachments=(screenshot, hostile),
            ),
            Attempt(Status.PASSED, 2.0, start=1_700_000_031.0, stdout="order 812 placed"),
        ),
    )
    twins = [
        TestResult("test_create", Status.PASSED, 0.1, suite=("api",), classname="TestUsers", file="tests/test_api.py"),
        TestResult(
            "test_create",
            Status.FAILED,
            0.2,
            suite=("api",),
            classname="TestOrders",
            file="tests/test_api.py",
            message="AssertionError: 201 != 500",
            trace="Traceback ...\nAssertionError: 201 != 500",
        ),
    ]
    return TestRun(Tool("pytest"), [flaky, *twins], environment=make_run(1).environment, start=1_700_000_100.0)


def test_clicking_a_test_shows_its_detail_attempts_evidence_and_history(browser: Browser, tmp_path: Path) -> None:
    store = HistoryStore.open(tmp_path / "h.db")
    for night in range(4):
        past = _detailed_run()
        past.start = 1_699_000_000.0 + 86_400 * night
        past.tests[2] = TestResult(
            "test_create",
            Status.PASSED if night % 2 else Status.FAILED,
            0.1 + night,
            suite=("api",),
            classname="TestOrders",
            file="tests/test_api.py",
        )
        store.add_run(past, label=f"nightly-{night}")
    path = tmp_path / "report.html"
    write_html(_detailed_run(), path, history=store)
    store.close()
    opened = open_report(browser, path)
    page = opened.page
    try:
        # Classnames tell the two test_create apart.
        names = page.evaluate("Array.from(document.querySelectorAll('#spacer .row .nm')).map(e => e.textContent)")
        assert SEP.join(("api", "TestUsers", "test_create")) in names
        assert SEP.join(("api", "TestOrders", "test_create")) in names
        page.locator("#spacer .row", has_text="test_checkout").click()
        panel = page.locator("#detail")
        expect(panel).to_be_visible(timeout=WAIT_MS)
        text = panel.inner_text()
        assert "passed (flaky)" in text
        assert "tests/e2e/test_orders.py:42" in text
        assert "TestOrders" in text
        assert "order 812 placed" in text
        assert "Attempts (2)" in text
        assert "TimeoutError: locator.click" in text  # colour codes stripped
        assert "\x1b" not in text
        assert "at run (runner.ts:9)" in text  # the whole stack trace
        assert "2023-11-14 22:13:20 UTC" in text  # the attempt's start
        links = panel.locator("a")
        assert links.count() == 1  # the screenshot; the javascript: "trace" is text, not a link
        assert links.first.get_attribute("href") == "test-results/checkout-chromium/test-failed-1.png"
        assert "javascript:document.body.dataset.pwned='1'" in text
        # History from the store: the failing twin's last runs, oldest first.
        page.locator("#detail button.close").click()
        expect(panel).to_be_hidden(timeout=WAIT_MS)
        page.locator("#spacer .row", has_text=SEP.join(("TestOrders", "test_create"))).click()
        text = panel.inner_text()
        assert "History (last 4 runs, oldest first)" in text
        assert (
            page.evaluate("Array.from(document.querySelectorAll('#detail .hbox')).map(e => e.textContent).join('')")
            == "fpfp"
        )
        assert "AssertionError: 201 != 500" in text
        assert page.evaluate("document.body.dataset.pwned") is None
        assert opened.errors == []
        assert opened.requests == [path.as_uri()]
    finally:
        page.close()


def test_chart_points_name_their_run_and_commit_and_empty_panels_are_left_out(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.db") as store:
        for night in range(3):
            run = make_run(10, start=1_700_000_000.0 + 86_400 * night)
            run.environment = type(run.environment)(commit=f"c0ffee{night}", branch="main")
            store.add_run(run, label=f"nightly-{night}")
        page = render_html(make_run(10), history=store)
    assert "<title>run 3 · nightly-2 · commit c0ffee2 · 2023-11-16 22:13 UTC: 100.0%</title>" in page
    # A green run without history regressions: no "No failures." or "No flaky tests." panels.
    assert "No failures" not in page
    assert "No flaky tests" not in page
    assert 'id="clusters"' not in page
    assert 'id="flaky"' not in page
    # Against a baseline with nothing new or fixed: one line, not two empty lists.
    compared = render_html(make_run(10), baseline=make_run(10))
    assert "<p>No new failures, nothing fixed.</p>" in compared
    assert "<h3>" not in compared.split('id="baseline"', 1)[1].split("</section>", 1)[0]
    # Without history there is no trend: the chart section says what it shows.
    assert re.findall(r"<h2>(.*?)</h2>", render_html(make_run(10)))[0] == "Outcomes"
