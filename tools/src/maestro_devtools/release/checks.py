"""Safety rules checked before anything is built or uploaded."""

from __future__ import annotations

import subprocess
from pathlib import Path

from packaging.version import InvalidVersion, Version

from maestro_devtools.release.errors import ReleaseRefusedError
from maestro_devtools.release.packages import Package


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
