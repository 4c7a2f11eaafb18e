"""Version = changelog = tag: every changelog section of a published version has its
``<pkg>-v<version>`` tag, on a commit whose tree is that version (``make check-tags`` in CI)."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest

from maestro_devtools.release.bump import bump
from maestro_devtools.release.packages import load_package
from maestro_devtools.release.tags import tag_release, untagged_versions
from tests.release.conftest import git

pytestmark = pytest.mark.release

DAY = datetime.date(2026, 12, 7)


def _check_tags(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maestro_devtools.release", "--root", str(repo), "check-tags"],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_published_section_without_its_tag_fails_the_check(release_repo: Path) -> None:
    folder = release_repo / "resilience"
    assert untagged_versions(release_repo, load_package(folder)) == []  # 0.x: never published from here
    bump(folder, "2.0.0", today=DAY)
    git(release_repo, "commit", "-qam", "resilience 2.0.0")
    # the current version is not published yet: the release tags it on publish
    assert untagged_versions(release_repo, load_package(folder)) == []
    bump(folder, "2.0.1", today=DAY)
    git(release_repo, "commit", "-qam", "resilience 2.0.1")
    done = _check_tags(release_repo)
    assert done.returncode == 1, done.stdout
    assert "resilience/CHANGELOG.md has a [2.0.0] section but no tag resilience-v2.0.0" in done.stderr


def test_a_tag_on_a_commit_of_another_version_fails_the_check(release_repo: Path) -> None:
    folder = release_repo / "audit-logger"
    bump(folder, "2.0.0", today=DAY)
    git(release_repo, "commit", "-qam", "audit-logger 2.0.0")
    assert tag_release(release_repo, load_package(folder)).startswith("tagged ")
    assert _check_tags(release_repo).returncode == 0
    bump(folder, "2.1.0", today=DAY)
    git(release_repo, "commit", "-qam", "audit-logger 2.1.0")
    assert _check_tags(release_repo).returncode == 0  # 2.0.0 tagged on its own tree; 2.1.0 is current
    git(release_repo, "tag", "-d", "audit-logger-v2.0.0")
    git(release_repo, "tag", "audit-logger-v2.0.0")  # re-made on the 2.1.0 commit by mistake
    done = _check_tags(release_repo)
    assert done.returncode == 1
    assert "tag audit-logger-v2.0.0 marks" in done.stderr
    assert "is not 2.0.0" in done.stderr
