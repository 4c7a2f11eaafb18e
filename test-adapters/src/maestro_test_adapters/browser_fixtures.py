"""pytest fixtures for browser journeys on the system Chromium, with evidence on failure.

Loaded automatically (a ``pytest11`` entry point) and cheap when unused: Playwright and Selenium
are imported only by the fixtures that need them.

Playwright (extra ``playwright``):
    ``maestro_browser`` (one per session; launched from ``$MAESTRO_CHROMIUM`` or
    ``/usr/bin/chromium`` with ``executable_path`` — ``playwright install`` is never needed — or
    attached to a remote browser given by ``--maestro-browser-endpoint``/``$MAESTRO_BROWSER_ENDPOINT``),
    ``maestro_context`` and ``maestro_page`` (a fresh context per test, traced),
    ``maestro_shared_page`` (one page for the session, reset after each test: faster, weaker
    isolation), ``maestro_playwright`` (the session's sync driver), and the asyncio
    twins ``maestro_async_browser``/``maestro_async_page`` for ``async def`` tests (one browser per
    test on an event loop of its own; pytest-asyncio is not needed).

Selenium (extra ``selenium``):
    ``maestro_webdriver`` (one per session; ChromeDriver from ``$MAESTRO_CHROMEDRIVER`` or
    ``/usr/bin/chromedriver`` passed explicitly in a ``Service``, so Selenium Manager never runs; or
    a Selenium Grid given by ``--maestro-grid-url``/``$MAESTRO_SELENIUM_GRID``) and ``maestro_driver``
    (the same driver, cookies and storage cleared for each test).

Network: the browsers resolve no host name but ``localhost`` and reach nothing beyond loopback,
unless allowed with ``--maestro-allow-host``, the ``maestro_allow_hosts`` ini setting or
``$MAESTRO_ALLOW_HOSTS`` (host names, addresses, IPv4 ranges, ``NAME=ADDRESS``; see
``allowed_hosts``). What is allowed is recorded in the report's environment.

When a test fails, a screenshot (PNG), the page's console errors (Playwright) or browser log
(Selenium) and a Playwright trace (zip) are saved under ``--maestro-artifacts`` and attached to
that attempt of the test in the Maestro report; with ``--maestro-video=retain-on-failure`` (or
``on``: every test) a video of each Playwright page too.

Local debugging: ``--maestro-headed`` shows the browser (the full Chromium, not the headless
shell; it needs a display), ``--maestro-slowmo=MS`` waits MS milliseconds after each Playwright
operation. The three are also ini settings: ``maestro_video``, ``maestro_headed``,
``maestro_slowmo``.
"""

# ruff: noqa: PLC0415 - optional and heavy dependencies are imported where they are used

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Coroutine, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import pytest

from maestro_test_adapters._chromium import (
    CHROMIUM_ENV,
    chromedriver_path,
    chromium_args,
    chromium_path,
    configured_allowed_hosts,
    headless_chromium_path,
    is_executable,
)
from maestro_test_adapters._playwright_driver import LOST_NOTE, driver_lost, require_driver
from maestro_test_adapters._video import (
    VIDEO_MODES,
    driver_environment,
    ffmpeg_for_playwright,
    keep_videos,
    video_path,
)
from maestro_test_adapters.errors import AdapterUnavailableError, InvalidOptionError
from maestro_test_adapters.pytest_plugin import attach

if TYPE_CHECKING:
    from playwright.async_api import Browser as AsyncBrowser
    from playwright.async_api import BrowserContext as AsyncBrowserContext
    from playwright.async_api import Page as AsyncPage
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Video
    from selenium.webdriver.remote.webdriver import WebDriver

__all__ = [
    "BROWSER_ENDPOINT_ENV",
    "GRID_URL_ENV",
    "connect",
    "launch_chromium",
    "maestro_async_browser",
    "maestro_async_page",
    "maestro_browser",
    "maestro_context",
    "maestro_context_options",
    "maestro_driver",
    "maestro_page",
    "maestro_playwright",
    "maestro_shared_page",
    "maestro_webdriver",
    "new_chrome_driver",
]

