"""maestro-test-adapters: what our pytest reporting and browser fixtures cost.

1. A generated suite of simple tests (2,000; ``--quick``: 600), each way in a fresh subprocess,
   wall time, median of several runs, all in the same run of this script:
   plain pytest; pytest with our plugin (``--maestro-report``); pytest with pytest-reportlog
   (``--report-log``, the peer that also streams one JSON line per test phase); and the whole
   ``PytestAdapter.run`` (subprocess + plugin + reading the results back).
   Targets: the adapter at most 10% over plain pytest; our plugin at most as costly as reportlog.
   Every run reads compiled bytecode, as an installed package does (``PYTHONDONTWRITEBYTECODE``
   is dropped for the children, so the warm-up writes it).
   With valgrind installed (full runs), the same suite is also counted in instructions under
   callgrind: plain pytest, our plugin and pytest-reportlog; counts do not depend on the load
   of the machine, so they settle the plugin-vs-reportlog target on a shared machine.
2. Browser journeys (one ``goto`` + title check on a loopback page) through the Playwright
   adapter: per test with the shared session browser (``maestro_page``: fresh context per test)
   versus a new browser per test. Target: at most 0.35 s per test with the shared browser.
3. The same journeys through the Selenium adapter (``maestro_driver``: one driver per session,
   state cleared per test) versus a new driver and browser per test; full runs only (``--quick``
   skips it to stay short).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _table import Table, ratio

from maestro_test_adapters import PlaywrightAdapter, PytestAdapter, RunOptions, SeleniumAdapter
from maestro_test_adapters._chromium import (
    CHROMIUM_ENV,
    chromedriver_path,
    chromium_path,
    headless_chromium_path,
    is_executable,
)

BASE_ARGS = ("-q", "-p", "no:cacheprovider", "-p", "no:randomly")
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def _suite(root: Path, tests: int, per_file: int = 100) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text(INI)
    for index in range(0, tests, per_file):
        lines = ["import pytest", ""]
        count = min(per_file, tests - index)
        lines += [f"def test_{i}():\n    assert {i} + 1 > {i}\n" for i in range(count // 2)]
        lines.append(
            f"@pytest.mark.parametrize('x', range({count - count // 2}))\ndef test_param(x):\n    assert x >= 0\n"
        )
        (root / f"test_gen_{index // per_file:03d}.py").write_text("\n".join(lines))


@contextlib.contextmanager
def _bytecode() -> Iterator[None]:
    """Let the children write and then read their ``.pyc`` files (and pytest its rewritten test
    and plugin modules), as an installed package does: with ``PYTHONDONTWRITEBYTECODE`` set, every
    run compiles again, and the plugin's arm compiles more modules than the others."""
    kept = os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        yield
    finally:
        if kept is not None:
            os.environ["PYTHONDONTWRITEBYTECODE"] = kept


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _pytest(root: Path, *extra: str) -> tuple[float, float]:
    """Wall and CPU seconds of one pytest subprocess."""
    cpu, started = _children_cpu(), time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", *BASE_ARGS, *extra, "."],
        cwd=root,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started, _children_cpu() - cpu


def _adapter(root: Path) -> tuple[float, float]:
    """Wall and CPU seconds (this process and its children) of one ``PytestAdapter.run``."""
    cpu, own, started = _children_cpu(), time.process_time(), time.perf_counter()
    run = PytestAdapter().run(".", options=RunOptions(cwd=root, runner_args=BASE_ARGS))
    elapsed = time.perf_counter() - started
    if len(run.tests) == 0:
        raise RuntimeError("the adapter returned no results")
    return elapsed, _children_cpu() - cpu + time.process_time() - own


