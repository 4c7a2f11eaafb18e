"""Package discovery: the four packages, in dependency order, with their metadata; tools never."""

from __future__ import annotations

import tomllib

import pytest

from maestro_devtools.release import ReleaseConfigError, discover_packages
from tests.release.conftest import REPO_ROOT


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
