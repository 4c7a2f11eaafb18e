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
from tests.release.conftest import first_release, git

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
    assert untagged_versions(release_repo, load_package(folder)) == []  # never published from here
    published = first_release(release_repo, "resilience", today=DAY)
    # the current version is not published yet: the release tags it on publish
    assert untagged_versions(release_repo, load_package(folder)) == []
    assert tag_release(release_repo, load_package(folder)).startswith("tagged ")
    bump(folder, "patch", today=DAY)
    git(release_repo, "commit", "-qam", "resilience: the next patch")
    git(release_repo, "tag", "-d", f"resilience-v{published}")  # a clone that did not fetch its tags
    done = _check_tags(release_repo)
    assert done.returncode == 1, done.stdout
    assert f"resilience/CHANGELOG.md has a [{published}] section but no tag resilience-v{published}" in done.stderr


def test_a_tag_on_a_commit_of_another_version_fails_the_check(release_repo: Path) -> None:
    folder = release_repo / "audit-logger"
    published = first_release(release_repo, "audit-logger", today=DAY)
    assert tag_release(release_repo, load_package(folder)).startswith("tagged ")
    assert _check_tags(release_repo).returncode == 0
    bump(folder, "minor", today=DAY)
    git(release_repo, "commit", "-qam", "audit-logger: the next minor")
    assert _check_tags(release_repo).returncode == 0  # the first tagged on its own tree; the minor is current
    git(release_repo, "tag", "-d", f"audit-logger-v{published}")
    git(release_repo, "tag", f"audit-logger-v{published}")  # re-made on the next commit by mistake
    done = _check_tags(release_repo)
    assert done.returncode == 1
    assert f"tag audit-logger-v{published} marks" in done.stderr
    assert f"is not {published}" in done.stderr
