"""Running a test runner in its own process group, with a global timeout, sync and asyncio.

The driver is tiny and I/O only: start the process (stdout+stderr to a log file, never a pipe
that could fill up), call ``poll`` every ``interval`` seconds while it runs (adapters tail the
runner's JSONL there for live progress), kill the whole process group when the deadline
passes (SIGTERM, then SIGKILL after a grace period), and report what happened. When the run
itself is interrupted (``KeyboardInterrupt``, a cancelled task), the group gets ``SIGINT`` as
from Ctrl-C, so the runner stops in order (pytest runs its session teardown), and whatever is
left after ``stop_grace`` seconds is killed. Should this process be killed outright, the runner
dies with it (``PR_SET_PDEATHSIG``) and a watchdog kills the runner's whole process group (its
workers, what its tests started).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

__all__ = ["ProcessOutcome", "RunnerCall", "RunnerPlan", "arun_process", "describe_returncode", "run_process"]

_GRACE: Final = 2.0
_STOP_GRACE: Final = 10.0
_INTERVAL: Final = 0.05
_PR_SET_PDEATHSIG: Final = 1


def _default_sigint() -> None:
    # A shell starts background jobs (`make test &` in a CI script, nohup) with SIGINT ignored, and
    # an ignored signal stays ignored across exec: the runner would ignore the SIGINT we stop it
    # with, and its session teardown would never run. The runner gets the default back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _child_setup() -> Callable[[], None]:
    """What the child runs before exec: SIGINT back to its default, and (Linux) ask to be sent
    SIGKILL when the process that started it dies (``PR_SET_PDEATHSIG``). prctl is looked up here,
    in the parent, so the child imports nothing between fork and exec."""
    if not sys.platform.startswith("linux"):
        return _default_sigint
    try:
        import ctypes  # noqa: PLC0415 - Linux only

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return _default_sigint

    def die_with_parent() -> None:
        _default_sigint()
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return die_with_parent


# Kills the runner's process group ($1) once its standard input, a pipe only this process holds
# open, reaches its end: when this process dies, however it dies (PR_SET_PDEATHSIG reaches only
# the runner itself, not what the runner started: its workers, a server a fixture started...).
_WATCHDOG: Final = 'read -r _; kill -s KILL -- "-$1" 2>/dev/null'


class _Watchdog:
    """A ``/bin/sh`` in a session of its own (a kill of this process's group spares it) that
    kills the runner's whole process group should this process die before the run ends; at the
    end of the run it is dismissed without acting."""

    def __init__(self, group: int) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lifeline: int | None = None
        if os.name != "posix" or not os.path.exists("/bin/sh"):
            return
        read_end, self._lifeline = os.pipe()  # both ends close-on-exec: the runner inherits neither
        try:
            self._process = subprocess.Popen(
                ["/bin/sh", "-c", _WATCHDOG, "maestro-watchdog", str(group)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:  # no watchdog: PR_SET_PDEATHSIG still covers the runner itself
            os.close(self._lifeline)
            self._lifeline = None
        finally:
            os.close(read_end)

    def dismiss(self) -> None:
        """The run is over: stop the watchdog without it acting (the group may be gone and its
        number reused)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    """How the runner's process ended: its return code (negative: killed by a signal), whether
    the timeout killed it, its wall time and the tail of its output."""

    returncode: int
    timed_out: bool
    duration: float
    output_tail: str


def describe_returncode(returncode: int) -> str:
    """``exit status 3`` or ``killed by SIGKILL``."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def _tail(log: Path, lines: int = 15) -> str:
    try:
        with open(log, "rb") as stream:
            stream.seek(max(0, os.path.getsize(log) - 8192))
            text = stream.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    timeout: float | None,
    poll: Callable[[], None],
    interval: float = _INTERVAL,
    clock: Callable[[], float] = time.monotonic,
    stop_grace: float = _STOP_GRACE,
) -> ProcessOutcome:
    """Run ``argv`` to its end or until ``timeout`` (measured on ``clock``); ``poll()`` is called
    while it runs. Interrupted, it stops the runner's group (``SIGINT``, then ``SIGKILL`` after
    ``stop_grace`` seconds) before the interruption goes on."""
    started = time.monotonic()
    deadline = None if timeout is None else clock() + timeout
    timed_out = False
    with open(log, "wb") as output:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_child_setup(),  # noqa: PLW1509 - prctl only, no locks: safe before exec
        )
        watchdog = _Watchdog(process.pid)
        try:
            while True:
                try:
                    process.wait(timeout=interval)
                    break
                except subprocess.TimeoutExpired:
                    pass
                poll()
                if deadline is not None and clock() >= deadline:
                    timed_out = True
                    _signal_group(process.pid, signal.SIGTERM)
                    try:
                        process.wait(timeout=_GRACE)
                    except subprocess.TimeoutExpired:
                        _signal_group(process.pid, signal.SIGKILL)
                        process.wait()
                    break
        except BaseException:  # Ctrl-C, SIGTERM turned into KeyboardInterrupt by the CLI...
            _signal_group(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=stop_grace)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            raise
        finally:
            _signal_group(process.pid, signal.SIGKILL)  # leftovers of the group (xdist workers, browsers)
            watchdog.dismiss()
    return ProcessOutcome(process.returncode, timed_out, time.monotonic() - started, _tail(log))


async def arun_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    timeout: float | None,
    poll: Callable[[], None],
    interval: float = _INTERVAL,
    clock: Callable[[], float] = time.monotonic,
    stop_grace: float = _STOP_GRACE,
) -> ProcessOutcome:
    """The asyncio twin of ``run_process`` (the event loop stays free while the runner runs)."""
    started = time.monotonic()
    deadline = None if timeout is None else clock() + timeout
    timed_out = False
    with open(log, "wb") as output:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_child_setup(),  # prctl only: nothing to lock before exec
        )
        watchdog = _Watchdog(process.pid)
        try:
            while True:
                try:
                    await asyncio.wait_for(process.wait(), interval)
                    break
                except TimeoutError:
                    pass
                poll()
                if deadline is not None and clock() >= deadline:
                    timed_out = True
                    _signal_group(process.pid, signal.SIGTERM)
                    try:
                        await asyncio.wait_for(process.wait(), _GRACE)
                    except TimeoutError:
                        _signal_group(process.pid, signal.SIGKILL)
                        await process.wait()
                    break
        except BaseException:  # a cancelled task, Ctrl-C
            _signal_group(process.pid, signal.SIGINT)
            try:
                await asyncio.wait_for(asyncio.shield(process.wait()), stop_grace)
            except (TimeoutError, asyncio.CancelledError):
                _signal_group(process.pid, signal.SIGKILL)
                await asyncio.shield(process.wait())
            raise
        finally:
            _signal_group(process.pid, signal.SIGKILL)
            watchdog.dismiss()
    returncode = process.returncode if process.returncode is not None else -signal.SIGKILL
    return ProcessOutcome(returncode, timed_out, time.monotonic() - started, _tail(log))


class RunnerPlan(Protocol):
    """What an adapter's plan says about the runner process: its command, folder, environment and log."""

    @property
    def argv(self) -> Sequence[str]: ...
    @property
    def cwd(self) -> Path: ...
    @property
    def env(self) -> Mapping[str, str]: ...
    @property
    def log(self) -> Path: ...


@dataclass(frozen=True)
class RunnerCall:
    """One run of a planned runner, ready for either driver: the adapters' ``run`` and ``arun``
    differ only in which of ``run`` / ``arun`` they call."""

    plan: RunnerPlan
    timeout: float | None
    poll: Callable[[], None]
    clock: Callable[[], float]
    stop_grace: float

    def run(self) -> ProcessOutcome:
        """``run_process`` with the plan's arguments."""
        plan = self.plan
        return run_process(
            plan.argv,
            cwd=plan.cwd,
            env=plan.env,
            log=plan.log,
            timeout=self.timeout,
            poll=self.poll,
            clock=self.clock,
            stop_grace=self.stop_grace,
        )

    async def arun(self) -> ProcessOutcome:
        """``arun_process`` with the plan's arguments."""
        plan = self.plan
        return await arun_process(
            plan.argv,
            cwd=plan.cwd,
            env=plan.env,
            log=plan.log,
            timeout=self.timeout,
            poll=self.poll,
            clock=self.clock,
            stop_grace=self.stop_grace,
        )
