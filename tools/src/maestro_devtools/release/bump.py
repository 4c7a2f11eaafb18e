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
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from maestro_devtools.release.errors import ReleaseConfigError, ReleaseError
from maestro_devtools.release.packages import Package, load_package
from maestro_devtools.release.tags import FIRST_PUBLISHED, is_tagged

PARTS = ("major", "minor", "patch", "rc", "release", "major,rc", "minor,rc", "patch,rc")
"""``PART`` values, as ``hatch version`` spells them: ``rc`` makes (or advances) a release
candidate, which pip installs only with ``--pre``; ``release`` drops the pre-release label."""
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


def _subsections(body: str) -> list[tuple[str, list[str]]]:
    """``(heading, lines)`` per ``### Heading`` of a section's body; text before the first
    heading is kept under the heading ``""``."""
    found: list[tuple[str, list[str]]] = [("", [])]
    for line in body.splitlines():
        if line.startswith("### "):
            found.append((line, []))
        else:
            found[-1][1].append(line)
    return [(heading, _trimmed(lines)) for heading, lines in found if heading or _trimmed(lines)]


def _trimmed(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def fold_changelog_section(changelog: Path, unpublished: str, version: str, today: datetime.date) -> None:
    r"""Make ``[Unreleased]`` and the section of a version that was never published one
    ``## [version] - date`` section under a fresh Unreleased heading.

    A version bumped but never published (no tag) must not keep a section of its own: the
    changelog would list a release that never existed, and ``check-tags`` would find no tag for
    it. Entries keep their section's headings, ``[Unreleased]``'s first under a shared heading.

    Examples:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "CHANGELOG.md"
        >>> _ = path.write_text(
        ...     "# Changelog\n\n## [Unreleased]\n\n### Fixed\n- b\n\n"
        ...     "## [2.0.0] - 2026-12-07\n\n### Removed\n- r\n\n### Fixed\n- a\n\n## [1.0.0] - 2026-01-01\n"
        ... )
        >>> fold_changelog_section(path, "2.0.0", "2.0.1", datetime.date(2026, 12, 8))
        >>> print(path.read_text())
        # Changelog
        <BLANKLINE>
        ## [Unreleased]
        <BLANKLINE>
        ## [2.0.1] - 2026-12-08
        <BLANKLINE>
        ### Removed
        - r
        <BLANKLINE>
        ### Fixed
        - b
        - a
        <BLANKLINE>
        ## [1.0.0] - 2026-01-01
        <BLANKLINE>
    """
    text = changelog.read_text()
    if f"## [{version}]" in text:
        raise ReleaseConfigError(f"{changelog} already has a section for {version}")
    sections = re.compile(
        r"^## \[Unreleased\][^\n]*\n(?P<new>.*?)^## \["
        + re.escape(unpublished)
        + r"\][^\n]*\n(?P<old>.*?)(?=^## \[|\Z)",
        re.MULTILINE | re.DOTALL,
    )
    match = sections.search(text)
    if match is None:
        raise ReleaseConfigError(f"{changelog}: no [{unpublished}] section right after [Unreleased] to fold")
    merged = _subsections(match["old"])
    for heading, lines in _subsections(match["new"]):
        for i, (kept, old_lines) in enumerate(merged):
            if kept == heading:
                merged[i] = (kept, [*lines, *old_lines])
                break
        else:
            merged.append((heading, lines))
    body = "\n\n".join("\n".join([heading, *lines] if heading else lines) for heading, lines in merged)
    section = f"## [Unreleased]\n\n## [{version}] - {today.isoformat()}\n\n{body}\n\n"
    changelog.write_text(text[: match.start()] + section + text[match.end() :])


def compatible_range(version: str) -> str:
    """The range a sibling package requires of ``version``: this major series, from this release on.

    Examples:
        >>> compatible_range("2.0.0"), compatible_range("2.1.3"), compatible_range("3.0.0rc1")
        ('>=2.0,<3', '>=2.1,<3', '>=3.0.0rc1,<4')
    """
    parsed = Version(version)
    floor = version if parsed.is_prerelease else f"{parsed.major}.{parsed.minor}"
    return f">={floor},<{parsed.major + 1}"


def _dependents_follow(root: Path, bumped: Package) -> list[Path]:
    """Rewrite each sibling's requirement on ``bumped`` that the new version falls outside of.

    Without this a major bump leaves ``maestro-resilience>=0.2,<1`` in test-adapters, and the
    next install of the repository fails to resolve. Returns the pyprojects changed.
    """
    changed = []
    version = Version(bumped.version)
    for pyproject in sorted(root.glob("*/pyproject.toml")):
        if pyproject.parent == bumped.folder:
            continue
        text = pyproject.read_text()
        project = tomllib.loads(text).get("project", {})
        requirements = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            requirements.extend(extra)
        new_text = text
        for line in requirements:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) != bumped.project:
                continue
            if requirement.specifier.contains(version, prereleases=True):
                continue
            extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
            marker = f"; {requirement.marker}" if requirement.marker else ""
            wanted = compatible_range(bumped.version)
            new_text = new_text.replace(f'"{line}"', f'"{requirement.name}{extras}{wanted}{marker}"')
            _note(pyproject.parent / "CHANGELOG.md", f"- Requires {requirement.name}{wanted}.")
        if new_text != text:
            pyproject.write_text(new_text)
            changed.append(pyproject)
    return changed


