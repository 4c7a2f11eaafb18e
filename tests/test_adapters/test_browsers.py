"""Playwright and Selenium journeys against the shared static site, in real headless Chromium.

The inner pytest runs pass ``-p no:randomly`` (pytest-randomly is installed in the dev
environment); their ``timeout`` is only a safety net against a hang.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from maestro_test_adapters import ExitCode, PlaywrightAdapter, RunOptions, SeleniumAdapter, exit_code, run_error
from maestro_test_result_aggregator.formats import read_jsonl
from maestro_test_result_aggregator.model import Status, TestResult, TestRun
from tests.fixtures.chromium import CdpBrowser, ChromeDriverServer
from tests.fixtures.services import require, unavailable
from tests.fixtures.static_site import (
    BUTTON_TEXT_AFTER_CLICK,
    CONSOLE_ERROR_TEXT,
    INDEX_TITLE,
    StaticSite,
    running_static_site,
)

pytestmark = pytest.mark.slow

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NO_RANDOM = ("-p", "no:randomly")

INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"

PLAYWRIGHT_JOURNEYS = """
import pytest
SITE = {site!r}

def test_title(maestro_page):
    maestro_page.goto(SITE + "index.html")
    assert maestro_page.title() == {title!r}

def test_click(maestro_page):
    maestro_page.goto(SITE + "form.html")
    maestro_page.fill("#name", "Ada")
    maestro_page.click("#go")
    assert maestro_page.text_content("#status") == {clicked!r} + " Ada"

def test_contexts_are_fresh(maestro_page):
    maestro_page.goto(SITE + "index.html")
    assert maestro_page.context.cookies() == []
    maestro_page.context.add_cookies([{{"name": "c", "value": "1", "url": SITE}}])

def test_fails_with_console_error(maestro_page):
    maestro_page.goto(SITE + "console-error.html")
    assert maestro_page.title() == "not the title"

@pytest.mark.flaky(reruns=1)
def test_flaky(maestro_page, request):
    marker = request.config.rootpath / "flaky-seen"
    first = not marker.exists()
    marker.touch()
    maestro_page.goto(SITE + "index.html")
    assert not first, "first attempt fails"
"""


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _by_name(run: TestRun) -> dict[str, TestResult]:
    return {r.name: r for r in run.tests}


def _attachments(result: TestResult) -> dict[str, Path]:
    return {a.name: Path(a.path) for a in result.attachments}


@pytest.fixture
def journey_dir(tmp_path: Path, chromium_executable: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MAESTRO_CHROMIUM", str(chromium_executable))
    (tmp_path / "pytest.ini").write_text(INI)
    return tmp_path


@pytest.fixture(params=["headless-shell", "chromium"])
def playwright_dir(request: pytest.FixtureRequest, journey_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``journey_dir`` on the default browser (Debian's headless shell) and on the full Chromium."""
    if request.param == "headless-shell":
        request.getfixturevalue("chromium_headless_shell")
        monkeypatch.delenv("MAESTRO_CHROMIUM")
    return journey_dir


def test_playwright_journeys_with_evidence_on_failure(playwright_dir: Path, static_site: StaticSite) -> None:
    journey_dir = playwright_dir
    (journey_dir / "test_journeys.py").write_text(
        PLAYWRIGHT_JOURNEYS.format(site=static_site.url, title=INDEX_TITLE, clicked=BUTTON_TEXT_AFTER_CLICK)
    )
    jsonl = journey_dir / "out" / "results.jsonl"
    run = PlaywrightAdapter().run(
        "test_journeys.py", options=RunOptions(cwd=journey_dir, jsonl=jsonl, timeout=300, runner_args=NO_RANDOM)
    )
    results = _by_name(run)
    assert run_error(run) is None, run_error(run)
    assert run.tool.name == "playwright"
    assert {n: r.status for n, r in results.items()} == {
        "test_title": Status.PASSED,
        "test_click": Status.PASSED,
        "test_contexts_are_fresh": Status.PASSED,
        "test_fails_with_console_error": Status.FAILED,
        "test_flaky": Status.PASSED,
    }
    assert results["test_title"].attachments == ()
    failed = results["test_fails_with_console_error"]
    files = _attachments(failed)
    assert set(files) == {"screenshot", "console errors", "trace"}
    width, height = _png_size(files["screenshot"])
    assert width >= 800
    assert height >= 600
    assert CONSOLE_ERROR_TEXT in files["console errors"].read_text()
    with zipfile.ZipFile(files["trace"]) as trace:
        assert any(name.endswith(".trace") for name in trace.namelist())
    assert files["screenshot"].parent == jsonl.parent / "maestro-artifacts"
    flaky = results["test_flaky"]
    assert [a.status for a in flaky.attempts] == [Status.FAILED, Status.PASSED]
    assert {a.name for a in flaky.attempts[0].attachments} == {"screenshot", "console errors", "trace"}
    assert flaky.attempts[1].attachments == ()
    assert flaky.flaky
    assert exit_code(run) is ExitCode.TESTS_FAILED
    assert [r.name for r in read_jsonl(jsonl).tests] == list(results)


