"""Changelog sections and version bumps (through hatchling)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from maestro_devtools.release import ReleaseConfigError
from maestro_devtools.release.bump import bump, open_changelog_section
from tests.release.conftest import next_version, version_of


def test_changelog_section_takes_the_unreleased_entries(tmp_path: Path) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## [Unreleased]\n\n### Fixed\n- a bug\n\n## [0.1.0] - 2026-01-01\n")
    open_changelog_section(changelog, "0.1.1", datetime.date(2026, 11, 26))
    assert changelog.read_text() == (
        "# Changelog\n\n## [Unreleased]\n\n## [0.1.1] - 2026-11-26\n\n### Fixed\n- a bug\n\n## [0.1.0] - 2026-01-01\n"
    )
    with pytest.raises(ReleaseConfigError, match=r"already has a section for 0\.1\.1"):
        open_changelog_section(changelog, "0.1.1", datetime.date(2026, 11, 26))


def test_bump_uses_hatchling_and_opens_a_section(release_repo: Path) -> None:
    expected = next_version(version_of("audit-logger"), "minor")
    bumped = bump(release_repo / "audit-logger", "minor", today=datetime.date(2026, 12, 1))
    assert bumped.version == expected
    about = (release_repo / "audit-logger/src/maestro_audit_logger/__about__.py").read_text()
    assert f'__version__ = "{expected}"' in about
    changelog = (release_repo / "audit-logger/CHANGELOG.md").read_text()
    assert f"## [Unreleased]\n\n## [{expected}] - 2026-12-01\n" in changelog
    with pytest.raises(ReleaseConfigError, match="PART must be one of"):
        bump(release_repo / "audit-logger", "huge")
