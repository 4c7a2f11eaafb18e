"""Building a package: a checked sdist and wheel."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from maestro_devtools.release import discover_packages
from maestro_devtools.release.build import build_package
from tests.release.conftest import REPO_ROOT


@pytest.mark.slow
def test_build_makes_a_checked_sdist_and_wheel(tmp_path: Path) -> None:
    (package,) = discover_packages(REPO_ROOT, ["resilience"])
    built = build_package(package, tmp_path)
    names = sorted(p.name for p in built.files)
    assert names == [
        f"maestro_resilience-{package.version}-py3-none-any.whl",
        f"maestro_resilience-{package.version}.tar.gz",
    ]
    with zipfile.ZipFile(tmp_path / "resilience" / names[0]) as wheel:
        members = wheel.namelist()
        metadata = wheel.read(f"maestro_resilience-{package.version}.dist-info/METADATA").decode()
    assert "maestro_resilience/py.typed" in members
    assert "maestro_resilience/__about__.py" in members
    assert "Requires-Python: >=3.11" in metadata
    assert "Provides-Extra: redis" in metadata
    assert "Description-Content-Type: text/markdown" in metadata
    assert "License-Expression: LicenseRef-Maestro-Proprietary" in metadata
