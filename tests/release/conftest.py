"""Fixtures for the release pipeline tests: a throwaway git repository holding copies of
the four packages, and a helper that runs the release command as a person would."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.version import Version

from maestro_devtools.release import discover_packages
from maestro_devtools.servers import PypiIndex

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_FOLDERS = ("resilience", "audit-logger", "test-result-aggregator", "test-adapters")
_UNRELEASED_BODY = re.compile(r"^## \[Unreleased\][^\n]*\n.*?(?=^## \[|\Z)", re.MULTILINE | re.DOTALL)
_CLEARED = ("MAESTRO_NEXUS_", "NEXUS_", "TWINE_", "DRY_RUN", "ALLOW_DIRTY", "STRICT", "V", "PYPIRC")


def files_per_release(folder: str) -> int:
    """How many files a release of ``folder`` has: sdist + wheel, or for the aggregator (binary
    wheels) sdist + one wheel per release interpreter found here."""
    if folder != "test-result-aggregator":
        return 2
    from maestro_devtools.release.pythons import release_interpreters

    return 1 + len(release_interpreters())


def version_of(folder: str) -> str:
    """The version a package folder of this repository declares (its ``__about__.py``)."""
    (package,) = (p for p in discover_packages(REPO_ROOT) if p.key == folder)
    return package.version


def next_version(version: str, part: str) -> str:
    """``version`` bumped by ``part`` (major, minor or patch), as hatchling bumps it."""
    major, minor, patch = (int(x) for x in version.split("."))
    return {
        "major": f"{major + 1}.0.0",
        "minor": f"{major}.{minor + 1}.0",
        "patch": f"{major}.{minor}.{patch + 1}",
    }[part]


@dataclass
class Result:
    """What a release command printed and returned."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=Release Test", "-c", "user.email=release@maestro.example", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def make_repo(target: Path) -> Path:
    """Copy the packages (sources only) into a fresh git repository and commit them."""
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "dist", "build")
    for folder in PACKAGE_FOLDERS:
        shutil.copytree(REPO_ROOT / folder, target / folder, ignore=ignore)
    shutil.copy(REPO_ROOT / ".gitignore", target / ".gitignore")
    for folder in PACKAGE_FOLDERS:  # as just after a bump: [Unreleased] is empty
        changelog = target / folder / "CHANGELOG.md"
        changelog.write_text(_UNRELEASED_BODY.sub("## [Unreleased]\n\n", changelog.read_text(), count=1))
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "packages")
    return target


@pytest.fixture
def release_repo(tmp_path: Path) -> Path:
    """A clean git repository with the four packages, private to one test."""
    return make_repo(tmp_path / "repo")


def index_env(index: PypiIndex, **extra: str) -> dict[str, str]:
    """Environment pointing the release at ``index`` with its real credentials."""
    return {
        "MAESTRO_NEXUS_URL": index.url,
        "MAESTRO_NEXUS_USER": index.username,
        "MAESTRO_NEXUS_PASSWORD": index.password,
        **extra,
    }


def run_release_command(repo: Path, env: Mapping[str, str], *args: str) -> Result:
    """Run ``python -m maestro_devtools.release --root repo release ARGS`` with ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_CLEARED)}
    completed = subprocess.run(
        [sys.executable, "-m", "maestro_devtools.release", "--root", str(repo), "release", *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=600,
        check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def run_release() -> Callable[..., Result]:
    return run_release_command


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One repository for a module's tests that build on each other's publishes."""
    return make_repo(tmp_path_factory.mktemp("shared") / "repo")


def first_release(repo: Path, folder: str, today: datetime.date | None = None) -> str:
    """Bring ``folder`` of ``repo`` to 2.0.0, the first release after the extraction's 1.0.0,
    unless it is there already (the tests hold whether main is before or after that bump)."""
    from maestro_devtools.release.bump import bump
    from maestro_devtools.release.packages import load_package

    package = load_package(repo / folder)
    if Version(package.version) < Version("2.0.0"):
        bump(repo / folder, "2.0.0", today=today)
        git(repo, "commit", "-qam", f"{folder} 2.0.0")
    return load_package(repo / folder).version


def extraction_wheel(directory: Path, dist_name: str, version: str, modules: tuple[str, ...]) -> Path:
    """A flat-layout wheel like the first extraction's (Poetry-built 1.0.0): ``modules`` under the
    import package, a ``__version__`` in its ``__init__``, valid metadata and RECORD."""
    import base64
    import hashlib
    import zipfile

    package = dist_name.replace("-", "_")
    info = f"{package}-{version}.dist-info"
    files = {
        f"{package}/__init__.py": f'__version__ = "{version}"\n',
        **{f"{package}/{module}.py": "# the extraction's flat module\n" for module in modules},
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: poetry-core 1.9.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{package}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path
