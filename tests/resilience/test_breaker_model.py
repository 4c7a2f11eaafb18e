"""The breaker against a small reference model of its specification (a Hypothesis state machine)."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from maestro_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Consecutive,
    CountWindow,
    Event,
    TimeWindow,
)
from maestro_resilience.testing import FakeClock


class Down(Exception):
    pass


class Model:
    """The rules of issue 3, written as plainly as possible (sequential calls)."""

    def __init__(self, kind: str, size: int, threshold: float, minimum: int, probes: int) -> None:
        self.kind, self.size, self.threshold, self.minimum, self.probes = kind, size, threshold, minimum, probes
        self.consecutive = kind == "consecutive"
        self.timed: list[tuple[int, bool]] = []  # (1-second tick, failed) for the time window
        self.state = "closed"
        self.outcomes: list[bool] = []  # True = failure
        self.open_until = 0.0
        self.probe_results: list[bool] = []
        self.over = False  # metrics_only: the threshold event was emitted since entering it
        self.threshold_events = 0

    def admit(self, now: float) -> bool:
        if self.state == "forced_open":
            return False
        if self.state == "open":
            if now < self.open_until:
                return False
            self.state, self.probe_results = "half_open", []
        return True

    def record(self, failed: bool | None, now: float) -> None:
        if failed is None:
            return
        if self.state in ("closed", "metrics_only"):
            if self.consecutive:
                self.outcomes = [*self.outcomes, True] if failed else []
                if len(self.outcomes) >= self.size:
                    self.window_tripped(now)
                return
            if self.kind == "time":  # 10 s window in 1 s buckets
                tick = int(now)
                self.timed.append((tick, failed))
                window = [f for t, f in self.timed if t > tick - 10]
            else:
                self.outcomes = [*self.outcomes, failed][-self.size :]
                window = self.outcomes
            n = len(window)
            if failed and n >= self.minimum and sum(window) / n >= self.threshold:
                self.window_tripped(now)
        elif self.state == "half_open":
            self.probe_results.append(failed)
            if self.consecutive and failed:
                self.trip(now)
            elif len(self.probe_results) >= self.probes:
                if sum(self.probe_results) / len(self.probe_results) >= (1e-9 if self.consecutive else self.threshold):
                    self.trip(now)
                else:
                    self.state, self.outcomes, self.timed = "closed", [], []

    def window_tripped(self, now: float) -> None:
        if self.state == "closed":
            self.trip(now)
        elif not self.over:  # metrics_only: one event per entry into the state, calls still pass
            self.over = True
            self.threshold_events += 1

    def trip(self, now: float) -> None:
        self.state, self.open_until = "open", now + 10.0


class BreakerMachine(RuleBasedStateMachine):
    @initialize(
        kind=st.sampled_from(["consecutive", "count", "time"]),
        size=st.integers(1, 6),
        threshold=st.sampled_from([0.25, 0.5, 1.0]),
        minimum=st.integers(1, 6),
        probes=st.integers(1, 3),
    )
    def setup(self, kind: str, size: int, threshold: float, minimum: int, probes: int) -> None:
        minimum = min(minimum, size)
        self.clock = FakeClock()
        window: Consecutive | CountWindow | TimeWindow
        if kind == "consecutive":
            window = Consecutive(size)
        elif kind == "count":
            window = CountWindow(size, failure_rate_threshold=threshold, minimum_calls=minimum)
        else:
            window = TimeWindow(10, failure_rate_threshold=threshold, minimum_calls=minimum, buckets=10)
        self.events: list[Event] = []
        self.breaker = CircuitBreaker(
            window=window,
            open_duration=10,
            half_open_max_calls=probes,
            ignore_on=KeyError,
            clock=self.clock,
            listeners=[self.events.append],
        )
        self.model = Model(kind, size, threshold, minimum, probes)

    def call(self, outcome: str) -> None:
        now = self.clock.now
        expected_admit = self.model.admit(now)

        def fn() -> None:
            if outcome == "fail":
                raise Down
            if outcome == "ignored":
                raise KeyError

        try:
            self.breaker.call(fn)
            admitted = True
        except CircuitOpenError:
            admitted = False
        except (Down, KeyError):
            admitted = True
        assert admitted == expected_admit
        if admitted:
            self.model.record({"ok": False, "fail": True, "ignored": None}[outcome], now)

    @rule()
    def success(self) -> None:
        self.call("ok")

    @rule()
    def failure(self) -> None:
        self.call("fail")

    @rule()
    def ignored(self) -> None:
        self.call("ignored")

    @rule(seconds=st.sampled_from([1.0, 3.0, 5.0, 10.0]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: hasattr(self, "model"))
    @rule()
    def force_open_then_reset(self) -> None:
        self.breaker.force_open()
        with pytest.raises(CircuitOpenError):
            self.breaker.call(lambda: None)
        self.breaker.reset()
        self.model.state, self.model.outcomes, self.model.timed = "closed", [], []

    @precondition(lambda self: hasattr(self, "model"))
    @rule()
    def metrics_only(self) -> None:
        self.breaker.metrics_only()
        self.model.state, self.model.outcomes, self.model.timed, self.model.over = "metrics_only", [], [], False

    @invariant()
    def same_threshold_events(self) -> None:
        if hasattr(self, "model"):
            assert sum(e.kind == "threshold_exceeded" for e in self.events) == self.model.threshold_events

    @invariant()
    def same_state(self) -> None:
        if not hasattr(self, "model"):
            return
        expected = self.model.state
        if expected == "open" and self.clock.now >= self.model.open_until:
            expected = "half_open"
        assert self.breaker.state == CircuitState(expected)


BreakerMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None, database=None)
TestBreakerAgainstModel = BreakerMachine.TestCase
