"""Building a package: a checked sdist and wheel."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from maestro_devtools.release import discover_packages
from maestro_devtools.release.build import build_package
from maestro_devtools.release.pythons import release_interpreters
from tests.fixtures.services import require
from tests.release.conftest import REPO_ROOT, make_repo

pytestmark = pytest.mark.release


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


@pytest.mark.slow
def test_two_checkouts_at_different_paths_build_byte_identical_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: the aggregator's wheel embedded the checkout's absolute path in its .so, so a
    # retried CI job saw "different content under the same version" and held the release back
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # the builds' temporary folders land here
    first = make_repo(tmp_path / "a" / "repo")
    second = make_repo(tmp_path / "somewhere" / "much" / "deeper" / "checkout")
    for one, other in zip(discover_packages(first), discover_packages(second), strict=True):
        built = build_package(one, tmp_path / "dist-a")
        again = build_package(other, tmp_path / "dist-b")
        assert [p.name for p in built.files] == [p.name for p in again.files]
        for path, twin in zip(built.files, again.files, strict=True):
            assert path.read_bytes() == twin.read_bytes(), f"{path.name} differs between two checkouts"
    leftovers = sorted(p.name for p in scratch.iterdir())
    assert not [name for name in leftovers if name.startswith("maestro-speedups-")], leftovers


@pytest.mark.slow
def test_the_aggregator_gets_a_manylinux_wheel_for_each_supported_python(tmp_path: Path) -> None:
    # before: one cp311-cp311-linux_x86_64 wheel, so every service on 3.12/3.13 compiled the
    # sdist (or, without a compiler, silently got the pure-Python reader)
    interpreters = release_interpreters()
    found = {i.version for i in interpreters}
    require(
        {"3.11", "3.12", "3.13"} <= found,
        "CPython 3.11, 3.12 and 3.13",
        "python3.12 and python3.13 (on PATH, or pyenv's; or MAESTRO_RELEASE_PYTHONS)",
        installer="install",
    )
    (package,) = discover_packages(REPO_ROOT, ["test-result-aggregator"])
    built = build_package(package, tmp_path, interpreters=interpreters)
    wheels = [p.name for p in built.files if p.suffix == ".whl"]
    assert sorted(name.split("-")[2] for name in wheels) == ["cp311", "cp312", "cp313"]
    for name in wheels:
        assert "manylinux_2_17_" in name, name
        with zipfile.ZipFile(tmp_path / "test-result-aggregator" / name) as wheel:
            assert any("_junit_speedups" in member for member in wheel.namelist()), name
