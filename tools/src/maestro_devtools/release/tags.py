"""Tie a published version to the commit it was built from: the tag ``<package>-v<version>``.

hatch's own repository does the same (``hatch-v1.18.0``, ``hatchling-v1.32.0``): one tag per
package and version, so a version in a changelog can always be found in the history.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from maestro_devtools.release.packages import Package


def tag_name(package: Package) -> str:
    """``resilience-v2.0.0`` for maestro-resilience 2.0.0 (the folder name, then the version)."""
    return f"{package.key}-v{package.version}"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)


def tag_release(root: Path, package: Package) -> str:
    """Create the annotated tag at ``HEAD`` unless it exists; say what happened in one line."""
    name = tag_name(package)
    head = _git(root, "rev-parse", "HEAD").stdout.strip()
    existing = _git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{name}^{{commit}}")
    if existing.returncode == 0:
        if existing.stdout.strip() == head:
            return f"tag {name} already marks this commit"
        return f"warning: tag {name} exists on {existing.stdout.strip()[:12]}, not on this commit {head[:12]}"
    created = _git(
        root,
        "-c", "user.name=maestro-release", "-c", "user.email=release@maestro.invalid",
        "tag", "-a", name, "-m", f"{package.dist_name} {package.version}",
    )  # fmt: skip
    if created.returncode != 0:
        return f"warning: could not create tag {name}: {created.stderr.strip()}"
    return f"tagged {head[:12]} as {name} (push it: git push origin {name})"
