"""Canonical serialisation: the one byte form hashed, written and stored by every sink.

A record body is ``orjson.dumps(record, OPT_SORT_KEYS)``; the stored line is that body with the
hash appended as its last member: ``{...,"hash":"<64 hex>"}``. The hash is SHA-256 over the body
(which already carries ``writer``, ``seq`` and ``prev``), so a verifier needs no re-serialisation.
"""

# ruff: noqa: PLR0911  # flat field-by-field mapping reads best as one function

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from maestro_audit_logger._errors import AuditEventError

GENESIS = "0" * 64
HASH_SUFFIX_LEN = len(b',"hash":"') + 64 + len(b'"}')
_OPTS = orjson.OPT_SORT_KEYS


def dumps(record: dict[str, Any]) -> bytes:
    """Serialise ``record`` canonically (sorted keys, compact, UTF-8).

    Raises:
        AuditEventError: a value is not JSON-serialisable (the field is named when it can be found).
    """
    try:
        body = orjson.dumps(record, option=_OPTS)
    except TypeError as exc:
        raise AuditEventError(_find_bad(record) or "record", f"is not JSON-serialisable ({exc})") from None
    if b"null" in body:
        check_finite(record)
    return body


def check_finite(record: Any) -> None:
    """`AuditEventError` naming the first NaN or infinite float in ``record``.

    orjson writes NaN and +-Infinity as ``null``; a body without ``null`` holds none, so callers
    only need this when ``b"null" in body`` (a C-level search).
    """
    path = _find_nonfinite(record)
    if path is not None:
        raise AuditEventError(path, "is NaN or infinite: JSON cannot represent it (refused, not stored as null)")


def _find_nonfinite(value: Any, path: str = "") -> str | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else path or "record"
    if isinstance(value, dict):
        for k, v in value.items():
            found = _find_nonfinite(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = _find_nonfinite(v, f"{path}[{i}]")
            if found:
                return found
    return None


def _find_bad(value: Any, path: str = "") -> str | None:
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            if not isinstance(k, str):
                return path or "record"
            found = _find_bad(v, sub)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = _find_bad(v, f"{path}[{i}]")
            if found:
                return found
        return None
    try:
        orjson.dumps(value)
    except TypeError:
        return path or "record"
    return None


_WRITER = re.compile(r"^[A-Za-z0-9._:/@-]{1,128}$")


def valid_writer(writer: str) -> bool:
    """Whether ``writer`` can be used as a writer id (plain ASCII, no quoting needed)."""
    return bool(_WRITER.match(writer))


def chain_body(event_body: bytes, writer: str, seq: int, prev: str) -> bytes:
    """Prefix a canonical event body with its integrity members ``prev``, ``seq``, ``writer``.

    The hashed body is ``{"prev":"<hex>","seq":<n>,"writer":"<id>",`` followed by the event's
    sorted members: a fixed layout, so nothing is re-serialised to hash or to verify.
    """
    return b'{"prev":"%s","seq":%d,"writer":"%s",%s' % (prev.encode(), seq, writer.encode(), event_body[1:])


def parse_chain(body: bytes) -> tuple[str, int, str] | None:
    """``(prev, seq, writer)`` from a hashed body, or None when the layout is not ours."""
    if not body.startswith(b'{"prev":"') or body[73:81] != b'","seq":':
        return None
    end = body.find(b",", 81)
    if end < 0 or body[end : end + 11] != b',"writer":"':
        return None
    wend = body.find(b'"', end + 11)
    if wend < 0:
        return None
    try:
        seq = int(body[81:end])
    except ValueError:
        return None
    return body[9:73].decode("ascii", "replace"), seq, body[end + 11 : wend].decode("ascii", "replace")


def seal_line(body: bytes) -> tuple[bytes, str]:
    """Return the stored line (with ``hash`` and a newline) and the hex hash of ``body``."""
    import hashlib  # noqa: PLC0415 - keeps `import maestro_audit_logger` lean

    digest = hashlib.sha256(body).hexdigest()
    return b'%s,"hash":"%s"}\n' % (body[:-1], digest.encode()), digest


def split_line(line: bytes) -> tuple[bytes, str] | None:
    """Split a stored line (without newline) into its hashed body and claimed hash, or None."""
    if len(line) <= HASH_SUFFIX_LEN or not line.endswith(b'"}') or line[-HASH_SUFFIX_LEN:-66] != b',"hash":"':
        return None
    return line[:-HASH_SUFFIX_LEN] + b"}", line[-66:-2].decode("ascii", "replace")


# A record's event id (always a lower-case UUID): the first "event_id" member of its canonical
# body or line (a nested one in ``extra`` comes later: members are sorted, and none before it
# holds free-form objects).
EVENT_ID = re.compile(rb'"event_id":"([0-9a-f-]{36})"')


def event_id_of(body: bytes) -> str | None:
    """The event id of a canonical event body or stored line, or None if it has none."""
    m = EVENT_ID.search(body)
    return m.group(1).decode() if m else None
