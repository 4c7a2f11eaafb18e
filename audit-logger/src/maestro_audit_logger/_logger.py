"""`AuditLogger`: builds, validates, redacts and serialises events, then hands them to a sink."""

# ruff: noqa: PLC0415, PLR0912, PLR0917  # optional and heavy modules are imported where used; wide internal signatures

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import orjson

from maestro_audit_logger._canonical import check_finite, dumps
from maestro_audit_logger._context import EVENT_KEYS, _audit_context, _structlog_vars, structlog_context
from maestro_audit_logger._durability import Durability, FailClosed, FailOpen, FailurePolicy, flush
from maestro_audit_logger._errors import AuditConfigError, AuditEventError, AuditWriteError
from maestro_audit_logger._event import Actor, AuditEvent, Outcome, Source, Target, event_record
from maestro_audit_logger._otel import current_ids
from maestro_audit_logger._redaction import Redactor
from maestro_audit_logger._sink import Sink, SinkStats
from maestro_audit_logger._sources import where

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures

    from maestro_audit_logger.sinks.store import Store

_FIELD_NAMES = frozenset(
    {
        "actor", "targets", "outcome", "reason", "error", "category", "changes", "source", "severity",
        "tenant", "request_id", "correlation_id", "trace_id", "span_id", "extra",
    }
)  # fmt: skip
#: Room kept for the integrity members (prev, seq, writer, hash) within ``max_record_bytes``.
INTEGRITY_OVERHEAD = 300
Backpressure = Literal["wait", "raise"]
_orjson_dumps = orjson.dumps
_SORT_KEYS = orjson.OPT_SORT_KEYS

# Hooks installed by maestro_audit_logger.testing.capture(): each gets every record body dict.
_captures: list[Callable[[dict[str, Any]], None]] = []
_open_cores: weakref.WeakSet[_Core] = weakref.WeakSet()


def _too_large(size: int, limit: int) -> None:
    raise AuditEventError(
        "record",
        f"is {size + INTEGRITY_OVERHEAD} bytes with its integrity fields, over max_record_bytes={limit}"
        " (refused, not truncated)",
    )


def make_sink(target: Sink | Store | str | os.PathLike[str]) -> Sink:
    """A sink from a `Sink`, a `Store` (given a `StoreSink`), ``"-"``/``"stdout"``/``"stderr"``,
    a ``sqlite://`` or ``postgresql://`` URL, or a path: a SQLite database when the file is one
    (or, new, ends in ``.db``/``.sqlite``/``.sqlite3``), else a JSONL log file. The same rules
    `AuditReader` and `verify` read a source by (`maestro_audit_logger._sources`)."""
    if isinstance(target, Sink):
        return target
    if not isinstance(target, str | os.PathLike):
        if all(callable(getattr(target, m, None)) for m in ("store_lines", "sync", "close")):
            from maestro_audit_logger.sinks.store import StoreSink

            return StoreSink(target)
        raise AuditConfigError(
            f"sink must be a Sink, a Store, a path, '-', or a sqlite:/// or postgresql:// URL, got {target!r}"
        )
    place = where(target)
    if place.kind == "stream":
        from maestro_audit_logger.sinks.stream import StreamSink

        return StreamSink(place.location)
    if place.kind == "sqlite":
        from maestro_audit_logger.sinks.sqlite import SqliteSink

        return SqliteSink(place.location)
    if place.kind == "postgresql":
        from maestro_audit_logger.sinks.postgres import PostgresSink

        return PostgresSink(place.location)
    from maestro_audit_logger.sinks.file import JsonlFileSink

    return JsonlFileSink(target)


