"""A fail-open spool shared by pre-fork workers (one ``FailOpen(path)`` given to a logger
created before ``fork``, as gunicorn/uwsgi do), through a real PostgreSQL outage: every
spooled event is stored exactly once, including those of a worker SIGKILLed while spooling."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from maestro_audit_logger import Actor, AuditLogger, AuditReader, FailOpen, PostgresSink, group_commit, verify
from tests.audit_logger.test_db_sinks import accepts_connections, restartable_postgres
from tests.waiting import wait_until

WORKERS = 4


def _worker(audit: AuditLogger, index: int, ready_w: int, go_r: int) -> None:
    # In the child: spool 30 events while the server is down, report, wait, then record 10 more
    # (the first of them replays what is spooled) and close.
    try:
        for i in range(30):
            audit.record("job.run", actor=Actor(f"w{index}"), extra={"w": index, "i": i})
        os.write(ready_w, b"%d %d\n" % (index, audit.stats.spool_pending))
        os.read(go_r, 1)
        for i in range(30, 40):
            audit.record("job.run", actor=Actor(f"w{index}"), extra={"w": index, "i": i})
        audit.close()
        os._exit(0 if audit.stats.spool_pending == 0 else 3)
    except BaseException:  # a child must never return into pytest
        import traceback

        traceback.print_exc()
        os._exit(4)


@pytest.mark.slow
def test_prefork_workers_sharing_one_failopen_spool_store_every_event_exactly_once(tmp_path: Path) -> None:
    with restartable_postgres() as (server, start):
        dsn = server.dsn
        wait_until(lambda: accepts_connections(dsn), what="PostgreSQL to accept connections")
        spool = tmp_path / "spool" / "audit.spool"
        # Created in the "master", before the fork, as a pre-fork server does.
        audit = AuditLogger(
            PostgresSink(dsn, connect_timeout=1),
            service="svc",
            durability=group_commit(),
            failure_policy=FailOpen(spool, retry_interval_s=0),
        )
        server.process.stop(signal.SIGINT)
        ready_r, ready_w = os.pipe()
        gos: list[int] = []
        pids: list[int] = []
        for index in range(WORKERS):
            go_r, go_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                _worker(audit, index, ready_w, go_r)
            os.close(go_r)
            gos.append(go_w)
            pids.append(pid)
        reports = b""
        while reports.count(b"\n") < WORKERS:
            reports += os.read(ready_r, 4096)
        pending = dict(tuple(map(int, line.split())) for line in reports.splitlines())
        assert all(pending[i] == 30 for i in range(WORKERS)), pending  # each its own spool
        # Worker 0 dies with its events spooled: another worker must replay them, once.
        os.kill(pids[0], signal.SIGKILL)
        assert os.waitpid(pids[0], 0)[1] != 0
        start(server.port)  # type: ignore[operator]
        wait_until(lambda: accepts_connections(dsn), what="PostgreSQL to accept connections again")
        for go in gos[1:]:
            os.write(go, b"g")
        for pid in pids[1:]:
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
        audit.close()  # the master never wrote: nothing to replay, nothing stolen
        records = list(AuditReader(dsn).records())
        counts = Counter((r["extra"]["w"], r["extra"]["i"]) for r in records)
        expected = {(0, i) for i in range(30)} | {(w, i) for w in range(1, WORKERS) for i in range(40)}
        assert set(counts) == expected
        assert max(counts.values()) == 1  # no duplicates
        assert len({r["event_id"] for r in records}) == len(records)
        assert verify(dsn).ok
        assert [p.name for p in spool.parent.iterdir()] == []  # every spool replayed and removed
