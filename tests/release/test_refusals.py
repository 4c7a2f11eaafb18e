"""The release refuses unsafe or impossible publishes with a clear message and exit 1,
and never prints a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from maestro_devtools.servers import free_port
from tests.fixtures.pypi import PUBLIC_SIMPLE_INDEX, PypiIndexFactory
from tests.release.conftest import git, index_env, run_release_command, version_of

pytestmark = pytest.mark.release

WRONG_PASSWORD = "Wr0ng-s3cret-PASSWORD-xyzzy"


@pytest.mark.slow
@pytest.mark.parametrize("verbose", ["", "1"], ids=["quiet", "V=1"])
def test_wrong_password_is_explained_and_never_printed(
    release_repo: Path, pypi_index_factory: PypiIndexFactory, verbose: str
) -> None:
    index = pypi_index_factory(fallback_url=PUBLIC_SIMPLE_INDEX)  # the install check before upload needs dependencies
    env = index_env(index, MAESTRO_NEXUS_PASSWORD=WRONG_PASSWORD, V=verbose)
    result = run_release_command(release_repo, env, "resilience")
    assert result.returncode == 1
    assert "refused user 'maestro' (HTTP 403" in result.stderr
    assert "MAESTRO_NEXUS_USER / MAESTRO_NEXUS_PASSWORD" in result.stderr
    assert WRONG_PASSWORD not in result.output
    assert index.password not in result.output
    assert "Traceback" not in result.output
    assert list(index.directory.iterdir()) == []


def test_password_in_the_url_is_never_printed(release_repo: Path, pypi_index_factory: PypiIndexFactory) -> None:
    index = pypi_index_factory()
    url = index.url.replace("http://", f"http://{index.username}:{WRONG_PASSWORD}@")
    result = run_release_command(release_repo, {"MAESTRO_NEXUS_URL": url, "DRY_RUN": "1"}, "resilience")
    assert result.returncode == 0, result.output
    assert WRONG_PASSWORD not in result.output
    assert index.url in result.stdout


@pytest.mark.parametrize(
    ("version", "message"),
    [("0.2.0.dev1", "is a development version (.dev)"), ("0.2.0+build7", "has a local version label (+build7)")],
)
def test_dev_and_local_versions_are_refused(
    release_repo: Path, pypi_index_factory: PypiIndexFactory, version: str, message: str
) -> None:
    about = release_repo / "resilience/src/maestro_resilience/__about__.py"
    about.write_text(f'__version__ = "{version}"\n')
    git(release_repo, "commit", "-qam", "dev version")
    index = pypi_index_factory()
    result = run_release_command(release_repo, index_env(index))
    assert result.returncode == 1
    assert f"maestro-resilience {version} {message}" in result.stderr
    assert list(index.directory.iterdir()) == []
    assert not (release_repo / "dist").exists(), "nothing may be built before the checks pass"


def test_dirty_tree_is_refused_unless_allowed(release_repo: Path, pypi_index_factory: PypiIndexFactory) -> None:
    (release_repo / "resilience/src/maestro_resilience/new_module.py").write_text("x = 1\n")
    index = pypi_index_factory()
    refused = run_release_command(release_repo, index_env(index, DRY_RUN="1"), "resilience")
    assert refused.returncode == 1
    assert "uncommitted changes (resilience/src/maestro_resilience/new_module.py)" in refused.stderr
    assert "ALLOW_DIRTY=1" in refused.stderr
    allowed = run_release_command(release_repo, index_env(index, DRY_RUN="1", ALLOW_DIRTY="1"), "resilience")
    assert allowed.returncode == 0, allowed.output
    assert "would upload 2 of 2" in allowed.stdout


def test_unreachable_index_is_refused(release_repo: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/repository/pypi-hosted/"
    result = run_release_command(
        release_repo, {"MAESTRO_NEXUS_URL": url, "MAESTRO_NEXUS_USER": "ci", "MAESTRO_NEXUS_PASSWORD": "pw-123456"}
    )
    assert result.returncode == 1
    assert f"cannot reach the index at {url}simple/" in result.stderr
    assert "pw-123456" not in result.output
    assert "Traceback" not in result.output


def test_unknown_package_is_named(release_repo: Path) -> None:
    result = run_release_command(release_repo, {}, "no-such-package")
    assert result.returncode == 1
    assert "unknown package no-such-package; known: " in result.stderr


@pytest.mark.parametrize("wheel_missing", [False, True])
def test_changed_content_under_a_published_version_is_kept_and_flagged(
    release_repo: Path, pypi_index_factory: PypiIndexFactory, wheel_missing: bool
) -> None:
    index = pypi_index_factory()
    first = run_release_command(release_repo, index_env(index), "resilience", "--no-verify")
    assert first.returncode == 0, first.output
    wheels = list(index.directory.glob("*.whl"))
    if wheel_missing:  # e.g. a wheel with a new platform tag: missing, while the sdist is there
        wheels[0].unlink()
    held = {p.name: p.read_bytes() for p in index.directory.iterdir()}
    readme = release_repo / "resilience/README.md"
    readme.write_text(readme.read_text() + "\nA late change without a version bump.\n")
    git(release_repo, "commit", "-qam", "change without bump")
    second = run_release_command(release_repo, index_env(index), "resilience", "--no-verify")
    assert second.returncode == 1, "this tree is not on the index: the run must not look green"
    assert "the index holds other content under" in second.stderr or "held back" in second.stderr
    assert "is already on the index with different content" in second.stdout
    assert "bump resilience's version" in second.stdout
    if wheel_missing:  # held back too: one version must not mix files built from two sources
        assert f"not uploading {wheels[0].name}" in second.stdout
        assert "held back 1 of 2" in second.stdout
    else:
        assert "index differs (2 of 2)" in second.stdout  # the README is in both files
        assert "Nothing to upload" not in second.stdout
    assert {p.name: p.read_bytes() for p in index.directory.iterdir()} == held


def test_a_build_failure_uploads_nothing(release_repo: Path, pypi_index_factory: PypiIndexFactory) -> None:
    (release_repo / "test-adapters/README.md").unlink()  # the readme metadata points at it
    git(release_repo, "commit", "-qam", "break the adapters build")
    index = pypi_index_factory()
    result = run_release_command(release_repo, index_env(index), "--no-verify")
    assert result.returncode == 1
    assert "building maestro-test-adapters failed" in result.stderr
    assert list(index.directory.iterdir()) == []


def test_a_version_with_no_changelog_section_is_refused(
    release_repo: Path, pypi_index_factory: PypiIndexFactory
) -> None:
    # before: 9.9.9, set by hand with no section saying what it changed, was released anyway
    about = release_repo / "resilience/src/maestro_resilience/__about__.py"
    about.write_text('__version__ = "9.9.9"\n')
    git(release_repo, "commit", "-qam", "a version set by hand")
    index = pypi_index_factory()
    result = run_release_command(release_repo, index_env(index), "resilience")
    assert result.returncode == 1
    assert "maestro-resilience 9.9.9 has no section in resilience/CHANGELOG.md" in result.stderr
    assert list(index.directory.iterdir()) == []
    assert not (release_repo / "dist").exists(), "nothing may be built before the checks pass"


@pytest.mark.parametrize("change", ["a changelog entry", "a source change"])
def test_a_tree_that_is_not_yet_its_version_is_refused_unless_rehearsed(
    release_repo: Path, pypi_index_factory: PypiIndexFactory, change: str
) -> None:
    # before: audit-logger's version was set in f5d6234, later commits changed its src/ and its
    # changelog gathered [Unreleased] entries, and `make release` would publish that tree as 0.3.0
    if change == "a changelog entry":
        changelog = release_repo / "resilience/CHANGELOG.md"
        changelog.write_text(
            changelog.read_text().replace("## [Unreleased]\n", "## [Unreleased]\n\n- A new thing.\n", 1)
        )
        expected = "resilience/CHANGELOG.md has 1 [Unreleased] entries"
    else:
        module = release_repo / "resilience/src/maestro_resilience/_bulkhead.py"
        module.write_text(module.read_text() + "\n# a change after the version was set\n")
        expected = "1 source file(s) changed after"
    git(release_repo, "commit", "-qam", change)
    index = pypi_index_factory(fallback_url=PUBLIC_SIMPLE_INDEX)  # the rehearsal installs dependencies
    refused = run_release_command(release_repo, index_env(index), "resilience")
    assert refused.returncode == 1, refused.output
    assert "this tree is not the version it claims" in refused.stderr
    assert expected in refused.stderr
    assert "ALLOW_UNBUMPED=1" in refused.stderr
    assert list(index.directory.iterdir()) == []
    dry = "1" if change == "a changelog entry" else ""
    rehearsal = run_release_command(release_repo, index_env(index, DRY_RUN=dry, ALLOW_UNBUMPED="1"), "resilience")
    assert rehearsal.returncode == 0, rehearsal.output
    assert f"warning: maestro-resilience {version_of('resilience')}: " in rehearsal.stdout
    assert ("would upload" if dry else "uploaded 2 of 2") in rehearsal.stdout
    # a rehearsal is never tagged: the tag would claim this tree is that version
    assert git(release_repo, "tag", "--list") == ""
