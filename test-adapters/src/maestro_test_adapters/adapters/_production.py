"""The ``production`` adapter: synthetic HTTP checks against a deployed service (httpx), each
check one test result, retries through maestro-resilience with every attempt kept."""

# ruff: noqa: PLC0415 - optional and heavy dependencies are imported where they are used

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import queue
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from maestro_test_adapters.__about__ import __version__
from maestro_test_adapters._adapter import Availability, Target
from maestro_test_adapters._options import RunOptions, checked_clock
from maestro_test_adapters._outputs import ResultStream
from maestro_test_adapters.adapters._checks import (
    Check,
    CheckSuite,
    Observation,
    evaluate,
    load_checks,
    redact_headers,
    redact_url,
)
from maestro_test_adapters.errors import AdapterUnavailableError, InvalidOptionError, TargetNotFoundError
from maestro_test_result_aggregator.model import Attempt, Status, TestResult, TestRun, Tool, bound_text

if TYPE_CHECKING:
    import httpx

__all__ = ["ProductionAdapter"]

_BODY_IN_TRACE = 2000
_MAX_CONCURRENCY = 64


class _CheckFailed(Exception):
    """Raised inside the retry policy so that it retries a failed attempt."""


def _ssl_context(check: Check) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=check.ca_file) if check.ca_file else ssl.create_default_context()
    if not check.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _days_left(cert: dict[str, Any] | None) -> float | None:
    if not cert or "notAfter" not in cert:
        return None
    return (ssl.cert_time_to_seconds(str(cert["notAfter"])) - time.time()) / 86400.0


def _tls_days_left(check: Check, timeout: float) -> float | None:
    parts = urlsplit(check.url)
    if parts.scheme != "https" or parts.hostname is None:
        return None
    with (
        socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout) as raw,
        _ssl_context(check).wrap_socket(raw, server_hostname=parts.hostname) as tls,
    ):
        return _days_left(tls.getpeercert())


async def _atls_days_left(check: Check, timeout: float) -> float | None:
    parts = urlsplit(check.url)
    if parts.scheme != "https" or parts.hostname is None:
        return None
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(
            parts.hostname, parts.port or 443, ssl=_ssl_context(check), server_hostname=parts.hostname
        ),
        timeout,
    )
    try:
        return _days_left(writer.get_extra_info("peercert"))
    finally:
        writer.close()


def _describe(check: Check, response: httpx.Response) -> str:
    headers = "\n".join(f"  {k}: {v}" for k, v in redact_headers(list(response.headers.items())).items())
    sent = "\n".join(f"  {k}: {v}" for k, v in redact_headers(dict(check.headers)).items())
    body = response.text[:_BODY_IN_TRACE]
    return (
        f"{check.method} {redact_url(check.url)}\n{sent}\n"
        f"-> {response.status_code} {response.reason_phrase} from {redact_url(str(response.url))}\n"
        f"{headers}\n\n{body}"
    ).strip()


def _scrub(text: str, check: Check) -> str:
    return text.replace(check.url, redact_url(check.url))