class _AsyncWriter:
    """A bounded queue drained by one task, which hands batches to a worker thread."""

    def __init__(self, core: _Core, loop: asyncio.AbstractEventLoop) -> None:
        import asyncio

        self.core = core
        self.loop = loop
        self.queue: asyncio.Queue[tuple[bytes, asyncio.Future[None]]] = asyncio.Queue(core.queue_size)
        self.task = loop.create_task(self._run(), name="maestro-audit-writer")

    async def _run(self) -> None:
        import asyncio

        q = self.queue
        executor = self.core.executor()
        max_batch = max(1, self.core.sink.durability.max_batch)
        while True:
            first = await q.get()
            # Let the producers that are ready run first, so one batch (one fsync) covers them.
            await asyncio.sleep(0)
            items = [first]
            while len(items) < max_batch:
                try:
                    items.append(q.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                await self.loop.run_in_executor(executor, self.core.sink.emit, [b for b, _ in items])
            except BaseException as exc:
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(exc if isinstance(exc, Exception) else AuditWriteError(str(exc)))
                if not isinstance(exc, Exception):
                    raise
            else:
                for _, fut in items:
                    if not fut.done():
                        fut.set_result(None)
            finally:
                for _ in items:
                    q.task_done()

    async def submit(self, body: bytes) -> None:
        import asyncio

        fut: asyncio.Future[None] = self.loop.create_future()
        item = (body, fut)
        if self.core.backpressure == "raise":
            try:
                self.queue.put_nowait(item)
            except asyncio.QueueFull:
                raise AuditWriteError(f"the audit queue is full ({self.core.queue_size} events waiting)") from None
        else:
            await self.queue.put(item)
        await fut

    async def drain(self) -> None:
        import asyncio

        await self.queue.join()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class _Core:
    """What bound loggers share: the sink, configuration and the async writer."""

    def __init__(
        self,
        sink: Sink,
        service: str,
        redactor: Redactor,
        max_record_bytes: int,
        queue_size: int,
        backpressure: Backpressure,
        opentelemetry: bool,
        clock: Callable[[], int],
    ) -> None:
        self.sink = sink
        self.service = service
        self.redactor = redactor
        self.max_record_bytes = max_record_bytes
        #: The largest event body accepted (room kept for the integrity members).
        self.body_limit = max_record_bytes - INTEGRITY_OVERHEAD
        #: The sink's bound `emit_one` (one attribute lookup per event instead of two).
        self.emit_one = sink.emit_one
        self.queue_size = queue_size
        self.backpressure = backpressure
        self.opentelemetry = opentelemetry
        self.clock = clock
        self.closed = False
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._writers: dict[asyncio.AbstractEventLoop, _AsyncWriter] = {}
        self._lock = threading.Lock()

    def executor(self) -> concurrent.futures.ThreadPoolExecutor:
        import concurrent.futures

        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="maestro-audit")
            return self._executor

    def writer(self) -> _AsyncWriter:
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            w = self._writers.get(loop)
            if w is None:
                w = self._writers[loop] = _AsyncWriter(self, loop)
            return w

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.sink.close()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)

    async def aclose(self) -> None:
        import asyncio

        if self.closed:
            return
        loop = asyncio.get_running_loop()
        w = self._writers.pop(loop, None)
        if w is not None:
            await w.drain()
        await loop.run_in_executor(None, self.close)


def _close_all_at_exit() -> None:
    for core in list(_open_cores):
        try:
            core.close()
        except Exception:  # noqa: S112 - best effort at interpreter exit
            continue


atexit.register(_close_all_at_exit)


