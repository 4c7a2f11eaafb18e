"""Stopping a server leaves nothing behind: its pid, its helpers and its port are gone.

Each test starts a private instance with the same helper its fixture uses, so the
session's shared servers stay up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from maestro_devtools.servers import group_members, pid_running
from maestro_devtools.servers._ports import port_accepts
from maestro_devtools.servers._reaper import all_processes, proc_stat
from tests.fixtures import binaries
from tests.fixtures.chromium import browser_args, running_chromedriver, running_chromium_cdp
from tests.fixtures.postgres import os_user, running_postgres
from tests.fixtures.redis import running_redis
from tests.fixtures.services import require
from tests.fixtures.static_site import running_static_site, write_pages


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``."""
    processes = all_processes()
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [p.pid for p in processes if p.ppid == parent and not p.zombie]
        found.extend(children)
        frontier.extend(children)
    return found


def assert_gone(pids: list[int], port: int) -> None:
    """No process is left, not even a zombie of ours, and nothing listens on the port."""
    assert [pid for pid in pids if pid_running(pid)] == []
    leftover = [stat for pid in pids if (stat := proc_stat(pid)) and stat.ppid == os.getpid()]
    assert leftover == [], f"unreaped children: {leftover}"
    assert not port_accepts("127.0.0.1", port)


def test_redis_stops_by_pid(tmp_path: Path) -> None:
    executable = require(binaries.redis_server(), "redis-server", "redis-server")
    with running_redis(executable, tmp_path) as server:
        assert pid_running(server.pid)
        assert port_accepts(server.host, server.port)
    assert_gone([server.pid], server.port)


@pytest.mark.slow
def test_postgres_fast_shutdown_ends_the_postmaster_and_its_children() -> None:
    initdb = require(binaries.pg_binary("initdb"), "PostgreSQL (initdb)", "postgresql")
    with running_postgres(initdb.parent, user=os_user()) as server:
        children = descendants(server.pid)
        assert len(children) >= 3  # checkpointer, background writer, walwriter, ...
        data_dir = server.data_dir
    assert_gone([server.pid, *children], server.port)
    assert not data_dir.exists()


@pytest.mark.slow
def test_chromium_stop_ends_its_helper_processes(tmp_path: Path) -> None:
    executable = require(binaries.chromium(), "Chromium", "chromium")
    args = browser_args(as_root=os.geteuid() == 0)
    with running_chromium_cdp(executable, args, tmp_path) as browser:
        helpers = descendants(browser.pid)
        assert helpers, "a running Chromium has renderer/utility processes"
        assert group_members(browser.pid)
    assert_gone([browser.pid, *helpers], browser.port)
    assert group_members(browser.pid) == []


def test_chromedriver_stops_by_pid(tmp_path: Path) -> None:
    executable = require(binaries.chromedriver(), "ChromeDriver", "chromium-driver")
    with running_chromedriver(executable, tmp_path) as driver:
        assert pid_running(driver.pid)
    assert_gone([driver.pid], driver.port)


def test_static_site_stops_by_pid(tmp_path: Path) -> None:
    write_pages(tmp_path / "root")
    with running_static_site(tmp_path / "root", tmp_path) as site:
        assert pid_running(site.pid)
    assert_gone([site.pid], site.port)


def test_the_session_adopts_orphans_to_reap_them() -> None:
    """The test process is a child subreaper: an orphaned grandchild becomes its child."""
    if not sys.platform.startswith("linux"):
        pytest.skip("child subreapers are a Linux feature")
    shell = subprocess.run(
        ["sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"],
        capture_output=True, text=True, check=True, timeout=10,
    )  # fmt: skip
    orphan = int(shell.stdout)
    try:
        stat = proc_stat(orphan)
        assert stat is not None
        assert stat.ppid == os.getpid()
    finally:
        os.kill(orphan, signal.SIGKILL)
        os.waitpid(orphan, 0)
    assert proc_stat(orphan) is None
