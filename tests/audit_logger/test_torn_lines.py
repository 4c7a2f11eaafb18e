"""Two processes on one file, 60 KB records, SIGKILL mid-write: a writer appends only after a
newline (a torn line left by a killed process is cut off and the repair recorded), so another
process's acknowledged record is never glued to a torn one; readers skip and report a line
that is not a record instead of refusing the whole file."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from maestro_audit_logger import Actor, AuditLogger, AuditReader, JsonlFileSink, verify
from maestro_audit_logger.cli import main
from tests.audit_logger.cli_runner import separate_stderr_runner
from tests.waiting import wait_until

BIG = "x" * 60_000

WRITER = textwrap.dedent(
    """
    import os, sys
    from maestro_audit_logger import Actor, AuditLogger, JsonlFileSink
    path, name = sys.argv[1], sys.argv[2]
    audit = AuditLogger(JsonlFileSink(path), service="svc")
    stop = sys.argv[3] if len(sys.argv) > 3 else None
    i = 0
    while True:
        event_id = audit.record("big.write", actor=Actor(name), extra={"i": i, "pad": "x" * 60000})
        os.write(1, (event_id + "\\n").encode())  # acknowledged
        i += 1
        if stop is not None and os.path.exists(stop):
            audit.close()
            break
    """
)

KILLED_MID_WRITE = textwrap.dedent(
    """
    import os, resource, signal, sys
    from maestro_audit_logger import Actor, AuditLogger, JsonlFileSink
    # The kernel kills this writer inside write(): past the file size limit the write stops
    # short and SIGXFSZ (its default action, which CPython turns off: restored) ends the
    # process half-way through its line.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    path = sys.argv[1]
    audit = AuditLogger(JsonlFileSink(path), service="svc")
    limit = os.path.getsize(path) + 30_000
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    audit.record("big.write", actor=Actor("victim"), extra={"pad": "x" * 60000})
    """
)


def test_a_line_torn_by_a_killed_process_is_cut_before_another_process_appends(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(path), service="svc")  # open before the other process dies
    audit.record("a.b", actor=Actor("u"), extra={"i": 0, "pad": BIG})
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(path)], check=False)
    assert proc.returncode == -signal.SIGXFSZ
    assert not path.read_bytes().endswith(b"\n")  # torn by a dead process
    event_id = audit.record("a.b", actor=Actor("u"), extra={"i": 1, "pad": BIG})
    audit.close()
    reader = AuditReader(path)
    records = list(reader.records())
    assert event_id in [r["event_id"] for r in records]  # acknowledged and readable
    assert reader.skipped == 0
    [repair] = [r for r in records if r["action"] == "audit.repair"]
    assert repair["extra"]["reason"] == "torn last line"
    assert verify(path).ok


def test_readers_skip_and_report_one_garbage_line_instead_of_refusing_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLogger(JsonlFileSink(path), service="svc") as audit:
        for i in range(3):
            audit.record("a.b", actor=Actor("u"), extra={"i": i})
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b'{"prev":"00000000","seq":1,"wri\n' + b"".join(lines[1:]))  # a torn line
    reader = AuditReader(path)
    assert [r["extra"]["i"] for r in reader.records()] == [0, 1, 2]
    assert reader.skipped == 1
    assert reader.skipped_lines == [f"{path}:2: not JSON (a torn or garbage line)"]
    assert verify(path).first.kind == "corrupt"  # type: ignore[union-attr]  # verify still reports it
    for command in (["search"], ["tail", "-n", "5"], ["stats"], ["export", "--format", "csv"]):
        result = separate_stderr_runner().invoke(main, [command[0], str(path), *command[1:]])
        assert result.exit_code == 0, (command, result.output)
        assert "skipped 1 line(s) that are not audit records" in result.stderr


@pytest.mark.slow
def test_sigkilled_writers_of_60kb_records_never_make_an_acknowledged_record_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLogger(JsonlFileSink(path), service="svc").close()
    acked: dict[int, list[str]] = {}  # pid -> event ids its records returned

    def collect(proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        mine = acked[proc.pid] = []
        with proc.stdout:
            mine.extend(line.decode().strip() for line in proc.stdout)

    stop = tmp_path / "stop"
    survivor = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "survivor", str(stop)], stdout=subprocess.PIPE
    )
    readers = [threading.Thread(target=collect, args=(survivor,))]
    readers[0].start()
    for round_ in range(12):
        victim = subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"victim{round_}"], stdout=subprocess.PIPE)
        t = threading.Thread(target=collect, args=(victim,))
        t.start()
        readers.append(t)
        wait_until(lambda v=victim: len(acked.get(v.pid, ())) >= 3, what="the victim to acknowledge records")  # type: ignore[misc]
        victim.send_signal(signal.SIGKILL)
        assert victim.wait() == -signal.SIGKILL
    stop.touch()  # the survivor writes once more (after the last victim's torn line) and closes
    assert survivor.wait(timeout=120) == 0
    for t in readers:
        t.join()
    reader = AuditReader(path)
    stored = {r["event_id"] for r in reader.records()}
    assert {e for ids in acked.values() for e in ids} <= stored  # every acknowledged record is readable
    assert reader.skipped == 0
    # Torn lines were cut off by the next write (each cut recorded as an audit.repair event).
    report = verify(path)
    assert report.ok, report.problems
