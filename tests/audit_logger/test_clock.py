"""UUIDv7 event ids (`_clock.uuid7`): counter-based within a millisecond, valid, unique across
threads, strictly increasing per thread, and never continued by a forked child."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from maestro_audit_logger import Actor, AuditLogger, _clock
from maestro_audit_logger._clock import uuid7

NS = 1_790_000_000_123_456_789


@pytest.fixture(autouse=True)
def fresh_uuid_state() -> Iterator[None]:
    # These tests use fixed times (older than now): start from, and leave, a fresh state.
    _clock._reset_after_fork()
    yield
    _clock._reset_after_fork()


# -- UUIDv7 ---------------------------------------------------------------------------------
def test_uuid7_ids_of_one_millisecond_are_valid_and_strictly_increasing() -> None:
    ids = [uuid7(NS + i) for i in range(2000)]  # all within one millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for text in (ids[0], ids[-1]):
        value = uuid.UUID(text)
        assert str(value) == text
        assert value.version == 7
        assert value.variant == uuid.RFC_4122
        assert value.int >> 80 == NS // 1_000_000


def test_uuid7_new_millisecond_draws_new_random_bits_and_sorts_after() -> None:
    first = uuid7(NS)
    later = uuid7(NS + 1_000_000)
    assert later > first
    assert later[:8] + later[9:13] != first[:8] + first[9:13]  # the time field moved on
    # An older time (a given past timestamp) still gets a valid id carrying that millisecond.
    past = uuid7(NS - 5_000_000)
    assert uuid.UUID(past).int >> 80 == (NS - 5_000_000) // 1_000_000
    assert uuid7(NS + 1_000_001) > later  # and the current millisecond's counter is untouched


def test_uuid7_is_unique_across_threads_and_monotonic_per_thread() -> None:
    per_thread: dict[int, list[str]] = {}
    start = threading.Barrier(4)

    def work(k: int) -> None:
        start.wait()
        # Non-decreasing times crossing several milliseconds, as a real clock gives.
        per_thread[k] = [uuid7(NS + i * 1_000) for i in range(6000)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for ids in per_thread.values() for i in ids]
    assert len(set(everything)) == len(everything) == 24_000
    for ids in per_thread.values():
        # Ids of one millisecond come from that millisecond's single counter (or, for a thread
        # that a faster thread has left behind, a fresh random id), so each id's millisecond
        # never goes backwards and every id is a valid UUIDv7.
        ms = [uuid.UUID(i).int >> 80 for i in ids]
        assert ms == sorted(ms)
    single = [uuid7(NS + 10_000_000 + i * 1_000) for i in range(5000)]
    assert single == sorted(single)  # one thread alone: strictly increasing


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_uuid7_forked_child_does_not_continue_the_parents_counter() -> None:
    parent_first = uuid7(NS + 50_000_000)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.write(write, uuid7(NS + 50_000_000).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent_next = uuid7(NS + 50_000_000)
    assert parent_next > parent_first
    assert child != parent_next
    # The child drew its own random bits for this millisecond instead of reusing the parent's.
    assert child[:24] != parent_first[:24]


def test_uuid7_reset_hook_forgets_the_cached_millisecond() -> None:
    a = uuid7(NS + 70_000_000)
    _clock._reset_after_fork()
    b = uuid7(NS + 70_000_000)
    assert a[:24] != b[:24]


def test_record_ids_increase_within_a_millisecond(tmp_path: Path) -> None:
    ticks = iter(range(NS, NS + 500_000, 1_000))  # 500 events within one millisecond
    with AuditLogger(tmp_path / "a.jsonl", service="s", clock=lambda: next(ticks)) as audit:
        ids = [audit.record("a.b", actor=Actor("u")) for _ in range(500)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 500
    assert {uuid.UUID(i).int >> 80 for i in ids} == {NS // 1_000_000}