BROWSER_ENDPOINT_ENV: Final = "MAESTRO_BROWSER_ENDPOINT"
GRID_URL_ENV: Final = "MAESTRO_SELENIUM_GRID"
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
_ATTEMPT = pytest.StashKey[int]()
_BASE = pytest.StashKey[Path]()
_T = TypeVar("_T")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--maestro-browser-endpoint``, ``--maestro-grid-url``, ``--maestro-trace`` and
    ``--maestro-allow-host`` (with its ini setting ``maestro_allow_hosts``)."""
    group = parser.getgroup("maestro-browser", "Maestro browser fixtures (maestro-test-adapters)")
    group.addoption(
        "--maestro-allow-host",
        dest="maestro_allow_hosts",
        action="append",
        default=[],
        metavar="HOST",
        help="let the browsers reach HOST (a name, *.domain, an address, an IPv4 range, NAME=ADDRESS, or *); "
        "repeatable; also the ini setting maestro_allow_hosts and $MAESTRO_ALLOW_HOSTS",
    )
    parser.addini(
        "maestro_allow_hosts",
        type="linelist",
        default=[],
        help="hosts the Maestro browser fixtures may reach beyond loopback (see --maestro-allow-host)",
    )
    group.addoption("--maestro-browser-endpoint", default=None, help="attach maestro_browser to this remote browser")
    group.addoption("--maestro-grid-url", default=None, help="run maestro_webdriver on this Selenium Grid")
    group.addoption(
        "--maestro-trace",
        choices=("retain-on-failure", "retain-on-failure-with-screenshots", "off"),
        default="retain-on-failure",
        help="record a Playwright trace (DOM snapshots; optionally a screencast) per test, kept when it fails",
    )
    group.addoption(
        "--maestro-video",
        choices=VIDEO_MODES,
        default=None,
        help="record a video of each Playwright page: off (default), retain-on-failure, on; needs ffmpeg "
        "(the system's or Playwright's); also the ini setting maestro_video",
    )
    group.addoption(
        "--maestro-headed",
        action="store_true",
        default=None,
        help="show the Playwright browser (local debugging; needs a display); also the ini setting maestro_headed",
    )
    group.addoption(
        "--maestro-slowmo",
        type=float,
        default=None,
        metavar="MS",
        help="wait MS milliseconds after each Playwright operation (local debugging); also the ini setting "
        "maestro_slowmo",
    )
    parser.addini("maestro_video", default="off", help="see --maestro-video")
    parser.addini("maestro_headed", type="bool", default=False, help="see --maestro-headed")
    parser.addini("maestro_slowmo", default="0", help="see --maestro-slowmo (milliseconds)")


_ALLOWED = pytest.StashKey[tuple[str, ...]]()


@dataclass(frozen=True, slots=True)
class _Debugging:
    """The session's video mode, headed and slow-mo settings (option, else ini setting)."""

    video: str
    headed: bool
    slow_mo: float

    @classmethod
    def of(cls, config: pytest.Config) -> _Debugging:
        video = config.getoption("maestro_video", None) or str(config.getini("maestro_video") or "off")
        if video not in VIDEO_MODES:
            raise InvalidOptionError("maestro_video", f"must be one of {', '.join(VIDEO_MODES)}, got {video!r}")
        headed = config.getoption("maestro_headed", None)
        if headed is None:
            headed = bool(config.getini("maestro_headed"))
        slow_mo = config.getoption("maestro_slowmo", None)
        if slow_mo is None:
            text = str(config.getini("maestro_slowmo") or "0")
            try:
                slow_mo = float(text)
            except ValueError:
                raise InvalidOptionError("maestro_slowmo", f"must be milliseconds, got {text!r}") from None
        if not slow_mo >= 0:  # also refuses NaN
            raise InvalidOptionError("maestro_slowmo", f"must be milliseconds >= 0, got {slow_mo!r}")
        return cls(video, bool(headed), float(slow_mo))


_DEBUGGING = pytest.StashKey[_Debugging]()


def _debugging(config: pytest.Config) -> _Debugging:
    if _DEBUGGING not in config.stash:
        config.stash[_DEBUGGING] = _Debugging.of(config)
    return config.stash[_DEBUGGING]


def pytest_configure(config: pytest.Config) -> None:
    """Check the allowed hosts once, before any test: a wrong entry is a usage error naming it."""
    config.addinivalue_line(
        "markers",
        "maestro_context(**options): Playwright context options for this test's maestro_context/maestro_page "
        "(viewport, locale, timezone_id, base_url, storage_state, ignore_https_errors, extra_http_headers...)",
    )
    try:
        config.stash[_ALLOWED] = configured_allowed_hosts(config)
        config.stash[_DEBUGGING] = _Debugging.of(config)
    except InvalidOptionError as error:
        raise pytest.UsageError(str(error)) from None


