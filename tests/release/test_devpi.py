"""The release pipeline against devpi-server: another real PyPI-compatible index, whose simple
index lives at ``+simple/`` and whose non-volatile indexes refuse re-uploads.

Before, the existence check read ``<upload URL>simple/`` (a 404 on devpi, believed to mean
"nothing there"), so a second run re-uploaded everything and the dry run lied.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.devpi import DevpiServer
from tests.release.conftest import Result, git, run_release_command, version_of

pytestmark = [pytest.mark.release, pytest.mark.slow]

WRONG_PASSWORD = "Wr0ng-devpi-PASSWORD-plugh"


def _env(devpi: DevpiServer, upload_url: str, group_url: str, **extra: str) -> dict[str, str]:
    return {
        "MAESTRO_NEXUS_URL": upload_url,
        "MAESTRO_NEXUS_USER": devpi.username,
        "MAESTRO_NEXUS_PASSWORD": devpi.password,
        "MAESTRO_NEXUS_INDEX_URL": group_url,
        **extra,
    }


@pytest.fixture(scope="module")
def index_urls(devpi_server: DevpiServer) -> tuple[str, str]:
    return devpi_server.new_index("release")


@pytest.fixture(scope="module")
def first_publish(shared_repo: Path, devpi_server: DevpiServer, index_urls: tuple[str, str]) -> Result:
    return run_release_command(shared_repo, _env(devpi_server, *index_urls), "resilience")


def test_first_publish_finds_the_plus_simple_index_uploads_and_verifies(
    first_publish: Result, index_urls: tuple[str, str]
) -> None:
    assert first_publish.returncode == 0, first_publish.output
    assert f"read what the index holds from {index_urls[0]}+simple/" in first_publish.stdout
    assert "uploaded 2 of 2" in first_publish.stdout
    assert f"maestro-resilience  {version_of('resilience')}" in first_publish.stdout
    assert "Uploaded 2 file(s)." in first_publish.stdout


def test_second_run_uploads_nothing_and_the_dry_run_tells_the_truth(
    first_publish: Result, shared_repo: Path, devpi_server: DevpiServer, index_urls: tuple[str, str]
) -> None:
    assert first_publish.returncode == 0, first_publish.output
    for extra in ({}, {"DRY_RUN": "1"}):
        again = run_release_command(shared_repo, _env(devpi_server, *index_urls, **extra), "resilience")
        assert again.returncode == 0, again.output
        assert "already there" in again.stdout
        assert "Nothing to upload: every file is already on the index." in again.stdout
        assert "uploading" not in again.stdout


@pytest.mark.parametrize("verbose", ["", "1"], ids=["quiet", "V=1"])
def test_a_wrong_password_is_refused_and_never_printed(
    release_repo: Path, devpi_server: DevpiServer, verbose: str
) -> None:
    upload_url, group_url = devpi_server.new_index(f"wrong-password-{verbose or 'quiet'}")
    env = _env(devpi_server, upload_url, group_url, MAESTRO_NEXUS_PASSWORD=WRONG_PASSWORD, V=verbose)
    result = run_release_command(release_repo, env, "resilience")
    assert result.returncode == 1, result.output
    assert "refused user 'maestro' (HTTP 401" in result.stderr
    assert WRONG_PASSWORD not in result.output
    assert devpi_server.password not in result.output
    assert "Traceback" not in result.output


def test_changed_content_under_a_published_version_is_refused(release_repo: Path, devpi_server: DevpiServer) -> None:
    upload_url, group_url = devpi_server.new_index("changed-content")
    env = _env(devpi_server, upload_url, group_url)
    first = run_release_command(release_repo, env, "resilience", "--no-verify")
    assert first.returncode == 0, first.output
    readme = release_repo / "resilience/README.md"
    readme.write_text(readme.read_text() + "\nA late change without a version bump.\n")
    git(release_repo, "commit", "-qam", "change without bump")
    second = run_release_command(release_repo, env, "resilience", "--no-verify")
    assert second.returncode == 1, second.output
    assert "index differs (2 of 2)" in second.stdout
    assert "the index holds other content under" in second.stderr
    assert "uploading" not in second.stdout