def test_playwright_async_fixtures(journey_dir: Path, static_site: StaticSite) -> None:
    (journey_dir / "test_async_journeys.py").write_text(
        textwrap.dedent(
            f"""
            SITE = {static_site.url!r}
            async def test_title(maestro_async_page):
                await maestro_async_page.goto(SITE + "index.html")
                assert await maestro_async_page.title() == {INDEX_TITLE!r}
            async def test_fails(maestro_async_page):
                await maestro_async_page.goto(SITE + "console-error.html")
                assert await maestro_async_page.title() == "wrong"
            """
        )
    )
    run = PlaywrightAdapter().run(
        "test_async_journeys.py", options=RunOptions(cwd=journey_dir, timeout=300, runner_args=NO_RANDOM)
    )
    results = _by_name(run)
    assert results["test_title"].status is Status.PASSED
    assert results["test_fails"].status is Status.FAILED
    files = _attachments(results["test_fails"])
    _png_size(files["screenshot"])
    assert CONSOLE_ERROR_TEXT in files["console errors"].read_text()
    assert files["screenshot"].parent == journey_dir / "maestro-artifacts"


def test_playwright_connects_to_a_remote_browser(
    journey_dir: Path, static_site: StaticSite, chromium_cdp: CdpBrowser
) -> None:
    (journey_dir / "test_remote.py").write_text(
        f"def test_remote(maestro_browser, maestro_page):\n"
        f"    maestro_page.goto({static_site.url!r} + 'index.html')\n"
        f"    assert maestro_page.title() == {INDEX_TITLE!r}\n"
        f"    assert maestro_browser.version\n"
    )
    adapter = PlaywrightAdapter(endpoint=chromium_cdp.endpoint)
    assert adapter.available()
    run = adapter.run("test_remote.py", options=RunOptions(cwd=journey_dir, timeout=300, runner_args=NO_RANDOM))
    assert [(r.name, r.status) for r in run.tests] == [("test_remote", Status.PASSED)], run.tests[0].message


SERVER_USER_AGENT = "maestro-playwright-browser-server"


def _cannot_serve(reason: str) -> NoReturn:
    unavailable(f"the Playwright driver cannot launch a browser server here: {reason}")


