"""Safety rules checked before anything is built or uploaded."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from maestro_devtools.release.errors import ReleaseRefusedError
from maestro_devtools.release.packages import Package, version_file


def refuse_unreleasable_version(package: Package) -> None:
    """Refuse ``.devN`` and ``+local`` versions: an index keeps them forever."""
    try:
        version = Version(package.version)
    except InvalidVersion as exc:
        raise ReleaseRefusedError(
            f"{package.dist_name}: version {package.version!r} is not a valid PEP 440 version"
        ) from exc
    if version.is_devrelease:
        raise ReleaseRefusedError(
            f"{package.dist_name} {package.version} is a development version (.dev); "
            f"set a release version with `make bump-{package.key} PART=patch|minor|major`"
        )
    if version.local:
        raise ReleaseRefusedError(
            f"{package.dist_name} {package.version} has a local version label (+{version.local}); "
            "indexes reject or mis-sort local versions: publish a plain version"
        )


def refuse_dirty_tree(root: Path) -> None:
    """Refuse to publish from uncommitted changes: the release must match a commit."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=normal"],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ReleaseRefusedError("git is not installed; set ALLOW_DIRTY=1 to publish anyway") from exc
    if result.returncode != 0:
        raise ReleaseRefusedError(
            f"{root} is not a git work tree ({result.stderr.strip()}); set ALLOW_DIRTY=1 to publish anyway"
        )
    changed = [line[3:] for line in result.stdout.splitlines() if line.strip()]
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise ReleaseRefusedError(
            f"the work tree has uncommitted changes ({shown}); commit them, or set ALLOW_DIRTY=1 to publish anyway"
        )


def _file_version(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def refuse_superseded_version(package: Package, filenames: Iterable[str]) -> None:
    """Refuse a version lower than the highest the index holds: pip would never pick it.

    The first extraction was uploaded as 1.0.0; a 0.x release next to it would be published
    and never installed.
    """
    ours = Version(package.version)
    versions = [v for v in map(_file_version, filenames) if v is not None]
    if not versions or max(versions) <= ours:
        return
    highest = max(versions)
    raise ReleaseRefusedError(
        f"{package.dist_name} {package.version} is lower than {highest}, which the index already holds: "
        f"`pip install {package.dist_name}` would keep resolving to {highest}. "
        f"Bump the version above it (`make bump-{package.key} PART=major`)"
    )


def refuse_version_without_changelog(package: Package) -> None:
    """Refuse a version whose CHANGELOG has no ``## [<version>]`` section: a release must say what
    it changed (``make bump-<pkg>`` opens the section from ``[Unreleased]``)."""
    changelog = package.folder / "CHANGELOG.md"
    text = changelog.read_text() if changelog.is_file() else ""
    if f"## [{package.version}]" not in text:
        raise ReleaseRefusedError(
            f"{package.dist_name} {package.version} has no section in {package.key}/CHANGELOG.md; "
            f"set versions with `make bump-{package.key} PART=...`, which turns [Unreleased] into the "
            "version's section"
        )


_UNRELEASED_SECTION = re.compile(r"^## \[Unreleased\][^\n]*\n(?P<body>.*?)(?=^## \[|\Z)", re.MULTILINE | re.DOTALL)


def unreleased_entries(changelog: Path) -> list[str]:
    """The entries under ``## [Unreleased]`` (list items; headings and blank lines aside)."""
    text = changelog.read_text() if changelog.is_file() else ""
    match = _UNRELEASED_SECTION.search(text)
    if match is None:
        return []
    return [line.strip() for line in match["body"].splitlines() if line.lstrip().startswith(("- ", "* "))]


def _git(root: Path, *args: str) -> str | None:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def changes_since_version(root: Path, package: Package) -> tuple[str, list[str]] | None:
    """``(commit, files)``: the commit that last set ``__version__`` and the package's source files
    changed after it; ``None`` outside git or when nothing changed."""
    relative = version_file(package).resolve().relative_to(root.resolve())
    commit = _git(root, "log", "-1", "--format=%H", "-G", "__version__", "--", str(relative))
    if not commit:
        return None
    source = (package.folder / "src").resolve().relative_to(root.resolve())
    changed = _git(root, "diff", "--name-only", commit, "HEAD", "--", str(source))
    files = [f for f in (changed or "").splitlines() if f and f != str(relative)]
    return (commit, files) if files else None


def unbumped_problems(root: Path, package: Package) -> list[str]:
    """Why this tree is not the version it claims, for a version the index does not hold yet:
    changelog entries not in the version's section, source changed after the version was set."""
    problems = []
    entries = unreleased_entries(package.folder / "CHANGELOG.md")
    if entries:
        problems.append(
            f"{package.key}/CHANGELOG.md has {len(entries)} [Unreleased] entries that {package.version}'s "
            f"section does not list (first: {entries[0][:80]!r})"
        )
    changed = changes_since_version(root, package)
    if changed is not None:
        commit, files = changed
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        problems.append(f"{len(files)} source file(s) changed after {commit[:12]} set {package.version}: {shown}")
    return problems
