"""The repository's shape: four complete Hatch projects, hatch.toml environments that match
`make dev`, and a Makefile whose help lists every target."""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement

from maestro_devtools.release import discover_packages
from tests.release.conftest import PACKAGE_FOLDERS, REPO_ROOT

REQUIRED_URLS = {"Homepage", "Documentation", "Changelog", "Source", "Issues"}


@pytest.mark.parametrize("folder", PACKAGE_FOLDERS)
def test_package_is_a_complete_hatch_project(folder: str) -> None:
    root = REPO_ROOT / folder
    data = tomllib.loads((root / "pyproject.toml").read_text())
    project = data["project"]
    assert data["build-system"]["build-backend"] == "hatchling.build"
    assert project["requires-python"] == ">=3.11"
    assert project["readme"] == "README.md"
    assert project["description"]
    assert project["license"]
    assert "Typing :: Typed" in project["classifiers"]
    assert set(project["urls"]) >= REQUIRED_URLS
    assert project["dynamic"] == ["version"]
    (package,) = discover_packages(REPO_ROOT, [folder])
    module_dir = root / "src" / package.import_name
    assert data["tool"]["hatch"]["version"]["path"] == f"src/{package.import_name}/__about__.py"
    for name in ("__init__.py", "__about__.py", "py.typed"):
        assert (module_dir / name).is_file(), f"{folder} lacks {name}"
    for name in ("README.md", "CHANGELOG.md", "LICENSE"):
        assert (root / name).is_file(), f"{folder} lacks {name}"
    changelog = (root / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert f"## [{package.version}]" in changelog, f"{folder}/CHANGELOG.md has no section for {package.version}"


def test_extras_are_the_ones_the_issue_names() -> None:
    extras = {p.key: set(p.extras) for p in discover_packages(REPO_ROOT)}
    assert {"selenium", "playwright"} <= extras["test-adapters"]
    assert "pandas" in extras["test-result-aggregator"]


def test_packages_depend_on_each_other_by_range_never_pin() -> None:
    names = {p.project for p in discover_packages(REPO_ROOT)}
    for package in discover_packages(REPO_ROOT):
        for requirement in map(Requirement, package.requires):
            if requirement.name in names:
                assert requirement.specifier, f"{package.key} needs a version range on {requirement.name}"
                assert not any(s.operator in ("==", "===") for s in requirement.specifier)


def test_hatch_toml_matches_make_dev() -> None:
    hatch = tomllib.loads((REPO_ROOT / "hatch.toml").read_text())
    assert "project" not in hatch, "hatch.toml holds environments only"
    default = hatch["envs"]["default"]
    members = {m["path"]: set(m.get("features", [])) for m in default["workspace"]["members"]}
    for package in discover_packages(REPO_ROOT):
        assert members.get(package.key) == set(package.extras), f"{package.key} not installed with all its extras"
    assert "tools" in members
    requirements = [
        line.strip()
        for line in (REPO_ROOT / "requirements-dev.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert default["dependencies"] == requirements
    makefile = (REPO_ROOT / "Makefile").read_text()
    for package in discover_packages(REPO_ROOT):
        extras = f"'[{','.join(sorted(package.extras))}]'" if package.extras else ""
        assert f"-e ./{package.key}{extras}" in makefile, f"make dev does not install {package.key}{extras}"
    for env in ("lint", "types", "docs", "bench"):
        assert env in hatch["envs"]


def test_make_alone_prints_help_with_every_target() -> None:
    result = subprocess.run(["make", "-s", "-C", str(REPO_ROOT)], capture_output=True, text=True, check=True)
    listed = set(re.findall(r"^  (\S+)", result.stdout, re.MULTILINE))
    expected = {
        "help",
        "dev",
        "test",
        "test-<pkg>",
        "lint",
        "types",
        "build",
        "build-<pkg>",
        "release",
        "publish-<pkg>",
        "index",
        "bump-<pkg>",
        "bench",
        "docs",
        "clean",
    }
    assert expected <= listed
    for folder in PACKAGE_FOLDERS:
        assert folder in result.stdout
