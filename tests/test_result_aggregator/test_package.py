"""maestro-test-result-aggregator's public surface, version, typing marker and lazy optional imports."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import maestro_test_result_aggregator
from maestro_test_result_aggregator.formats import _junit_fast
from tests.package_checks import assert_lazy_imports, assert_public_surface

PACKAGE = Path(__file__).resolve().parents[2] / "test-result-aggregator"


def test_public_surface() -> None:
    assert_public_surface(maestro_test_result_aggregator, "maestro-test-result-aggregator")


def test_optional_dependencies_are_imported_lazily() -> None:
    assert_lazy_imports(
        "maestro_test_result_aggregator", ["pandas", "numpy", "psycopg", "rich", "click", "sqlite3", "jsonschema"]
    )


def build_wheel(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Build the package's wheel into ``tmp_path`` with the hatchling of this environment."""
    environment = {k: v for k, v in os.environ.items() if k not in ("MAESTRO_REQUIRE_SPEEDUPS", "CC")}
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(PACKAGE)],
        capture_output=True,
        text=True,
        env={**environment, **env},
        check=False,
    )


@pytest.mark.slow
def test_without_a_compiler_the_wheel_is_pure_python_unless_the_accelerator_is_required(tmp_path: Path) -> None:
    built = build_wheel(tmp_path / "pure", CC="/nonexistent/cc")
    assert built.returncode == 0, built.stderr
    version = maestro_test_result_aggregator.__version__
    pure = f"maestro_test_result_aggregator-{version}-py3-none-any.whl"
    assert [p.name for p in (tmp_path / "pure").iterdir()] == [pure]
    refused = build_wheel(tmp_path / "required", CC="/nonexistent/cc", MAESTRO_REQUIRE_SPEEDUPS="1")
    assert refused.returncode != 0
    assert "the C accelerator did not compile" in refused.stdout + refused.stderr


@pytest.mark.slow
def test_with_a_compiler_the_wheel_carries_the_accelerator(tmp_path: Path) -> None:
    built = build_wheel(tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.iterdir()
    tag = f"-cp{sys.version_info.major}{sys.version_info.minor}-"
    assert tag in wheel.name  # tagged for this interpreter and platform, not py3-none-any
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    prefix = "maestro_test_result_aggregator/formats/_junit_speedups."
    assert any(n.startswith(prefix) and n.endswith(".so") for n in names)
    assert not any(n.endswith(".c") for n in names)  # the source ships in the sdist only


def test_ci_gets_the_accelerator() -> None:
    # CI sets MAESTRO_REQUIRE_SPEEDUPS=1: the editable install must have compiled it.
    if os.environ.get("MAESTRO_REQUIRE_SPEEDUPS") != "1":
        pytest.skip("MAESTRO_REQUIRE_SPEEDUPS is not set (only CI requires the accelerator)")
    assert _junit_fast._speedups is not None
