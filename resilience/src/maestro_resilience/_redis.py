"""Shared state in Redis: ``RedisStorage`` for the circuit breaker and ``RedisRateLimiter`` (GCRA).

Importing this module imports redis-py (``pip install 'maestro-resilience[redis]'``).

Round trips (a round trip is one ``EVALSHA`` of the breaker's Lua script). Every guarded call costs
at most ONE on its own path, half-open probes included:

- The breaker keeps a local copy of the shared state, refreshed by every reply. A call admitted on a
  *fresh* copy (its last reply at most ``max_staleness`` old) costs one round trip after it runs: the
  ``EVALSHA`` recording its outcome, whose reply carries the current state.
- A call that cannot be admitted from a closed copy (the process's first call, a call after more
  than ``max_staleness`` idle) costs one round trip before it runs: the ``EVALSHA`` that admits it.
  Its outcome is then *deferred*: it rides on this process's next round trip for the breaker (any
  call's), or, if none comes within ``flush_delay`` (50 ms), a background flush sends it; that
  flush is the only round trip not on a call's path. While a deferred FAILURE waits, the next call
  is not admitted from the copy: its admitting round trip records the failure first, so it is
  rejected if that failure trips the breaker.
- A half-open probe (the copy is OPEN past its open duration, or HALF_OPEN) takes its slot with one
  round trip (atomically: exactly ``half_open_max_calls`` probes across all processes); its outcome
  is deferred like any admitted call's. This process's next call asks Redis anyway (its copy is
  half-open), so that round trip carries the outcome and is admitted by the breaker it closed;
  other processes see the close when the outcome arrives: with that call, or the background flush
  after ``flush_delay``, until which their callers are rejected as while the probe ran.
- A call rejected while the copy says OPEN (or FORCED_OPEN) costs none; a call rejected by an
  admitting round trip (half-open slots taken) costs that one.

Consistency window: a process admits calls on its copy only while that copy is at most
``max_staleness`` old, so a trip made by another process is seen by this process at the latest
``max_staleness`` after its last reply, or with the next reply, whichever comes first; calls it
admits before then run (their outcomes, tagged with the old generation, change nothing). A copy older
than that is never trusted: the call asks first. Deferred outcomes reach Redis at most
``flush_delay`` (plus one round trip) after their call ended; until then they do not count towards
tripping or closing the breaker. Times are Redis server milliseconds (``TIME``), so hosts need no
synchronised clocks.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import math
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar, cast

try:
    import redis
    import redis.asyncio
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "RedisStorage and RedisRateLimiter need redis-py: pip install 'maestro-resilience[redis]'"
    ) from error

from maestro_resilience._breaker_host import FAILURE, IGNORED, BreakerHost, CircuitState
from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._events import EventListener, emit
from maestro_resilience._exceptions import ConfigurationError, RateLimitExceeded, StorageUnavailable
from maestro_resilience._policy import Policy, check_seconds
from maestro_resilience._ratelimit import RateLimiter
from maestro_resilience._windows import Consecutive, CountWindow

if TYPE_CHECKING:
    from maestro_resilience._breaker import CircuitBreaker

__all__ = ["RedisRateLimiter", "RedisStorage"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_SCHEDULE_FLUSH: Any = object()  # yielded by a flow: start the background flush of deferred outcomes

_DEFERRED = 1 << 52  # added to the generation of a token whose outcome is deferred (see RedisStorage.complete)

# Every failure of a storage round trip: redis-py raises RedisError subclasses (connection, timeout,
# and the whole ResponseError family: OOM, READONLY, NOSCRIPT, LOADING, BUSY, MOVED/ASK...), sockets OSError.
_UNAVAILABLE = (redis.exceptions.RedisError, OSError)

_SYNC_STORAGES: weakref.WeakSet[RedisStorage] = weakref.WeakSet()

CLIENT_TIMEOUT = 0.5  # seconds: the socket timeouts of the clients this package builds (Registry's redis_url)


def client_from_url(url: str) -> redis.Redis:
    """A blocking client for ``url`` configured as ``RedisStorage`` advises: short socket timeouts, no retries.

    redis-py retries with backoff by default and waits forever on a silent server; either would stall
    every guarded call during an outage instead of letting the breaker fall back. ``socket_timeout``
    and ``socket_connect_timeout`` given in the URL's query string win over ``CLIENT_TIMEOUT``.
    """
    from redis.backoff import NoBackoff  # noqa: PLC0415
    from redis.retry import Retry  # noqa: PLC0415 - the blocking client's class (redis.asyncio has its own)

    return redis.Redis.from_url(
        url, socket_timeout=CLIENT_TIMEOUT, socket_connect_timeout=CLIENT_TIMEOUT, retry=Retry(NoBackoff(), 0)
    )


@atexit.register
def _flush_at_exit() -> None:  # pragma: no cover - runs at interpreter exit
    """Send deferred outcomes of blocking clients before the process exits (the flush timers are daemons)."""
    for storage in list(_SYNC_STORAGES):
        if storage._pending and not storage._down:
            args, _ = storage._args("get")
            with contextlib.suppress(Exception):  # quietly: no events while the interpreter shuts down
                storage._script(keys=storage.keys, args=args)


BREAKER_LUA = """
local h, ring, tw = KEYS[1], KEYS[2], KEYS[3]
local op = ARGV[1]
local token_gen = tonumber(ARGV[2])
local probe, outcome, slow = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local wtype, p1 = ARGV[6], tonumber(ARGV[7])
local fth, minimum, sth, nb = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local open_ms, mult, max_open = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local hmax, target, lease = tonumber(ARGV[15]), ARGV[16], tonumber(ARGV[17])
local now = nil
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end
local v0 = redis.call('HMGET', h, 'state', 'gen', 'fails', 'open_until')
local state = v0[1] or 'closed'
local gen = tonumber(v0[2] or '0')
local fails0 = tonumber(v0[3] or '0')
local open_until = tonumber(v0[4] or '0')

