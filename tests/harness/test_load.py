"""``python -m maestro_devtools.load``: rounds under busy loops, stopping at the first failure."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import pytest

from maestro_devtools import load


def test_examples_run() -> None:
    failures, _tried = doctest.testmod(load, optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_the_first_failing_round_ends_the_run_and_the_loops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    counter = tmp_path / "runs"
    script = (
        f"import pathlib, sys; p = pathlib.Path({str(counter)!r}); "
        "p.write_text(p.read_text() + 'x' if p.exists() else 'x'); sys.exit(len(p.read_text()) == 2 and 3)"
    )
    assert load.main(["--rounds", "5", "--loops", "2", "--", sys.executable, "-c", script]) == 3
    assert counter.read_text() == "xx"  # round 2 failed; rounds 3-5 never ran
    assert "round 2 failed with exit code 3" in capsys.readouterr().out