def pytest_table(quick: bool) -> Table:
    """Plain pytest vs our plugin vs pytest-reportlog vs the whole adapter (runs interleaved)."""
    tests = 200 if quick else 2000
    runs = 1 if quick else 21
    with _bytecode(), tempfile.TemporaryDirectory(prefix="maestro-bench-") as tmp:
        root = Path(tmp) / "suite"
        _suite(root, tests)
        methods: dict[str, Callable[[], tuple[float, float]]] = {
            "plain pytest (subprocess)": lambda: _pytest(root),
            "pytest + maestro plugin": lambda: _pytest(root, f"--maestro-report={tmp}/ours.jsonl"),
        }
        if importlib.util.find_spec("pytest_reportlog") is not None:
            methods["pytest + pytest-reportlog"] = lambda: _pytest(root, f"--report-log={tmp}/reportlog.jsonl")
        methods["PytestAdapter.run (all in)"] = lambda: _adapter(root)
        if quick:  # warm the file-system and import caches (and write the bytecode) once, cheaply
            warm = [f"--maestro-report={tmp}/ours.jsonl"]
            if "pytest + pytest-reportlog" in methods:
                warm.append(f"--report-log={tmp}/reportlog.jsonl")
            subprocess.run(
                [sys.executable, "-m", "pytest", "--collect-only", *BASE_ARGS, *warm, "."],
                check=False,
                cwd=root,
                capture_output=True,
            )
        else:
            for measure in methods.values():
                measure()  # warm the file-system and import caches
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
        names = list(methods)
        for round_ in range(runs):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:  # rotate the order
                samples[name].append(methods[name]())
    plain = "plain pytest (subprocess)"
    peer = "pytest + pytest-reportlog"

    def paired(name: str, base: str, which: int) -> str:
        """The median over rounds of name/base within each round: this machine's speed drifts by
        a third between runs, and a round's runs are neighbours in time, so their ratio is steady."""
        ratios = [mine[which] / theirs[which] for mine, theirs in zip(samples[name], samples[base], strict=True)]
        return f"{statistics.median(ratios):.2f}x"

    wall = {name: min(w for w, _ in values) for name, values in samples.items()}
    cpu = {name: min(c for _, c in values) for name, values in samples.items()}
    table = Table(
        f"pytest adapter on {tests} generated tests ({runs} interleaved rounds)" + (" [--quick]" if quick else ""),
        ("method", "best wall s", "best CPU s", "wall vs plain", "CPU vs plain", "CPU vs reportlog"),
        note=(
            "Ratios: the median over rounds of each round's own ratio (a round runs every way once, back to back).\n"
            "Targets: PytestAdapter.run <= 1.10x plain (wall); maestro plugin <= 1.00x pytest-reportlog."
        ),
    )
    for name in methods:
        table.add(
            name,
            f"{wall[name]:.2f}",
            f"{cpu[name]:.2f}",
            paired(name, plain, 0),
            paired(name, plain, 1),
            paired(name, peer, 1) if peer in samples else "n/a",
        )
    return table


_SUMMARY = re.compile(r"^summary: ([0-9 ]+)$", re.MULTILINE)


def instructions(argv: list[str], cwd: Path) -> tuple[int, int]:
    """Instructions one command executes and its estimated cycles, from valgrind's callgrind with
    its cache and branch simulation: KCachegrind's estimate, instructions + 10 x (L1 misses +
    mispredicted branches) + 100 x last-level misses, which counts what instructions alone miss
    (a larger code or data footprint) and still does not depend on the machine's load."""
    with tempfile.TemporaryDirectory(prefix="maestro-callgrind-") as out:
        profile = Path(out) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--cache-sim=yes", "--branch-sim=yes",
             f"--callgrind-out-file={profile}", *argv],
            cwd=cwd,
            env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dict and set layouts in every run
            check=True,
            capture_output=True,
            text=True,
        )  # fmt: skip
        found = _SUMMARY.search(profile.read_text(encoding="utf-8", errors="replace"))
    if found is None:
        raise RuntimeError(f"callgrind wrote no summary for {argv}")
    ir, _dr, _dw, i1, d1r, d1w, lli, lldr, lldw, _bc, bcm, _bi, bim = (int(v) for v in found.group(1).split())
    return ir, ir + 10 * (i1 + d1r + d1w + bcm + bim) + 100 * (lli + lldr + lldw)


