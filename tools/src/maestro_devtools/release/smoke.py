"""What an installed package must do before a release may be called good.

Each check runs in the fresh virtual environment the package was installed into: it imports
every module the distribution ships (a module missing from an sdist, or one that no longer
imports, fails here rather than in a service), compares the version, then calls the package's
main job once.
"""

from __future__ import annotations

_COMMON = """
import importlib, importlib.metadata, pkgutil, sys
name, dist, version = sys.argv[1:4]
module = importlib.import_module(name)
installed = importlib.metadata.version(dist)
if not (module.__version__ == installed == version):
    sys.exit(f"version mismatch: module {module.__version__}, metadata {installed}, expected {version}")
broken = []
for info in pkgutil.walk_packages(module.__path__, name + "."):
    if info.name.endswith(".__main__"):  # runs the command line when imported
        continue
    try:
        importlib.import_module(info.name)
    except Exception as error:  # every module must import with every extra installed
        broken.append(f"{info.name}: {type(error).__name__}: {error}")
if broken:
    sys.exit("modules that do not import:\\n" + "\\n".join(broken))
"""

# The package's main job, once; keep to the long-standing public API.
_JOBS = {
    "maestro_resilience": """
from maestro_resilience import CircuitBreaker, Retry
breaker = CircuitBreaker("release-smoke")
assert breaker.call(lambda: 7) == 7
assert Retry(attempts=2).call(lambda: 8) == 8
""",
    "maestro_audit_logger": """
import pathlib, tempfile
from maestro_audit_logger import Actor, AuditLogger, verify
with tempfile.TemporaryDirectory() as folder:
    path = pathlib.Path(folder) / "audit.jsonl"
    with AuditLogger(str(path), service="release-smoke") as audit:
        audit.record("smoke.check", actor=Actor("release"))
    report = verify(str(path))
    assert report.ok and report.records == 1, report
""",
    "maestro_test_result_aggregator": """
import pathlib, tempfile
from maestro_test_result_aggregator import read_report
from maestro_test_result_aggregator.formats import _junit_fast
with tempfile.TemporaryDirectory() as folder:
    path = pathlib.Path(folder) / "junit.xml"
    path.write_text(
        '<testsuite name="s" tests="2"><testcase name="a"/>'
        '<testcase name="b"><failure message="x"/></testcase></testsuite>'
    )
    run = read_report(path)
    assert sorted((t.name, t.status.value) for t in run.tests) == [("a", "passed"), ("b", "failed")], run.tests
import os
if _junit_fast._speedups is None and os.environ.get("MAESTRO_SMOKE_REQUIRE_ACCELERATOR") == "1":
    sys.exit("this binary wheel has no working C accelerator: the JUnit reader fell back to pure Python")
print("junit reader: " + ("C accelerator" if _junit_fast._speedups is not None else "pure Python"))
""",
    "maestro_test_adapters": """
from maestro_test_adapters import adapter_names, get_adapter
assert {"pytest", "frontend", "playwright", "selenium", "production"} <= set(adapter_names()), adapter_names()
assert get_adapter("pytest").available(), get_adapter("pytest").available()
""",
}


def smoke_script(import_name: str) -> str:
    """The check for one package: ``python -c SCRIPT IMPORT_NAME DIST_NAME VERSION``.

    Examples:
        >>> "walk_packages" in smoke_script("maestro_resilience")
        True
    """
    return _COMMON + _JOBS.get(import_name, "")
