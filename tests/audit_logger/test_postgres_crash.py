"""PostgreSQL crashing under the sink (``pg_ctl stop -m immediate``) and down at start: a
commit that reached the server unconfirmed is not stored twice, and no raw driver error
escapes the failure policy."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import psycopg
import pytest

from maestro_audit_logger import (
    Actor,
    AuditConfigError,
    AuditLogger,
    AuditReader,
    AuditWriteError,
    FailOpen,
    PostgresSink,
    buffered,
    group_commit,
    verify,
)
from maestro_devtools.servers import run_as
from tests.audit_logger.test_db_sinks import accepts_connections, restartable_postgres
from tests.fixtures import binaries
from tests.fixtures.postgres import PostgresServer, os_user
from tests.waiting import wait_until


class CommitCutter:
    """A loopback TCP proxy in front of PostgreSQL that, once armed, lets a ``COMMIT`` reach the
    server and cuts the connection before the server's answer reaches the client: the commit
    happens, its confirmation is lost (as when the server crashes right after committing)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed = threading.Event()
        self.cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            committed = threading.Event()
            threading.Thread(target=self._pump, args=(client, server, committed, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, committed, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, committed: threading.Event, upstream: bool) -> None:
        try:
            while data := src.recv(65536):
                if upstream and self.armed.is_set() and b"COMMIT\x00" in data:
                    committed.set()  # before forwarding: the answer necessarily comes after
                if not upstream and committed.is_set():
                    self.armed.clear()
                    self.cut.set()
                    break  # the confirmation is dropped
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def dsn(self, server: PostgresServer) -> str:
        return server.dsn.replace(f":{server.port}/", f":{self.port}/")

    def close(self) -> None:
        self.listener.close()


def crash_immediately(server: PostgresServer) -> None:
    """``pg_ctl stop -m immediate``: the postmaster and its backends quit at once, no checkpoint."""
    pg_ctl = binaries.pg_binary("pg_ctl")
    assert pg_ctl is not None
    run_as(
        [str(pg_ctl), "stop", "-D", str(server.data_dir), "-m", "immediate"], user=os_user(), cwd=server.data_dir.parent
    )
    server.process.stop()  # reap it


@pytest.mark.slow
@pytest.mark.parametrize(
    ("policy", "mode", "unconfirmed"),
    # Group commit commits with synchronous_commit=on: the unconfirmed commit survives the crash.
    # Buffered commits asynchronously: the crash may lose it too (the events are retried then).
    [("fail_open", "group_commit", {1}), ("fail_open", "buffered", {0, 5}), ("fail_closed", "buffered", {0, 5})],
)
def test_a_commit_confirmation_lost_in_a_crash_is_not_stored_twice(
    tmp_path: Path, policy: str, mode: str, unconfirmed: set[int]
) -> None:
    with restartable_postgres() as (server, start):
        wait_until(lambda: accepts_connections(server.dsn), what="PostgreSQL to accept connections")
        cutter = CommitCutter(server.port)
        try:
            sink = PostgresSink(cutter.dsn(server), connect_timeout=1)
            audit = AuditLogger(
                sink,
                service="svc",
                # group commit: one commit per event here; buffered: one per 5 events.
                durability=group_commit() if mode == "group_commit" else buffered(max_batch=5),
                # fail-closed buffered: a failed batch is kept for the next write.
                failure_policy=FailOpen(tmp_path / "spool", retry_interval_s=0) if policy == "fail_open" else None,
            )
            for i in range(10):
                audit.record("a.b", actor=Actor("u"), extra={"i": i})
            audit.flush()
            # Buffered mode commits asynchronously: make those ten durable first, so the crash
            # can only lose the unconfirmed commit under test (as an fsync would in production).
            with psycopg.connect(server.dsn, autocommit=True) as admin:
                admin.execute("CHECKPOINT")
            cutter.armed.set()
            errors: list[str] = []
            for i in range(10, 15):
                try:
                    audit.record("a.b", actor=Actor("u"), extra={"i": i})
                except AuditWriteError as exc:  # buffered, fail-closed: reported, events kept
                    errors.append(str(exc))
            if policy == "fail_closed":
                assert len(errors) == 1
                assert "kept for retry" in errors[0]
            else:
                assert errors == []
            assert cutter.cut.is_set()
            crash_immediately(server)
            start(server.port)  # type: ignore[operator]
            wait_until(lambda: accepts_connections(server.dsn), what="PostgreSQL to recover and accept connections")
            for i in range(15, 20):
                audit.record("a.b", actor=Actor("u"), extra={"i": i})
            audit.close()
            assert audit.stats.skipped_stored in unconfirmed  # found stored: skipped, not stored again
            records = list(AuditReader(server.dsn).records())
            assert [r["extra"]["i"] for r in records] == list(range(20))
            assert [r["seq"] for r in records] == list(range(20))
            assert verify(server.dsn).ok
        finally:
            cutter.close()


@pytest.mark.slow
def test_postgres_down_at_start_spools_or_raises_audit_write_error(tmp_path: Path) -> None:
    with restartable_postgres() as (server, start):
        dsn = server.dsn
        wait_until(lambda: accepts_connections(dsn), what="PostgreSQL to accept connections")
        crash_immediately(server)
        # Fail-closed: no raw psycopg error, from the constructor or from record.
        closed = AuditLogger(PostgresSink(dsn, connect_timeout=1), service="svc")
        with pytest.raises(AuditWriteError, match="audit sink failed"):
            closed.record("a.b", actor=Actor("u"), extra={"i": -1})
        closed.close()
        # Fail-open: spooled, then replayed once the server is up.
        audit = AuditLogger(
            PostgresSink(dsn, connect_timeout=1),
            service="svc",
            failure_policy=FailOpen(tmp_path / "spool", retry_interval_s=0),
        )
        for i in range(3):
            audit.record("a.b", actor=Actor("u"), extra={"i": i})
        assert audit.stats.spool_pending == 3
        start(server.port)  # type: ignore[operator]
        wait_until(lambda: accepts_connections(dsn), what="PostgreSQL to accept connections")
        audit.record("a.b", actor=Actor("u"), extra={"i": 3})
        audit.close()
        assert [r["extra"]["i"] for r in AuditReader(dsn).records()] == [0, 1, 2, 3]
        assert verify(dsn).ok


def test_an_unparsable_dsn_is_a_config_error_without_its_text() -> None:
    with pytest.raises(AuditConfigError, match="connection string") as info:
        PostgresSink("host=db password=s3cret bogus")
    assert "s3cret" not in str(info.value)