def instructions_table(quick: bool) -> Table | None:
    """Plain pytest, our plugin and pytest-reportlog on the 2,000-test suite, in instructions
    (callgrind): deterministic, whatever else runs on the machine. Full runs with valgrind only
    (each run takes minutes under callgrind; two run side by side)."""
    if quick or shutil.which("valgrind") is None or importlib.util.find_spec("pytest_reportlog") is None:
        return None
    tests = 2000
    with _bytecode(), tempfile.TemporaryDirectory(prefix="maestro-bench-") as tmp:
        root = Path(tmp) / "suite"
        _suite(root, tests)
        arms = {
            "plain pytest": [],
            "pytest + maestro plugin": [f"--maestro-report={tmp}/ours.jsonl"],
            "pytest + pytest-reportlog": [f"--report-log={tmp}/reportlog.jsonl"],
        }
        every = [f"--maestro-report={tmp}/ours.jsonl", f"--report-log={tmp}/reportlog.jsonl"]
        subprocess.run(
            [sys.executable, "-m", "pytest", *BASE_ARGS, *every, "."], cwd=root, check=True, capture_output=True
        )
        with ThreadPoolExecutor(max_workers=2) as pool:
            counts = dict(
                zip(
                    arms,
                    pool.map(
                        lambda extra: instructions([sys.executable, "-m", "pytest", *BASE_ARGS, *extra, "."], root),
                        arms.values(),
                    ),
                    strict=True,
                )
            )
    table = Table(
        f"pytest adapter on {tests} generated tests, in instructions and estimated cycles (callgrind)",
        ("method", "instructions (M)", "vs plain", "vs reportlog", "est. cycles (M)", "vs plain", "vs reportlog"),
        note=(
            "Counted on a simulated CPU (cache and branch simulation), so they do not depend on the machine's load;"
            "\nestimated cycles = instructions + 10 x (L1 misses + mispredicted branches) + 100 x last-level misses."
            "\nTarget: maestro plugin <= 1.00x pytest-reportlog."
        ),
    )
    plain, peer = counts["plain pytest"], counts["pytest + pytest-reportlog"]
    for name, (count, cycles) in counts.items():
        table.add(
            name,
            f"{count / 1e6:.0f}",
            f"{count / plain[0]:.3f}x",
            f"{count / peer[0]:.3f}x",
            f"{cycles / 1e6:.0f}",
            f"{cycles / plain[1]:.3f}x",
            f"{cycles / peer[1]:.3f}x",
        )
    return table


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the browser closing a connection early is not news


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


JOURNEY_NEW_BROWSER = """
import pytest
from maestro_test_adapters.browser_fixtures import launch_chromium

@pytest.fixture
def own_page(maestro_playwright):
    browser = launch_chromium(maestro_playwright)
    try:
        yield browser.new_page()
    finally:
        browser.close()
"""


def _journeys(url: str, shared: int, new: int, reused: int) -> str:
    def test(name: str, fixture: str) -> str:
        return f"\ndef {name}({fixture}):\n    {fixture}.goto(URL)\n    assert {fixture}.title() == 'bench'\n"

    return (
        f"URL = {url!r}\n"
        + JOURNEY_NEW_BROWSER
        + "".join(test(f"test_shared_{i}", "maestro_page") for i in range(shared))
        + "".join(test(f"test_new_{i}", "own_page") for i in range(new))
        + "".join(test(f"test_reused_{i}", "maestro_shared_page") for i in range(reused))
    )


def _journey_durations(url: str, shared: int, new: int, reused: int, env: dict[str, str]) -> dict[str, float]:
    """Each journey test's reported duration (setup + call + teardown) in one Playwright adapter run."""
    with tempfile.TemporaryDirectory(prefix="maestro-bench-browser-") as tmp:
        suites = Path(tmp) / "suites"
        suites.mkdir()
        (suites / "pytest.ini").write_text(INI)
        (suites / "test_journeys.py").write_text(_journeys(url, shared, new, reused))
        adapter = PlaywrightAdapter(artifacts=os.fspath(Path(tmp) / "artifacts"))
        options = RunOptions(cwd=suites, runner_args=BASE_ARGS, timeout=300, env=env)
        run = adapter.run("test_journeys.py", options=options)
    if len(run.tests) != shared + new + reused or any(r.status.value != "passed" for r in run.tests):
        raise RuntimeError(f"browser benchmark failed: {[(r.name, r.message) for r in run.tests]}")
    return {r.name: r.duration for r in run.tests}


def _median(durations: dict[str, float], prefix: str, indexes: range) -> float:
    return statistics.median(durations[f"{prefix}_{i}"] for i in indexes)


