"""Root conftest of the shared suite: registers the real-server fixtures in ``tests.fixtures``.

Selenium Manager must never run (it would try to download a driver): the fixtures hand
Selenium a running ChromeDriver, and these variables keep it offline should anything
construct a bare ``Service()`` anyway.
"""

from __future__ import annotations

import os

import pytest

from tests.fixtures import PLUGINS
from tests.fixtures.services import REQUIRE_SERVICES_ENV, services_required

os.environ["SE_OFFLINE"] = "true"
os.environ["SE_AVOID_STATS"] = "true"

pytest_plugins = [*PLUGINS, "pytester"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With services required (CI), a run that skipped anything fails: it must not go green
    by skipping, whatever the reason (a missing server, extra, compiler or interpreter)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if services_required() and skipped and exitstatus == pytest.ExitCode.OK:
        for report in skipped:
            reporter.write_line(f"SKIPPED IN CI: {report.nodeid}: {report.longrepr}", red=True)
        reporter.write_line(
            f"{len(skipped)} test(s) skipped while {REQUIRE_SERVICES_ENV} is set: failing the run", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
