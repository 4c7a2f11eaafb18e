"""Run a command several times while busy loops keep every core loaded.

A test that passes on a quiet machine and fails on a busy one is a bug in the test (a fixed
sleep, a timed assertion) or in the code (a race). CI runs the timing-sensitive tests this way
(``make test-under-load``); the loops are ended whatever happens, also on Ctrl-C.

Examples:
    >>> import sys
    >>> from maestro_devtools.load import run_loaded
    >>> run_loaded([sys.executable, "-c", "pass"], rounds=2, loops=1)
    == round 1 of 2 under 1 busy loop(s): ...
    == round 2 of 2 under 1 busy loop(s): ...
    0
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["main", "run_loaded"]

_BUSY = "while True: pass"


def run_loaded(command: Sequence[str], *, rounds: int, loops: int | None = None) -> int:
    """Run ``command`` up to ``rounds`` times under ``loops`` busy loops (default: one per core).

    Returns the first non-zero exit code, or 0 when every round passed.
    """
    count = loops if loops is not None else (os.cpu_count() or 1)
    busy = [subprocess.Popen([sys.executable, "-c", _BUSY]) for _ in range(count)]
    try:
        for round_number in range(1, rounds + 1):
            print(f"== round {round_number} of {rounds} under {count} busy loop(s): {' '.join(command)}", flush=True)
            code = subprocess.call(list(command))
            if code != 0:
                print(f"== round {round_number} failed with exit code {code}", flush=True)
                return code
        return 0
    finally:
        for process in busy:
            process.kill()
        for process in busy:
            process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m maestro_devtools.load --rounds N -- COMMAND...``."""
    parser = argparse.ArgumentParser(prog="python -m maestro_devtools.load", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="how many times to run the command (default 3)")
    parser.add_argument("--loops", type=int, default=None, help="busy loops (default: one per core)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    return run_loaded(command, rounds=args.rounds, loops=args.loops)


if __name__ == "__main__":
    sys.exit(main())