def browser_table(quick: bool) -> Table | None:
    """Per-test cost of a simple page journey: shared browser vs a new browser per test.

    Two runs of the Playwright adapter: on the default browser (Debian's headless shell when
    installed, see ``headless_chromium_path``) and on the full ``/usr/bin/chromium``. Each test's
    duration (setup + call + teardown, as reported) is its cost. The first shared-browser test
    also pays the browser's launch, so it is left out."""
    default = headless_chromium_path()
    if importlib.util.find_spec("playwright") is None or not is_executable(default):
        return None
    shared, new, reused = (6, 2, 6) if quick else (40, 8, 40)
    site = tempfile.TemporaryDirectory(prefix="maestro-bench-site-")
    root = Path(site.name)
    (root / "index.html").write_text("<!doctype html><title>bench</title><h1>bench</h1>")
    (root / "favicon.ico").write_bytes(b"")
    server = _QuietServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    full = chromium_path()
    try:
        durations = _journey_durations(url, shared, new, reused, {})
        on_full = (
            _journey_durations(url, shared, new, 0, {CHROMIUM_ENV: full})
            if default != full and is_executable(full)
            else None
        )
    finally:
        server.shutdown()
        server.server_close()
        site.cleanup()
    per_new = _median(durations, "test_new", range(new))
    table = Table(
        "Browser journeys, Playwright adapter on system Chromium (s per test)" + (" [--quick]" if quick else ""),
        ("method", "browser", "tests", "s per test", "vs new browser"),
        note=(
            "Target: <= 0.35 s per simple page test with the shared browser. maestro_page opens a fresh traced\n"
            "context per test; maestro_shared_page reuses one page and resets it (weaker isolation).\n"
            f"Default browser: {default}."
        ),
    )
    rows: list[tuple[str, str, dict[str, float], str, range]] = [
        ("maestro_page, shared browser", default, durations, "test_shared", range(1, shared)),
        ("maestro_shared_page (one page, reset)", default, durations, "test_reused", range(1, reused)),
        ("new browser per test", default, durations, "test_new", range(new)),
    ]
    if on_full is not None:
        rows.insert(1, ("maestro_page, shared browser", full, on_full, "test_shared", range(1, shared)))
        rows.append(("new browser per test", full, on_full, "test_new", range(new)))
    for method, browser, found, prefix, indexes in rows:
        per = _median(found, prefix, indexes)
        table.add(method, os.path.basename(browser), str(len(indexes)), f"{per:.2f}", ratio(per, per_new))
    return table


SELENIUM_NEW_DRIVER = """
import pytest
from maestro_test_adapters.browser_fixtures import new_chrome_driver

@pytest.fixture
def own_driver():
    driver = new_chrome_driver()
    try:
        yield driver
    finally:
        driver.quit()
"""


def _selenium_journeys(url: str, shared: int, new: int) -> str:
    def test(name: str, fixture: str) -> str:
        return f"\ndef {name}({fixture}):\n    {fixture}.get(URL)\n    assert {fixture}.title == 'bench'\n"

    return (
        f"URL = {url!r}\n"
        + SELENIUM_NEW_DRIVER
        + "".join(test(f"test_shared_{i}", "maestro_driver") for i in range(shared))
        + "".join(test(f"test_new_{i}", "own_driver") for i in range(new))
    )


def selenium_table(quick: bool, *, sizes: tuple[int, int] = (30, 6)) -> Table | None:
    """The same journeys through the Selenium adapter (full runs only: --quick skips it)."""
    if quick or importlib.util.find_spec("selenium") is None:
        return None
    if not (is_executable(chromium_path()) and is_executable(chromedriver_path())):
        return None
    shared, new = sizes
    with tempfile.TemporaryDirectory(prefix="maestro-bench-selenium-") as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        (site / "index.html").write_text("<!doctype html><title>bench</title><h1>bench</h1>")
        (site / "favicon.ico").write_bytes(b"")
        server = _QuietServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        suites = Path(tmp) / "suites"
        suites.mkdir()
        (suites / "pytest.ini").write_text(INI)
        (suites / "test_wd.py").write_text(_selenium_journeys(url, shared, new))
        adapter = SeleniumAdapter(artifacts=os.fspath(Path(tmp) / "artifacts"))
        try:
            run = adapter.run("test_wd.py", options=RunOptions(cwd=suites, runner_args=BASE_ARGS, timeout=600))
        finally:
            server.shutdown()
            server.server_close()
    if len(run.tests) != shared + new or any(r.status.value != "passed" for r in run.tests):
        raise RuntimeError(f"selenium benchmark failed: {[(r.name, r.message) for r in run.tests]}")
    durations = {r.name: r.duration for r in run.tests}
    per_shared = statistics.median(durations[f"test_shared_{i}"] for i in range(1, shared))
    per_new = statistics.median(durations[f"test_new_{i}"] for i in range(new))
    table = Table(
        "Browser journeys, Selenium adapter on system Chromium + ChromeDriver (s per test)",
        ("method", "tests", "s per test", "vs new driver"),
        note=f"The first shared test (driver and browser start) took {durations['test_shared_0']:.2f} s.",
    )
    table.add("maestro_driver, shared driver", str(shared - 1), f"{per_shared:.2f}", ratio(per_shared, per_new))
    table.add("new driver + browser per test", str(new), f"{per_new:.2f}", "1.00x")
    return table


def run(quick: bool = False) -> list[Table]:
    """The pytest table and, when Playwright and Chromium are here, the browser table."""
    tables = [pytest_table(quick)]
    for table in (instructions_table(quick), browser_table(quick), selenium_table(quick)):
        if table is not None:
            tables.append(table)
    return tables


if __name__ == "__main__":
    for table in run(quick="--quick" in sys.argv):
        print(table.render(), end="\n\n")
