"""End to end against a real pypiserver: first publish, idempotent second publish, a dry
run, and installing every package with its extras from that index alone."""

from __future__ import annotations

import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from maestro_devtools.release.verify import isolated_install_argv
from maestro_devtools.servers import PypiIndex, start_pypi_index
from tests.fixtures.pypi import PypiIndexFactory
from tests.release.conftest import (
    PACKAGE_FOLDERS,
    Result,
    files_per_release,
    git,
    index_env,
    run_release_command,
    version_of,
)

pytestmark = [pytest.mark.release, pytest.mark.slow]

DISTS = {
    "resilience": ("maestro-resilience", "maestro_resilience", "[redis]"),
    "audit-logger": ("maestro-audit-logger", "maestro_audit_logger", ""),
    "test-result-aggregator": ("maestro-test-result-aggregator", "maestro_test_result_aggregator", "[pandas]"),
    "test-adapters": ("maestro-test-adapters", "maestro_test_adapters", "[playwright,selenium]"),
}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PypiIndex]:
    """A real pypiserver that this module's tests publish to in turn (one worker runs a
    whole file: the Makefile passes ``--dist loadfile``)."""
    root = tmp_path_factory.mktemp("index")
    with start_pypi_index(root / "packages", state_dir=root / "state") as running:
        yield running


@pytest.fixture(scope="module")
def first_publish(shared_repo: Path, index: PypiIndex) -> Result:
    return run_release_command(shared_repo, index_env(index))


def _rows(result: Result) -> dict[str, list[str]]:
    """The release table as {package: [version, upload, verified]}."""
    rows = {}
    for line in result.stdout.splitlines():
        cells = [c for c in line.split("  ") if c.strip()]
        if cells and cells[0].startswith("maestro-"):
            rows[cells[0].strip()] = [c.strip() for c in cells[1:]]
    return rows


def test_first_publish_uploads_every_file_and_verifies_installs(
    first_publish: Result, index: PypiIndex, shared_repo: Path
) -> None:
    assert first_publish.returncode == 0, first_publish.output
    rows = _rows(first_publish)
    assert set(rows) == {dist for dist, _, _ in DISTS.values()}
    for folder, (dist, _, _) in DISTS.items():
        n = files_per_release(folder)
        assert (rows[dist][1], rows[dist][2]) == (f"uploaded {n} of {n}", "yes")
    assert {dist: row[0] for dist, row in rows.items()} == {dist: version_of(f) for f, (dist, _, _) in DISTS.items()}
    held = sorted(p.name for p in index.directory.iterdir())
    total = sum(map(files_per_release, DISTS))
    assert len(held) == total
    assert all(name.endswith((".whl", ".tar.gz")) for name in held)
    # dependency order: the aggregator is uploaded before the adapters that need it
    out = first_publish.stdout
    assert out.index("uploading maestro_test_result_aggregator") < out.index("uploading maestro_test_adapters")
    assert f"Uploaded {total} file(s)." in out
    # each published version is tied to its commit by the tag <folder>-v<version>
    tags = git(shared_repo, "tag", "--points-at", "HEAD").split()
    assert sorted(tags) == sorted(f"{folder}-v{version_of(folder)}" for folder in DISTS)
    # and the just-built files were installed and smoke-checked before the upload
    assert out.index("checking the built files install and work, before uploading") < out.index("uploading ")


def test_second_publish_uploads_nothing_and_says_so(first_publish: Result, shared_repo: Path, index: PypiIndex) -> None:
    assert first_publish.returncode == 0, first_publish.output
    before = {p.name: p.stat().st_mtime_ns for p in index.directory.iterdir()}
    second = run_release_command(shared_repo, index_env(index))
    assert second.returncode == 0, second.output
    assert {row[1] for row in _rows(second).values()} == {"already there"}
    assert {row[2] for row in _rows(second).values()} == {"yes"}
    assert "Nothing to upload" in second.stdout
    assert "uploading" not in second.stdout
    assert {p.name: p.stat().st_mtime_ns for p in index.directory.iterdir()} == before


def test_dry_run_after_publish_would_upload_nothing(first_publish: Result, shared_repo: Path, index: PypiIndex) -> None:
    assert first_publish.returncode == 0, first_publish.output
    dry = run_release_command(shared_repo, index_env(index, DRY_RUN="1"), "resilience")
    assert dry.returncode == 0, dry.output
    assert _rows(dry) == {"maestro-resilience": [version_of("resilience"), "already there", "skipped (dry run)"]}


def test_pip_isolated_install_of_each_package_with_extras(
    first_publish: Result, index: PypiIndex, tmp_path: Path
) -> None:
    """The index alone (its fallback standing in for a group's proxy) serves every package."""
    assert first_publish.returncode == 0, first_publish.output
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    specs = [f"{dist}{extras}=={version_of(folder)}" for folder, (dist, _, extras) in DISTS.items()]
    argv = isolated_install_argv(python, index.simple_url, *specs)
    assert argv[argv.index("install") + 1 :][:1] == ["--isolated"]
    install = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null", "HOME": str(Path.home())},
    )
    assert install.returncode == 0, install.stdout + install.stderr
    imports = "; ".join(f"import {module}" for _, module, _ in DISTS.values())
    extras = "import redis, pandas, selenium, playwright"
    script = f"{imports}; {extras}; print(maestro_test_adapters.__version__)"
    ran = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == version_of("test-adapters")
    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for folder, (dist, _, _) in DISTS.items():
        assert f"{dist}=={version_of(folder)}" in freeze


def test_dry_run_on_an_empty_index_lists_files_and_uploads_none(
    release_repo: Path, pypi_index_factory: PypiIndexFactory
) -> None:
    index = pypi_index_factory()
    dry = run_release_command(release_repo, index_env(index, DRY_RUN="1"))
    assert dry.returncode == 0, dry.output
    rows = _rows(dry)
    assert len(rows) == len(PACKAGE_FOLDERS)
    assert {dist: row[1] for dist, row in rows.items()} == {
        dist: f"would upload {files_per_release(folder)} of {files_per_release(folder)}"
        for folder, (dist, _, _) in DISTS.items()
    }
    total = sum(map(files_per_release, DISTS))
    assert f"Dry run: would upload {total} file(s); nothing was uploaded." in dry.stdout
    assert list(index.directory.iterdir()) == []
