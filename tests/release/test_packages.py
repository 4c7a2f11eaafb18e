"""Package discovery: the four packages, in dependency order, with their metadata; tools never."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from maestro_devtools.release import ReleaseConfigError, discover_packages
from tests.release.conftest import REPO_ROOT

pytestmark = pytest.mark.release


def test_packages_come_in_dependency_order() -> None:
    keys = [p.key for p in discover_packages(REPO_ROOT)]
    assert sorted(keys) == ["audit-logger", "resilience", "test-adapters", "test-result-aggregator"]
    assert keys.index("test-result-aggregator") < keys.index("test-adapters")


def test_tools_project_is_never_published() -> None:
    assert "tools" not in [p.key for p in discover_packages(REPO_ROOT)]
    with pytest.raises(ReleaseConfigError, match="unknown package tools"):
        discover_packages(REPO_ROOT, ["tools"])


def test_package_metadata() -> None:
    (adapters,) = discover_packages(REPO_ROOT, ["maestro-test-adapters"])
    assert adapters.import_name == "maestro_test_adapters"
    declared = tomllib.loads((REPO_ROOT / "test-adapters/pyproject.toml").read_text())["project"]
    extras = tuple(sorted(declared["optional-dependencies"]))
    assert {"playwright", "selenium"} <= set(extras)
    assert adapters.extras == extras
    assert adapters.install_spec == f"maestro-test-adapters[{','.join(extras)}]=={adapters.version}"


def test_an_unreadable_pyproject_is_an_error_not_a_package_left_out(release_repo: Path) -> None:
    # a duplicated table makes the TOML invalid: the release must stop, not publish the other three
    pyproject = release_repo / "resilience/pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.hatch.version]\npath = 'x'\n")
    with pytest.raises(ReleaseConfigError, match=r"resilience/pyproject.toml cannot be read \(TOMLDecodeError"):
        discover_packages(release_repo)
