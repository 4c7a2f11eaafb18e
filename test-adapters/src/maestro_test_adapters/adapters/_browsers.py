"""The ``playwright`` and ``selenium`` adapters: pytest journeys with our browser fixtures."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from pathlib import Path

from maestro_test_adapters._adapter import Availability
from maestro_test_adapters._chromium import (
    allowed_hosts,
    chromedriver_path,
    chromium_path,
    headless_chromium_path,
    is_executable,
)
from maestro_test_adapters._options import RunOptions
from maestro_test_adapters.adapters._pytest_adapter import PytestAdapter

__all__ = ["PlaywrightAdapter", "SeleniumAdapter"]

FIXTURES = "maestro_test_adapters.browser_fixtures"


class _BrowserAdapter(PytestAdapter):
    extra = ""
    module = ""

    def __init__(
        self,
        *,
        python: str | None = None,
        endpoint: str | None = None,
        artifacts: str | os.PathLike[str] | None = None,
        allow_hosts: str | Iterable[str] = (),
    ) -> None:
        super().__init__(python=python, plugins=(FIXTURES,))
        self.endpoint = endpoint
        self.artifacts = None if artifacts is None else os.fspath(artifacts)
        self.allow_hosts = allowed_hosts([allow_hosts] if isinstance(allow_hosts, str) else allow_hosts)

    def available(self) -> Availability:
        """Ok when the extra is installed and the browser (and driver) are present."""
        base = super().available()
        if not base:
            return base
        if importlib.util.find_spec(self.module) is None:
            return Availability(
                False, f"{self.module} is not installed: pip install 'maestro-test-adapters[{self.extra}]'"
            )
        if self.endpoint is None:
            browser = headless_chromium_path() if self.module == "playwright" else chromium_path()
            if not is_executable(browser):
                return Availability(
                    False, f"no Chromium at {browser}: apt-get install chromium or set MAESTRO_CHROMIUM"
                )
        return Availability(True)

    def _artifacts_arg(self, options: RunOptions) -> list[str]:
        folder = self.artifacts
        if folder is None and options.jsonl is not None:
            folder = os.fspath(options.jsonl.resolve().parent / "maestro-artifacts")
        if folder is None:
            folder = os.fspath(Path(options.cwd or Path.cwd()) / "maestro-artifacts")
        hosts = [f"--maestro-allow-host={host}" for host in self.allow_hosts]
        return [f"--maestro-artifacts={os.path.abspath(folder)}", *hosts]


class PlaywrightAdapter(_BrowserAdapter):
    """Runs Playwright journeys written as pytest tests (fixtures ``maestro_page``, ``maestro_browser``...).

    Args:
        python: the interpreter that runs pytest (default: this one).
        endpoint: attach to a remote browser instead of launching Chromium (see ``connect``).
        artifacts: folder for screenshots, traces and console logs (default: ``maestro-artifacts``
            next to the JSONL report, or in the working directory).
        allow_hosts: hosts the browser may reach beyond loopback (default: none), added to the
            run's ``--maestro-allow-host``/``maestro_allow_hosts``/``$MAESTRO_ALLOW_HOSTS``; see
            ``allowed_hosts``. Recorded in the report's environment.

    Raises:
        InvalidOptionError: an ``allow_hosts`` entry is not a host, address or range.

    Examples:
        >>> PlaywrightAdapter(endpoint="http://127.0.0.1:9222").name
        'playwright'
        >>> PlaywrightAdapter(allow_hosts="db, web=127.0.0.1").allow_hosts
        ('db', 'web=127.0.0.1')

        Run journeys written with the ``maestro_page`` fixture on the system Chromium:

        ```python
        run = PlaywrightAdapter().run("journeys", options=RunOptions(timeout=600, jsonl="out/results.jsonl"))
        failed = [t for t in run.tests if t.status is Status.FAILED]  # each with screenshot and trace
        ```
    """

    tool_name = "playwright"
    extra = "playwright"
    module = "playwright"

    @property
    def name(self) -> str:
        """``playwright``."""
        return "playwright"

    def _extra_args(self, options: RunOptions) -> list[str]:
        endpoint = [f"--maestro-browser-endpoint={self.endpoint}"] if self.endpoint else []
        return self._artifacts_arg(options) + endpoint


class SeleniumAdapter(_BrowserAdapter):
    """Runs Selenium WebDriver journeys written as pytest tests (fixtures ``maestro_driver``...).

    Args:
        python: the interpreter that runs pytest (default: this one).
        endpoint: a Selenium Grid URL (``http://grid:4444``) instead of the local ChromeDriver.
        artifacts: folder for screenshots and browser logs.
        allow_hosts: hosts the browser may reach beyond loopback, as for ``PlaywrightAdapter``.

    Examples:
        >>> SeleniumAdapter(endpoint="http://grid:4444").name
        'selenium'

        Run journeys written with the ``maestro_driver`` fixture on a Selenium Grid:

        ```python
        run = SeleniumAdapter(endpoint="http://grid:4444").run("journeys", options=RunOptions(timeout=600))
        ```
    """

    tool_name = "selenium"
    extra = "selenium"
    module = "selenium"

    @property
    def name(self) -> str:
        """``selenium``."""
        return "selenium"

    def available(self) -> Availability:
        """Also needs ChromeDriver (unless a Grid URL is given)."""
        base = super().available()
        if base and self.endpoint is None and not is_executable(chromedriver_path()):
            return Availability(
                False,
                f"no ChromeDriver at {chromedriver_path()}: "
                "apt-get install chromium-driver or set MAESTRO_CHROMEDRIVER",
            )
        return base

    def _extra_args(self, options: RunOptions) -> list[str]:
        grid = [f"--maestro-grid-url={self.endpoint}"] if self.endpoint else []
        return self._artifacts_arg(options) + grid
