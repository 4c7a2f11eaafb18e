"""The repository's shape: four complete Hatch projects, hatch.toml environments that match
`make dev`, and a Makefile whose help lists every target."""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


def _locked() -> dict[str, str]:
    """Name -> version of every requirement pinned in requirements/dev.lock."""
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)", (REPO_ROOT / "requirements/dev.lock").read_text(), re.M)
    return {canonicalize_name(name): version for name, version in pins}


def test_local_requirements_install_every_package_with_all_its_extras() -> None:
    lines = (REPO_ROOT / "requirements/local.txt").read_text().splitlines()
    editables = {line.split()[1] for line in lines if line.startswith("-e ")}
    for package in discover_packages(REPO_ROOT):
        extras = f"[{','.join(sorted(package.extras))}]" if package.extras else ""
        assert f"./{package.key}{extras}" in editables, f"requirements/local.txt lacks {package.key}{extras}"
    assert "./tools" in editables


def test_lock_satisfies_every_declared_requirement() -> None:
    """An offline check that `make lock` was run after a range changed: every requirement of
    requirements/dev.in and of each package (extras included) is pinned, inside its range."""
    locked = _locked()
    ours = {canonicalize_name(p.project) for p in discover_packages(REPO_ROOT)} | {"maestro-devtools"}
    requirements = [
        Requirement(line.split("#")[0].strip())
        for line in (REPO_ROOT / "requirements/dev.in").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    ]
    for folder in (*PACKAGE_FOLDERS, "tools"):
        project = tomllib.loads((REPO_ROOT / folder / "pyproject.toml").read_text())["project"]
        declared = [
            *project["dependencies"],
            *(d for ds in project.get("optional-dependencies", {}).values() for d in ds),
        ]
        requirements += map(Requirement, declared)
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name in ours or (requirement.marker and not requirement.marker.evaluate()):
            continue
        assert name in locked, f"{requirement} is not in requirements/dev.lock: run make lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements/dev.lock pins {name}=={locked[name]}, outside {requirement}: run make lock"
        )


def test_hatch_environments_install_what_make_dev_installs() -> None:
    hatch = tomllib.loads((REPO_ROOT / "hatch.toml").read_text())
    assert "project" not in hatch, "hatch.toml holds environments only"
    default = hatch["envs"]["default"]
    assert default["skip-install"] is True
    assert default["dependencies"] == []
    commands = " ".join(default["post-install-commands"])
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "LOCK := requirements/dev.lock" in makefile
    assert "LOCAL := requirements/local.txt" in makefile
    assert "--require-hashes --no-deps -r requirements/dev.lock" in commands
    assert "--no-deps --no-build-isolation -r requirements/local.txt" in commands
    locked = _locked()
    for name in ("lint", "docs", "hatch-static-analysis", "hatch-check-code", "hatch-check-fmt"):
        env = hatch["envs"][name]
        for requirement in map(Requirement, env["dependencies"]):
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"hatch env {name} pins {requirement.name} exactly"
            assert locked[canonicalize_name(requirement.name)] == spec.version, (
                f"hatch env {name} has {requirement}, the lock has {locked[canonicalize_name(requirement.name)]}"
            )
        if name.startswith("hatch-"):
            assert env["config-path"] == "none", f"{name} must use ruff.toml, not Hatch's default rules"
    for env in ("lint", "docs"):
        assert hatch["envs"][env]["detached"] is True, f"the {env} environment installs only its tools"


def test_make_alone_prints_help_with_every_target() -> None:
    result = subprocess.run(["make", "-s", "-C", str(REPO_ROOT)], capture_output=True, text=True, check=True)
    listed = set(re.findall(r"^  (\S+)", result.stdout, re.MULTILINE))
    expected = {
        "help",
        "dev",
        "lock",
        "test-latest",
        "test-lowest",
        "test-under-load",
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


def _floor(requirement: Requirement) -> str | None:
    floors = [s.version for s in requirement.specifier if s.operator in (">=", "==", "~=")]
    return floors[0] if len(floors) == 1 else None


def test_a_shared_dependency_has_one_floor_so_the_lowest_run_tests_it() -> None:
    """`make test-lowest` installs everything in one environment, at the highest of the floors
    declared for each dependency: a package declaring a lower floor than another for the same
    dependency would claim a version that no run ever tests."""
    declared: dict[str, dict[str, str]] = {}
    sources = {folder: REPO_ROOT / folder / "pyproject.toml" for folder in (*PACKAGE_FOLDERS, "tools")}
    for source, path in sources.items():
        data = tomllib.loads(path.read_text())
        project = data["project"]
        lines = [*project["dependencies"], *data["build-system"]["requires"]]
        lines += [d for ds in project.get("optional-dependencies", {}).values() for d in ds]
        for requirement in map(Requirement, lines):
            floor = _floor(requirement)
            if floor is not None:
                declared.setdefault(canonicalize_name(requirement.name), {})[source] = floor
    for line in (REPO_ROOT / "requirements/dev.in").read_text().splitlines():
        if line.strip() and not line.startswith(("#", "-")):
            requirement = Requirement(line.split("#")[0].strip())
            name = canonicalize_name(requirement.name)
            if name in declared and (floor := _floor(requirement)) is not None:
                declared[name]["requirements/dev.in"] = floor
    differing = {name: floors for name, floors in declared.items() if len(set(floors.values())) > 1}
    assert differing == {}, f"align these floors (the lowest run tests only the highest): {differing}"
