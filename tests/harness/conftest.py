"""Playwright's sync API for the harness's browser tests (no browser download: tests pass
``executable_path`` or attach over CDP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Playwright, sync_playwright


@pytest.fixture(scope="session")
def sync_pw() -> Iterator[Playwright]:
    """One Playwright driver per session (per xdist worker)."""
    with sync_playwright() as playwright:
        yield playwright