def _note(changelog: Path, line: str) -> None:
    """Add ``line`` under a ``### Changed`` heading in the changelog's ``[Unreleased]`` section."""
    text = changelog.read_text() if changelog.exists() else "# Changelog\n"
    if _UNRELEASED.search(text) is None:
        first = text.find("\n## [")
        at = first + 1 if first >= 0 else len(text)
        text = text[:at] + "## [Unreleased]\n\n" + text[at:]
    match = _UNRELEASED.search(text)
    at = match.end() if match else len(text)
    following = text.find("\n## [", at)
    section = text[at : following + 1 if following >= 0 else len(text)]
    if "### Changed\n" in section:
        insert = at + section.index("### Changed\n") + len("### Changed\n")
        text = text[:insert] + line + "\n" + text[insert:]
    else:
        text = text[:at] + "\n### Changed\n" + line + "\n" + text[at:]
    changelog.write_text(text)


def _check_explicit_version(folder: Path, part: str) -> None:
    """``PART=2.0.0``: an explicit version, as ``hatch version 2.0.0`` takes, above the current one
    (how the first release after the extraction's 1.0.0 becomes 2.0.0 rather than 1.0.0)."""
    try:
        wanted = Version(part)
    except InvalidVersion:
        raise ReleaseConfigError(f"PART must be one of {', '.join(PARTS)} or a version, got {part!r}") from None
    current = load_package(folder).version
    if wanted <= Version(current):
        raise ReleaseConfigError(f"PART={part} is not above the current version {current}")


def bump(folder: Path, part: str, *, today: datetime.date | None = None) -> Package:
    """Bump ``folder``'s version by ``part``, record the new section in its CHANGELOG, and move
    sibling packages' requirements on it to the new major series when they exclude it.

    When the current version was never published (it has no tag ``<pkg>-v<version>``), its
    section and ``[Unreleased]`` become the new version's one section (``fold_changelog_section``)."""
    if part not in PARTS:
        _check_explicit_version(folder, part)
    current = load_package(folder)
    never_published = Version(current.version) >= FIRST_PUBLISHED and not is_tagged(folder.parent, current)
    result = subprocess.run(
        [sys.executable, "-m", "hatchling", "version", part], cwd=folder, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ReleaseError(f"hatchling version {part} failed in {folder}:\n{result.stderr.strip()}")
    package = load_package(folder)
    changelog = folder / "CHANGELOG.md"
    day = today or datetime.date.today()
    if never_published and f"## [{current.version}]" in (changelog.read_text() if changelog.exists() else ""):
        fold_changelog_section(changelog, current.version, package.version, day)
    else:
        open_changelog_section(changelog, package.version, day)
    _dependents_follow(folder.parent, package)
    return package