class AuditLogger:
    """Records audit events to a sink: validated, redacted, hash-chained, durable as configured.

    Args:
        sink: a `Sink`, a `Store` (your own: see `StoreSink`), a path (a SQLite database if it
            is one or ends in ``.db``/``.sqlite``, else a JSONL file), ``"-"`` for stdout, or a
            ``sqlite://`` or ``postgresql://`` URL.
        service: the emitting service's name, stamped on every event.
        redaction: the `Redactor` applied before anything is rendered or hashed
            (default: `Redactor()`, the built-in secret keys and value patterns).
        durability: `buffered`, `flush` (default), `group_commit` or `fsync_each`.
        failure_policy: `FailClosed` (default: ``record`` raises `AuditWriteError`) or
            `FailOpen` (spool locally, replay in order).
        max_record_bytes: refuse (with `AuditEventError`) records larger than this.
        queue_size: the bound of `arecord`'s queue per event loop.
        backpressure: when that queue is full, ``"wait"`` (the awaiting coroutine waits; the
            loop is never blocked) or ``"raise"`` (`AuditWriteError` at once).
        opentelemetry: take trace and span ids from OpenTelemetry's current span when the
            event has none (only if opentelemetry is installed).
        clock: nanoseconds since the epoch (injectable for tests).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from maestro_audit_logger import Actor, AuditLogger, Target, group_commit
        >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
        >>> audit = AuditLogger(path, service="billing", durability=group_commit())
        >>> event_id = audit.record(
        ...     "invoice.update", actor=Actor("u-1"), targets=Target("invoice", "42"), changes={"amount": [100, 120]}
        ... )
        >>> audit.close()
        >>> len(path.read_bytes().splitlines())
        1

        In async code, `arecord` writes off the event loop and `aclose` drains:

        ```python
        audit = AuditLogger("audit.jsonl", service="billing", durability=group_commit())
        await audit.arecord("invoice.update", actor=Actor("u-1"), targets=Target("invoice", "42"))
        await audit.aclose()
        ```
    """

    __slots__ = ("_context", "_core")

    def __init__(
        self,
        sink: Sink | Store | str | os.PathLike[str],
        *,
        service: str,
        redaction: Redactor | None = None,
        durability: Durability | None = None,
        failure_policy: FailurePolicy | None = None,
        max_record_bytes: int = 64 * 1024,
        queue_size: int = 10_000,
        backpressure: Backpressure = "wait",
        opentelemetry: bool = True,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if not isinstance(service, str) or not service:
            raise AuditConfigError("service must be a non-empty string naming the emitting service")
        if redaction is not None and not isinstance(redaction, Redactor):
            raise AuditConfigError("redaction must be a Redactor (or NoRedaction())")
        if not isinstance(max_record_bytes, int) or max_record_bytes < 1024:
            raise AuditConfigError(f"max_record_bytes must be an integer of at least 1024, got {max_record_bytes!r}")
        if not isinstance(queue_size, int) or queue_size < 1:
            raise AuditConfigError(f"queue_size must be a positive integer, got {queue_size!r}")
        if backpressure not in ("wait", "raise"):
            raise AuditConfigError(f"backpressure must be 'wait' or 'raise', got {backpressure!r}")
        if failure_policy is not None and not isinstance(failure_policy, FailClosed | FailOpen):
            raise AuditConfigError("failure_policy must be FailClosed() or FailOpen(spool_path)")
        resolved = make_sink(sink)
        resolved.configure(durability=durability or flush(), failure_policy=failure_policy or FailClosed())
        self._core = _Core(
            resolved,
            service,
            redaction if redaction is not None else Redactor(),
            max_record_bytes,
            queue_size,
            backpressure,
            opentelemetry,
            clock,
        )
        self._context: Mapping[str, Any] = {}
        _open_cores.add(self._core)

    # -- context ----------------------------------------------------------------------------
    def bind(self, **context: Any) -> AuditLogger:
        """A logger sharing this one's sink, with ``context`` added to every event.

        Keys naming event fields (``actor``, ``source``, ``tenant``, ``request_id``,
        ``correlation_id``, ``trace_id``, ``span_id``, ``category``, ``severity``) fill them;
        any other key goes to ``extra``.
        """
        new = object.__new__(AuditLogger)
        new._core = self._core
        new._context = {**self._context, **context}
        return new

    @property
    def context(self) -> Mapping[str, Any]:
        """The values bound with `bind`."""
        return self._context

    @property
    def sink(self) -> Sink:
        """The sink events go to."""
        return self._core.sink

    @property
    def stats(self) -> SinkStats:
        """Counters: written, syncs, spooled (total), spool_pending, replayed, failures."""
        return self._core.sink.stats

    # -- building ----------------------------------------------------------------------------
    def _context_values(self) -> dict[str, Any] | None:
        sctx = structlog_context()
        actx = _audit_context.get()
        own = self._context
        if not (sctx or actx or own):
            return None
        return {**sctx, **actx, **own}

    def _record_dict(
        self,
        action: str | AuditEvent,
        actor: Actor | None,
        targets: Target | Iterable[Target],
        outcome: Outcome | str,
        reason: str | None,
        error: BaseException | None,
        category: str | None,
        changes: Mapping[str, Any] | None,
        source: Source | None,
        severity: str | None,
        tenant: str | None,
        request_id: str | None,
        correlation_id: str | None,
        trace_id: str | None,
        span_id: str | None,
        extra: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        core = self._core
        if isinstance(action, AuditEvent):
            d = action.to_dict()
            if "service" not in d:
                d["service"] = core.service
            return d
        ctx = self._context_values()
        if ctx is not None:
            get = ctx.get
            actor = actor if actor is not None else get("actor")
            source = source if source is not None else get("source")
            category = category or get("category")
            severity = severity or get("severity")
            tenant = tenant or get("tenant")
            request_id = request_id or get("request_id")
            correlation_id = correlation_id or get("correlation_id")
            trace_id = trace_id or get("trace_id")
            span_id = span_id or get("span_id")
            more = {k: v for k, v in ctx.items() if k not in EVENT_KEYS}
            if more:
                extra = {**more, **(extra or {})}
        if error is not None:
            if outcome == "success":
                outcome = "failure"
            if reason is None:
                reason = f"{type(error).__name__}: {error}"
        if type(outcome) is not str:
            if not isinstance(outcome, Outcome):
                raise AuditEventError("outcome", "must be an Outcome or one of success, failure, unknown")
            if reason is None:
                reason = outcome.reason
            outcome = outcome.status
        if trace_id is None and core.opentelemetry:
            ids = current_ids()
            if ids is not None:
                trace_id, span_id = ids[0], span_id or ids[1]
        if actor is None:
            raise AuditEventError("actor", "is required (pass actor=, bind it, or set it in audit_context)")
        return event_record(
            action,
            actor,
            targets,
            outcome,
            reason,
            category,
            changes,
            source,
            severity or "info",
            core.service,
            tenant,
            request_id,
            correlation_id,
            trace_id,
            span_id,
            extra,
            core.clock(),
            "",
        )

    def build(
        self,
        action: str | AuditEvent,
        *,
        actor: Actor | None = None,
        targets: Target | Iterable[Target] = (),
        outcome: Outcome | str = "success",
        reason: str | None = None,
        error: BaseException | None = None,
        category: str | None = None,
        changes: Mapping[str, Any] | None = None,
        source: Source | None = None,
        severity: str | None = None,
        tenant: str | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """The `AuditEvent` `record` would write (before redaction), context applied."""
        d = self._record_dict(
            action, actor, targets, outcome, reason, error, category, changes, source, severity,
            tenant, request_id, correlation_id, trace_id, span_id, extra,
        )  # fmt: skip
        return AuditEvent.from_dict(d)

    def render(self, event: AuditEvent | dict[str, Any]) -> bytes:
        """The canonical, redacted body of an event (what every sink stores and hashes).

        Raises:
            AuditEventError: a value is not serialisable or the record is over ``max_record_bytes``.
        """
        record = self._core.redactor.redact_record(event.to_dict() if isinstance(event, AuditEvent) else event)
        if _captures:
            for hook in _captures:
                hook(record)
        body = dumps(record)
        if len(body) + INTEGRITY_OVERHEAD > self._core.max_record_bytes:
            _too_large(len(body), self._core.max_record_bytes)
        return body

    def render_fields(self, action: str, **fields: Any) -> bytes:
        """Validate, apply context, redact and serialise an event given as `record` keywords,
        without writing it (what `AuditRenderer` hands to structlog)."""
        unknown = fields.keys() - _FIELD_NAMES
        if unknown:
            raise AuditEventError(sorted(unknown)[0], "is not an event field")
        get = fields.get
        d = self._record_dict(
            action, get("actor"), get("targets", ()), get("outcome", "success"), get("reason"), get("error"),
            get("category"), get("changes"), get("source"), get("severity"), get("tenant"), get("request_id"),
            get("correlation_id"), get("trace_id"), get("span_id"), get("extra"),
        )  # fmt: skip
        return self.render(d)

    # -- recording ---------------------------------------------------------------------------
    def record(
        self,
        action: str | AuditEvent,
        *,
        actor: Actor | None = None,
        targets: Target | Iterable[Target] = (),
        outcome: Outcome | str = "success",
        reason: str | None = None,
        error: BaseException | None = None,
        category: str | None = None,
        changes: Mapping[str, Any] | None = None,
        source: Source | None = None,
        severity: str | None = None,
        tenant: str | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """Record one event; return its event id once the durability mode is satisfied.

        ``action`` is a dotted verb (``invoice.update``) with the event's fields as keywords
        (see `AuditEvent`; ``error=`` takes an exception: outcome ``failure``, its text as the
        redacted reason), or a ready `AuditEvent`. Fields not given come from `bind` and
        `audit_context`; trace and span ids from OpenTelemetry's current span.

        Raises:
            AuditEventError: the event is invalid, too large or not serialisable.
            AuditWriteError: the sink failed under `FailClosed`, or the logger is closed.
        """
        core = self._core
        sv = _structlog_vars[0]  # structlog's registry of bound names once seen: {} = none bound
        if (
            error is None
            and actor is not None
            and type(outcome) is str
            and not self._context
            and not _audit_context.get()
            and ((sv is not None and not sv) or not structlog_context())
        ):
            # The common case, `_record_dict` inlined: no context to merge, no exception to map.
            if trace_id is None and core.opentelemetry and "opentelemetry.trace" in sys.modules:
                ids = current_ids()
                if ids is not None:
                    trace_id, span_id = ids[0], span_id or ids[1]
            d = event_record(
                action, actor, targets, outcome, reason, category, changes, source, severity or "info",
                core.service, tenant, request_id, correlation_id, trace_id, span_id, extra, core.clock(), "",
            )  # fmt: skip
            # `render` inlined (the hot path): redact, serialise canonically, check the size.
            if reason is None and changes is None and source is None and tenant is None and correlation_id is None:
                record = core.redactor._redact_usual(d)  # only extra, actor, targets, request id
            else:
                record = core.redactor._redact_owned(d)
        else:
            d = self._record_dict(
                action, actor, targets, outcome, reason, error, category, changes, source, severity,
                tenant, request_id, correlation_id, trace_id, span_id, extra,
            )  # fmt: skip
            record = core.redactor._redact_owned(d)
        event_id: str = d["event_id"]
        if _captures:
            for hook in _captures:
                hook(record)
        try:
            body = _orjson_dumps(record, option=_SORT_KEYS)
        except TypeError:
            body = dumps(record)  # raises AuditEventError naming the field
        if b"null" in body:  # NaN and Infinity would be stored as null: refused
            check_finite(record)
        if len(body) > core.body_limit:
            _too_large(len(body), core.max_record_bytes)
        core.emit_one(body, record)
        return event_id

    async def arecord(
        self,
        action: str | AuditEvent,
        *,
        actor: Actor | None = None,
        targets: Target | Iterable[Target] = (),
        outcome: Outcome | str = "success",
        reason: str | None = None,
        error: BaseException | None = None,
        category: str | None = None,
        changes: Mapping[str, Any] | None = None,
        source: Source | None = None,
        severity: str | None = None,
        tenant: str | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """`record` for async code: validation and rendering happen here; the write happens on
        a worker thread fed by a bounded queue, so the event loop never blocks. Returns the
        event id when the event is as durable as the mode promises."""
        d = self._record_dict(
            action, actor, targets, outcome, reason, error, category, changes, source, severity,
            tenant, request_id, correlation_id, trace_id, span_id, extra,
        )  # fmt: skip
        body = self.render(d)
        if self._core.closed:
            raise AuditWriteError("the audit logger is closed")
        await self._core.writer().submit(body)
        event_id: str = d["event_id"]
        return event_id

    def structlog(self, **initial: Any) -> Any:
        """A structlog bound logger recording to this logger (see `structlog_logger`)."""
        from maestro_audit_logger._structlog import structlog_logger

        return structlog_logger(self, **initial)

    def flush(self) -> None:
        """Write (and sync, in durable modes) everything held in memory."""
        self._core.sink.flush()

    def close(self) -> None:
        """Drain and close the sink (idempotent). In async code prefer `aclose`."""
        self._core.close()

    async def aclose(self) -> None:
        """Drain the async queue, then close the sink without blocking the loop."""
        await self._core.aclose()

    def __enter__(self) -> AuditLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> AuditLogger:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
