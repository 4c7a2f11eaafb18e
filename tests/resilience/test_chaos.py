"""Chaos: opt-in fault and latency injection, reproducible with a seed; latency sleeps on the policy's clock."""

from __future__ import annotations

import pytest

from maestro_resilience import Chaos, ChaosFault
from maestro_resilience.testing import FakeClock


def test_chaos_injects_faults_and_latency_reproducibly() -> None:
    clock = FakeClock()
    chaos = Chaos(fault_rate=0.5, latency=0.2, latency_rate=1.0, seed=7, clock=clock)
    outcomes = []
    for _ in range(20):
        try:
            chaos.call(lambda: None)
            outcomes.append("ok")
        except ChaosFault:
            outcomes.append("fault")
    assert 3 < outcomes.count("fault") < 17
    assert clock.sleeps == [0.2] * 20
    chaos.enabled = False
    chaos.call(lambda: None)
    assert len(clock.sleeps) == 20
    with pytest.raises(ValueError, match="fault_rate"):
        Chaos(fault_rate=2)


async def test_chaos_async_custom_fault_and_latency() -> None:
    chaos = Chaos(fault_rate=1.0, fault=lambda: ConnectionResetError("drill"))
    with pytest.raises(ConnectionResetError):
        async with chaos:
            pass
    clock = FakeClock()
    slow = Chaos(latency=0.5, latency_rate=1.0, clock=clock)

    @slow
    async def ping() -> str:
        return "pong"

    assert await ping() == "pong"
    assert clock.sleeps == [0.5]
