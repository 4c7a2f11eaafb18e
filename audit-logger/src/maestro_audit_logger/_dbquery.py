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


def indexed_where(filters: Filters, *, pg: bool) -> tuple[list[str], list[Any]]:
    """Clauses on the indexed columns (``WHERE`` parts and their bound values)."""
    ph = "%s" if pg else "?"
    # PostgreSQL compares text by the database's collation, which may ignore punctuation:
    # ISO times must compare byte by byte.
    bytewise = ' COLLATE "C"' if pg else ""
    where: list[str] = []
    args: list[Any] = []
    simple = (("event_id", "event_id"), ("actor", "actor_id"), ("outcome", "outcome"), ("tenant", "tenant"))
    for name, column in simple:
        if filters[name] is not None:
            where.append(f"{column} = {ph}")
            args.append(filters[name])
    action = filters["action"]
    if action is not None:
        if action.endswith("*"):
            where.append(f"action LIKE {ph} ESCAPE '\\'")
            args.append(_like_prefix(action))
        else:
            where.append(f"action = {ph}")
            args.append(action)
    if filters["since"] is not None:
        where.append(f"time{bytewise} >= {ph}")
        args.append(filters["since"])
    if filters["until"] is not None:
        where.append(f"time{bytewise} < {ph}")
        args.append(filters["until"])
    target = filters["target"]
    if target is not None:
        where.append(f"targets LIKE {ph}")
        args.append(f"%|{target}|%" if ":" in target else f"%:{target}|%")
    _text(filters, ph, where, args)
    return where, args


def record_where(filters: Filters, *, pg: bool) -> tuple[list[str], list[Any]]:
    """Clauses on the stored record itself (PostgreSQL: on the column ``j``, the record as jsonb)."""
    ph = "%s" if pg else "?"

    def field(*path: str) -> str:
        if pg:
            return "j" + "".join(f"->'{p}'" for p in path[:-1]) + f"->>'{path[-1]}'"
        return "json_extract(record, '$." + ".".join(path) + "')"

    bytewise = ' COLLATE "C"' if pg else ""
    where: list[str] = []
    args: list[Any] = []
    simple = (
        ("event_id", ("event_id",)),
        ("actor", ("actor", "id")),
        ("outcome", ("outcome",)),
        ("tenant", ("tenant",)),
    )
    for name, path in simple:
        if filters[name] is not None:
            where.append(f"{field(*path)} = {ph}")
            args.append(filters[name])
    action = filters["action"]
    if action is not None:
        if action.endswith("*"):
            where.append(f"{field('action')} LIKE {ph} ESCAPE '\\'")
            args.append(_like_prefix(action))
        else:
            where.append(f"{field('action')} = {ph}")
            args.append(action)
    if filters["since"] is not None:
        where.append(f"{field('time')}{bytewise} >= {ph}")
        args.append(filters["since"])
    if filters["until"] is not None:
        where.append(f"{field('time')}{bytewise} < {ph}")
        args.append(filters["until"])
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
