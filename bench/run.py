"""Run every ``bench/bench_*.py`` and print its tables (``make bench``).

Each benchmark module has ``run(quick: bool) -> list[Table]``; peers are measured in the same
run as our code, so the ratios hold on any machine. ``--quick`` runs fewer repeats, and
names given on the command line select benchmarks (``python bench/run.py import``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke check")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    available = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    chosen = args.names or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; available: {', '.join(available)}")
    for name in chosen:
        module = importlib.import_module(f"bench_{name}")
        for table in module.run(quick=args.quick):
            print(table.render(), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