local exceeded = 0
local function enter(new)
  gen = gen + 1
  state = new
  redis.call('HSET', h, 'state', new, 'gen', gen)
  redis.call('HDEL', h, 'over')
  if new == 'open' then
    local opened = tonumber(redis.call('HGET', h, 'opened') or '0')
    local d = open_ms * (mult ^ opened)
    if max_open > 0 and d > max_open then d = max_open end
    open_until = clock() + math.floor(d)
    redis.call('HSET', h, 'opened', opened + 1, 'open_until', open_until)
  elseif new == 'half_open' then
    redis.call('HSET', h, 'ha', 0, 'hd', 0, 'hf', 0, 'hs', 0, 'hsince', clock())
  else
    fails0 = 0
    redis.call('HSET', h, 'fails', 0, 'idx', 0, 'calls', 0, 'cf', 0, 'cs', 0)
    redis.call('DEL', ring, tw)
    if new == 'closed' then redis.call('HSET', h, 'opened', 0) end
  end
end

-- the count window: {idx, calls, failures, slow calls} as this caller's size p1 sees it. Processes
-- may count over different sizes under one name (a rolling deploy changing the size): the ring then
-- holds another size's outcomes, and its latest min(calls, p1) outcomes are this size's window;
-- with `write`, the ring is rebuilt to p1 (oldest first) so that recording goes on at p1.
local function count_window(write)
  local v = redis.call('HMGET', h, 'idx', 'calls', 'cf', 'cs', 'size')
  local idx, calls = tonumber(v[1] or '0'), tonumber(v[2] or '0')
  local f, sl = tonumber(v[3] or '0'), tonumber(v[4] or '0')
  local size = tonumber(v[5] or '0')
  if size == 0 and calls > 0 then size = redis.call('STRLEN', ring) end  -- written before sizes were stored
  if size == 0 or size == p1 then return {idx, calls, f, sl} end
  local data = redis.call('GET', ring) or ''
  local keep = math.min(calls, p1, size)
  local out = {}
  f, sl = 0, 0
  for k = keep, 1, -1 do
    local b = string.byte(data, (idx - k) % size + 1) or 0
    out[#out + 1] = string.char(b)
    if b % 2 == 1 then f = f + 1 end
    if b >= 2 then sl = sl + 1 end
  end
  idx = keep % p1
  if write then
    if keep > 0 then redis.call('SET', ring, table.concat(out)) else redis.call('DEL', ring) end
    redis.call('HSET', h, 'size', p1, 'idx', idx, 'calls', keep, 'cf', f, 'cs', sl)
  end
  return {idx, keep, f, sl}
end

-- the window's figures as {calls, failures, slow calls} (cluster-wide: every process records here)
local function figures()
  if wtype == 'c' then return {fails0, fails0, 0} end
  if wtype == 'n' then
    local w = count_window(false)
    return {w[2], w[3], w[4]}
  end
  local tick = math.floor(clock() / (p1 / nb))
  local calls, f, sl = 0, 0, 0
  for j = 0, nb - 1 do
    local v = redis.call('HMGET', tw, 'e' .. j, 'c' .. j, 'f' .. j, 's' .. j)
    if v[1] and tonumber(v[1]) > tick - nb then
      calls = calls + tonumber(v[2]); f = f + tonumber(v[3]); sl = sl + tonumber(v[4])
    end
  end
  return {calls, f, sl}
end

local function record(failed, s)
  if wtype == 'c' then
    if failed == 1 then
      fails0 = redis.call('HINCRBY', h, 'fails', 1)
      return fails0 >= p1
    end
    if fails0 ~= 0 then
      fails0 = 0
      redis.call('HSET', h, 'fails', 0)
    end
    return false
  end
  local calls, f, sl
  local new = failed + 2 * s
  if wtype == 'n' then
    local w = count_window(true)
    local idx = w[1]
    calls, f, sl = w[2], w[3], w[4]
    local old = redis.call('GETRANGE', ring, idx, idx)
    local ov = 0
    if old ~= '' then ov = string.byte(old) end
    if ov % 2 == 1 then f = f - 1 end
    if ov >= 2 then sl = sl - 1 end
    redis.call('SETRANGE', ring, idx, string.char(new))
    f = f + failed
    sl = sl + s
    if calls < p1 then calls = calls + 1 end
    redis.call('HSET', h, 'idx', (idx + 1) % p1, 'calls', calls, 'cf', f, 'cs', sl, 'size', p1)
  else
    local width = p1 / nb
    local tick = math.floor(clock() / width)
    local i = tick % nb
    if tonumber(redis.call('HGET', tw, 'e' .. i) or '-1') ~= tick then
      redis.call('HSET', tw, 'e' .. i, tick, 'c' .. i, 0, 'f' .. i, 0, 's' .. i, 0)
    end
    redis.call('HINCRBY', tw, 'c' .. i, 1)
    redis.call('HINCRBY', tw, 'f' .. i, failed)
    redis.call('HINCRBY', tw, 's' .. i, s)
    local fig = figures()
    calls, f, sl = fig[1], fig[2], fig[3]
    redis.call('PEXPIRE', tw, p1 * 2)
  end
  if calls < minimum or new == 0 then return false end
  return f / calls >= fth or sl / calls >= sth
end

local function measuring()
  return state == 'closed' or state == 'disabled' or state == 'metrics_only'
end

-- {admitted, state, generation, ms until half-open, threshold exceeded[, calls, failures, slow calls]}
local function reply(admitted, with_figures)
  local remaining = 0
  if state == 'open' then
    remaining = open_until - clock()
  elseif state == 'half_open' and admitted == 0 then
    -- every probe slot taken: the time until the probe lease takes them back (-1: no lease)
    remaining = -1
    if lease > 0 then
      remaining = math.max(1, tonumber(redis.call('HGET', h, 'hsince') or '0') + lease - clock())
    end
  end
  local r = {admitted, state, gen, remaining, exceeded}
  if with_figures or exceeded == 1 then
    local fig = figures()
    r[6], r[7], r[8] = fig[1], fig[2], fig[3]
  end
  return r
end

local function rec(tg, pr, oc, sl)
  if tg ~= gen or oc == 2 then
    if pr == 1 and tg == gen and state == 'half_open' then redis.call('HINCRBY', h, 'ha', -1) end
    return
  end
  local failed = 0
  if oc == 1 then failed = 1 end
  if measuring() then
    if record(failed, sl) then
      if state == 'closed' then
        enter('open')
      elseif state == 'metrics_only' and redis.call('HSETNX', h, 'over', 1) == 1 then
        exceeded = 1  -- once per entry into metrics_only: the process whose reply carries it emits the event
      end
    end
  elseif state == 'half_open' then
    local hd = redis.call('HINCRBY', h, 'hd', 1)
    local hf = redis.call('HINCRBY', h, 'hf', failed)
    local hs = redis.call('HINCRBY', h, 'hs', sl)
    if failed == 1 and wtype == 'c' then
      enter('open')
    elseif hd >= hmax then
      if hf / hd >= fth or hs / hd >= sth then enter('open') else enter('closed') end
    end
  end
end

-- outcomes deferred by earlier calls of this process ride on this round trip, oldest first
local np = tonumber(ARGV[18] or '0')
for i = 0, np - 1 do
  local b = 19 + 4 * i
  rec(tonumber(ARGV[b]), tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]))
