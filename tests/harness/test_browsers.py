"""Chromium (over CDP and launched by Playwright) and ChromeDriver drive the static site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Playwright, expect
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.fixtures.chromium import CdpBrowser, ChromeDriverServer, profile_arg
from tests.fixtures.static_site import (
    BUTTON_TEXT_AFTER_CLICK,
    CONSOLE_ERROR_TEXT,
    INDEX_TITLE,
    StaticSite,
)

# The Makefile runs pytest with ``--dist loadfile``: one xdist worker runs this whole file, so
# one Playwright driver and one browser serve every test here.


@pytest.fixture(scope="module")
def attached_browser(sync_pw: Playwright, chromium_cdp: CdpBrowser) -> Iterator[Browser]:
    """Playwright attached to the session's Chromium over CDP (attaching costs ~0.2 s)."""
    browser = sync_pw.chromium.connect_over_cdp(chromium_cdp.endpoint)
    yield browser
    browser.close()  # for an attached browser: disconnects, the browser keeps running


def click_through_the_form(page: Page, site: StaticSite) -> None:
    """Open the index, follow the link to the form, type a name and click the button."""
    page.goto(site.url)
    assert page.title() == INDEX_TITLE
    page.click("#form-link")
    expect(page.locator("#status")).to_have_text("Not clicked")
    page.fill("#name", "Ada")
    page.click("#go")
    expect(page.locator("#status")).to_have_text(f"{BUTTON_TEXT_AFTER_CLICK} Ada")


def test_cdp_endpoint_is_a_real_chromium(chromium_cdp: CdpBrowser) -> None:
    version = chromium_cdp.version()
    assert version["Browser"].startswith(("Chrome/", "HeadlessChrome/"))
    assert version["webSocketDebuggerUrl"].startswith(f"ws://127.0.0.1:{chromium_cdp.port}/")
    assert chromium_cdp.endpoint == f"http://127.0.0.1:{chromium_cdp.port}"


@pytest.mark.slow
def test_playwright_over_cdp_clicks_the_button(
    attached_browser: Browser, chromium_cdp: CdpBrowser, static_site: StaticSite
) -> None:
    context = attached_browser.new_context()
    try:
        click_through_the_form(context.new_page(), static_site)
    finally:
        context.close()
    assert chromium_cdp.process.alive()


@pytest.mark.slow
def test_outside_names_do_not_resolve(attached_browser: Browser) -> None:
    context = attached_browser.new_context()
    try:
        with pytest.raises(Error, match="ERR_NAME_NOT_RESOLVED"):
            context.new_page().goto("http://example.com/", timeout=10_000)
    finally:
        context.close()


@pytest.mark.slow
def test_playwright_launches_the_system_chromium(
    sync_pw: Playwright,
    chromium_executable: Path,
    chromium_args: list[str],
    static_site: StaticSite,
) -> None:
    browser = sync_pw.chromium.launch(executable_path=chromium_executable, args=chromium_args)
    try:
        page = browser.new_page()
        errors: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(message.text)

        page.on("console", on_console)
        page.goto(static_site.page("console-error.html"))
        page.wait_for_load_state("load")
        assert errors == [CONSOLE_ERROR_TEXT]
        click_through_the_form(page, static_site)
    finally:
        browser.close()


def test_chromedriver_speaks_w3c_webdriver(chromedriver_server: ChromeDriverServer) -> None:
    status = httpx.get(f"{chromedriver_server.url}/status", timeout=5).json()
    assert status["value"]["ready"] is True


@pytest.mark.slow
def test_selenium_remote_reads_the_title(
    chromedriver_server: ChromeDriverServer,
    chromium_executable: Path,
    chromium_args: list[str],
    chromium_user_data_dir: Path,
    static_site: StaticSite,
) -> None:
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium_executable)
    for arg in [*chromium_args, profile_arg(chromium_user_data_dir)]:
        options.add_argument(arg)
    driver = webdriver.Remote(command_executor=chromedriver_server.url, options=options)
    try:
        driver.get(static_site.url)
        assert driver.title == INDEX_TITLE
        driver.get(static_site.page("form.html"))
        driver.find_element(By.ID, "go").click()
        assert driver.find_element(By.ID, "status").text == BUTTON_TEXT_AFTER_CLICK
    finally:
        driver.quit()
