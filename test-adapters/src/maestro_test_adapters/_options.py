"""``RunOptions``: what every adapter's ``run`` accepts, validated at construction."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from maestro_test_adapters.errors import InvalidOptionError
from maestro_test_result_aggregator.model import DEFAULT_OUTPUT_LIMIT, EMPTY, Environment, TestResult

__all__ = ["RunOptions"]

_PathLike = str | os.PathLike[str]
_JUNIT_PROFILES = ("xunit2", "surefire")  # the aggregator's JUNIT_PROFILES


def checked_clock(clock: object) -> Callable[[], float]:
    """``clock`` when it is callable (an adapter's ``clock`` setting), else ``InvalidOptionError``."""
    if not callable(clock):
        raise InvalidOptionError("clock", f"must be a callable returning seconds (like time.monotonic), got {clock!r}")
    return clock


def _path(name: str, value: _PathLike | None) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise InvalidOptionError(name, f"must be a non-empty path or None, got {value!r}")
    return Path(value)


@dataclass(frozen=True, slots=True, init=False)
class RunOptions:
    """How to run a target; every field is optional and checked when the object is built.

    Args:
        timeout: global wall-clock limit in seconds for the whole run; when reached the runner's
            process group is killed, finished results are kept and the in-flight tests are
            reported as failed (``raw_status="timedOut"``). ``None``: no limit.
        jsonl: stream every finished result to this JSON-lines file while the run goes on.
        ctrf: write the finished run as CTRF JSON here (through the aggregator's writer).
        junit: write the finished run as JUnit XML here (through the aggregator's writer).
        junit_profile: ``xunit2`` (default, the widest support) or ``surefire`` (earlier failed
            attempts as ``flakyFailure``/``rerunFailure`` elements, which CI servers show as flaky).
        runner_args: extra arguments passed to the runner (pytest, npm test...) as they are.
        env: extra environment variables for the runner's process.
        cwd: working directory of the runner (default: the adapter decides, usually the target's).
        fail_on_flaky: a test that passed only on a retry counts as failed in ``exit_code`` (recorded
            on the returned run).
        environment: commit/branch/build recorded on the run (default: ``detect_environment()``,
            from the CI's environment variables).
        output_limit: characters of captured output kept per result (head and tail).
        on_result: called with each result as soon as it is known (progress displays).
        on_test_start: called with a test's id when it starts (progress displays).
        stop_grace: seconds the runner gets to stop on its own when the run is interrupted
            (Ctrl-C, ``SIGTERM`` of ``maestro-test``, a cancelled task): its process group gets
            ``SIGINT``, as from Ctrl-C, so session teardowns run; what is left after this is killed.

    Examples:
        >>> RunOptions(timeout=600, ctrf="report.json", runner_args=("-x",)).timeout
        600.0
    """

    timeout: float | None = None
    jsonl: Path | None = None
    ctrf: Path | None = None
    junit: Path | None = None
    junit_profile: str = "xunit2"
    runner_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    cwd: Path | None = None
    fail_on_flaky: bool = False
    environment: Environment = field(default_factory=Environment)
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    on_result: Callable[[TestResult], None] | None = None
    on_test_start: Callable[[str], None] | None = None
    stop_grace: float = 10.0

    def __init__(
        self,
        *,
        timeout: float | None = None,
        jsonl: _PathLike | None = None,
        ctrf: _PathLike | None = None,
        junit: _PathLike | None = None,
        junit_profile: str = "xunit2",
        runner_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: _PathLike | None = None,
        fail_on_flaky: bool = False,
        environment: Environment | None = None,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
        on_result: Callable[[TestResult], None] | None = None,
        on_test_start: Callable[[str], None] | None = None,
        stop_grace: float = 10.0,
    ) -> None:
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not math.isfinite(timeout):
                raise InvalidOptionError("timeout", f"must be a finite number of seconds or None, got {timeout!r}")
            if timeout <= 0:
                raise InvalidOptionError("timeout", f"must be greater than 0 seconds, got {timeout!r}")
            timeout = float(timeout)
        if junit_profile not in _JUNIT_PROFILES:
            raise InvalidOptionError(
                "junit_profile", f"must be one of {', '.join(_JUNIT_PROFILES)}, got {junit_profile!r}"
            )
        if isinstance(runner_args, str) or not all(isinstance(a, str) for a in runner_args):
            raise InvalidOptionError("runner_args", f"must be a sequence of strings, got {runner_args!r}")
        environment_variables = dict(env or {})
        for key, value in environment_variables.items():
            if not isinstance(key, str) or not isinstance(value, str) or not key or "=" in key:
                raise InvalidOptionError("env", f"must map variable names to string values, got {key!r}={value!r}")
        if isinstance(output_limit, bool) or not isinstance(output_limit, int) or output_limit < 0:
            raise InvalidOptionError("output_limit", f"must be an int >= 0, got {output_limit!r}")
        for name, callback in (("on_result", on_result), ("on_test_start", on_test_start)):
            if callback is not None and not callable(callback):
                raise InvalidOptionError(name, f"must be callable or None, got {callback!r}")
        if (
            isinstance(stop_grace, bool)
            or not isinstance(stop_grace, int | float)
            or not math.isfinite(stop_grace)
            or stop_grace < 0
        ):
            raise InvalidOptionError("stop_grace", f"must be a finite number of seconds >= 0, got {stop_grace!r}")
        setter = object.__setattr__
        setter(self, "timeout", timeout)
        setter(self, "jsonl", _path("jsonl", jsonl))
        setter(self, "ctrf", _path("ctrf", ctrf))
        setter(self, "junit", _path("junit", junit))
        setter(self, "junit_profile", junit_profile)
        setter(self, "runner_args", tuple(runner_args))
        setter(self, "env", environment_variables)
        setter(self, "cwd", _path("cwd", cwd))
        setter(self, "fail_on_flaky", bool(fail_on_flaky))
        if environment is None:
            from maestro_test_adapters._environment import detect_environment  # noqa: PLC0415

            environment = detect_environment()
        setter(self, "environment", environment)
        setter(self, "output_limit", output_limit)
        setter(self, "on_result", on_result)
        setter(self, "on_test_start", on_test_start)
        setter(self, "stop_grace", float(stop_grace))
