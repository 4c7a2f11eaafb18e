"""Build a package's sdist, then its wheel from that sdist (``python -m build``), then
``twine check --strict`` them: a file missing from the sdist is missing from the wheel too, so
the install checks see what users of either would get."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from maestro_devtools.release.errors import ReleaseError
from maestro_devtools.release.packages import Package


@dataclass(frozen=True)
class BuiltPackage:
    """The distribution files built for one package version."""

    package: Package
    files: tuple[Path, ...]


def _run(argv: list[str], what: str, *, cwd: Path | None = None) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-25:]
        raise ReleaseError(f"{what} failed:\n" + "\n".join(output))


def build_package(package: Package, dist_root: Path) -> BuiltPackage:
    """Build into ``dist_root/<folder>/`` (emptied first, so only this version is there)."""
    out = dist_root / package.key
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    _run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), "."],
        f"building {package.dist_name}",
        cwd=package.folder,
    )
    files = tuple(sorted(p for p in out.iterdir() if p.suffix in {".whl", ".gz"}))
    if len(files) != 2:
        raise ReleaseError(f"building {package.dist_name} produced {[f.name for f in files]}, not sdist + wheel")
    _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)], f"twine check of {package.dist_name}")
    return BuiltPackage(package, files)
