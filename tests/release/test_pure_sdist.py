"""The aggregator's sdist on every supported CPython without a compiler (as on a slim image):
it installs, reads reports with the pure-Python reader, and says so without ``-v``.

pip hides a build's own output, so the installed package carries the note itself
(``maestro-results --version`` and a line on stderr from each command).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from maestro_devtools.release.pythons import release_interpreters
from maestro_devtools.release.verify import isolated_env, isolated_install_argv
from tests.fixtures.pypi import PypiIndex
from tests.fixtures.services import require
from tests.release.conftest import REPO_ROOT

pytestmark = [pytest.mark.release, pytest.mark.slow]

PURE_NOTE = "the JUnit reader runs in pure Python: the C accelerator did not compile here"
CLI = "from maestro_test_result_aggregator.cli import main; main()"


@pytest.fixture(scope="module")
def aggregator_sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdist")
    environment = {k: v for k, v in os.environ.items() if k not in ("MAESTRO_REQUIRE_SPEEDUPS", "CC")}
    made = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out)],
        cwd=REPO_ROOT / "test-result-aggregator",
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    (sdist,) = out.glob("*.tar.gz")
    return sdist


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_the_sdist_without_a_compiler_installs_the_pure_reader_and_says_so(
    version: str, aggregator_sdist: Path, pypi_index: PypiIndex, tmp_path: Path
) -> None:
    # before: only the cp311 wheel was ever install-checked; 3.12/3.13 services built the sdist,
    # and without a compiler silently got the pure-Python reader
    found = {i.version: i.path for i in release_interpreters()}
    require(
        version in found,
        f"CPython {version}",
        f"python{version} (on PATH, or pyenv's; or MAESTRO_RELEASE_PYTHONS)",
        installer="install",
    )
    interpreter = found[version] if version != f"{sys.version_info[0]}.{sys.version_info[1]}" else Path(sys.executable)
    target = tmp_path / "venv"
    if interpreter == Path(sys.executable):
        venv.EnvBuilder(with_pip=False).create(target)
    else:
        subprocess.run([str(interpreter), "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    env = {**isolated_env(), "CC": "false"}  # the build's compile fails, as with no compiler
    env.pop("MAESTRO_REQUIRE_SPEEDUPS", None)
    installed = subprocess.run(
        isolated_install_argv(python, pypi_index.simple_url, str(aggregator_sdist)),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    said = subprocess.run([str(python), "-c", CLI, "--version"], capture_output=True, text=True, env=env, check=False)
    assert said.returncode == 0, said.stderr
    assert PURE_NOTE in said.stdout
    report = tmp_path / "junit.xml"
    report.write_text(
        '<testsuite name="s" tests="2"><testcase name="a"/><testcase name="b"><failure/></testcase></testsuite>'
    )
    gate = subprocess.run(
        [str(python), "-c", CLI, "gate", "--min-pass-rate", "100", str(report)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert gate.returncode == 1, gate.stdout + gate.stderr  # the failure is read: the pure reader works
    assert f"maestro-results: note: {PURE_NOTE.split(':', maxsplit=1)[0]}" in gate.stderr
    version_line = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version_line.stdout.strip() == version
