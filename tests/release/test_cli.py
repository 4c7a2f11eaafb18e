"""The other release commands the Makefile calls: build, index and bump."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from maestro_devtools.servers import free_port, wait_for_port
from tests.release.conftest import next_version, version_of

pytestmark = pytest.mark.release

CLI = [sys.executable, "-m", "maestro_devtools.release"]


def test_build_command_builds_and_checks_one_package(release_repo: Path) -> None:
    result = subprocess.run(
        [*CLI, "--root", str(release_repo), "build", "audit-logger"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    version = version_of("audit-logger")
    assert f"maestro-audit-logger {version}: " in result.stdout
    assert "(twine check passed)" in result.stdout
    built = sorted(p.name for p in (release_repo / "dist/audit-logger").iterdir())
    assert built == [f"maestro_audit_logger-{version}-py3-none-any.whl", f"maestro_audit_logger-{version}.tar.gz"]
    assert not (release_repo / "dist/resilience").exists()


def test_index_command_serves_the_index_until_stopped(release_repo: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "--root", str(release_repo), "index", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for_port("127.0.0.1", port, timeout=30, alive=lambda: process.poll() is None)
        response = httpx.get(f"http://127.0.0.1:{port}/simple/")
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert f"at http://127.0.0.1:{port}/simple/" in stdout
    assert (release_repo / ".index").is_dir()
    assert not re.search(r"password|htpasswd", stdout + stderr, re.IGNORECASE)


def test_index_command_fails_when_its_port_is_taken(release_repo: Path) -> None:
    # before: `make index` printed "serving" while its pypiserver had died on the busy port
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*CLI, "--root", str(release_repo), "index", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"pypiserver cannot start on 127.0.0.1:{port}: another process already listens there" in result.stderr
    assert "serving" not in result.stdout
    assert "Traceback" not in result.stderr


def test_bump_command(release_repo: Path) -> None:
    result = subprocess.run(
        [*CLI, "--root", str(release_repo), "bump", "test-adapters", "patch"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    before = version_of("test-adapters")
    after = next_version(before, "patch")
    assert f"maestro-test-adapters: {before} -> {after}" in result.stdout
    assert f"## [{after}] - " in (release_repo / "test-adapters/CHANGELOG.md").read_text()
