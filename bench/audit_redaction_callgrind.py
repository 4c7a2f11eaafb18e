"""Redaction's cost on the buffered JSONL path, in instructions (load-independent).

Runs the benchmark record (bench_audit's ``_ours`` / ``_ours_plain``) under
``valgrind --tool=callgrind`` with ``PYTHONHASHSEED=0``, with ``Redactor()`` and with
``NoRedaction()``, for 2,000 and 22,000 events: the difference of the two runs is 20,000
events' instructions with start-up cancelled out. Prints instructions per event with and
without redaction and redaction's share (with / without - 1; the issue's budget: <= 10%).

    .venv/bin/python bench/audit_redaction_callgrind.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {bench!r})
from bench_audit import ACTOR, EXTRA, TARGET
from maestro_audit_logger import AuditLogger, JsonlFileSink, NoRedaction, buffered

n, redact, path = int(sys.argv[1]), sys.argv[2] == "1", Path(sys.argv[3])
kwargs = {{}} if redact else {{"redaction": NoRedaction()}}
audit = AuditLogger(JsonlFileSink(path), service="billing", durability=buffered(), **kwargs)
record = audit.record
for i in range(n):
    record("invoice.update", actor=ACTOR, targets=TARGET, request_id=f"req-{{i}}", extra=EXTRA)
audit.close()
"""
_COLLECTED = re.compile(rb"Collected : (\d+)")


def instructions(n: int, redact: bool) -> int:
    """Instructions callgrind counts for one run of ``n`` events."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "child.py"
        script.write_text(_CHILD.format(bench=str(Path(__file__).resolve().parent)))
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                str(script),
                str(n),
                "1" if redact else "0",
                str(Path(tmp) / "audit.jsonl"),
            ],
            capture_output=True,
            env=env,
            check=True,
        )
    m = _COLLECTED.search(proc.stderr)
    if m is None:
        raise RuntimeError(proc.stderr.decode(errors="replace")[-2000:])
    return int(m.group(1))


def measure(small: int = 2000, large: int = 22000) -> tuple[float, float]:
    """Instructions per event (with redaction, without) from the difference of two runs."""
    per = {}
    for redact in (True, False):
        per[redact] = (instructions(large, redact) - instructions(small, redact)) / (large - small)
    return per[True], per[False]


def main() -> int:
    """Measure ``--repeats`` times and print each measurement."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for i in range(args.repeats):
        with_r, without = measure()
        print(
            f"run {i + 1}: {with_r:,.0f} instructions per event with Redactor(), {without:,.0f} with NoRedaction(): "
            f"redaction +{with_r / without - 1:.1%}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