end

if op == 'acquire' then
  if measuring() then return reply(1) end
  if state == 'forced_open' then return reply(0) end
  if state == 'open' then
    if clock() < open_until then return reply(0) end
    enter('half_open')
  end
  if tonumber(redis.call('HGET', h, 'ha') or '0') >= hmax then
    -- every slot is taken: after the probe lease, slots whose outcome never came (a process died
    -- mid-probe) are taken back by a new half-open generation; late outcomes of those probes are stale
    if lease <= 0 or clock() - tonumber(redis.call('HGET', h, 'hsince') or '0') < lease then return reply(0) end
    enter('half_open')
  end
  redis.call('HINCRBY', h, 'ha', 1)
  return reply(1)
elseif op == 'record' then
  rec(token_gen, probe, outcome, slow)
  return reply(1)
elseif op == 'set' then
  enter(target)
  return reply(1)
elseif op == 'metrics' then
  return reply(1, true)
end
return reply(1)
"""

GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval, burst, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - burst * interval - now
if wait > max_wait then return {0, tostring(wait)} end
if wait < 0 then wait = 0 end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, tostring(wait)}
"""


_AFTER_PROBE = (CircuitState.CLOSED, CircuitState.OPEN)  # where a half-open probe leads


class RedisStorage:
    """Keeps a circuit breaker's state and window in Redis, shared by every process using the same name.

    Args:
        client: a ``redis.Redis`` (guards ``def`` functions) or ``redis.asyncio.Redis`` (guards
            ``async def`` functions); mixing raises ``TypeError`` when decorating. Configure it as
            below: short socket timeouts, no client-side retries.
        namespace: key prefix; the breaker's keys are ``{namespace}:{breaker name}`` (+ ``:ring``, ``:tw``).
        on_unavailable: what a failed round trip does: any redis-py error (unreachable, timed out,
            or an error reply: ``OOM``, ``READONLY`` from a replica, ``LOADING``, ``BUSY``,
            ``MOVED``...). ``"fallback"`` (default): the breaker runs on local state, logs one
            ``storage_fallback`` warning per outage, and rejoins the shared state when Redis
            answers again; ``"fail"``: calls are refused with ``StorageUnavailable`` (one
            ``storage_unavailable`` warning per outage) until Redis answers again. Either way a
            call that already ran returns its own result (or raises its own error): only the
            admission of a call, never the recording of its outcome, raises.
        recheck_interval: seconds between attempts to reach Redis during an outage.
        max_staleness: the local copy admits calls without asking Redis only while its last reply
            is at most this old (seconds); a new or idle process's first call is admitted by a round
            trip instead, and its outcome is deferred (see ``flush_delay``).
        flush_delay: seconds an outcome deferred by a call admitted through a round trip may wait
            for another call's round trip to carry it before a background flush sends it
            (a ``threading.Timer``, or a task on the running event loop for an asyncio client).
        probe_lease: seconds after entering half-open past which, if every probe slot is still taken,
            the slots are taken back (a new half-open generation): a process that dies mid-probe
            cannot hold the shared breaker half-open forever. Make it longer than your slowest
            probe; ``None`` disables it (then only ``reset()`` frees such a slot).

    Give the client short socket timeouts and no client-side retries: redis-py retries with backoff
    by default and waits forever on a server that stopped answering, which would stall every guarded
    call during an outage instead of letting the breaker fall back. Each kind of client takes its own
    ``Retry`` class: ``redis.retry.Retry`` for ``redis.Redis``, ``redis.asyncio.retry.Retry`` for
    ``redis.asyncio.Redis`` (given the blocking one, an asyncio client of redis-py 8 warns and
    converts it; earlier versions silently never retry with it). A ``Registry`` entry with
    ``redis_url`` builds its blocking client this way.

    The shared state is the truth: on rejoining, local state gathered during the outage is dropped.
    A process learns of a transition made by another process on its next round trip, and admits no
    call on a copy older than ``max_staleness``. Call ``flush()`` (``await flush_async()``) before a
    process exits to send outcomes still deferred; ``close()`` (``await aclose()``) also cancels the
    pending background flush. The background flush never raises out of its thread or task: a failure
    there is handled as any other failed round trip.

    Examples:
        A blocking client, for a breaker guarding ``def`` functions:

        >>> import redis
        >>> from redis.backoff import NoBackoff
        >>> from redis.retry import Retry
        >>> from maestro_resilience import CircuitBreaker, CountWindow, RedisStorage
        >>> client = redis.Redis(socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
        >>> payments = CircuitBreaker(
        ...     "payments", window=CountWindow(50), storage=RedisStorage(client, namespace="shop")
        ... )
        >>> payments.storage.keys
        ['shop:payments', 'shop:payments:ring', 'shop:payments:tw']

        An asyncio client, for ``async def`` functions, with redis-py's asyncio ``Retry``:

        >>> import redis.asyncio
        >>> from redis.asyncio.retry import Retry as AsyncRetry
        >>> async_client = redis.asyncio.Redis(socket_timeout=0.5, retry=AsyncRetry(NoBackoff(), 0))
        >>> search = CircuitBreaker("search", storage=RedisStorage(async_client))
        >>> search.storage.is_async
        True

        Nothing connects until the first guarded call.
    """

    def __init__(
        self,
        client: Any,
        *,
        namespace: str = "maestro:breaker",
        on_unavailable: Literal["fallback", "fail"] = "fallback",
        recheck_interval: float = 1.0,
        max_staleness: float = 1.0,
        flush_delay: float = 0.05,
        probe_lease: float | None = 60.0,
    ) -> None:
        if isinstance(client, redis.asyncio.Redis):
            self.is_async = True
        elif isinstance(client, redis.Redis):
            self.is_async = False
        else:
            raise ConfigurationError(f"client must be a redis.Redis or redis.asyncio.Redis, got {client!r}")
        if not isinstance(namespace, str) or not namespace:
            raise ConfigurationError(f"namespace must be a non-empty str, got {namespace!r}")
        if on_unavailable not in ("fallback", "fail"):
            raise ConfigurationError(f"on_unavailable must be 'fallback' or 'fail', got {on_unavailable!r}")
        check_seconds("recheck_interval", recheck_interval)
        check_seconds("max_staleness", max_staleness)
        check_seconds("flush_delay", flush_delay)
        if probe_lease is not None and (
            isinstance(probe_lease, bool)
            or not isinstance(probe_lease, int | float)
            or not probe_lease > 0
            or not math.isfinite(probe_lease)
        ):
            raise ConfigurationError(f"probe_lease must be a finite number of seconds > 0 or None, got {probe_lease!r}")
        self.probe_lease = probe_lease
        self._lease_ms = 0 if probe_lease is None else int(probe_lease * 1000)
        self.max_staleness = float(max_staleness)
        self.flush_delay = float(flush_delay)
        self._seen_at = float("-inf")
        # outcomes of calls admitted by a round trip, waiting to ride on the next one: (gen, probe, outcome, slow)
        self._pending: list[tuple[int, int, int, int]] = []
        self._pending_failure = False  # a deferred failure: the next call is admitted by a round trip
        self._flush_scheduled = False
        self._flush_tasks: set[asyncio.Task[None]] = set()
        self._timer: threading.Timer | None = None  # the pending background flush (blocking client)
        self._flush_handle: asyncio.TimerHandle | None = None  # the pending background flush (asyncio client)
        self.client = client
        self.namespace = namespace
        self.on_unavailable = on_unavailable
        self.recheck_interval = float(recheck_interval)
        self._script = client.register_script(BREAKER_LUA)
        if not self.is_async:
            _SYNC_STORAGES.add(self)
        self._breaker: BreakerHost | None = None
        self._lock = threading.Lock()
        # local copy of the shared state
        self._state = CircuitState.CLOSED
        self._gen = 0
        self._open_until = 0.0  # local monotonic time
        # outage handling
        self._down = False
        self._next_check = 0.0

    # -- wiring -------------------------------------------------------------------------------
    def _attach(self, breaker: BreakerHost) -> None:
        if self._breaker is not None:
            raise ValueError("a RedisStorage serves one breaker; create one per breaker")
        self._breaker = breaker
        key = f"{self.namespace}:{breaker.name}"
        self.keys = [key, f"{key}:ring", f"{key}:tw"]
        w = breaker.window
        if isinstance(w, Consecutive):
            window = ["c", w.failures, 1.0, 1, 1.0, 1]
        elif isinstance(w, CountWindow):
            minimum = w.size if w.minimum_calls is None else w.minimum_calls
            window = ["n", w.size, w.failure_rate_threshold, minimum, w.slow_call_rate_threshold, 1]
        else:
            window = ["t", int(w.seconds * 1000), w.failure_rate_threshold, w.minimum_calls]
            window += [w.slow_call_rate_threshold, w.buckets]
        max_open = 0 if breaker.max_open_duration is None else int(breaker.max_open_duration * 1000)
        self._tail = [
            *window,
            int(breaker.open_duration * 1000),
            breaker.open_duration_multiplier,
            max_open,
            breaker.half_open_max_calls,
        ]

    @property
    def breaker(self) -> CircuitBreaker:
        """The breaker this storage serves."""
        return cast("CircuitBreaker", self._served)

    @property
    def _served(self) -> BreakerHost:
        """The breaker this storage serves, as far as the storage may use it (``BreakerHost``)."""
        if self._breaker is None:
            raise RuntimeError("RedisStorage is not attached to a CircuitBreaker yet")
        return self._breaker

    def _args(
        self, op: str, gen: int = 0, probe: bool = False, outcome: int = 0, slow: bool = False, *, target: str = ""
    ) -> tuple[list[Any], list[tuple[int, int, int, int]]]:
        """The script's arguments, carrying (and taking) every deferred outcome; also returns those outcomes."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._pending_failure = False
        args = [op, gen, int(probe), outcome, int(slow), *self._tail, target, self._lease_ms, len(pending)]
        for item in pending:
            args.extend(item)
        return args, pending

    def _apply(self, reply: list[Any], *, announce: bool = True) -> bool:
        admitted, state, gen, remaining, exceeded = reply[:5]
        state = CircuitState(state.decode() if isinstance(state, bytes) else state)
        now = self._served.clock.monotonic()
        with self._lock:
            old, old_gen, loaded = self._state, self._gen, self._seen_at != float("-inf")
            self._state = state
            self._gen = int(gen)
            self._open_until = now + int(remaining) / 1000.0
            self._seen_at = now
        if announce and loaded:
            # a transition seen by this process (made by it or by another one): listeners hear of it.
            # From OPEN, two or more generations later, the breaker went through HALF_OPEN elsewhere (a
            # probe closed it, or failed and reopened it): listeners hear of the half-open state too.
            if old is CircuitState.OPEN and state in _AFTER_PROBE and int(gen) - old_gen >= 2:
                self._served._announce(old, CircuitState.HALF_OPEN)
                self._served._announce(CircuitState.HALF_OPEN, state)
            elif old is not state:
                self._served._announce(old, state)
        if int(exceeded):  # METRICS_ONLY: an outcome recorded by this reply took the window over its threshold
            calls, failures, slow = (int(x) for x in reply[5:8])
            self._served._threshold_exceeded(calls, failures, slow)
        return bool(int(admitted))

    # -- outage handling -----------------------------------------------------------------------
    def _use_local(self) -> bool:
        """True while Redis is considered down and it is not yet time to try it again."""
        return self._down and self._served.clock.monotonic() < self._next_check

    def _unavailable(self, error: BaseException, *, refuse: bool) -> None:
        """A round trip failed: Redis counts as down until ``recheck_interval`` passes.

        ``refuse``: the round trip was needed before a call (or for a manual action); in fail mode
        that raises ``StorageUnavailable``. Round trips after a call ran (its outcome, deferred
        outcomes) never raise: the caller gets the call's own outcome.
        """
        with self._lock:
            first = not self._down
            self._down = True
            self._next_check = self._served.clock.monotonic() + self.recheck_interval
        fail = self.on_unavailable == "fail"
        if first:
            emit(
                self._served.listeners,
                self._served.name,
                "storage_unavailable" if fail else "storage_fallback",
                error=repr(error),
            )
        if fail and refuse:
            raise StorageUnavailable(f"Redis unavailable for breaker {self._served.name!r}: {error!r}") from error

    def _refuse_while_down(self) -> None:
        """Fail mode, Redis down and not yet time to ask it again: refuse without a round trip."""
        remaining = self._next_check - self._served.clock.monotonic()
        raise StorageUnavailable(
            f"Redis unavailable for breaker {self._served.name!r}; asked again in {remaining:.3f}s"
        )

    def _available(self) -> None:
        if self._down:
            with self._lock:
                rejoined, self._down = self._down, False
            if rejoined:
                emit(self._served.listeners, self._served.name, "storage_rejoined")

    @property
    def degraded(self) -> bool:
        """True while Redis counts as down: the breaker runs on local state (or refuses, in fail mode)."""
        return self._down

    # -- the local copy ------------------------------------------------------------------------------
    def _cached_admission(self) -> tuple[int, bool] | None:
        """Admit or reject from the local copy; ``None`` when Redis must be asked."""
        breaker = self._served
        state = self._state
        if state is CircuitState.CLOSED or state is CircuitState.DISABLED or state is CircuitState.METRICS_ONLY:
            if self._pending_failure or breaker.clock.monotonic() - self._seen_at > self.max_staleness:
                return None  # too old to trust, or a deferred failure may trip it: ask Redis (carrying it)
            return (self._gen, False)
        if state is CircuitState.FORCED_OPEN:
            raise breaker._reject(state, None)
        if state is CircuitState.OPEN:
            remaining = self._open_until - breaker.clock.monotonic()
            if remaining > 0:
                raise breaker._reject(state, remaining)
        return None

    def _admitted(self, admitted: bool) -> tuple[int, bool]:
        if admitted:
            return (self._gen, self._state is CircuitState.HALF_OPEN)
        # never 0 (it would invite a tight loop); None: no time can be given (forced open, no probe lease)
        remaining = max(0.001, self._open_until - self._served.clock.monotonic())
        no_time = self._state is CircuitState.FORCED_OPEN or (
            self._state is CircuitState.HALF_OPEN and not self._lease_ms
        )
        raise self._served._reject(self._state, None if no_time else remaining)

    @staticmethod
    def _local_token(token: tuple[int, bool]) -> tuple[int, bool]:
        return (-1 - token[0], token[1])  # negative generations mark tokens of the local fallback

    @staticmethod
    def _deferred_token(token: tuple[int, bool]) -> tuple[int, bool]:
        """A call admitted by a round trip: its outcome waits for the next one (generation >= _DEFERRED).

        Half-open probes too: a probe's admission is the round trip on its path, and its outcome rides
        on this process's next round trip for the breaker (its next call asks Redis anyway while the
        copy is half-open) or the background flush after ``flush_delay``.
        """
        return (token[0] + _DEFERRED, token[1])

    def _lost(self, pending: list[tuple[int, int, int, int]]) -> None:
        """Outcomes whose round trip failed: failures still count, on the local fallback state."""
        for _, _, outcome, slow in pending:
            if outcome == FAILURE:
                self._served._complete_local((self._served.generation, False), outcome, bool(slow), count=False)

    def _failed(self, error: BaseException, pending: list[tuple[int, int, int, int]], *, refuse: bool) -> None:
        self._lost(pending)
        self._unavailable(error, refuse=refuse)

    # -- the I/O, written once: sans-IO flows driven by a blocking or an asyncio driver ------------
    # A flow is a generator that yields the script's arguments (or _SCHEDULE_FLUSH) and receives the
    # reply; a Redis error is thrown into it. `_run` and `_run_async` are the only places that talk
    # to Redis, so every operation exists once for both kinds of client.
    def _run(self, flow: Generator[Any, Any, T]) -> T:
        """Drive ``flow`` with the blocking client."""
        script, keys = self._script, self.keys
        try:
            step = next(flow)
            while True:
                if step is _SCHEDULE_FLUSH:
                    self._start_timer()
                    step = flow.send(None)
                    continue
                try:
                    reply = script(keys=keys, args=step)
                except _UNAVAILABLE as error:
                    step = flow.throw(error)
                else:
                    step = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def _run_async(self, flow: Generator[Any, Any, T]) -> T:
        """Drive ``flow`` with the asyncio client."""
        script, keys = self._script, self.keys
        try:
            step = next(flow)
            while True:
                if step is _SCHEDULE_FLUSH:
                    loop = asyncio.get_running_loop()
                    self._flush_handle = loop.call_later(self.flush_delay, self._spawn_flush, loop)
                    step = flow.send(None)
                    continue
                try:
                    reply = await script(keys=keys, args=step)
                except _UNAVAILABLE as error:
                    step = flow.throw(error)
                else:
                    step = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def _exchange(
        self,
        op: str,
        gen: int = 0,
        probe: bool = False,
        outcome: int = 0,
        slow: bool = False,
        *,
        target: str = "",
        refuse: bool = True,
    ) -> Generator[Any, Any, list[Any] | None]:
        """One script call carrying every deferred outcome; ``None`` when it failed (see ``_unavailable``)."""
        args, pending = self._args(op, gen, probe, outcome, slow, target=target)
        try:
            reply = yield args
        except _UNAVAILABLE as error:
            self._failed(error, pending, refuse=refuse)
            return None
        self._available()
        return reply  # type: ignore[no-any-return]

    # -- admission -------------------------------------------------------------------------------
    def _admit_locally(self) -> tuple[int, bool] | None:
        """A token without a round trip (outage or a fresh copy), a rejection, or ``None``: ask Redis."""
        if self._use_local():
            if self.on_unavailable == "fail":
                self._refuse_while_down()
            return self._local_token(self._served._acquire_local())
        if self._down and self.on_unavailable == "fail":
            return None  # fail mode: after an outage, only Redis itself may admit a call
        return self._cached_admission()

    def _acquire_flow(self) -> Generator[Any, Any, tuple[int, bool]]:
        reply = yield from self._exchange("acquire")
        if reply is None:
            return self._local_token(self._served._acquire_local())
        return self._deferred_token(self._admitted(self._apply(reply)))

    def acquire(self) -> tuple[int, bool]:
        """Admit a call (sync client): no round trip on a fresh copy, else one that also carries deferred outcomes."""
        token = self._admit_locally()
        return token if token is not None else self._run(self._acquire_flow())

    async def acquire_async(self) -> tuple[int, bool]:
        """Admit a call (asyncio client); see ``acquire``."""
        token = self._admit_locally()
        return token if token is not None else await self._run_async(self._acquire_flow())

    # -- outcomes --------------------------------------------------------------------------------
    def _defer(self, token: tuple[int, bool], outcome: int, slow: bool) -> bool:
        """Queue the outcome of a call admitted by a round trip; True when a flush must be scheduled."""
        with self._lock:
            self._pending.append((token[0] - _DEFERRED, int(token[1]), outcome, int(slow)))
            if outcome == FAILURE:
                self._pending_failure = True
            schedule, self._flush_scheduled = not self._flush_scheduled, True
        return schedule

    def _complete_flow(self, token: tuple[int, bool], outcome: int, slow: bool) -> Generator[Any, Any, None]:
        if token[0] >= _DEFERRED:
            if (outcome != IGNORED or token[1]) and self._defer(token, outcome, slow):
                yield _SCHEDULE_FLUSH
            return
        if token[0] < 0:
            self._served._complete_local(self._local_token(token), outcome, slow, count=False)
            if self._use_local():
                return
            token = (-1, False)  # a stale generation: Redis only answers with its state (rejoin check)
        elif outcome == IGNORED and not token[1]:
            return  # nothing to record and nothing to release
        reply = yield from self._exchange("record", token[0], token[1], outcome, slow, refuse=False)
        if reply is None:
            if token[0] >= 0 and outcome == FAILURE:
                self._served._complete_local((self._served.generation, False), outcome, slow, count=False)
            return
        self._apply(reply)

    def complete(self, token: tuple[int, bool], outcome: int, slow: bool) -> None:
        """Record an outcome (sync client): one round trip, or none when the call's admission was one."""
        self._run(self._complete_flow(token, outcome, slow))

    async def complete_async(self, token: tuple[int, bool], outcome: int, slow: bool) -> None:
        """Record an outcome (asyncio client); see ``complete``."""
        await self._run_async(self._complete_flow(token, outcome, slow))

    # -- deferred outcomes -----------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Outcomes waiting for a round trip (calls admitted by an admission round trip)."""
        return len(self._pending)

    def _start_timer(self) -> None:
        timer = threading.Timer(self.flush_delay, self._background_flush)
        timer.name = f"maestro-resilience-flush:{self.keys[0]}"
        timer.daemon = True
        with self._lock:
            self._timer = timer
        timer.start()

    def _background_flush(self) -> None:
        """The timer's flush: nothing escapes its thread (a failure is the storage's fallback handling)."""
        try:
            self.flush()
        except Exception as error:  # a background thread has no caller to raise to
            self._background_failed(error)

    def _background_failed(self, error: Exception) -> None:
        """An error a flush did not handle itself (a bug, a client in a state nobody expected): fall back."""
        with contextlib.suppress(Exception):
            self._unavailable(error, refuse=False)

    def _spawn_flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._flush_handle = None
        task = loop.create_task(self._background_flush_async())
        self._flush_tasks.add(task)
        task.add_done_callback(self._flush_tasks.discard)

    async def _background_flush_async(self) -> None:
        """The task's flush: it never ends with an exception (see ``_background_flush``)."""
        try:
            await self.flush_async()
        except Exception as error:  # nobody awaits this task
            self._background_failed(error)

    def _flush_flow(self) -> Generator[Any, Any, None]:
        with self._lock:
            self._flush_scheduled = False
            if not self._pending:
                return
        if self._use_local():
            with self._lock:
                pending, self._pending = self._pending, []
                self._pending_failure = False
            self._lost(pending)
            return
        reply = yield from self._exchange("get", refuse=False)
        if reply is not None:
            self._apply(reply)

    def flush(self) -> None:
        """Send deferred outcomes now (sync client): one round trip if any wait, none otherwise.

        A background timer calls this ``flush_delay`` seconds after an outcome was deferred, unless
        another call's round trip carried it first; call it yourself before a process exits.
        """
        self._run(self._flush_flow())

    async def flush_async(self) -> None:
        """Send deferred outcomes now (asyncio client); see ``flush``."""
        await self._run_async(self._flush_flow())

    def close(self) -> None:
        """Send deferred outcomes and cancel the pending background flush (sync client).

        Call it when the breaker is done with (a process or a test ending): no flush timer is left
        behind. A failed round trip is handled as any other (local fallback, a ``storage_fallback``
        event); it never raises. The client stays open (it is yours to close), and the storage keeps
        working: a later deferred outcome schedules a new flush.

        Examples:
            >>> import redis
            >>> from redis.backoff import NoBackoff
            >>> from redis.retry import Retry
            >>> from maestro_resilience import CircuitBreaker, RedisStorage
            >>> client = redis.Redis(socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
            >>> storage = RedisStorage(client)
            >>> payments = CircuitBreaker("payments", storage=storage)
            >>> storage.close()  # nothing deferred yet: no round trip
            >>> storage.pending
            0
        """
        if self.is_async:
            raise TypeError("with an asyncio Redis client use: await storage.aclose()")
        if self._breaker is not None:
            self.flush()
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            if timer is not threading.current_thread():
                timer.join()

    async def aclose(self) -> None:
        """Send deferred outcomes and cancel the pending background flush (asyncio client); see ``close``.

        Examples:
            >>> import asyncio
            >>> import redis.asyncio
            >>> from redis.asyncio.retry import Retry as AsyncRetry
            >>> from redis.backoff import NoBackoff
            >>> from maestro_resilience import CircuitBreaker, RedisStorage
            >>> storage = RedisStorage(redis.asyncio.Redis(socket_timeout=0.5, retry=AsyncRetry(NoBackoff(), 0)))
            >>> search = CircuitBreaker("search", storage=storage)
            >>> asyncio.run(storage.aclose())  # nothing deferred yet: no round trip
        """
        if not self.is_async:
            raise TypeError("with a blocking Redis client use: storage.close()")
        if self._breaker is not None:
            await self.flush_async()
        handle, self._flush_handle = self._flush_handle, None
        if handle is not None:
            handle.cancel()
        tasks = [task for task in self._flush_tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- manual control --------------------------------------------------------------------------
    def _set_flow(self, state: CircuitState, *, announce: bool) -> Generator[Any, Any, bool]:
        # deferred outcomes first, in their own round trip: their transitions (a probe closing the
        # breaker) reach the listeners before the manual one
        yield from self._flush_flow()
        reply = yield from self._exchange("set", target=state.value)
        if reply is None:
            return False
        self._apply(reply, announce=announce)
        return True

    def set_state(self, state: CircuitState) -> None:
        """Move the shared breaker to ``state`` (``force_open()``, ``reset()``... call this)."""
        if self.is_async:
            raise TypeError("with an asyncio Redis client use: await storage.set_state_async(state)")
        self._run(self._set_flow(state, announce=False))  # the breaker announces its manual transitions itself

    async def set_state_async(self, state: CircuitState | str) -> None:
        """Move the shared breaker to ``state`` (asyncio client)."""
        state = CircuitState(state)
        if await self._run_async(self._set_flow(state, announce=True)):
            self._served._enter_now(state)

    def _window_flow(self) -> Generator[Any, Any, tuple[int, int, int] | None]:
        if self._use_local():
            return None
        reply = yield from self._exchange("metrics")
        if reply is None:
            return None
        self._apply(reply)
        return (int(reply[5]), int(reply[6]), int(reply[7]))

    def window(self) -> tuple[int, int, int] | None:
        """The shared window's ``(calls, failures, slow calls)``, cluster-wide (one round trip; sync client).

        ``None`` while Redis is unreachable. ``CircuitBreaker.metrics`` uses it for its ``window_*`` figures.
        """
        if self.is_async:
            raise TypeError("with an asyncio Redis client use: await storage.window_async()")
        return self._run(self._window_flow())

    async def window_async(self) -> tuple[int, int, int] | None:
        """The shared window's ``(calls, failures, slow calls)`` (asyncio client); see ``window``."""
        return await self._run_async(self._window_flow())

    def _get_flow(self) -> Generator[Any, Any, bool]:
        reply = yield from self._exchange("get")
        if reply is None:
            return False
        self._apply(reply)
        return True

    def state(self) -> CircuitState:
        """The shared state (a round trip with a sync client; the local copy with an asyncio one)."""
        if self._down:
            return self._served._local_state()
        if not self.is_async and not self._run(self._get_flow()):
            return self._served._local_state()
        state = self._state
        if state is CircuitState.OPEN and self._served.clock.monotonic() >= self._open_until:
            return CircuitState.HALF_OPEN
        return state


class RedisRateLimiter(Policy):
    """A cluster-wide rate limit: the generic cell rate algorithm (GCRA) in one Lua script.

    Every process using the same ``name`` and ``namespace`` shares the limit. One round trip per
    call; the state is a single key with an expiry.

    Args:
        client: ``redis.Redis`` (sync callers) or ``redis.asyncio.Redis`` (async callers).
        rate: permits per ``per`` seconds (> 0).
        per: the period in seconds (> 0).
        burst: permits available at once (>= 1; defaults to ``max(1, rate)``).
        max_wait: seconds a caller may wait for its permit (>= 0); beyond it ``RateLimitExceeded``.
        namespace: key prefix (key: ``{namespace}:{name}``).
        on_unavailable: what a call does while Redis fails (unreachable, timing out, or any redis-py
            error reply): ``"fallback"`` (default) takes its permit from a limiter in this process at
            the same ``rate``, ``per``, ``burst`` and ``max_wait`` (so N processes may together let
            up to N times the rate through during the outage); ``"allow"`` lets every call through
            (fail open); ``"fail"`` raises ``StorageUnavailable`` without running the call. The
            first failure of an outage emits one ``storage_fallback`` event (``storage_unavailable``
            with ``"fail"``); ``storage_rejoined`` when Redis answers again.
        recheck_interval: seconds between attempts to reach Redis during an outage (calls in between
            apply ``on_unavailable`` without a round trip).

    Examples:
        >>> import redis
        >>> from redis.backoff import NoBackoff
        >>> from redis.retry import Retry
        >>> from maestro_resilience import RedisRateLimiter
        >>> client = redis.Redis(socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
        >>> partner_api = RedisRateLimiter(client, 100, per=60, name="partner-api")  # 100 calls a minute, all processes
        >>> partner_api.key
        'maestro:ratelimit:partner-api'

        Then ``@partner_api`` on the ``def`` functions that call the partner (an asyncio client, with
        ``redis.asyncio.retry.Retry``, for ``async def`` ones). Nothing connects until the first call.

        While Redis is down each process limits itself at the same rate (the default), or:

        >>> fail_open = RedisRateLimiter(client, 100, per=60, name="search", on_unavailable="allow")
        >>> fail_open.on_unavailable, fail_open.degraded
        ('allow', False)
    """

    def __init__(
        self,
        client: Any,
        rate: float,
        per: float = 1.0,
        burst: int | None = None,
        *,
        max_wait: float = 0.0,
        namespace: str = "maestro:ratelimit",
        on_unavailable: Literal["fallback", "allow", "fail"] = "fallback",
        recheck_interval: float = 1.0,
        name: str | None = None,
        listeners: tuple[EventListener, ...] | list[EventListener] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(name, listeners=listeners, clock=clock)
        if on_unavailable not in ("fallback", "allow", "fail"):
            raise ConfigurationError(f"on_unavailable must be 'fallback', 'allow' or 'fail', got {on_unavailable!r}")
        check_seconds("recheck_interval", recheck_interval)
        if isinstance(client, redis.asyncio.Redis):
            self.is_async = True
        elif isinstance(client, redis.Redis):
            self.is_async = False
        else:
            raise ConfigurationError(f"client must be a redis.Redis or redis.asyncio.Redis, got {client!r}")
        for pname, value in (("rate", rate), ("per", per)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not value > 0
                or not math.isfinite(value)
            ):
                raise ConfigurationError(f"{pname} must be a finite number > 0, got {value!r}")
        if burst is None:
            burst = max(1, int(rate))
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ConfigurationError(f"burst must be an int >= 1, got {burst!r}")
        check_seconds("max_wait", max_wait)
        self.client = client
        self.rate, self.per, self.burst, self.max_wait = float(rate), float(per), burst, float(max_wait)
        self.key = f"{namespace}:{self.name}"
        self._script = client.register_script(GCRA_LUA)
        self._args = [self.per / self.rate * 1000.0, burst, self.max_wait * 1000.0]
        self.on_unavailable = on_unavailable
        self.recheck_interval = float(recheck_interval)
        self._local = RateLimiter(rate, per, burst, max_wait=max_wait, name=self.name, clock=clock)
        self._local.listeners = self.listeners  # its rejections are this limiter's
        self._lock = threading.Lock()
        self._down = False
        self._next_check = 0.0

    @property
    def degraded(self) -> bool:
        """True while Redis counts as down: calls follow ``on_unavailable`` instead of the shared limit."""
        return self._down

    def _verdict(self, reply: list[Any]) -> float:
        allowed, wait = int(reply[0]), float(reply[1]) / 1000.0
        if not allowed:
            emit(self.listeners, self.name, "rejected", retry_after=round(wait, 6))
            raise RateLimitExceeded(self.name, wait)
        return wait

    def _without_redis(self, error: BaseException | None) -> float:
        """A permit while Redis is down (``error``: the failure that just happened, if any), per ``on_unavailable``."""
        if error is not None:
            with self._lock:
                first = not self._down
                self._down = True
                self._next_check = self.clock.monotonic() + self.recheck_interval
            if first:
                kind = "storage_unavailable" if self.on_unavailable == "fail" else "storage_fallback"
                emit(self.listeners, self.name, kind, error=repr(error))
        if self.on_unavailable == "fail":
            why = (
                repr(error) if error is not None else f"asked again in {self._next_check - self.clock.monotonic():.3f}s"
            )
            raise StorageUnavailable(f"Redis unavailable for rate limiter {self.name!r}: {why}") from error
        if self.on_unavailable == "allow":
            return 0.0
        return self._local.reserve()

    # The I/O, written once as a sans-IO flow: it yields the script's arguments and receives the
    # reply (or has the Redis error thrown into it); ``_run`` and ``_run_async`` drive it.
    def _permit_flow(self) -> Generator[list[Any], Any, float]:
        """A permit's wait in seconds; ``RateLimitExceeded`` beyond ``max_wait``."""
        if self._down and self.clock.monotonic() < self._next_check:
            return self._without_redis(None)
        try:
            reply = yield self._args
        except _UNAVAILABLE as error:
            return self._without_redis(error)
        if self._down:
            with self._lock:
                rejoined, self._down = self._down, False
            if rejoined:
                emit(self.listeners, self.name, "storage_rejoined")
        return self._verdict(reply)

    def _run(self, flow: Generator[list[Any], Any, float]) -> float:
        try:
            step = next(flow)
            while True:
                try:
                    reply = self._script(keys=[self.key], args=step)
                except _UNAVAILABLE as error:
                    step = flow.throw(error)
                else:
                    step = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def _run_async(self, flow: Generator[list[Any], Any, float]) -> float:
        try:
            step = next(flow)
            while True:
                try:
                    reply = await self._script(keys=[self.key], args=step)
                except _UNAVAILABLE as error:
                    step = flow.throw(error)
                else:
                    step = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def acquire(self) -> None:
        """Take a permit, sleeping up to ``max_wait`` (sync client)."""
        if self.is_async:
            raise TypeError("this RedisRateLimiter has an asyncio client: use acquire_async()")
        wait = self._run(self._permit_flow())
        if wait > 0:
            self.clock.sleep(wait)

    async def acquire_async(self) -> None:
        """Take a permit, suspending up to ``max_wait`` (asyncio client)."""
        if not self.is_async:
            raise TypeError("this RedisRateLimiter has a blocking client: use acquire()")
        wait = await self._run_async(self._permit_flow())
        if wait > 0:
            await self.clock.asleep(wait)

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        if self.is_async:
            raise TypeError("this RedisRateLimiter has an asyncio client: it can guard only async def functions")
        limiter = self

        def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            limiter.acquire()
            return fn(*args, **kwargs)

        return limited

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        if not self.is_async:
            raise TypeError("this RedisRateLimiter has a blocking client: it can guard only def functions")
        limiter = self

        async def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            await limiter.acquire_async()
            return await fn(*args, **kwargs)

        return limited
