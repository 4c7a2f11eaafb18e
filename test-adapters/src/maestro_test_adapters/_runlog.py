"""What a runner said: the lines of its log that explain why it failed."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from maestro_test_result_aggregator.model import Status, TestResult

__all__ = ["keep_log", "last_line", "read_log", "reason_lines", "unexplained_exit"]

_USAGE: Final = re.compile(r"(?:^|\s)\S+: error: ")  # argparse: "python -m pytest: error: unrecognized ..."
_REASON: Final = re.compile(
    r"^(?:(?:ERROR|FAIL|Error|error|fatal|FATAL)\b"  # pytest-cov, Vitest thresholds, npm, git...
    r"|\S*\s*\[ERROR\]"  # esbuild (a JS config that does not parse): "✘ [ERROR] Expected ..."
    r"|[A-Z]\w*Error: "  # a JS or Python exception: "TypeError: x is not a function"
    r"|failed to load config"  # Vite/Vitest
    r"|npm (?:error|ERR!) (?!A complete log))"  # npm itself (a runner not installed), not its log pointer
)
_ANSI: Final = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LIMIT: Final = 3


def read_log(path: Path) -> str:
    """The runner's whole log (``""`` when there is none)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def reason_lines(text: str, *, limit: int = _LIMIT) -> list[str]:
    """The lines of a runner's output that say why it failed: an argparse ``...: error:`` line
    first, then lines that begin with ``ERROR``/``FAIL``/``Error``/``error``/``fatal`` (pytest-cov's
    ``FAIL Required test coverage...``, Vitest's ``ERROR: Coverage for lines...``), an exception
    (``TypeError: ...``) or esbuild's ``[ERROR]`` (a JS config that does not parse), without
    terminal colours."""
    lines = [line.strip() for line in _ANSI.sub("", text).splitlines() if line.strip()]
    usage = [line for line in lines if _USAGE.search(line)]
    others = [line for line in lines if _REASON.match(line) and line not in usage]
    return list(dict.fromkeys(usage + others))[:limit]


def last_line(text: str) -> str | None:
    """The last non-blank line of a runner's output, without terminal colours."""
    lines = [line.strip() for line in _ANSI.sub("", text).splitlines() if line.strip()]
    return lines[-1] if lines else None


def unexplained_exit(
    runner: str, returncode: int, results: Iterable[TestResult], log: str, *, hints: dict[int, str] | None = None
) -> str | None:
    """The error of a run whose runner exited non-zero although no result explains it (every
    test passed or was skipped, or exit 1 with no failed test), quoting the runner's reason;
    ``None`` when the exit is explained (0, a failed test, 5 for pytest's nothing collected)."""
    if returncode == 0:
        return None
    tests = list(results)
    if returncode == 1 and any(r.status in (Status.FAILED, Status.OTHER) for r in tests):
        return None
    if returncode == 5 and runner == "pytest" and not tests:
        return None
    reason = (hints or {}).get(returncode)
    if reason is None:
        reason = " | ".join(reason_lines(log)) or None
    if reason is None:
        reason = last_line(log) or "the runner gave no reason"
    return f"{runner} exit status {returncode} although no test failed: {reason}"


def keep_log(log: Path, runner: str, reports: Iterable[Path | None]) -> Path | None:
    """Keep the runner's whole log of a run that failed for a reason other than its tests, next
    to the first report asked for (``results.jsonl`` -> ``results.<runner>.log``). ``None`` when
    no report was asked for or there is no log."""
    first = next((path for path in reports if path is not None), None)
    if first is None or not log.is_file() or not log.stat().st_size:
        return None
    target = first.with_name(f"{first.stem}.{runner}.log")
    try:
        shutil.copyfile(log, target)
    except OSError:
        return None
    return target
