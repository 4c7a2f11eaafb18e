"""What the differential tests share: the cache folder real tools are installed into once, the
CLI verdict on a report, and each tool's own summary line parsed."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from click.testing import CliRunner

from maestro_test_result_aggregator.cli import main

DIFFERENTIAL = Path(__file__).parent / "differential"


def cache_root() -> Path:
    """Where installed tools are kept between sessions (CI may cache it)."""
    root = Path(os.environ.get("MAESTRO_DIFFERENTIAL_CACHE") or Path.home() / ".cache" / "maestro-differential")
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One installer at a time (pytest-xdist workers share the cache)."""
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached(name: str, key: str, install: Callable[[Path], None]) -> Path:
    """``cache_root()/name-<digest of key>``, made by ``install(folder)`` the first time only.
    A failed install leaves nothing behind (the next session tries again); installing a new key
    removes the folders of the name's older keys (the cache holds one install per name)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    target = cache_root() / f"{name}-{digest}"
    with _locked(cache_root() / f".{name}.lock"):
        if not (target / ".installed").exists():
            shutil.rmtree(target, ignore_errors=True)
            building = target.with_name(target.name + ".partial")
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir()
            install(building)
            (building / ".installed").write_text(key)
            building.rename(target)
            for older in cache_root().glob(f"{name}-*"):
                if older != target and older.is_dir():
                    shutil.rmtree(older, ignore_errors=True)
    return target


def pip_target(name: str, requirement: str) -> Path:
    """``requirement`` installed (without dependencies) into a cached folder to put first on
    ``PYTHONPATH``: an older plugin version than this environment's, without touching it."""

    def install(folder: Path) -> None:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(folder), requirement],
            check=True,
            capture_output=True,
            timeout=300,
        )

    return cached(name, requirement, install)


def verdict(*args: str) -> int:
    """``maestro-results gate ARGS`` exit code (0 pass, 1 a gate failed, 2 bad input)."""
    return CliRunner().invoke(main, ["gate", *args, "--no-ci-env"]).exit_code


_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|rerun|xfailed|xpassed|deselected|warnings?)")


def pytest_summary(stdout: str) -> dict[str, int]:
    """pytest's own closing line (``3 failed, 5 passed, 1 skipped, 1 error, 9 rerun in 0.6s``) as
    counts by word (``error`` for one or more errors)."""
    lines = [line for line in stdout.splitlines() if re.search(r" in [\d.]+s", line)]
    assert lines, f"no pytest summary line in:\n{stdout}"
    counts = {word.rstrip("s") if word.startswith("error") else word: int(n) for n, word in _COUNT.findall(lines[-1])}
    return {key: counts.get(key, 0) for key in ("passed", "failed", "skipped", "error", "rerun")}
