"""Changelog sections and version bumps (through hatchling)."""

from __future__ import annotations

import datetime
import tomllib
from pathlib import Path

import pytest

from maestro_devtools.release import ReleaseConfigError
from maestro_devtools.release.bump import bump, open_changelog_section
from tests.release.conftest import git, next_version, version_of

pytestmark = pytest.mark.release


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


def _sibling_requirements_hold(repo: Path) -> list[str]:
    """Every requirement one repository package has on another, that the other's version breaks."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from maestro_devtools.release import discover_packages

    packages = {p.project: p for p in discover_packages(repo)}
    broken = []
    for package in packages.values():
        project = tomllib.loads((package.folder / "pyproject.toml").read_text())["project"]
        lines = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            lines.extend(extra)
        for line in lines:
            requirement = Requirement(line)
            sibling = packages.get(canonicalize_name(requirement.name))
            if sibling and not requirement.specifier.contains(sibling.version, prereleases=True):
                broken.append(f"{package.key}: {line} excludes {sibling.version}")
    return broken


def test_a_major_bump_moves_the_siblings_ranges_with_it(release_repo: Path) -> None:
    # before: `make bump-resilience PART=major` left test-adapters requiring maestro-resilience<1,
    # and every make target after it failed with pip's ResolutionImpossible
    assert _sibling_requirements_hold(release_repo) == []
    bumped = bump(release_repo / "resilience", "major", today=datetime.date(2026, 12, 7))
    assert bumped.version == next_version(version_of("resilience"), "major")
    assert _sibling_requirements_hold(release_repo) == []
    major = int(bumped.version.split(".")[0])
    pyproject = (release_repo / "test-adapters/pyproject.toml").read_text()
    assert f'"maestro-resilience>={major}.0,<{major + 1}"' in pyproject
    changelog = (release_repo / "test-adapters/CHANGELOG.md").read_text()
    unreleased = changelog.split("## [Unreleased]", 1)[1].split("\n## [", 1)[0]
    assert f"### Changed\n- Requires maestro-resilience>={major}.0,<{major + 1}.\n" in unreleased


def test_a_release_candidate_is_a_pre_release_the_siblings_accept(release_repo: Path) -> None:
    bumped = bump(release_repo / "test-result-aggregator", "major,rc", today=datetime.date(2026, 12, 7))
    major = int(version_of("test-result-aggregator").split(".")[0]) + 1
    assert bumped.version == f"{major}.0.0rc0"
    assert f"## [{major}.0.0rc0] - 2026-12-07" in (release_repo / "test-result-aggregator/CHANGELOG.md").read_text()
    assert _sibling_requirements_hold(release_repo) == []
    assert bump(release_repo / "test-result-aggregator", "rc").version == f"{major}.0.0rc1"
    assert bump(release_repo / "test-result-aggregator", "release").version == f"{major}.0.0"
    assert _sibling_requirements_hold(release_repo) == []
    pyproject = (release_repo / "test-adapters/pyproject.toml").read_text()
    assert f'"maestro-test-result-aggregator>={major}.0.0rc0,<{major + 1}"' in pyproject


def test_bumping_a_version_never_published_folds_its_section_into_the_next(release_repo: Path) -> None:
    # before: 2.0.0 bumped, then a fix and a bump to 2.0.1 left a [2.0.0] section for a version
    # never published, which `make check-tags` then failed on (no tag test-result-aggregator-v2.0.0)
    from maestro_devtools.release.cli import main
    from maestro_devtools.release.tags import untagged_versions

    folder = release_repo / "test-result-aggregator"
    first = bump(folder, "3.0.0", today=datetime.date(2026, 12, 7))
    changelog = folder / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace("## [Unreleased]\n", "## [Unreleased]\n\n### Fixed\n- a fix\n", 1)
    )
    git(release_repo, "commit", "-qam", "3.0.0 and a fix")
    assert main(["--root", str(release_repo), "bump", "test-result-aggregator", "patch"]) == 0
    text = changelog.read_text()
    assert f"## [{first.version}]" not in text
    section = text.split("## [3.0.1] - ", 1)[1].split("\n## [", 1)[0]
    assert "- a fix" in section
    assert section.count("### Fixed") <= 1  # the fix joins 3.0.0's own Fixed entries, if it had any
    from maestro_devtools.release import discover_packages

    (package,) = discover_packages(release_repo, ["test-result-aggregator"])
    assert untagged_versions(release_repo, package) == []


def test_bumping_a_published_version_keeps_its_section(release_repo: Path) -> None:
    folder = release_repo / "resilience"
    first = bump(folder, "3.0.0", today=datetime.date(2026, 12, 7))
    git(release_repo, "commit", "-qam", "3.0.0")
    git(release_repo, "tag", "-a", f"resilience-v{first.version}", "-m", "published")
    bump(folder, "patch", today=datetime.date(2026, 12, 8))
    text = (folder / "CHANGELOG.md").read_text()
    assert "## [Unreleased]\n\n## [3.0.1] - 2026-12-08\n\n## [3.0.0] - 2026-12-07\n" in text