class ProductionAdapter:
    """Runs the synthetic checks of a TOML/YAML file (see ``load_checks``) with httpx.

    Safe by default: every request has a timeout (10 s unless the file says otherwise),
    redirects are not followed unless asked, TLS is verified, and Authorization, cookies and
    secret-looking headers or query parameters never reach a report.

    Args:
        transport: an httpx transport for the sync client (``httpx.MockTransport`` in tests).
        async_transport: an httpx transport for the async client.
        sleep: how the fallback retry loop waits (used when maestro-resilience is not installed).
        clock: the monotonic clock the global timeout (``RunOptions.timeout``) is measured on
            (default ``time.monotonic``); tests pass one they control.
        use_resilience: retry through ``maestro_resilience.Retry`` (default: when installed).
        concurrency: how many checks run at the same time (1 to 64, default 4): threads for
            ``run``, tasks for ``arun``. Results are streamed in the order checks finish; with
            ``concurrency=1`` the checks run one after the other, in file order. A ``transport``
            given here is shared by those threads.

    Examples:
        >>> ProductionAdapter(concurrency=8).concurrency
        8

        Run the checks of a file against the deployed service and fail the job on a failure:

        ```python
        run = ProductionAdapter().run("checks.toml", options=RunOptions(timeout=120, junit="smoke.xml"))
        raise SystemExit(exit_code(run))
        ```
    """

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        use_resilience: bool | None = None,
        concurrency: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (
            isinstance(concurrency, bool)
            or not isinstance(concurrency, int)
            or not 1 <= concurrency <= _MAX_CONCURRENCY
        ):
            raise InvalidOptionError("concurrency", f"must be an int from 1 to {_MAX_CONCURRENCY}, got {concurrency!r}")
        self.concurrency = concurrency
        self.transport = transport
        self.async_transport = async_transport
        self.sleep = sleep
        self.clock = checked_clock(clock)
        self.use_resilience = (
            importlib.util.find_spec("maestro_resilience") is not None if use_resilience is None else use_resilience
        )

    @property
    def name(self) -> str:
        """``production``."""
        return "production"

    def available(self) -> Availability:
        """Ok when httpx is installed (the ``production`` extra)."""
        if importlib.util.find_spec("httpx") is None:
            return Availability(False, "httpx is not installed: pip install 'maestro-test-adapters[production]'")
        return Availability(True)

    def _load(self, target: Target, options: RunOptions) -> CheckSuite:
        availability = self.available()
        if not availability:
            raise AdapterUnavailableError(self.name, str(availability.reason))
        path = (options.cwd or Path.cwd()) / os.fspath(target)
        if not path.is_file():
            raise TargetNotFoundError(os.fspath(target), "check file")
        return load_checks(path)

    # -- one attempt ----------------------------------------------------------------------------
    def _attempt(
        self,
        check: Check,
        *,
        response: httpx.Response | None,
        error: BaseException | None,
        started: float,
        elapsed: float,
        tls_days: float | None,
        timeout: float,
    ) -> Attempt:
        import httpx

        if error is not None:
            timed_out = isinstance(error, httpx.TimeoutException | TimeoutError | socket.timeout)
            detail = _scrub(str(error) or type(error).__name__, check)
            message = (
                f"no response within {timeout:g} s ({detail})"  # the check's, or what the run had left
                if timed_out
                else f"{type(error).__name__}: {detail}"
            )
            return Attempt(
                Status.FAILED,
                duration=elapsed,
                raw_status="timedOut" if timed_out else "error",
                message=message,
                trace=f"{check.method} {redact_url(check.url)}\n{type(error).__name__}: {detail}",
                start=started,
            )
        if response is None:  # pragma: no cover - either a response or an error
            raise RuntimeError("no response and no error")
        seen = Observation(
            status_code=response.status_code,
            headers=dict(response.headers),
            text=response.text,
            elapsed_ms=response.elapsed.total_seconds() * 1000.0,  # request sent -> response read
            url=str(response.url),
            tls_days_left=tls_days,
        )
        failures = evaluate(check, seen)
        return Attempt(
            Status.FAILED if failures else Status.PASSED,
            duration=elapsed,
            raw_status="failed" if failures else "passed",
            message="; ".join(failures) or None,
            trace=bound_text(_describe(check, response)) if failures else None,
            start=started,
        )

    def _client_kwargs(self, check: Check) -> dict[str, Any]:
        return {"verify": _ssl_context(check), "follow_redirects": check.follow_redirects, "timeout": check.timeout}

    def _request_kwargs(self, check: Check, timeout: float) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"headers": dict(check.headers), "timeout": timeout}
        if check.body is not None:
            kwargs["content"] = check.body
        if check.json_body is not None:
            kwargs["json"] = check.json_body
        return kwargs

    def _once(self, check: Check, timeout: float) -> Attempt:
        import httpx

        started, clock = time.time(), time.perf_counter()
        response: httpx.Response | None = None
        error: BaseException | None = None
        tls_days: float | None = None
        try:
            with httpx.Client(transport=self.transport, **self._client_kwargs(check)) as client:
                response = client.request(check.method, check.url, **self._request_kwargs(check, timeout))
            elapsed = time.perf_counter() - clock
            if check.tls_min_days is not None:
                tls_days = _tls_days_left(check, timeout)
        except (httpx.HTTPError, OSError) as failure:
            error, elapsed = failure, time.perf_counter() - clock
        return self._attempt(
            check, response=response, error=error, started=started, elapsed=elapsed, tls_days=tls_days, timeout=timeout
        )

    async def _aonce(self, check: Check, timeout: float) -> Attempt:
        import httpx

        started, clock = time.time(), time.perf_counter()
        response: httpx.Response | None = None
        error: BaseException | None = None
        tls_days: float | None = None
        try:
            async with httpx.AsyncClient(transport=self.async_transport, **self._client_kwargs(check)) as client:
                response = await client.request(check.method, check.url, **self._request_kwargs(check, timeout))
            elapsed = time.perf_counter() - clock
            if check.tls_min_days is not None:
                tls_days = await _atls_days_left(check, timeout)
        except (httpx.HTTPError, OSError, TimeoutError) as failure:
            error, elapsed = failure, time.perf_counter() - clock
        return self._attempt(
            check, response=response, error=error, started=started, elapsed=elapsed, tls_days=tls_days, timeout=timeout
        )

    # -- retries --------------------------------------------------------------------------------
    def _policy(self, check: Check) -> Any:
        import tenacity

        from maestro_resilience import Retry

        return Retry(
            f"maestro-check:{check.name}",
            attempts=check.retries + 1,
            deadline=None,
            wait=tenacity.wait_fixed(check.retry_delay),
            on=_CheckFailed,
        )

    def _with_retries(self, check: Check, once: Callable[[], Attempt]) -> list[Attempt]:
        attempts: list[Attempt] = []

        def attempt() -> None:
            attempts.append(once())
            if attempts[-1].status is Status.FAILED:
                raise _CheckFailed

        if check.retries and self.use_resilience:
            with contextlib.suppress(_CheckFailed):
                self._policy(check).call(attempt)
            return attempts
        for number in range(check.retries + 1):
            if number:
                self.sleep(check.retry_delay)
            try:
                attempt()
                break
            except _CheckFailed:
                continue
        return attempts

    async def _awith_retries(self, check: Check, once: Callable[[], Awaitable[Attempt]]) -> list[Attempt]:
        attempts: list[Attempt] = []

        async def attempt() -> None:
            attempts.append(await once())
            if attempts[-1].status is Status.FAILED:
                raise _CheckFailed

        if check.retries and self.use_resilience:
            with contextlib.suppress(_CheckFailed):
                await self._policy(check).call_async(attempt)
            return attempts
        for number in range(check.retries + 1):
            if number:
                await asyncio.sleep(check.retry_delay)
            try:
                await attempt()
                break
            except _CheckFailed:
                continue
        return attempts

    # -- results --------------------------------------------------------------------------------
    @staticmethod
    def _result(suite: CheckSuite, check: Check, attempts: list[Attempt]) -> TestResult:
        final = attempts[-1]
        return TestResult(
            name=check.name,
            status=final.status,
            duration=sum(a.duration for a in attempts),
            suite=(suite.path.name,),
            file=str(suite.path),
            raw_status=final.raw_status,
            message=final.message,
            trace=final.trace,
            tags=check.tags,
            attempts=tuple(attempts) if len(attempts) > 1 else (),
            start=attempts[0].start,
            extra={"method": check.method, "url": redact_url(check.url)},
        )

    @staticmethod
    def _not_run(suite: CheckSuite, check: Check, timeout: float | None) -> TestResult:
        return TestResult(
            name=check.name,
            status=Status.SKIPPED,
            suite=(suite.path.name,),
            file=str(suite.path),
            raw_status="notRun",
            message=f"not run: the global timeout of {timeout:g} s was reached",
            tags=check.tags,
        )

    @staticmethod
    def _finish(stream: ResultStream, timed_out: bool, options: RunOptions) -> TestRun:
        error = f"timed out after {options.timeout:g} s: the remaining checks were not run" if timed_out else None
        return stream.finish(error=error)

    def _one(
        self,
        suite: CheckSuite,
        check: Check,
        deadline: float | None,
        options: RunOptions,
        started: Callable[[str], None],
    ) -> tuple[TestResult, bool]:
        """One check with its retries, or ``notRun`` (and True) when the global deadline passed."""
        remaining = None if deadline is None else deadline - self.clock()
        if remaining is not None and remaining <= 0:
            return self._not_run(suite, check, options.timeout), True
        started(check.name)
        timeout = check.timeout if remaining is None else min(check.timeout, remaining)
        attempts = self._with_retries(check, functools.partial(self._once, check, timeout))
        return self._result(suite, check, attempts), False

    async def _aone(
        self, suite: CheckSuite, check: Check, deadline: float | None, options: RunOptions
    ) -> tuple[TestResult, bool]:
        remaining = None if deadline is None else deadline - self.clock()
        if remaining is not None and remaining <= 0:
            return self._not_run(suite, check, options.timeout), True
        if options.on_test_start is not None:
            options.on_test_start(check.name)
        timeout = check.timeout if remaining is None else min(check.timeout, remaining)
        attempts = await self._awith_retries(check, functools.partial(self._aonce, check, timeout))
        return self._result(suite, check, attempts), False

    def _run_threads(
        self, suite: CheckSuite, deadline: float | None, options: RunOptions, stream: ResultStream
    ) -> bool:
        """Checks on ``concurrency`` threads; every callback and stream write stays on this thread."""
        events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()

        def work(check: Check) -> None:
            try:
                events.put(
                    ("done", self._one(suite, check, deadline, options, lambda name: events.put(("start", name))))
                )
            except BaseException as failure:  # re-raised on the calling thread
                events.put(("failed", failure))

        timed_out = False
        failure: BaseException | None = None
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="maestro-check")
        try:
            for check in suite.checks:
                pool.submit(work, check)
            finished = 0
            while finished < len(suite.checks):
                kind, value = events.get()
                if kind == "start":
                    if options.on_test_start is not None:
                        options.on_test_start(value)
                    continue
                finished += 1
                if kind == "failed":
                    failure = failure or value
                    continue
                result, not_run = value
                timed_out = timed_out or not_run
                stream.add(result)
        finally:  # on an error here (Ctrl-C, a callback that raised) the checks not started never start
            pool.shutdown(wait=True, cancel_futures=True)
        if failure is not None:
            raise failure
        return timed_out

    def run(self, target: Target, *, options: RunOptions | None = None) -> TestRun:
        """Run every check of the file ``target`` (``concurrency`` at a time), streaming each
        result to the JSONL report as soon as it finishes."""
        options = options or RunOptions()
        suite = self._load(target, options)
        deadline = None if options.timeout is None else self.clock() + options.timeout
        timed_out = False
        stream = ResultStream(Tool("maestro-production", __version__), options)
        try:
            if self.concurrency > 1 and len(suite.checks) > 1:
                timed_out = self._run_threads(suite, deadline, options, stream)
            else:
                for check in suite.checks:
                    result, not_run = self._one(suite, check, deadline, options, options.on_test_start or _ignore)
                    timed_out = timed_out or not_run
                    stream.add(result)
        finally:
            run = self._finish(stream, timed_out, options)
        return run

    async def arun(self, target: Target, *, options: RunOptions | None = None) -> TestRun:
        """The asyncio twin of ``run`` (``concurrency`` checks at a time as tasks of this loop)."""
        options = options or RunOptions()
        suite = self._load(target, options)
        deadline = None if options.timeout is None else self.clock() + options.timeout
        not_run: list[bool] = []
        stream = ResultStream(Tool("maestro-production", __version__), options)
        slots = asyncio.Semaphore(self.concurrency)

        async def one(check: Check) -> None:
            async with slots:
                result, skipped = await self._aone(suite, check, deadline, options)
            not_run.append(skipped)
            stream.add(result)

        try:
            tasks = [asyncio.create_task(one(check)) for check in suite.checks]
            try:
                await asyncio.gather(*tasks)
            except BaseException:  # the first error wins as it is (no ExceptionGroup); stop the rest
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        finally:
            run = self._finish(stream, any(not_run), options)
        return run


def _ignore(name: str) -> None:
    """A no-op ``on_test_start``."""