@pytest.fixture(scope="module")
def playwright_server(
    chromium_executable: Path, chromium_args: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A Playwright browser server on loopback (``launch-server`` of the Node driver inside the
    playwright package) running the system Chromium; yields its ``ws://127.0.0.1:...`` endpoint."""
    playwright = pytest.importorskip("playwright", reason="the playwright extra is not installed")
    driver = Path(str(playwright.__file__)).parent / "driver"
    node, cli = driver / "node", driver / "package" / "cli.js"
    if not (node.is_file() and cli.is_file()):
        _cannot_serve(f"no Node driver in {driver}")
    folder = tmp_path_factory.mktemp("playwright-server")
    config = folder / "server.json"
    config.write_text(
        json.dumps(
            {
                "executablePath": str(chromium_executable),
                "headless": True,
                "host": "127.0.0.1",
                "port": 0,
                "args": [*chromium_args, f"--user-agent={SERVER_USER_AGENT}"],
            }
        )
    )
    log = folder / "server.log"
    with open(log, "wb") as errors:
        process = subprocess.Popen(
            [str(node), str(cli), "launch-server", "--browser", "chromium", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=errors,
            start_new_session=True,
        )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        line = b""
        while not line.endswith(b"\n") and process.poll() is None and time.monotonic() < deadline:
            if select.select([process.stdout], [], [], 0.1)[0]:
                line += os.read(process.stdout.fileno(), 4096)
        endpoint = line.decode().strip()
        if not endpoint.startswith("ws://127.0.0.1:"):
            detail = " ".join(log.read_text(errors="replace").split()[-30:]) or "no endpoint within 120 s"
            _cannot_serve(f"{endpoint or 'no output'}; {detail}")
        yield endpoint
    finally:
        for signum, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, None)):
            try:
                os.killpg(process.pid, signum)
                process.wait(wait)
                break
            except (ProcessLookupError, PermissionError):
                break
            except subprocess.TimeoutExpired:
                continue
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_playwright_connects_to_a_playwright_browser_server(
    journey_dir: Path, static_site: StaticSite, playwright_server: str
) -> None:
    (journey_dir / "test_server.py").write_text(
        f"def test_through_the_server(maestro_browser, maestro_page):\n"
        f"    maestro_page.goto({static_site.url!r} + 'index.html')\n"
        f"    assert maestro_page.title() == {INDEX_TITLE!r}\n"
        f"    assert maestro_page.evaluate('navigator.userAgent') == {SERVER_USER_AGENT!r}  # the server's browser\n"
        f"\n"
        f"def test_fails_remotely(maestro_page):\n"
        f"    maestro_page.goto({static_site.url!r} + 'index.html')\n"
        f"    assert maestro_page.title() == 'not the title'\n"
    )
    adapter = PlaywrightAdapter(endpoint=playwright_server)
    jsonl = journey_dir / "r.jsonl"
    run = adapter.run(
        "test_server.py", options=RunOptions(cwd=journey_dir, timeout=300, runner_args=NO_RANDOM, jsonl=jsonl)
    )
    results = _by_name(run)
    assert results["test_through_the_server"].status is Status.PASSED, results["test_through_the_server"].message
    failed = results["test_fails_remotely"]
    assert failed.status is Status.FAILED
    files = _attachments(failed)
    width, height = _png_size(files["screenshot"])  # evidence is taken through the remote browser too
    assert width > 0
    assert height > 0
    assert zipfile.is_zipfile(files["trace"])
    assert run_error(run) is None
    assert exit_code(run) is ExitCode.TESTS_FAILED


SHARED_PAGE_JOURNEYS = """
SITE = {site!r}

def test_sets_state(maestro_shared_page):
    maestro_shared_page.goto(SITE + "index.html")
    maestro_shared_page.context.add_cookies([{{"name": "c", "value": "1", "url": SITE}}])
    maestro_shared_page.evaluate("localStorage.setItem('k', 'v')")

def test_state_was_reset(maestro_shared_page):
    assert maestro_shared_page.url == "about:blank"
    assert maestro_shared_page.context.cookies() == []
    maestro_shared_page.goto(SITE + "index.html")
    assert maestro_shared_page.evaluate("localStorage.getItem('k')") is None

def test_fails(maestro_shared_page):
    maestro_shared_page.goto(SITE + "console-error.html")
    assert maestro_shared_page.title() == "wrong"

def test_after_failure(maestro_shared_page):
    maestro_shared_page.goto(SITE + "index.html")
    assert maestro_shared_page.title() == {title!r}
"""


def test_playwright_shared_page_is_reset_between_tests(journey_dir: Path, static_site: StaticSite) -> None:
    (journey_dir / "test_shared.py").write_text(SHARED_PAGE_JOURNEYS.format(site=static_site.url, title=INDEX_TITLE))
    run = PlaywrightAdapter().run(
        "test_shared.py", options=RunOptions(cwd=journey_dir, timeout=300, runner_args=NO_RANDOM)
    )
    results = _by_name(run)
    assert {n: r.status for n, r in results.items()} == {
        "test_sets_state": Status.PASSED,
        "test_state_was_reset": Status.PASSED,
        "test_fails": Status.FAILED,
        "test_after_failure": Status.PASSED,
    }, [r.message for r in run.tests]
    files = _attachments(results["test_fails"])
    assert set(files) == {"screenshot", "console errors", "trace"}
    _png_size(files["screenshot"])
    assert CONSOLE_ERROR_TEXT in files["console errors"].read_text()
    with zipfile.ZipFile(files["trace"]) as trace:
        assert any(name.endswith(".trace") for name in trace.namelist())


