"""Trace and span ids from OpenTelemetry's current span, when opentelemetry is importable."""

from __future__ import annotations

import sys
from typing import Any

_trace: Any = None
_tried = False


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` as W3C hex of the current span, or None (no OTel, no span)."""
    global _trace, _tried  # noqa: PLW0603 - a once-only lookup
    if not _tried:
        # Only an application that already imported OpenTelemetry can have a current span:
        # we never import it ourselves (that would cost every service the import time).
        _trace = sys.modules.get("opentelemetry.trace")
        if _trace is None:
            return None
        _tried = True
    if _trace is None:
        return None
    ctx = _trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


def _reset_for_tests() -> None:
    global _trace, _tried  # noqa: PLW0603
    _trace = None
    _tried = False
