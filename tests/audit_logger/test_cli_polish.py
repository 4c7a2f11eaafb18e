"""The CLI as a person uses it, through real processes and pipes: no 80-column wrapping when
piped, a closed pipe and Ctrl-C end quietly, logrotate's gzip files are read, and ``tail -n``
reads from the end."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import orjson

from maestro_audit_logger import Actor, AuditLogger, AuditReader, JsonlFileSink, Target
from maestro_audit_logger.cli import main
from tests.audit_logger.cli_runner import separate_stderr_runner

CLI = [sys.executable, "-m", "maestro_audit_logger.cli"]


def write_log(path: Path, start: int, count: int) -> None:
    with AuditLogger(JsonlFileSink(path), service="svc") as audit:
        for i in range(start, start + count):
            audit.record(
                "invoice.update",
                actor=Actor(f"user-with-a-long-id-{i}"),
                targets=Target("invoice", str(i)),
                extra={"i": i},
            )


def test_piped_tables_are_not_wrapped_at_80_columns(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 0, 3)
    out = subprocess.run([*CLI, "search", str(path)], capture_output=True, text=True, check=True).stdout
    rows = [line for line in out.splitlines() if "invoice.update" in line]
    assert len(rows) == 3  # one line per event
    assert all(len(row) > 80 for row in rows)
    for record in AuditReader(path).records():
        assert any(record["event_id"] in row and record["actor"]["id"] in row for row in rows)


def test_export_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 0, 3000)  # far more than a pipe holds
    script = f'{" ".join(CLI)} export {path} | head -1; echo "status=${{PIPESTATUS[0]}}" >&2'
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert len(result.stdout.splitlines()) == 1
    assert orjson.loads(result.stdout)["extra"] == {"i": 0}
    assert result.stderr.strip() == f"status={128 + signal.SIGPIPE}"  # no "Broken pipe" message


def test_ctrl_c_on_tail_follow_exits_130_quietly(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 0, 2)
    proc = subprocess.Popen(
        [*CLI, "tail", "-f", str(path), "--interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job (`pytest ... &`) ignores SIGINT and its children inherit that:
        # give the CLI Ctrl-C back, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    assert proc.stdout is not None
    assert '"i":0' in proc.stdout.readline()  # it is running and following
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT
    assert err == ""  # no "Aborted!"


def test_logrotate_gzip_files_are_read_in_order(tmp_path: Path) -> None:
    # What logrotate leaves (rename, create, compress older): audit.jsonl.2.gz, .1, and the live file.
    logs = tmp_path / "logs"
    logs.mkdir()
    active = logs / "audit.jsonl"
    for start in (0, 3):
        write_log(active, start, 3)
        if (logs / "audit.jsonl.1").exists():
            with (logs / "audit.jsonl.1").open("rb") as src, gzip.open(logs / "audit.jsonl.2.gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
        active.rename(logs / "audit.jsonl.1")
        for extra in logs.glob("audit.jsonl.head"):
            extra.unlink()
    write_log(active, 6, 3)
    assert sorted(p.name for p in logs.iterdir() if not p.name.endswith(".head")) == [
        "audit.jsonl",
        "audit.jsonl.1",
        "audit.jsonl.2.gz",
    ]
    assert [r["extra"]["i"] for r in AuditReader(logs).records()] == list(range(9))
    assert [r["extra"]["i"] for r in AuditReader(logs / "audit.jsonl.2.gz").records()] == [0, 1, 2]
    result = separate_stderr_runner().invoke(main, ["search", str(logs / "audit.jsonl.2.gz"), "--json"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 3
    assert [r["extra"]["i"] for r in AuditReader(logs).last(4)] == [5, 6, 7, 8]


def test_tail_reads_from_the_end(tmp_path: Path) -> None:
    # 64 MiB of NUL bytes (a sparse hole) before the records: reading the log from the start
    # would meet a 64 MiB line that is not a record; reading from the end never sees it.
    path = tmp_path / "audit.jsonl"
    with path.open("wb") as fh:
        fh.truncate(64 << 20)
    with path.open("ab") as fh:
        fh.write(b"\n")
    write_log(path, 0, 10)
    reader = AuditReader(path)
    assert [r["extra"]["i"] for r in reader.last(3)] == [7, 8, 9]
    assert reader.skipped == 0
    result = separate_stderr_runner().invoke(main, ["tail", str(path), "-n", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert [orjson.loads(x)["extra"]["i"] for x in result.output.splitlines()] == [7, 8, 9]
    assert "skipped" not in result.stderr
    assert os.path.getsize(path) > 64 << 20


def test_verify_on_a_terminal_shows_bytes_percent_and_time_left(tmp_path: Path) -> None:
    import pty

    path = tmp_path / "audit.jsonl"
    with AuditLogger(JsonlFileSink(path, rotate_bytes=64 * 1024), service="svc") as audit:
        for i in range(2000):
            audit.record("invoice.update", actor=Actor("u"), extra={"i": i})
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on a terminal
        os.environ["COLUMNS"] = "120"
        os.execv(sys.executable, [*CLI, "verify", str(path)])  # noqa: S606 - the pty child, no shell
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "100%" in text
    assert " kB" in text or " MB" in text  # bytes read / total
    assert "-:--:--" in text or "0:00:00" in text  # time left
    assert "OK" in text
