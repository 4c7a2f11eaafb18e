"""Bump a package's version the way ``hatch version`` does, and open its CHANGELOG section.

``hatch version`` first creates a build environment (downloading hatchling) and then runs
``python -m hatchling version PART`` in it. We run that same hatchling command in the
development environment, which already has hatchling: same result, offline, in a second.
"""

from __future__ import annotations

import datetime
import re
import subprocess
import sys
from pathlib import Path

from maestro_devtools.release.errors import ReleaseConfigError, ReleaseError
from maestro_devtools.release.packages import Package, load_package

PARTS = ("major", "minor", "patch")
_UNRELEASED = re.compile(r"^## \[Unreleased\][^\n]*\n", re.MULTILINE)


def open_changelog_section(changelog: Path, version: str, today: datetime.date) -> None:
    """Turn ``## [Unreleased]`` into ``## [version] - date`` under a fresh Unreleased heading.

    Entries gathered under Unreleased become the new version's notes. A changelog with no
    Unreleased heading gets the new section inserted before the first version heading.
    """
    text = changelog.read_text() if changelog.exists() else "# Changelog\n\n"
    if f"## [{version}]" in text:
        raise ReleaseConfigError(f"{changelog} already has a section for {version}")
    section = f"## [Unreleased]\n\n## [{version}] - {today.isoformat()}\n"
    if _UNRELEASED.search(text):
        text = _UNRELEASED.sub(section, text, count=1)
    else:
        first = text.find("\n## [")
        at = first + 1 if first >= 0 else len(text)
        text = text[:at] + section + "\n" + text[at:]
    changelog.write_text(text)


def bump(folder: Path, part: str, *, today: datetime.date | None = None) -> Package:
    """Bump ``folder``'s version by ``part`` and record the new section in its CHANGELOG."""
    if part not in PARTS:
        raise ReleaseConfigError(f"PART must be one of {', '.join(PARTS)}, got {part!r}")
    result = subprocess.run(
        [sys.executable, "-m", "hatchling", "version", part], cwd=folder, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ReleaseError(f"hatchling version {part} failed in {folder}:\n{result.stderr.strip()}")
    package = load_package(folder)
    open_changelog_section(folder / "CHANGELOG.md", package.version, today or datetime.date.today())
    return package
