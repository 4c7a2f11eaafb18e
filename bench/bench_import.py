"""Import cost of each package against the peers its users would otherwise import.

Measured with ``python -X importtime`` in fresh interpreters (cumulative microseconds of the
top-level import, bytecode compiled), median of several runs, all in the same run of this script.
"""

from __future__ import annotations

import importlib.util

from _importtime import import_us
from _table import Table, ratio

PEERS = {
    "maestro_resilience": ("pybreaker", "tenacity"),
    "maestro_audit_logger": ("structlog", "logging"),
    "maestro_test_result_aggregator": ("junitparser", "xml.etree.ElementTree"),
    "maestro_test_adapters": ("pytest",),
}


def run(quick: bool = False) -> list[Table]:
    """One table: our import time, each peer's, and the ratio."""
    runs = 3 if quick else 9
    table = Table(
        "Import time (ms, median of fresh interpreters)",
        ("package", "ms", "peer", "peer ms", "ours / peer"),
        note="Below 1.00x: importing ours costs less than importing the peer.",
    )
    for module, peers in PEERS.items():
        ours = import_us(module, runs)
        for peer in peers:
            if importlib.util.find_spec(peer.split(".")[0]) is None:
                table.add(module, f"{ours / 1000:.1f}", peer, "not installed", "-")
                continue
            theirs = import_us(peer, runs)
            table.add(module, f"{ours / 1000:.1f}", peer, f"{theirs / 1000:.1f}", ratio(ours, theirs))
    return [table]
