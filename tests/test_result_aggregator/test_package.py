"""maestro-test-result-aggregator's public surface, version, typing marker and lazy optional imports."""

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
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


@pytest.mark.slow
def test_the_accelerator_compiles_without_warnings(tmp_path: Path) -> None:
    compiler = sysconfig.get_config_var("CC")
    if not compiler or shutil.which(shlex.split(compiler)[0]) is None:
        pytest.skip("no C compiler here")
    source = PACKAGE / "src/maestro_test_result_aggregator/formats/_junit_speedups.c"
    done = subprocess.run(
        [*shlex.split(compiler), "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
         f"-I{sysconfig.get_paths()['include']}", "-shared", str(source), "-o", str(tmp_path / "speedups.so")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


SANITIZED_READ = """
import importlib.util, sys
from maestro_test_result_aggregator.formats import _junit_fast, read_junit
spec = importlib.util.spec_from_file_location("maestro_test_result_aggregator.formats._junit_speedups", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
_junit_fast._speedups = module

def outcome(path, engine):
    try:
        return read_junit(path, engine=engine)
    except Exception as error:
        return type(error), str(error)

for path in sys.argv[2:]:
    assert outcome(path, "fast") == outcome(path, "expat"), path
print("read", len(sys.argv) - 2)
"""


def sanitizer_runtimes(compiler: str) -> list[str]:
    found = [
        subprocess.run(
            [*shlex.split(compiler), f"-print-file-name={name}"], capture_output=True, text=True, check=False
        ).stdout.strip()
        for name in ("libasan.so", "libubsan.so")
    ]
    return found if all(Path(r).is_file() for r in found) else []


@pytest.mark.slow
def test_the_accelerator_reads_under_address_and_undefined_behaviour_sanitizers(tmp_path: Path) -> None:
    # Untrusted input meets C here: the accelerator, built with ASan and UBSan, reads documents
    # with every kind of testcase (plain, spoiled values, wide characters, cut off, duplicate
    # attributes) and must agree with expat, results and errors, without a sanitizer report.
    compiler = sysconfig.get_config_var("CC")
    if not compiler or shutil.which(shlex.split(compiler)[0]) is None:
        pytest.skip("no C compiler here")
    runtimes = sanitizer_runtimes(compiler)
    if not runtimes:
        pytest.skip("the compiler has no ASan/UBSan runtime")
    module = tmp_path / "speedups.so"
    source = PACKAGE / "src/maestro_test_result_aggregator/formats/_junit_speedups.c"
    built = subprocess.run(
        [*shlex.split(compiler), "-fPIC", "-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
         f"-I{sysconfig.get_paths()['include']}", "-shared", str(source), "-o", str(module)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    cases = [
        '<testcase classname="c" name="t{i}" time="0.{i}" file="f.py" line="{i}"/>',
        '<testcase name="u{i}" time="1,5"></testcase>',
        "<testcase name='q{i}'/>",
        '<testcase name="w{i}\u6f22\U0001f600" line="\u0661"/>',
        '<testcase name="d{i}" name="x"/>',
        '<testcase name="f{i}"><failure message="m">trace &amp; more</failure></testcase>',
        '<testcase name="s{i}" timestamp="2024-01-01T00:00:00Z" time="x"/>',
    ]
    paths = []
    for n, pick in enumerate([[0] * 200, [0, 1, 2, 3, 5, 6] * 30, [0, 3, 0, 5] * 40, [0, 0, 4]]):
        body = "".join(cases[k].format(i=i) for i, k in enumerate(pick))
        path = tmp_path / f"doc{n}.xml"
        path.write_text(f'<testsuites><testsuite name="s">\n  {body}\n</testsuite></testsuites>', encoding="utf-8")
        paths.append(str(path))
    cut = tmp_path / "cut.xml"
    cut.write_text('<testsuite name="s"><testcase name="a" time="0.1"/><testcase name="b" ti', encoding="utf-8")
    paths.append(str(cut))
    env = {**os.environ, "LD_PRELOAD": " ".join(runtimes), "ASAN_OPTIONS": "detect_leaks=0", "PYTHONMALLOC": "malloc",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", SANITIZED_READ, str(module), *paths],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == f"read {len(paths)}"
    assert "runtime error" not in done.stderr


@pytest.mark.slow
def test_an_sdist_installed_without_a_compiler_says_it_reads_in_pure_python(tmp_path: Path) -> None:
    # before: pip hides a build's own output, so an install without a compiler silently got the
    # ~1.6x slower pure-Python reader; now the installed package says so itself
    environment = {k: v for k, v in os.environ.items() if k not in ("MAESTRO_REQUIRE_SPEEDUPS", "CC", "PYTHONPATH")}
    sdist_dir, wheel_dir, target = tmp_path / "sdist", tmp_path / "wheel", tmp_path / "site"
    made = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(sdist_dir), str(PACKAGE)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    (sdist,) = sdist_dir.iterdir()
    pip = [sys.executable, "-m", "pip"]
    no_compiler = {**environment, "CC": "false"}  # as on a slim image: the compile fails
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheel_dir), str(sdist)],
        capture_output=True,
        text=True,
        env=no_compiler,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheel_dir.iterdir()
    assert wheel.name.endswith("-py3-none-any.whl")
    installed = subprocess.run(
        [*pip, "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    report = tmp_path / "junit.xml"
    report.write_text('<testsuite name="s" tests="1"><testcase name="a"/></testsuite>')
    cli = [sys.executable, "-c", "from maestro_test_result_aggregator.cli import main; main()"]
    run_env = {**environment, "PYTHONPATH": str(target)}
    version = subprocess.run([*cli, "--version"], capture_output=True, text=True, env=run_env, check=False)
    assert "the JUnit reader runs in pure Python: the C accelerator did not compile here" in version.stdout
    gate = subprocess.run([*cli, "gate", str(report)], capture_output=True, text=True, env=run_env, check=False)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "maestro-results: note: the JUnit reader runs in pure Python" in gate.stderr
    accelerated = subprocess.run([*cli, "--version"], capture_output=True, text=True, env=environment, check=False)
    if _junit_fast._speedups is not None:  # this environment has the accelerator: no note
        assert "uses its C accelerator" in accelerated.stdout


def test_every_lazy_name_resolves() -> None:
    # the package and its formats load their names on first use: each must still be there
    from maestro_test_result_aggregator import formats

    for module in (maestro_test_result_aggregator, formats):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
            assert name in dir(module)
        with pytest.raises(AttributeError):
            getattr(module, "no_such_name")  # noqa: B009
    # submodules stay reachable as attributes, as when the package imported them all
    assert maestro_test_result_aggregator.merge.merge_runs is maestro_test_result_aggregator.merge_runs
    assert formats.junit.read_junit is formats.read_junit
