"""Buffered events survive a real SIGTERM (the handler chains to the app's, or dies of the
signal as the default would), and ``rotate_interval_s`` seals an idle file on time."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

from maestro_audit_logger import Actor, AuditLogger, JsonlFileSink, buffered, verify
from maestro_audit_logger._segments import list_units
from tests.waiting import wait_until

CHILD = textwrap.dedent(
    """
    import signal, sys
    from maestro_audit_logger import Actor, AuditLogger, JsonlFileSink, buffered
    path, previous = sys.argv[1], sys.argv[2]
    if previous == "app":
        def handler(signum, frame):
            print("app handler ran", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, handler)  # installed before the logger: chained
    elif previous == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    audit = AuditLogger(JsonlFileSink(path), service="svc", durability=buffered(max_batch=1000))
    for i in range(10):
        audit.record("a.b", actor=Actor("u"), extra={"i": i})
    print("ready", flush=True)
    if previous == "ignore":
        sys.stdin.readline()  # alive after the signal; the parent then closes stdin
        print("still running", flush=True)
        sys.exit(0)
    while True:
        signal.pause()  # until the parent's SIGTERM
    """
)


@pytest.mark.parametrize(
    ("previous", "status", "says"),
    [("default", -signal.SIGTERM, ""), ("app", 0, "app handler ran"), ("ignore", 0, "still running")],
)
def test_sigterm_flushes_the_buffer_and_keeps_the_previous_behaviour(
    tmp_path: Path, previous: str, status: int, says: str
) -> None:
    path = tmp_path / "audit.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), previous],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    assert proc.stdout.readline() == "ready\n"
    assert not path.exists() or path.read_bytes() == b""  # all 10 still in the buffer
    proc.send_signal(signal.SIGTERM)
    if previous == "ignore":
        wait_until(lambda: path.exists() and path.read_bytes().count(b"\n") == 10, what="the flush")
    out, _ = proc.communicate(input="", timeout=60)  # closes stdin: the child then ends
    assert proc.returncode == status
    assert says in out
    assert [orjson.loads(x)["extra"]["i"] for x in path.read_bytes().splitlines()] == list(range(10))
    assert verify(path).ok


def test_rotate_interval_seals_an_idle_file_on_time(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlFileSink(path, rotate_interval_s=0.2)
    audit = AuditLogger(sink, service="svc", durability=buffered())
    audit.record("a.b", actor=Actor("u"), extra={"i": 0})
    # Nothing more is written: the sealer thread flushes the buffer and seals the file anyway.
    wait_until(lambda: list(tmp_path.glob("*.digest")), what="the idle file to be sealed")
    sealed = list_units(path)[0]  # (later ones are heartbeats: empty)
    assert (tmp_path / (sealed + ".digest")).exists()
    assert b'"i":0' in (tmp_path / sealed).read_bytes()
    audit.record("a.b", actor=Actor("u"), extra={"i": 1})
    audit.close()  # stops the thread
    assert sink._sealer is None
    report = verify(path)
    assert report.ok, report.problems
    assert report.segments >= 1