SELENIUM_JOURNEYS = """
from selenium.webdriver.common.by import By
SITE = {site!r}

def test_title(maestro_driver):
    maestro_driver.get(SITE + "index.html")
    assert maestro_driver.title == {title!r}

def test_click(maestro_driver):
    maestro_driver.get(SITE + "form.html")
    maestro_driver.find_element(By.ID, "name").send_keys("Ada")
    maestro_driver.find_element(By.ID, "go").click()
    assert maestro_driver.find_element(By.ID, "status").text == {clicked!r} + " Ada"

def test_fails(maestro_driver):
    maestro_driver.get(SITE + "console-error.html")
    assert maestro_driver.title == "wrong"
"""


def test_selenium_journeys_with_evidence_on_failure(
    journey_dir: Path, static_site: StaticSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures import binaries

    monkeypatch.setenv("MAESTRO_CHROMEDRIVER", binaries.chromedriver())
    adapter = SeleniumAdapter()
    if not adapter.available():
        unavailable(str(adapter.available().reason))
    (journey_dir / "test_wd.py").write_text(
        SELENIUM_JOURNEYS.format(site=static_site.url, title=INDEX_TITLE, clicked=BUTTON_TEXT_AFTER_CLICK)
    )
    run = adapter.run("test_wd.py", options=RunOptions(cwd=journey_dir, timeout=300, runner_args=NO_RANDOM))
    results = _by_name(run)
    assert {n: r.status for n, r in results.items()} == {
        "test_title": Status.PASSED,
        "test_click": Status.PASSED,
        "test_fails": Status.FAILED,
    }
    files = _attachments(results["test_fails"])
    assert set(files) == {"screenshot", "browser log"}
    width, height = _png_size(files["screenshot"])
    assert width > 100
    assert height > 100
    log = [json.loads(line) for line in files["browser log"].read_text().splitlines()]
    assert any(CONSOLE_ERROR_TEXT in entry["message"] for entry in log)


def test_selenium_on_a_grid_url(
    journey_dir: Path, static_site: StaticSite, chromedriver_server: ChromeDriverServer
) -> None:
    (journey_dir / "test_grid.py").write_text(
        f"def test_grid(maestro_driver):\n"
        f"    maestro_driver.get({static_site.url!r} + 'index.html')\n"
        f"    assert maestro_driver.title == {INDEX_TITLE!r}\n"
    )
    run = SeleniumAdapter(endpoint=chromedriver_server.url).run(
        "test_grid.py", options=RunOptions(cwd=journey_dir, timeout=300, runner_args=NO_RANDOM)
    )
    assert [(r.name, r.status) for r in run.tests] == [("test_grid", Status.PASSED)], run.tests[0].trace


def test_playwright_prefers_the_headless_shell_unless_a_chromium_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from maestro_test_adapters import _chromium

    shell = tmp_path / "chromium-headless-shell"
    shell.write_text("#!/bin/sh\n")
    shell.chmod(0o755)
    monkeypatch.setattr(_chromium, "HEADLESS_SHELL", str(shell))
    monkeypatch.delenv("MAESTRO_CHROMIUM", raising=False)
    assert _chromium.headless_chromium_path() == str(shell)
    assert _chromium.chromium_path() == "/usr/bin/chromium"  # Selenium keeps the full browser
    monkeypatch.setenv("MAESTRO_CHROMIUM", "/opt/chromium/chrome")
    assert _chromium.headless_chromium_path() == "/opt/chromium/chrome"
    monkeypatch.delenv("MAESTRO_CHROMIUM")
    shell.unlink()
    assert _chromium.headless_chromium_path() == "/usr/bin/chromium"


def test_browser_adapters_explain_why_they_are_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAESTRO_CHROMIUM", "/no/such/chromium")
    monkeypatch.setenv("MAESTRO_CHROMEDRIVER", "/no/such/chromedriver")
    playwright = PlaywrightAdapter().available()
    assert not playwright
    assert "/no/such/chromium" in str(playwright.reason)
    selenium = SeleniumAdapter().available()
    assert not selenium
    assert "/no/such/chrom" in str(selenium.reason)


# -- hosts beyond loopback: a made-up name resolved to 127.0.0.1 only when allowed ------------------
def _named(url: str, name: str) -> str:
    assert "//127.0.0.1:" in url, url
    return url.replace("//127.0.0.1:", f"//{name}:")


def test_playwright_reaches_a_named_host_only_when_allowed(journey_dir: Path, static_site: StaticSite) -> None:
    (journey_dir / "test_named.py").write_text(
        f"def test_by_name(maestro_page):\n"
        f"    maestro_page.goto({_named(static_site.url, 'app.test')!r} + 'index.html')\n"
        f"    assert maestro_page.title() == {INDEX_TITLE!r}\n"
    )
    options = RunOptions(cwd=journey_dir, timeout=300, runner_args=NO_RANDOM)
    blocked = PlaywrightAdapter().run("test_named.py", options=options)
    [result] = blocked.tests
    assert result.status is Status.FAILED
    assert "net::ERR_NAME_NOT_RESOLVED" in (result.message or ""), result.message
    assert "browser.allowed_hosts" not in blocked.environment.extra

    allowed = PlaywrightAdapter(allow_hosts="app.test=127.0.0.1").run("test_named.py", options=options)
    assert [(r.name, r.status) for r in allowed.tests] == [("test_by_name", Status.PASSED)], allowed.tests[0].trace
    assert allowed.environment.extra["browser.allowed_hosts"] == "app.test=127.0.0.1"


def test_selenium_reaches_hosts_allowed_by_setting_and_environment_variable(
    journey_dir: Path, static_site: StaticSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures import binaries

    monkeypatch.setenv("MAESTRO_CHROMEDRIVER", binaries.chromedriver())
    monkeypatch.delenv("MAESTRO_ALLOW_HOSTS", raising=False)
    adapter = SeleniumAdapter()
    if not adapter.available():
        unavailable(str(adapter.available().reason))
    (journey_dir / "test_named.py").write_text(
        "import pytest\n"
        "@pytest.mark.parametrize('name', ['app.test', 'other.test'])\n"
        "def test_by_name(maestro_driver, name):\n"
        f"    maestro_driver.get({static_site.url!r}.replace('127.0.0.1', name) + 'index.html')\n"
        "    assert 'ERR_NAME_NOT_RESOLVED' not in maestro_driver.page_source\n"
        f"    assert maestro_driver.title == {INDEX_TITLE!r}\n"
    )
    options = RunOptions(cwd=journey_dir, timeout=300, runner_args=NO_RANDOM)
    blocked = adapter.run("test_named.py", options=options)
    assert [r.status for r in blocked.tests] == [Status.FAILED, Status.FAILED]
    assert all("ERR_NAME_NOT_RESOLVED" in (r.message or "") for r in blocked.tests), blocked.tests[0].message

    (journey_dir / "pytest.ini").write_text(INI + "maestro_allow_hosts =\n    app.test=127.0.0.1\n")
    environment = RunOptions(
        cwd=journey_dir, timeout=300, runner_args=NO_RANDOM, env={"MAESTRO_ALLOW_HOSTS": "other.test=127.0.0.1"}
    )
    allowed = adapter.run("test_named.py", options=environment)
    assert [r.status for r in allowed.tests] == [Status.PASSED, Status.PASSED], allowed.tests[0].trace
    assert allowed.environment.extra["browser.allowed_hosts"] == "app.test=127.0.0.1, other.test=127.0.0.1"


def test_a_wrong_allowed_host_is_a_usage_error_naming_it(journey_dir: Path) -> None:
    (journey_dir / "pytest.ini").write_text(INI + "maestro_allow_hosts = http://db\n")
    (journey_dir / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    run = PlaywrightAdapter().run(
        "test_nothing.py", options=RunOptions(cwd=journey_dir, timeout=300, runner_args=NO_RANDOM)
    )
    assert exit_code(run) is ExitCode.ERROR
    assert "'http://db' is a URL, not a host name" in str(run_error(run))


# -- the documented example, as written -----------------------------------------------------------
BROWSERS_DOC = Path(__file__).resolve().parents[2] / "docs" / "test-adapters" / "browsers.md"
SHOP_PAGES = {
    "index.html": "<html><head><title>Shop</title></head><body>shop</body></html>",
    "cart/index.html": (
        "<html><head><title>Cart</title></head><body><p id='status'></p><button id='checkout' "
        "onclick=\"document.getElementById('status').textContent = 'Order placed'\">Check out</button>"
        "</body></html>"
    ),
}


def _documented_journeys() -> str:
    found = re.search(r"```python\n(# tests/journeys/test_checkout\.py\n.*?)```", BROWSERS_DOC.read_text(), re.S)
    assert found, f"no journeys example in {BROWSERS_DOC}"
    return found.group(1)


@pytest.mark.parametrize("asyncio_plugin", ["without pytest-asyncio", "with pytest-asyncio in strict mode"])
def test_the_documented_sync_and_async_journeys_run_as_written(
    tmp_path: Path, chromium_executable: Path, asyncio_plugin: str
) -> None:
    site_root = tmp_path / "site"
    for name, text in SHOP_PAGES.items():
        (site_root / name).parent.mkdir(parents=True, exist_ok=True)
        (site_root / name).write_text(text)
    project = tmp_path / "project"
    (project / "tests" / "journeys").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    disable = ["-p", "no:asyncio"] if asyncio_plugin.startswith("without") else []
    with running_static_site(site_root, tmp_path) as site:
        journeys = _documented_journeys().replace("http://127.0.0.1:8000", site.base_url)
        (project / "tests" / "journeys" / "test_checkout.py").write_text(journeys)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", *NO_RANDOM, *disable, "-p", "no:cacheprovider", "-rA", "tests/journeys"],
            cwd=project,
            env={**os.environ, "MAESTRO_CHROMIUM": str(chromium_executable)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED tests/journeys/test_checkout.py::test_checkout" in result.stdout
    assert "PASSED tests/journeys/test_checkout.py::test_search" in result.stdout


# -- context options: a session-wide fixture and a per-test marker ---------------------------------
CONTEXT_OPTIONS_CONFTEST = """
import pytest

@pytest.fixture(scope="session")
def maestro_context_options():
    return {{
        "viewport": {{"width": 640, "height": 480}},
        "locale": "de-DE",
        "timezone_id": "Asia/Tokyo",
        "base_url": {site!r},
        "extra_http_headers": {{"X-Team": "qa"}},
        "ignore_https_errors": True,
        "storage_state": {{
            "cookies": [{{"name": "session", "value": "s1", "domain": "127.0.0.1", "path": "/", "expires": -1,
                         "httpOnly": False, "secure": False, "sameSite": "Lax"}}],
            "origins": [],
        }},
    }}
"""

CONTEXT_OPTIONS_JOURNEYS = """
import pytest

def test_session_options(maestro_page):
    with maestro_page.expect_request("**/index.html") as sent:
        maestro_page.goto("index.html")
    assert maestro_page.title() == {title!r}
    headers = sent.value.all_headers()
    assert headers["x-team"] == "qa"
    assert "session=s1" in headers["cookie"]
    assert maestro_page.evaluate("[innerWidth, innerHeight]") == [640, 480]
    assert maestro_page.evaluate("navigator.language") == "de-DE"
    assert maestro_page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "Asia/Tokyo"

@pytest.mark.maestro_context(locale="fr-FR", viewport={{"width": 500, "height": 400}})
def test_marker_options(maestro_page):
    maestro_page.goto("index.html")
    assert maestro_page.evaluate("[navigator.language, innerWidth]") == ["fr-FR", 500]
    assert maestro_page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "Asia/Tokyo"

def test_shared_page_options(maestro_shared_page):
    maestro_shared_page.goto("index.html")
    assert maestro_shared_page.evaluate("navigator.language") == "de-DE"

@pytest.mark.maestro_context(locale="ja-JP")
async def test_async_options(maestro_async_page):
    await maestro_async_page.goto("index.html")
    assert await maestro_async_page.evaluate("[navigator.language, innerWidth]") == ["ja-JP", 640]

@pytest.mark.maestro_context(no_such_option=1)
def test_unknown_option(maestro_page):
    pass
"""


def test_playwright_context_options_from_a_fixture_and_a_marker(journey_dir: Path, static_site: StaticSite) -> None:
    (journey_dir / "conftest.py").write_text(CONTEXT_OPTIONS_CONFTEST.format(site=static_site.url))
    (journey_dir / "test_options.py").write_text(CONTEXT_OPTIONS_JOURNEYS.format(title=INDEX_TITLE))
    (journey_dir / "pytest.ini").write_text("[pytest]\n")  # no pytest-asyncio mode: not needed
    run = PlaywrightAdapter().run(
        "test_options.py", options=RunOptions(cwd=journey_dir, timeout=300, runner_args=NO_RANDOM)
    )
    results = _by_name(run)
    assert {n: r.status for n, r in results.items()} == {
        "test_session_options": Status.PASSED,
        "test_marker_options": Status.PASSED,
        "test_shared_page_options": Status.PASSED,
        "test_async_options": Status.PASSED,
        "test_unknown_option": Status.FAILED,
    }, {n: r.message for n, r in results.items()}
    unknown = results["test_unknown_option"].message or ""
    assert "maestro_context_options: Playwright refused the context options" in unknown
    assert "no_such_option" in unknown


TIMED_OUT_JOURNEYS = """
import pytest

@pytest.mark.timeout(3, func_only=True)
def test_waits_for_nothing(maestro_page):
    maestro_page.set_content('<h1>still loading</h1>')
    maestro_page.wait_for_selector('#never', timeout=300_000)

def test_next(maestro_page):
    maestro_page.set_content('<h1>next</h1>')
"""


@pytest.mark.timing  # pytest-timeout's timer races the browser call
def test_a_journey_stopped_by_its_timeout_keeps_its_evidence(journey_dir: Path) -> None:
    # func_only: the timer starts with the test's body, so the browser's launch (seconds under
    # load) is not timed and the stop always lands in the Playwright call
    (journey_dir / "test_slow.py").write_text(TIMED_OUT_JOURNEYS)
    run = PlaywrightAdapter().run(
        "test_slow.py", options=RunOptions(cwd=journey_dir, timeout=300, runner_args=NO_RANDOM)
    )
    results = _by_name(run)
    stopped, following = results["test_waits_for_nothing"], results["test_next"]
    assert (stopped.status, stopped.raw_status) == (Status.FAILED, "timedOut"), stopped.message
    files = _attachments(stopped)
    if _playwright_keeps_its_driver_on_a_signal():
        assert set(files) == {"screenshot", "console errors", "trace"}
        _png_size(files["screenshot"])
        with zipfile.ZipFile(files["trace"]) as trace:
            assert any(name.endswith(".trace") for name in trace.namelist())
        assert following.status is Status.PASSED, following.message
    else:
        # Playwright < 1.64 loses its driver when a signal stops a call, and every later sync call
        # spun forever: the fixtures say why instead of hanging the run
        assert set(files) == {"console errors"}
        assert "upgrade to playwright>=1.64" in files["console errors"].read_text(encoding="utf-8")
        assert (following.status, following.raw_status) == (Status.FAILED, "error"), following.message
        assert "AdapterUnavailableError" in (following.message or "")


def _playwright_keeps_its_driver_on_a_signal() -> bool:
    """Playwright 1.64 hands a signal's exception to the waiting call and keeps its event loop
    (checked on 1.64.0 and 1.65; 1.45 and 1.63.0 lose the driver)."""
    from importlib.metadata import version

    from packaging.version import Version

    return Version(version("playwright")) >= Version("1.64")


# -- local debugging: video, headed, slow-mo ------------------------------------------------------
VIDEO_JOURNEYS = """
import pytest
SITE = {site!r}

def test_passes(maestro_page):
    maestro_page.goto(SITE + "index.html")

def test_fails(maestro_page):
    maestro_page.goto(SITE + "index.html")
    assert maestro_page.title() == "not the title"

@pytest.mark.flaky(reruns=1)
def test_flaky(maestro_page, request):
    marker = request.config.rootpath / "flaky-seen"
    first = not marker.exists()
    marker.touch()
    maestro_page.goto(SITE + "index.html")
    assert not first, "first attempt fails"

async def test_async_fails(maestro_async_page):
    await maestro_async_page.goto(SITE + "index.html")
    assert await maestro_async_page.title() == "not the title"
"""

WEBM_SIGNATURE = b"\x1a\x45\xdf\xa3"  # EBML, the container of WebM


def _videos(result: TestResult | object) -> list[Path]:
    attachments = getattr(result, "attachments", ())
    return [Path(a.path) for a in attachments if a.name == "video"]


@pytest.mark.parametrize("setting", ["--maestro-video=retain-on-failure", "maestro_video = on"])
def test_playwright_records_a_video_of_failing_journeys(
    setting: str, journey_dir: Path, static_site: StaticSite
) -> None:
    # Playwright's own ffmpeg is a download: the system's is handed to it
    require("ffmpeg", "ffmpeg", "ffmpeg")
    always = setting.startswith("maestro_video")
    if always:
        (journey_dir / "pytest.ini").write_text(INI + setting + "\n")
    (journey_dir / "test_video.py").write_text(VIDEO_JOURNEYS.format(site=static_site.url))
    args = (*NO_RANDOM, *(() if always else (setting,)))
    options = RunOptions(cwd=journey_dir, jsonl=journey_dir / "r.jsonl", timeout=300, runner_args=args)
    run = PlaywrightAdapter().run("test_video.py", options=options)
    assert run_error(run) is None, run_error(run)
    results = _by_name(run)
    for name in ("test_fails", "test_async_fails"):
        (video,) = _videos(results[name])
        assert video.read_bytes()[:4] == WEBM_SIGNATURE, name
        assert video.parent == journey_dir / "maestro-artifacts"
    flaky = results["test_flaky"]
    assert len(_videos(flaky.attempts[0])) == 1  # the failed attempt's own video
    assert len(_videos(flaky.attempts[1])) == (1 if always else 0)
    assert len(_videos(results["test_passes"])) == (1 if always else 0)
    assert {v.name for r in run.tests for v in _videos(r)} == {
        p.name for p in (journey_dir / "maestro-artifacts").glob("*.webm")
    }
    assert not list((journey_dir / "maestro-artifacts").glob(".video-*"))  # Playwright's copies are gone


SLOW_MO_JOURNEY = """
import time

def test_three_operations(maestro_page, record_property):
    maestro_page.set_content("<input id='name'>")
    started = time.monotonic()
    for text in ("a", "b", "c"):
        maestro_page.fill("#name", text)
    record_property("elapsed", time.monotonic() - started)
"""


def test_slow_mo_slows_every_playwright_operation(journey_dir: Path) -> None:
    # a lower bound only, which load cannot break: slow-mo waits 300 ms after each of 3 fills
    (journey_dir / "test_slow.py").write_text(SLOW_MO_JOURNEY)
    options = RunOptions(cwd=journey_dir, timeout=300, runner_args=(*NO_RANDOM, "--maestro-slowmo=300"))
    run = PlaywrightAdapter().run("test_slow.py", options=options)
    assert run_error(run) is None, run_error(run)
    (result,) = run.tests
    assert result.status is Status.PASSED, result.message
    elapsed = dict(result.extra["properties"])["elapsed"]  # type: ignore[call-overload]
    assert elapsed >= 0.9
    (journey_dir / "pytest.ini").write_text(INI + "maestro_slowmo = soon\n")
    run = PlaywrightAdapter().run("test_slow.py", options=RunOptions(cwd=journey_dir, runner_args=NO_RANDOM))
    assert "maestro_slowmo: must be milliseconds, got 'soon'" in str(run_error(run))


def test_headed_launches_the_full_chromium_with_a_window(
    journey_dir: Path, chromium_headless_shell: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Option plumbing only: this machine has no display, so a headed Chromium cannot start, and
    # Playwright's refusal shows what was launched: the full Chromium (not the headless shell,
    # which has no window), headed.
    monkeypatch.delenv("MAESTRO_CHROMIUM")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    (journey_dir / "test_headed.py").write_text("def test_page(maestro_page):\n    pass\n")
    options = RunOptions(cwd=journey_dir, timeout=300, runner_args=(*NO_RANDOM, "--maestro-headed"))
    run = PlaywrightAdapter().run("test_headed.py", options=options)
    (result,) = run.tests
    assert (result.status, result.raw_status) == (Status.FAILED, "error")
    said = f"{result.message}\n{result.trace}"
    assert "headed browser without having a XServer running" in said, said
    assert "/usr/bin/chromium " in said or "/usr/bin/chromium\n" in said, said
    assert str(chromium_headless_shell) not in said