def _allowed(config: pytest.Config) -> tuple[str, ...]:
    return config.stash[_ALLOWED] if _ALLOWED in config.stash else configured_allowed_hosts(config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Keep each phase's report on the item so fixtures can tell, at teardown, that the test failed."""
    report = yield
    if call.when != "teardown" and any(name.startswith("maestro_") for name in getattr(item, "fixturenames", ())):
        item.stash.setdefault(_REPORTS, {})[call.when] = report
    return report


def _failed(node: pytest.Item) -> bool:
    reports = node.stash.get(_REPORTS, {})
    return any(r.failed for r in reports.values())


def _artifact_dir(config: pytest.Config) -> Path:
    configured = config.getoption("maestro_artifacts", None)
    if configured:
        return Path(configured)
    report = config.getoption("maestro_report", None)
    if report:
        return Path(report).resolve().parent / "maestro-artifacts"
    return Path(config.rootpath) / "maestro-artifacts"


def _artifact_base(node: pytest.Item) -> Path:
    counted = node.stash.get(_ATTEMPT, 0) + 1
    node.stash[_ATTEMPT] = counted
    executions = getattr(node, "execution_count", None)  # set by pytest-rerunfailures: 1, 2, ...
    attempt = executions if isinstance(executions, int) and executions > 0 else counted
    folder = _artifact_dir(node.config)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{_UNSAFE.sub('_', node.nodeid)[-150:]}-attempt{attempt}"


def _need(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise AdapterUnavailableError(extra, f"{module} is not installed: pip install 'maestro-test-adapters[{extra}]'")


def _chromium_or_fail(*, headed: bool = False) -> str:
    path = chromium_path() if headed and not os.environ.get(CHROMIUM_ENV) else headless_chromium_path()
    if not is_executable(path):
        raise AdapterUnavailableError(
            "playwright", f"no Chromium at {path}: install Debian's chromium or set MAESTRO_CHROMIUM"
        )
    return path


# -- Playwright --------------------------------------------------------------------------------
def _launch_options(*, allow_hosts: tuple[str, ...], headed: bool, slow_mo: float) -> dict[str, Any]:
    """``chromium.launch`` keywords: headless on the headless shell when installed; headed on the
    full Chromium (the headless shell cannot show a window)."""
    options: dict[str, Any] = {
        "executable_path": _chromium_or_fail(headed=headed),
        "headless": not headed,
        "args": chromium_args(headless_flag=False, allow_hosts=allow_hosts),
    }
    if slow_mo:
        options["slow_mo"] = slow_mo
    return options


def launch_chromium(
    playwright: Playwright,
    *,
    allow_hosts: tuple[str, ...] = (),
    headed: bool = False,
    slow_mo: float = 0,
    **kwargs: Any,
) -> Browser:
    """Launch the system Chromium with Playwright (offline flags, no download): headless on the
    headless shell when installed (see ``headless_chromium_path``), or ``headed`` on the full
    Chromium (it needs a display); ``slow_mo``: milliseconds to wait after each operation.
    ``allow_hosts``: what it may reach beyond loopback (see ``allowed_hosts``)."""
    return playwright.chromium.launch(
        **_launch_options(allow_hosts=allow_hosts, headed=headed, slow_mo=slow_mo), **kwargs
    )


def connect(playwright: Playwright, endpoint: str) -> Browser:
    """Attach to a remote browser: a Playwright server (``ws://...``) or a Chromium DevTools
    endpoint (``http://host:port`` or ``ws://.../devtools/browser/...``)."""
    if endpoint.startswith(("http://", "https://")) or "/devtools/browser/" in endpoint:
        return playwright.chromium.connect_over_cdp(endpoint)
    return playwright.chromium.connect(endpoint)


def _endpoint(config: pytest.Config) -> str | None:
    value = config.getoption("maestro_browser_endpoint", None) or os.environ.get(BROWSER_ENDPOINT_ENV)
    return str(value) if value else None


@contextlib.contextmanager
def _driver_environment(config: pytest.Config) -> Iterator[dict[str, str]]:
    """What the Playwright driver needs in its environment: an ffmpeg when videos are recorded here."""
    if _debugging(config).video == "off" or _endpoint(config):
        yield {}
        return
    with ffmpeg_for_playwright() as environment:
        yield environment


@pytest.fixture(scope="session")
def maestro_playwright(pytestconfig: pytest.Config) -> Iterator[Playwright]:
    """The session's sync Playwright driver (one per process: sync Playwright cannot start twice)."""
    _need("playwright", "playwright")
    from playwright.sync_api import sync_playwright

    with _driver_environment(pytestconfig) as environment:
        manager = sync_playwright()
        with driver_environment(environment):
            playwright = manager.__enter__()
        try:
            yield playwright
        finally:
            manager.__exit__(None, None, None)


@pytest.fixture(scope="session")
def maestro_browser(maestro_playwright: Playwright, pytestconfig: pytest.Config) -> Iterator[Browser]:
    """One Playwright (sync) Chromium for the whole session (or a remote one, see ``connect``)."""
    endpoint = _endpoint(pytestconfig)
    debugging = _debugging(pytestconfig)
    browser = (
        connect(maestro_playwright, endpoint)
        if endpoint
        else launch_chromium(
            maestro_playwright,
            allow_hosts=_allowed(pytestconfig),
            headed=debugging.headed,
            slow_mo=debugging.slow_mo,
        )
    )
    try:
        yield browser
    finally:
        if not driver_lost(browser):
            browser.close()


@pytest.fixture(scope="session")
def maestro_context_options() -> dict[str, Any]:
    """Keyword arguments for every Playwright context the fixtures open (``browser.new_context``):
    ``viewport``, ``locale``, ``timezone_id``, ``base_url``, ``storage_state``,
    ``ignore_https_errors``, ``extra_http_headers``... Empty by default; override it in a
    ``conftest.py`` with ``scope="session"``. One test adds or changes options with
    ``@pytest.mark.maestro_context(locale="de-DE")`` (``maestro_context``, ``maestro_page``,
    ``maestro_async_page``; the shared page keeps the session's options).
    """
    return {}


def _context_options(request: pytest.FixtureRequest, base: dict[str, Any]) -> dict[str, Any]:
    options = dict(base)
    marker = request.node.get_closest_marker("maestro_context")
    if marker is not None:
        if marker.args:
            raise InvalidOptionError("maestro_context", f"takes keyword options only, got {marker.args!r}")
        options.update(marker.kwargs)
    return options


@contextlib.contextmanager
def _video_folder(request: pytest.FixtureRequest, options: dict[str, Any]) -> Iterator[Path | None]:
    """A folder for Playwright to record this test's videos in (``None``: no video, or the test's
    own ``record_video_dir``), removed afterwards."""
    if _debugging(request.config).video == "off" or "record_video_dir" in options:
        yield None
        return
    folder = _artifact_dir(request.config)
    folder.mkdir(parents=True, exist_ok=True)
    recording = Path(tempfile.mkdtemp(prefix=".video-", dir=folder))
    options["record_video_dir"] = str(recording)
    try:
        yield recording
    finally:
        shutil.rmtree(recording, ignore_errors=True)


def _video_base(node: pytest.Item, known: Path | None) -> Path | None:
    """Where to keep this test's videos (``None``: not kept): next to the rest of its evidence."""
    mode = _debugging(node.config).video
    failed = _failed(node)
    if mode == "on" or (mode == "retain-on-failure" and failed):
        if known is not None:
            return known
        return node.stash[_BASE] if failed and _BASE in node.stash else _artifact_base(node)
    return None


def _attach_videos(node: pytest.Item, kept: list[Path]) -> None:
    for path in kept:
        attach(node, "video", "video/webm", path)


def _new_context_error(error: TypeError, options: dict[str, Any]) -> InvalidOptionError:
    return InvalidOptionError(
        "maestro_context_options", f"Playwright refused the context options {sorted(options)}: {error}"
    )


def _console_errors_text(errors: list[str]) -> str:
    return "\n".join(errors) + ("\n" if errors else "")


@pytest.fixture
def maestro_context(
    maestro_browser: Browser, maestro_context_options: dict[str, Any], request: pytest.FixtureRequest
) -> Iterator[BrowserContext]:
    """A fresh browser context for one test (with ``maestro_context_options`` and the test's
    ``maestro_context`` marker), traced; the trace is kept when the test fails."""
    require_driver(maestro_browser)
    options = _context_options(request, maestro_context_options)
    with _video_folder(request, options) as recording:
        try:
            context = maestro_browser.new_context(**options)
        except TypeError as error:
            raise _new_context_error(error, options) from error
        mode = request.config.getoption("maestro_trace", "retain-on-failure")
        tracing = mode != "off"
        if tracing:
            context.tracing.start(screenshots=mode.endswith("screenshots"), snapshots=True)
        try:
            yield context
        finally:
            if not driver_lost(context):
                _close_context(context, request.node, tracing=tracing, recording=recording)


def _close_context(context: BrowserContext, node: pytest.Item, *, tracing: bool, recording: Path | None) -> None:
    """Stop the trace (kept when the test failed), close the context and keep its videos."""
    base: Path | None = None
    if tracing:
        if _failed(node):
            base = node.stash[_BASE] if _BASE in node.stash else _artifact_base(node)
            trace = base.with_name(base.name + "-trace.zip")
            context.tracing.stop(path=trace)
            attach(node, "trace", "application/zip", trace)
        else:
            context.tracing.stop()
    videos: list[Video] = [page.video for page in context.pages if page.video] if recording else []
    context.close()
    if videos:
        _attach_videos(node, keep_videos(videos, _video_base(node, base)))


@pytest.fixture
def maestro_page(maestro_context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A new page in a fresh context; on failure its screenshot and console errors are attached."""
    page = maestro_context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    yield page
    node = request.node
    if _failed(node):
        base = _artifact_base(node)
        node.stash[_BASE] = base
        screenshot = base.with_name(base.name + "-screenshot.png")
        if driver_lost(page):
            errors.append(LOST_NOTE)
        else:
            try:
                page.screenshot(path=screenshot, full_page=True)
                attach(node, "screenshot", "image/png", screenshot)
            except Exception as error:  # a crashed page: keep the rest of the evidence
                errors.append(f"maestro: screenshot failed: {error}")
        console = base.with_name(base.name + "-console.txt")
        console.write_text(_console_errors_text(errors), encoding="utf-8")
        attach(node, "console errors", "text/plain", console)


@dataclass
class _SharedPage:
    context: BrowserContext
    page: Page
    errors: list[str]
    tracing: bool


@pytest.fixture(scope="session")
def _maestro_shared_page(
    maestro_browser: Browser, maestro_context_options: dict[str, Any], pytestconfig: pytest.Config
) -> Iterator[_SharedPage]:
    require_driver(maestro_browser)
    try:
        context = maestro_browser.new_context(**maestro_context_options)
    except TypeError as error:
        raise _new_context_error(error, maestro_context_options) from error
    mode = pytestconfig.getoption("maestro_trace", "retain-on-failure")
    tracing = mode != "off"
    if tracing:
        context.tracing.start(screenshots=mode.endswith("screenshots"), snapshots=True)
    page = context.new_page()
    shared = _SharedPage(context, page, [], tracing)
    page.on("console", lambda m: shared.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda error: shared.errors.append(f"pageerror: {error}"))
    try:
        yield shared
    finally:
        if not driver_lost(context):
            if tracing:
                context.tracing.stop()
            context.close()


@pytest.fixture
def maestro_shared_page(_maestro_shared_page: _SharedPage, request: pytest.FixtureRequest) -> Iterator[Page]:
    """The fastest isolation level: ONE page for the session, reset after each test (cookies
    cleared, local and session storage of the current origin cleared, back to ``about:blank``).
    Evidence on failure as with ``maestro_page`` (the trace is this test's chunk). Tests can see
    state the reset does not cover (other origins' storage, service workers, HTTP cache): use
    ``maestro_page`` when that matters."""
    shared = _maestro_shared_page
    require_driver(shared.page)
    shared.errors.clear()
    if shared.tracing:
        shared.context.tracing.start_chunk()
    yield shared.page
    node = request.node
    page = shared.page
    lost = driver_lost(page)
    trace: Path | None = None
    if _failed(node):
        base = _artifact_base(node)
        trace = base.with_name(base.name + "-trace.zip")
        screenshot = base.with_name(base.name + "-screenshot.png")
        if lost:
            shared.errors.append(LOST_NOTE)
        else:
            try:
                page.screenshot(path=screenshot, full_page=True)
                attach(node, "screenshot", "image/png", screenshot)
            except Exception as error:  # a crashed page: keep the rest of the evidence
                shared.errors.append(f"maestro: screenshot failed: {error}")
        console = base.with_name(base.name + "-console.txt")
        console.write_text(_console_errors_text(shared.errors), encoding="utf-8")
        attach(node, "console errors", "text/plain", console)
    if lost:
        return
    if shared.tracing:
        shared.context.tracing.stop_chunk(path=trace)  # None: this test's chunk is dropped
        if trace is not None:
            attach(node, "trace", "application/zip", trace)
    shared.context.clear_cookies()
    try:
        page.evaluate("() => { try { localStorage.clear(); sessionStorage.clear(); } catch (e) {} }")
    finally:
        page.goto("about:blank")


class _LoopThread:
    """An event loop of its own in a thread: the asyncio journeys run there, so they need no
    pytest-asyncio and never meet the loop of sync Playwright (or of pytest-asyncio) in the
    main thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="maestro-async-browser", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def run(self, awaitable: Coroutine[Any, Any, _T]) -> _T:
        """Run ``awaitable`` on the loop; its result or exception comes back to this thread."""
        return asyncio.run_coroutine_threadsafe(awaitable, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()


@pytest.fixture
def _maestro_async_loop() -> Iterator[_LoopThread]:
    loop = _LoopThread()
    try:
        yield loop
    finally:
        loop.close()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test that uses ``maestro_async_page``/``maestro_async_browser`` on their
    loop (pytest-asyncio not needed; when installed, in any mode, it is bypassed for these tests)."""
    loop = pyfuncitem.funcargs.get("_maestro_async_loop")
    if not isinstance(loop, _LoopThread):
        return None
    function = inspect.unwrap(pyfuncitem.obj)  # pytest-asyncio wraps coroutines with functools.wraps
    if not inspect.iscoroutinefunction(function):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    loop.run(function(**arguments))
    return True


@pytest.fixture
def maestro_async_browser(_maestro_async_loop: _LoopThread, pytestconfig: pytest.Config) -> Iterator[AsyncBrowser]:
    """An asyncio Playwright Chromium for one test, on an event loop of its own (an asyncio
    browser belongs to one loop). Use it from ``async def`` tests: no pytest-asyncio needed."""
    _need("playwright", "playwright")
    from playwright.async_api import async_playwright

    loop = _maestro_async_loop
    debugging = _debugging(pytestconfig)
    with _driver_environment(pytestconfig) as environment:
        manager = async_playwright()
        with driver_environment(environment):
            playwright = loop.run(manager.__aenter__())
        try:
            endpoint = _endpoint(pytestconfig)
            if endpoint:
                if endpoint.startswith(("http://", "https://")) or "/devtools/browser/" in endpoint:
                    browser = loop.run(playwright.chromium.connect_over_cdp(endpoint))
                else:
                    browser = loop.run(playwright.chromium.connect(endpoint))
            else:
                options = _launch_options(
                    allow_hosts=_allowed(pytestconfig), headed=debugging.headed, slow_mo=debugging.slow_mo
                )
                browser = loop.run(playwright.chromium.launch(**options))
            try:
                yield browser
            finally:
                loop.run(browser.close())
        finally:
            loop.run(manager.__aexit__(None, None, None))


async def _async_page_collecting(context: AsyncBrowserContext, errors: list[str]) -> AsyncPage:
    page = await context.new_page()
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    return page


async def _async_evidence(
    node: pytest.Item,
    page: AsyncPage,
    context: AsyncBrowserContext,
    errors: list[str],
    *,
    tracing: bool,
    recording: bool,
) -> None:
    base: Path | None = None
    if _failed(node):
        base = _artifact_base(node)
        screenshot = base.with_name(base.name + "-screenshot.png")
        try:
            await page.screenshot(path=screenshot, full_page=True)
            attach(node, "screenshot", "image/png", screenshot)
        except Exception as error:
            errors.append(f"maestro: screenshot failed: {error}")
        console = base.with_name(base.name + "-console.txt")
        console.write_text(_console_errors_text(errors), encoding="utf-8")
        attach(node, "console errors", "text/plain", console)
        if tracing:
            trace = base.with_name(base.name + "-trace.zip")
            await context.tracing.stop(path=trace)
            attach(node, "trace", "application/zip", trace)
    elif tracing:
        await context.tracing.stop()
    videos = [each.video for each in context.pages if each.video] if recording else []
    await context.close()
    target = _video_base(node, base) if videos else None
    for number, video in enumerate(videos, start=1):  # keep_videos, in this loop's API
        if target is not None:
            kept = video_path(target, number)
            await video.save_as(kept)
            attach(node, "video", "video/webm", kept)
        await video.delete()


@pytest.fixture
def maestro_async_page(
    maestro_async_browser: AsyncBrowser,
    _maestro_async_loop: _LoopThread,
    maestro_context_options: dict[str, Any],
    request: pytest.FixtureRequest,
) -> Iterator[AsyncPage]:
    """An asyncio page in a fresh context; on failure its screenshot, console errors and trace.

    ``async def`` tests that use it run on its own event loop: no pytest-asyncio, no asyncio mode.
    """
    loop = _maestro_async_loop
    options = _context_options(request, maestro_context_options)
    with _video_folder(request, options) as recording:
        try:
            context = loop.run(maestro_async_browser.new_context(**options))
        except TypeError as error:
            raise _new_context_error(error, options) from error
        mode = request.config.getoption("maestro_trace", "retain-on-failure")
        tracing = mode != "off"
        if tracing:
            loop.run(context.tracing.start(screenshots=mode.endswith("screenshots"), snapshots=True))
        errors: list[str] = []
        page = loop.run(_async_page_collecting(context, errors))  # listeners belong to the page's loop
        try:
            yield page
        finally:
            evidence = _async_evidence(
                request.node, page, context, errors, tracing=tracing, recording=recording is not None
            )
            loop.run(evidence)


# -- Selenium ----------------------------------------------------------------------------------
def new_chrome_driver(*, grid_url: str | None = None, allow_hosts: tuple[str, ...] = ()) -> WebDriver:
    """A headless Chrome WebDriver on the system Chromium: ChromeDriver passed explicitly in a
    ``Service`` (Selenium Manager never runs), or a ``Remote`` driver on ``grid_url``.
    ``allow_hosts``: what the browser may reach beyond loopback (see ``allowed_hosts``)."""
    _need("selenium", "selenium")
    os.environ.setdefault("SE_OFFLINE", "true")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in chromium_args(allow_hosts=allow_hosts):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if grid_url:
        return webdriver.Remote(command_executor=grid_url, options=options)
    options.binary_location = _chromium_or_fail()
    driver_path = chromedriver_path()
    if not is_executable(driver_path):
        raise AdapterUnavailableError(
            "selenium", f"no ChromeDriver at {driver_path}: install chromium-driver or set MAESTRO_CHROMEDRIVER"
        )
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


def _browser_log(driver: WebDriver) -> list[dict[str, Any]]:
    """The browser's console log (Chromium drivers); a plain Remote driver has none to give."""
    get_log = getattr(driver, "get_log", None)
    if get_log is None:
        return []
    try:
        return list(get_log("browser"))
    except Exception:  # a Grid node without the logging capability
        return []


@pytest.fixture(scope="session")
def maestro_webdriver(pytestconfig: pytest.Config) -> Iterator[WebDriver]:
    """One Selenium Chrome driver for the session (local ChromeDriver or a Grid)."""
    grid = pytestconfig.getoption("maestro_grid_url", None) or os.environ.get(GRID_URL_ENV)
    driver = new_chrome_driver(grid_url=grid or None, allow_hosts=_allowed(pytestconfig))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def maestro_driver(maestro_webdriver: WebDriver, request: pytest.FixtureRequest) -> Iterator[WebDriver]:
    """The session's driver with clean state for one test; on failure a screenshot and the browser log."""
    driver = maestro_webdriver
    _browser_log(driver)  # drop entries of earlier tests
    yield driver
    node = request.node
    if _failed(node):
        base = _artifact_base(node)
        screenshot = base.with_name(base.name + "-screenshot.png")
        if driver.get_screenshot_as_file(str(screenshot)):
            attach(node, "screenshot", "image/png", screenshot)
        log = base.with_name(base.name + "-browser-log.jsonl")
        entries = _browser_log(driver)
        log.write_text("".join(json.dumps(entry) + "\n" for entry in entries), encoding="utf-8")
        attach(node, "browser log", "application/jsonl", log)
    try:
        driver.delete_all_cookies()
        driver.execute_script("try { localStorage.clear(); sessionStorage.clear(); } catch (e) {}")
    finally:
        driver.get("about:blank")
