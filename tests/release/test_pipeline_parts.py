"""The pipeline's parts: package discovery, simple-index parsing, changelog and bump, build."""

from __future__ import annotations

import datetime
import json
import tomllib
import zipfile
from pathlib import Path

import pytest

from maestro_devtools.release import ReleaseConfigError, discover_packages
from maestro_devtools.release.build import build_package
from maestro_devtools.release.bump import bump, open_changelog_section
from maestro_devtools.release.index import IndexFile, parse_simple_page
from tests.release.conftest import REPO_ROOT, next_version, version_of


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


def test_simple_page_html_and_json() -> None:
    html = (
        '<html><body><a href="../../packages/maestro_resilience-0.1.0.tar.gz#sha256=abc">x</a>'
        '<a href="/p/maestro_resilience-0.1.0-py3-none-any.whl#md5=1">y</a></body></html>'
    )
    assert parse_simple_page(html, "text/html") == {
        "maestro_resilience-0.1.0.tar.gz": IndexFile("maestro_resilience-0.1.0.tar.gz", "abc"),
        "maestro_resilience-0.1.0-py3-none-any.whl": IndexFile("maestro_resilience-0.1.0-py3-none-any.whl", None),
    }
    body = json.dumps({"files": [{"filename": "a-1.tar.gz", "url": "u", "hashes": {"sha256": "f00"}}]})
    assert parse_simple_page(body, "application/vnd.pypi.simple.v1+json") == {
        "a-1.tar.gz": IndexFile("a-1.tar.gz", "f00")
    }


def test_changelog_section_takes_the_unreleased_entries(tmp_path: Path) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## [Unreleased]\n\n### Fixed\n- a bug\n\n## [0.1.0] - 2026-01-01\n")
    open_changelog_section(changelog, "0.1.1", datetime.date(2026, 11, 26))
    assert changelog.read_text() == (
        "# Changelog\n\n## [Unreleased]\n\n## [0.1.1] - 2026-11-26\n\n### Fixed\n- a bug\n\n## [0.1.0] - 2026-01-01\n"
    )
    with pytest.raises(ReleaseConfigError, match=r"already has a section for 0\.1\.1"):
        open_changelog_section(changelog, "0.1.1", datetime.date(2026, 11, 26))


def test_bump_uses_hatchling_and_opens_a_section(release_repo: Path) -> None:
    expected = next_version(version_of("audit-logger"), "minor")
    bumped = bump(release_repo / "audit-logger", "minor", today=datetime.date(2026, 12, 1))
    assert bumped.version == expected
    about = (release_repo / "audit-logger/src/maestro_audit_logger/__about__.py").read_text()
    assert f'__version__ = "{expected}"' in about
    changelog = (release_repo / "audit-logger/CHANGELOG.md").read_text()
    assert f"## [Unreleased]\n\n## [{expected}] - 2026-12-01\n" in changelog
    with pytest.raises(ReleaseConfigError, match="PART must be one of"):
        bump(release_repo / "audit-logger", "huge")


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
