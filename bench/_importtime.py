"""Import time of a module in fresh interpreters, as users see it (bytecode already compiled).

An installed package has its ``.pyc`` files (pip compiles them), so each measurement first
imports the module once with bytecode writing allowed, even where ``PYTHONDONTWRITEBYTECODE`` is
set: otherwise our editable sources would be compiled on every run and the peers' would not.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def import_us(module: str, runs: int) -> float:
    """Median cumulative ``-X importtime`` microseconds of ``import module`` over ``runs`` fresh
    interpreters, after one warm-up import that writes the bytecode cache."""
    env = _env()
    subprocess.run([sys.executable, "-c", f"import {module}"], env=env, capture_output=True, check=True)
    samples = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        cumulative = [
            int(line.split("|")[1])
            for line in result.stderr.splitlines()
            if line.startswith("import time:") and line.split("|")[2].strip() == module
        ]
        samples.append(float(cumulative[-1]) if cumulative else 0.0)
    return statistics.median(samples)
