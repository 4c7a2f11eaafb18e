"""The first release after the extraction: with the extraction's 1.0.0 wheels on the index,
bumping every package to 2.x and running the release publishes them, and a plain
``pip install maestro-<pkg>`` from that index gets 2.x (and the seed's imports still work)."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import pytest
from packaging.version import Version

from maestro_devtools.release import discover_packages
from maestro_devtools.release.verify import isolated_env, isolated_install_argv
from tests.fixtures.pypi import PUBLIC_SIMPLE_INDEX, PypiIndexFactory
from tests.release.conftest import (
    extraction_wheel,
    files_per_release,
    first_release,
    index_env,
    run_release_command,
)

pytestmark = [pytest.mark.release, pytest.mark.slow]

# the extraction's flat modules (Poetry-built 1.0.0)
EXTRACTION = {
    "maestro-resilience": ("circuit_breaker",),
    "maestro-audit-logger": ("core",),
    "maestro-test-adapters": ("enhanced_pytest_adapter",),
    "maestro-test-result-aggregator": ("test_result_aggregator",),
}


def test_two_point_oh_supersedes_the_extractions_one_point_oh(
    release_repo: Path, pypi_index_factory: PypiIndexFactory, tmp_path: Path
) -> None:
    index = pypi_index_factory(fallback_url=PUBLIC_SIMPLE_INDEX)
    for dist, modules in EXTRACTION.items():
        extraction_wheel(index.directory, dist, "1.0.0", modules)
    # before: PART=major gave 1.0.0 (the extraction's own number) and left test-adapters requiring <1
    released = {p.dist_name: first_release(release_repo, p.folder.name) for p in discover_packages(release_repo)}
    assert all(Version(v).major == 2 for v in released.values()), released  # 2.x, whatever the patch level

    result = run_release_command(release_repo, index_env(index))
    assert result.returncode == 0, result.output
    for folder in ("resilience", "audit-logger", "test-result-aggregator", "test-adapters"):
        n = files_per_release(folder)
        assert f"uploaded {n} of {n}" in result.stdout
    assert "Uploaded" in result.stdout

    target = tmp_path / "service-venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    install = subprocess.run(
        isolated_install_argv(python, index.simple_url, "maestro-resilience", "maestro-audit-logger"),
        capture_output=True,
        text=True,
        env=isolated_env(),
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    check = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m; from maestro_audit_logger import AuditLogger; "
            "from maestro_resilience import CircuitBreaker; "
            "print(m.version('maestro-resilience'), m.version('maestro-audit-logger'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.split() == [released["maestro-resilience"], released["maestro-audit-logger"]]
