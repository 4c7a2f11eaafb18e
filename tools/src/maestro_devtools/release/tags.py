"""Tie a published version to the commit it was built from: the tag ``<package>-v<version>``.

hatch's own repository does the same (``hatch-v1.18.0``, ``hatchling-v1.32.0``): one tag per
package and version, so a version in a changelog can always be found in the history.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from packaging.version import InvalidVersion, Version

from maestro_devtools.release.packages import Package, version_file


def tag_name(package: Package) -> str:
    """``resilience-v2.0.0`` for maestro-resilience 2.0.0 (the folder name, then the version)."""
    return f"{package.key}-v{package.version}"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)


def _tagged_commit(root: Path, name: str) -> str | None:
    """The commit the tag ``name`` marks, or ``None`` when the repository has no such tag."""
    found = _git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{name}^{{commit}}")
    return found.stdout.strip() if found.returncode == 0 else None


def is_tagged(root: Path, package: Package) -> bool:
    """Whether ``package``'s current version has its tag in the repository at ``root``."""
    return _tagged_commit(root, tag_name(package)) is not None


def tag_release(root: Path, package: Package) -> str:
    """Create the annotated tag at ``HEAD`` unless it exists; say what happened in one line."""
    name = tag_name(package)
    head = _git(root, "rev-parse", "HEAD").stdout.strip()
    existing = _tagged_commit(root, name)
    if existing is not None:
        if existing == head:
            return f"tag {name} already marks this commit"
        return f"warning: tag {name} exists on {existing[:12]}, not on this commit {head[:12]}"
    created = _git(
        root,
        "-c", "user.name=maestro-release", "-c", "user.email=release@maestro.invalid",
        "tag", "-a", name, "-m", f"{package.dist_name} {package.version}",
    )  # fmt: skip
    if created.returncode != 0:
        return f"warning: could not create tag {name}: {created.stderr.strip()}"
    return f"tagged {head[:12]} as {name} (push it: git push origin {name})"


# The extraction published 1.0.0 and the release refuses anything lower, so a changelog heading
# below it was never published from this repository and has no tag to find.
FIRST_PUBLISHED = Version("1.0.0")
_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\]", re.MULTILINE)


def changelog_versions(changelog: Path) -> list[str]:
    """The versions with a ``## [X.Y.Z]`` section, newest first (``[Unreleased]`` aside)."""
    text = changelog.read_text() if changelog.is_file() else ""
    return [m["version"] for m in _HEADING.finditer(text) if m["version"].lower() != "unreleased"]


def untagged_versions(root: Path, package: Package) -> list[str]:
    """Why ``package``'s changelog and tags disagree: one line per version with a section whose
    tag ``<package>-v<version>`` is missing, or marks a commit whose tree is another version.

    The package's current version is exempt (bumped, not yet published: the release tags it on
    publish), and so is any version below the extraction's 1.0.0 (never published from here).
    """
    problems = []
    relative = version_file(package).resolve().relative_to(root.resolve())
    for version in changelog_versions(package.folder / "CHANGELOG.md"):
        try:
            if Version(version) < FIRST_PUBLISHED or version == package.version:
                continue
        except InvalidVersion:
            problems.append(f"{package.key}/CHANGELOG.md: heading [{version}] is not a version")
            continue
        name = f"{package.key}-v{version}"
        commit = _tagged_commit(root, name)
        if commit is None:
            problems.append(
                f"{package.key}/CHANGELOG.md has a [{version}] section but no tag {name} "
                "(fetch tags: git fetch --tags; a release creates it on publish)"
            )
            continue
        about = _git(root, "show", f"{commit}:{relative}")
        if f'"{version}"' not in about.stdout and f"'{version}'" not in about.stdout:
            problems.append(f"tag {name} marks {commit[:12]}, whose {relative} is not {version}")
    return problems
