"""Reading files another process is still appending to (live progress, tests in flight)."""

from __future__ import annotations

from pathlib import Path


def test_line_tail_waits_for_complete_lines(tmp_path: Path) -> None:
    from maestro_test_adapters._tail import LineTail, read_inflight

    path = tmp_path / "growing.txt"
    tail = LineTail(path)
    assert tail.read() == []  # not created yet
    path.write_bytes(b"+a\n+b")
    assert tail.read() == ["+a"]
    with path.open("ab") as stream:
        stream.write(b"\n-a\n")
    assert tail.read() == ["+b", "-a"]
    assert read_inflight(path) == ["b"]
    assert read_inflight(tmp_path / "missing") == []
