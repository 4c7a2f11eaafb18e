"""The CPython versions a binary wheel is built for, and where their interpreters are.

Services run on 3.11, 3.12 and 3.13; a package whose wheel is platform-specific (the aggregator's
C accelerator) gets one wheel per version, so none of them falls back to building the sdist.
``MAESTRO_RELEASE_PYTHONS`` (paths, ``:``-separated) names the other interpreters; otherwise
``python3.12`` / ``python3.13`` on ``PATH`` (Debian's) or pyenv's installs are used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from maestro_devtools.release.errors import ReleaseConfigError

WANTED = ("3.11", "3.12", "3.13")


@dataclass(frozen=True)
class Interpreter:
    """A CPython interpreter and its ``X.Y`` version."""

    version: str
    path: Path

    @property
    def tag(self) -> str:
        """The wheel interpreter tag (``cp312``)."""
        return "cp" + self.version.replace(".", "")


def _version_of(path: Path) -> str | None:
    try:
        done = subprocess.run(
            [str(path), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _candidates(version: str) -> list[Path]:
    found = shutil.which(f"python{version}")
    paths = [Path(found)] if found else []
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        paths += sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True)
    return paths


def release_interpreters(env: Mapping[str, str] | None = None) -> list[Interpreter]:
    """This interpreter, then one for each other wanted version that is installed."""
    env = os.environ if env is None else env
    current = Interpreter(f"{sys.version_info[0]}.{sys.version_info[1]}", Path(sys.executable))
    chosen = {current.version: current}
    named = [p for p in env.get("MAESTRO_RELEASE_PYTHONS", "").split(":") if p.strip()]
    if named:
        for raw in named:
            path = Path(raw.strip())
            version = _version_of(path)
            if version is None:
                raise ReleaseConfigError(f"MAESTRO_RELEASE_PYTHONS names {path}, which does not run")
            chosen.setdefault(version, Interpreter(version, path))
    else:
        for version in WANTED:
            for path in _candidates(version):
                if version not in chosen and _version_of(path) == version:
                    chosen[version] = Interpreter(version, path)
    return sorted(chosen.values(), key=lambda i: tuple(int(x) for x in i.version.split(".")))


def missing_versions(interpreters: list[Interpreter]) -> list[str]:
    """The wanted versions no interpreter was found for."""
    have = {i.version for i in interpreters}
    return [v for v in WANTED if v not in have]
