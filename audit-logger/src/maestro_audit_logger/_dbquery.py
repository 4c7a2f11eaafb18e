"""The SQL ``WHERE`` of a database search: on the hashed record (default) or on the indexed columns.

The hash chain covers the stored record, not the columns beside it, so a filter on a column can
miss an event whose column was edited (`verify` reports the edit as ``column_mismatch``). The
default filters therefore read the record itself inside the database (SQLite ``json_extract``,
PostgreSQL ``jsonb``): a full scan, in C, that an edited column cannot fool. ``indexed=True``
uses the indexed columns instead (fast on large tables; trusts the columns). Either way every
row found is checked again on its parsed record, so no search returns a record its filters do
not match.
"""

from __future__ import annotations

from typing import Any

import orjson

Filters = dict[str, str | None]


def _like_prefix(action: str) -> str:
    return action[:-1].replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"


_SCALARS = ("event_id", "actor", "outcome", "tenant")


def _scalar_where(filters: Filters, ph: str, bytewise: str, column: dict[str, str]) -> tuple[list[str], list[Any]]:
    """Clauses for the filters both searches share (equality, the action prefix, the time range),
    on the SQL expressions ``column`` gives each field."""
    where: list[str] = []
    args: list[Any] = []
    for name in _SCALARS:
        if filters[name] is not None:
            where.append(f"{column[name]} = {ph}")
            args.append(filters[name])
    action = filters["action"]
    if action is not None:
        if action.endswith("*"):
            where.append(f"{column['action']} LIKE {ph} ESCAPE '\\'")
            args.append(_like_prefix(action))
        else:
            where.append(f"{column['action']} = {ph}")
            args.append(action)
    if filters["since"] is not None:
        where.append(f"{column['time']}{bytewise} >= {ph}")
        args.append(filters["since"])
    if filters["until"] is not None:
        where.append(f"{column['time']}{bytewise} < {ph}")
        args.append(filters["until"])
    return where, args


def _bytewise(pg: bool) -> str:
    # PostgreSQL compares text by the database's collation, which may ignore punctuation:
    # ISO times must compare byte by byte.
    return ' COLLATE "C"' if pg else ""


_INDEXED = {"event_id": "event_id", "actor": "actor_id", "outcome": "outcome", "tenant": "tenant", "action": "action"}


def indexed_where(filters: Filters, *, pg: bool) -> tuple[list[str], list[Any]]:
    """Clauses on the indexed columns (``WHERE`` parts and their bound values)."""
    ph = "%s" if pg else "?"
    where, args = _scalar_where(filters, ph, _bytewise(pg), {**_INDEXED, "time": "time"})
    target = filters["target"]
    if target is not None:
        where.append(f"targets LIKE {ph}")
        args.append(f"%|{target}|%" if ":" in target else f"%:{target}|%")
    _text(filters, ph, where, args)
    return where, args


_RECORD_PATHS = {
    "event_id": ("event_id",),
    "actor": ("actor", "id"),
    "outcome": ("outcome",),
    "tenant": ("tenant",),
    "action": ("action",),
    "time": ("time",),
}


def record_where(filters: Filters, *, pg: bool) -> tuple[list[str], list[Any]]:
    """Clauses on the stored record itself (PostgreSQL: on the column ``j``, the record as jsonb)."""
    ph = "%s" if pg else "?"

    def field(*path: str) -> str:
        if pg:
            return "j" + "".join(f"->'{p}'" for p in path[:-1]) + f"->>'{path[-1]}'"
        return "json_extract(record, '$." + ".".join(path) + "')"

    where, args = _scalar_where(
        filters, ph, _bytewise(pg), {name: field(*path) for name, path in _RECORD_PATHS.items()}
    )
    target = filters["target"]
    if target is not None:
        kind, sep, ident = target.partition(":")
        wanted = {"type": kind, "id": ident} if sep else {"id": target}
        if pg:
            where.append(f"j->'targets' @> {ph}::jsonb")
            args.append(orjson.dumps([wanted]).decode())
        else:
            checks = " AND ".join(f"json_extract(value, '$.{k}') = ?" for k in wanted)
            where.append(f"EXISTS (SELECT 1 FROM json_each(record, '$.targets') WHERE {checks})")  # noqa: S608
            args.extend(wanted.values())
    _text(filters, ph, where, args)
    return where, args


def _text(filters: Filters, ph: str, where: list[str], args: list[Any]) -> None:
    text = filters["text"]
    if text is not None:
        where.append(f"lower(record) LIKE {ph} ESCAPE '\\'")
        args.append("%" + _like_prefix(text.lower() + "*"))
