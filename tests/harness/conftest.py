"""Playwright's sync API for the harness's browser tests (no browser download: tests pass
``executable_path`` or attach over CDP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Playwright, sync_playwright


@pytest.fixture(scope="module")
def sync_pw() -> Iterator[Playwright]:
    """One Playwright driver per test module.

    Not per session: while the sync API's driver runs, its event loop counts as running on
    this thread, and asyncio tests scheduled after it on the same worker could not start
    their own loop ("Cannot run the event loop while another loop is running").
    """
    with sync_playwright() as playwright:
        yield playwright
