"""Nothing reaches the index before it is proven: the just-built wheel and sdist install with
every extra and pass the package's smoke check first, and a version that pip would never pick
(lower than one the index holds, such as the first extraction's 1.0.0) is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from tests.fixtures.pypi import PUBLIC_SIMPLE_INDEX, PypiIndexFactory
from tests.release.conftest import extraction_wheel, git, index_env, run_release_command, version_of

pytestmark = pytest.mark.release


@pytest.mark.slow
def test_an_sdist_missing_a_module_is_caught_before_anything_is_uploaded(
    release_repo: Path, pypi_index_factory: PypiIndexFactory
) -> None:
    # the wheel has every module, the sdist lacks one that the package imports: the upload of
    # the wheel alone would have looked fine, every service on another Python gets the sdist
    pyproject = release_repo / "resilience/pyproject.toml"
    section = "[tool.hatch.build.targets.sdist]\n"
    pyproject.write_text(
        pyproject.read_text().replace(section, section + 'exclude = ["src/maestro_resilience/_bulkhead.py"]\n')
    )
    git(release_repo, "commit", "-qam", "an sdist that misses a module")
    index = pypi_index_factory(fallback_url=PUBLIC_SIMPLE_INDEX)
    result = run_release_command(release_repo, index_env(index), "resilience")
    assert result.returncode == 1, result.output
    assert "maestro_resilience-" in result.stderr
    assert ".tar.gz" in result.stderr
    assert "Nothing was uploaded" in result.stdout
    assert "not uploaded (install check failed)" in result.stdout
    assert list(index.directory.iterdir()) == [], "a release that fails its install check leaves the index unchanged"


def test_a_version_lower_than_one_the_index_holds_is_refused(
    release_repo: Path, pypi_index_factory: PypiIndexFactory
) -> None:
    # before 2.0.0 that was the extraction's 1.0.0; after it, any later major on the index
    ours = version_of("resilience")
    higher = f"{max(Version(ours).major + 1, 1)}.0.0"
    index = pypi_index_factory()
    extraction_wheel(index.directory, "maestro-resilience", higher, ("circuit_breaker", "retry"))
    before = sorted(p.name for p in index.directory.iterdir())
    result = run_release_command(release_repo, index_env(index), "resilience")
    assert result.returncode == 1, result.output
    assert f"maestro-resilience {ours} is lower than {higher}, which the index already holds" in result.stderr
    assert "make bump-resilience PART=major" in result.stderr
    assert sorted(p.name for p in index.directory.iterdir()) == before
    assert not (release_repo / "dist").exists(), "nothing may be built before the checks pass"
