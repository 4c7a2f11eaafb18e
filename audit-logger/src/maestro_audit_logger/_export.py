"""Exports of stored records to OCSF 1.3.0 (API Activity 6003 / Authentication 3002, with the
``datetime`` profile), ECS 8.11 and CSV.

OCSF and ECS exports are lossless for the model's fields: what has no standard home goes to
OCSF's ``unmapped`` or ECS's ``maestro.*`` namespace, and `from_ocsf` / `from_ecs` rebuild the
original record exactly.
"""

# ruff: noqa: PLR0912  # flat field-by-field mapping reads best as one function

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from maestro_audit_logger._clock import ns_from_iso

OCSF_VERSION = "1.3.0"
_SEVERITY_ID = {"debug": 1, "info": 1, "notice": 2, "warning": 3, "error": 4, "critical": 5}
_STATUS_ID = {"success": 1, "failure": 2, "unknown": 0}
_STATUS_NAME = {1: "Success", 2: "Failure", 0: "Unknown"}
_API_ACTIVITY = {
    **dict.fromkeys(("create", "add", "insert", "register", "invite", "upload"), (1, "Create")),
    **dict.fromkeys(("read", "get", "list", "view", "download", "export", "search"), (2, "Read")),
    **dict.fromkeys(("update", "edit", "modify", "set", "change", "patch", "grant", "revoke", "rotate"), (3, "Update")),
    **dict.fromkeys(("delete", "remove", "destroy", "purge"), (4, "Delete")),
}
_AUTH_ACTIVITY = {
    **dict.fromkeys(("login", "logon", "signin", "sign_in", "authenticate"), (1, "Logon")),
    **dict.fromkeys(("logout", "logoff", "signout", "sign_out"), (2, "Logoff")),
}
_ECS_TYPE = {1: "creation", 2: "access", 3: "change", 4: "deletion"}
# ECS 8.11 `iam` events: identity subjects (the action's noun, or a target's type), and the
# `event.type` naming which kind of IAM object changed.
_IAM_SUBJECTS = {
    "user": "user", "account": "user", "group": "group", "role": "group",
    "permission": "admin", "policy": "admin", "apikey": "admin", "api_key": "admin", "token": "admin", "iam": "admin",
}  # fmt: skip
_INTEGRITY = ("writer", "seq", "prev")
#: OCSF profiles the exports use (``time_dt``): declared in ``metadata.profiles``.
OCSF_PROFILES = ["datetime"]


def is_authentication(record: dict[str, Any]) -> bool:
    """Whether a record maps to OCSF Authentication (category ``authentication``/``auth``)."""
    return record.get("category") in ("authentication", "auth")


def to_ocsf(record: dict[str, Any]) -> dict[str, Any]:
    """One record as an OCSF event (API Activity 6003, or Authentication 3002)."""
    verb = record["action"].rsplit(".", 1)[-1]
    auth = is_authentication(record)
    if auth:
        class_uid, class_name, category_uid, category_name = 3002, "Authentication", 3, "Identity & Access Management"
        activity_id, activity_name = _AUTH_ACTIVITY.get(verb, (99, "Other"))
    else:
        class_uid, class_name, category_uid, category_name = 6003, "API Activity", 6, "Application Activity"
        activity_id, activity_name = _API_ACTIVITY.get(verb, (99, "Other"))
    status_id = _STATUS_ID.get(record.get("outcome", "unknown"), 0)
    actor = record.get("actor") or {}
    user = {k2: actor[k1] for k1, k2 in (("id", "uid"), ("name", "name"), ("type", "type")) if k1 in actor}
    out: dict[str, Any] = {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {activity_name}",
        "time": ns_from_iso(record["time"]) // 1_000_000,
        "time_dt": record["time"],
        "severity_id": _SEVERITY_ID.get(record.get("severity", "info"), 0),
        "status_id": status_id,
        "status": _STATUS_NAME[status_id],
        "metadata": {
            "uid": record["event_id"],
            "version": OCSF_VERSION,
            "profiles": OCSF_PROFILES,
            "event_code": record["action"],
            "log_provider": "maestro-audit-logger",
            "product": {"name": record.get("service") or "unknown", "vendor_name": "Maestro"},
        },
        "actor": {"user": user},
    }
    unmapped: dict[str, Any] = {
        "v": record.get("v", 1),
        "category": record.get("category"),
        "severity": record.get("severity"),
    }
    if auth:
        # Authentication: `user` (who authenticated) is required, and `service` or
        # `dst_endpoint`; `api` belongs to the cloud profile, so the action is the event code.
        out["user"] = dict(user)
        out["service"] = {"name": record.get("service") or "unknown"}
        if "request_id" in record:
            unmapped["request_id"] = record["request_id"]
    else:
        out["api"] = {"operation": record["action"]}
        if "request_id" in record:
            out["api"]["request"] = {"uid": record["request_id"]}
    if "reason" in record:
        out["status_detail"] = record["reason"]
    if "correlation_id" in record:
        out["metadata"]["correlation_uid"] = record["correlation_id"]
    if "tenant" in record:
        out["metadata"]["tenant_uid"] = record["tenant"]
    src = record.get("source") or {}
    endpoint = {k: src[k] for k in ("ip", "port") if k in src}
    if endpoint:
        out["src_endpoint"] = endpoint
    elif not auth:  # API Activity requires a source endpoint: say it is not known
        out["src_endpoint"] = {"name": "unknown"}
        unmapped["src_endpoint_unknown"] = True
    if "user_agent" in src:
        out["http_request"] = {"user_agent": src["user_agent"]}
    if record.get("targets"):
        if auth:
            unmapped["targets"] = record["targets"]
        else:
            out["resources"] = [
                {k2: t[k1] for k1, k2 in (("type", "type"), ("id", "uid"), ("name", "name")) if k1 in t}
                for t in record["targets"]
            ]
    if "on_behalf_of" in actor:
        unmapped["actor_on_behalf_of"] = actor["on_behalf_of"]
    for key in ("changes", "extra", "trace_id", "span_id", "hash", *_INTEGRITY):
        if key in record:
            unmapped[key] = record[key]
    if "service" not in record:
        unmapped["no_service"] = True
    out["unmapped"] = unmapped
    return out


def from_ocsf(event: dict[str, Any]) -> dict[str, Any]:
    """The record `to_ocsf` was made from."""
    un = dict(event.get("unmapped") or {})
    user = (event.get("actor") or {}).get("user") or {}
    actor = {k1: user[k2] for k1, k2 in (("id", "uid"), ("name", "name"), ("type", "type")) if k2 in user}
    if "actor_on_behalf_of" in un:
        actor["on_behalf_of"] = un.pop("actor_on_behalf_of")
    meta = event.get("metadata") or {}
    api = event.get("api") or {}
    rec: dict[str, Any] = {
        "v": un.pop("v", 1),
        "event_id": meta["uid"],
        "time": event["time_dt"],
        "action": api["operation"] if "operation" in api else meta["event_code"],
        "category": un.pop("category"),
        "severity": un.pop("severity"),
        "outcome": {1: "success", 2: "failure"}.get(event.get("status_id", 0), "unknown"),
        "actor": actor,
    }
    if not un.pop("no_service", False):
        rec["service"] = meta["product"]["name"]
    if "status_detail" in event:
        rec["reason"] = event["status_detail"]
    if "correlation_uid" in meta:
        rec["correlation_id"] = meta["correlation_uid"]
    if "tenant_uid" in meta:
        rec["tenant"] = meta["tenant_uid"]
    if "request" in api:
        rec["request_id"] = api["request"]["uid"]
    src = {} if un.pop("src_endpoint_unknown", False) else dict(event.get("src_endpoint") or {})
    if "user_agent" in (event.get("http_request") or {}):
        src["user_agent"] = event["http_request"]["user_agent"]
    if src:
        rec["source"] = src
    if "resources" in event:
        rec["targets"] = [
            {k1: r[k2] for k1, k2 in (("type", "type"), ("id", "uid"), ("name", "name")) if k2 in r}
            for r in event["resources"]
        ]
    rec.update(un)
    return rec


def to_ecs(record: dict[str, Any]) -> dict[str, Any]:
    """One record as an Elastic Common Schema document (custom fields under ``maestro``)."""
    actor = record.get("actor") or {}
    category, types = _ecs_category(record)
    event: dict[str, Any] = {
        "id": record["event_id"],
        "action": record["action"],
        "kind": "event",
        "category": category,
        "type": types,
        "outcome": record.get("outcome", "unknown"),
        "severity": _SEVERITY_ID.get(record.get("severity", "info"), 0),
        "dataset": "maestro.audit",
    }
    if "reason" in record:
        event["reason"] = record["reason"]
    if "hash" in record:
        event["hash"] = record["hash"]
    doc: dict[str, Any] = {
        "@timestamp": record["time"],
        "ecs": {"version": "8.11.0"},
        "event": event,
        "log": {"level": record.get("severity", "info")},
        "user": {k: actor[k] for k in ("id", "name") if k in actor},
    }
    maestro: dict[str, Any] = {
        "v": record.get("v", 1),
        "category": record.get("category"),
        "actor_type": actor.get("type"),
    }
    if "on_behalf_of" in actor:
        obo = actor["on_behalf_of"]
        doc["user"]["effective"] = {k: obo[k] for k in ("id", "name") if k in obo}
        maestro["on_behalf_of"] = obo
    src = record.get("source") or {}
    if "ip" in src or "port" in src:
        doc["source"] = {k: src[k] for k in ("ip", "port") if k in src}
    if "user_agent" in src:
        doc["user_agent"] = {"original": src["user_agent"]}
    if "request_id" in record:
        doc["http"] = {"request": {"id": record["request_id"]}}
    if "trace_id" in record:
        doc["trace"] = {"id": record["trace_id"]}
    if "span_id" in record:
        doc["span"] = {"id": record["span_id"]}
    if "service" in record:
        doc["service"] = {"name": record["service"]}
    if "tenant" in record:
        doc["organization"] = {"id": record["tenant"]}
    targets = record.get("targets") or []
    if targets:
        maestro["targets"] = targets
        users = [t for t in targets if t.get("type") == "user"]
        if users:
            doc["user"]["target"] = {k: users[0][k] for k in ("id", "name") if k in users[0]}
    else:
        users = []
    on_behalf_of = (actor.get("on_behalf_of") or {}).get("id", "")
    doc["related"] = {"user": sorted({actor.get("id", ""), on_behalf_of, *(t["id"] for t in users)} - {""})}
    for key in ("correlation_id", "changes", "extra", *_INTEGRITY):
        if key in record:
            maestro[key] = record[key]
    doc["maestro"] = maestro
    return doc


def _ecs_category(record: dict[str, Any]) -> tuple[list[str], list[str]]:
    """ECS 8.11 ``event.category`` and ``event.type`` of a record: ``authentication`` (login
    ``start``, logout ``end``, anything else, such as an MFA challenge, ``info``), ``iam`` when
    the action's subject or a target is an identity object (users, groups, roles, permissions),
    else ``api``; the type from the action's verb."""
    noun, _, verb = record["action"].rpartition(".")
    if is_authentication(record):
        activity = _AUTH_ACTIVITY.get(verb, (99, ""))[0]
        return ["authentication"], ["start" if activity == 1 else "end" if activity == 2 else "info"]
    kind = _ECS_TYPE.get(_API_ACTIVITY.get(verb, (99, ""))[0], "info")
    subjects = [noun.rsplit(".", 1)[-1], *(t.get("type", "") for t in record.get("targets") or ())]
    iam = next((_IAM_SUBJECTS[s] for s in subjects if s in _IAM_SUBJECTS), None)
    if iam is not None:  # iam allows no `access` type: a read is `info`
        return ["iam"], ["info" if kind == "access" else kind, iam]
    return ["api"], [kind]


def from_ecs(doc: dict[str, Any]) -> dict[str, Any]:
    """The record `to_ecs` was made from."""
    m = dict(doc.get("maestro") or {})
    ev = doc["event"]
    user = doc.get("user") or {}
    actor: dict[str, Any] = {k: user[k] for k in ("id", "name") if k in user}
    actor["type"] = m.pop("actor_type")
    if "on_behalf_of" in m:
        actor["on_behalf_of"] = m.pop("on_behalf_of")
    rec: dict[str, Any] = {
        "v": m.pop("v", 1),
        "event_id": ev["id"],
        "time": doc["@timestamp"],
        "action": ev["action"],
        "category": m.pop("category"),
        "outcome": ev["outcome"],
        "severity": doc["log"]["level"],
        "actor": actor,
    }
    if "reason" in ev:
        rec["reason"] = ev["reason"]
    if "hash" in ev:
        rec["hash"] = ev["hash"]
    src = dict(doc.get("source") or {})
    if "user_agent" in doc:
        src["user_agent"] = doc["user_agent"]["original"]
    if src:
        rec["source"] = src
    if "http" in doc:
        rec["request_id"] = doc["http"]["request"]["id"]
    if "trace" in doc:
        rec["trace_id"] = doc["trace"]["id"]
    if "span" in doc:
        rec["span_id"] = doc["span"]["id"]
    if "service" in doc:
        rec["service"] = doc["service"]["name"]
    if "organization" in doc:
        rec["tenant"] = doc["organization"]["id"]
    rec.update(m)
    return rec


CSV_COLUMNS = (
    "time",
    "event_id",
    "action",
    "category",
    "outcome",
    "reason",
    "severity",
    "actor_id",
    "actor_type",
    "actor_name",
    "targets",
    "source_ip",
    "source_port",
    "user_agent",
    "service",
    "tenant",
    "request_id",
    "correlation_id",
    "trace_id",
    "span_id",
    "changes",
    "extra",
    "writer",
    "seq",
    "hash",
)


def _csv_row(r: dict[str, Any]) -> list[Any]:
    actor = r.get("actor") or {}
    src = r.get("source") or {}

    def js(v: Any) -> str:
        return "" if v is None else orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()

    return [
        r.get("time"),
        r.get("event_id"),
        r.get("action"),
        r.get("category"),
        r.get("outcome"),
        r.get("reason", ""),
        r.get("severity"),
        actor.get("id"),
        actor.get("type"),
        actor.get("name", ""),
        js(r.get("targets")),
        src.get("ip", ""),
        src.get("port", ""),
        src.get("user_agent", ""),
        r.get("service", ""),
        r.get("tenant", ""),
        r.get("request_id", ""),
        r.get("correlation_id", ""),
        r.get("trace_id", ""),
        r.get("span_id", ""),
        js(r.get("changes")),
        js(r.get("extra")),
        r.get("writer", ""),
        r.get("seq", ""),
        r.get("hash", ""),
    ]


# OWASP's CSV injection rule: a cell starting with one of these is a formula (or becomes one)
# in Excel, LibreOffice and Google Sheets; a leading ' makes it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_lines(records: Iterable[dict[str, Any]], fmt: str) -> Iterator[str]:
    """Render records as ``jsonl``, ``csv`` (with a header), ``ocsf`` or ``ecs`` (both JSON lines).

    CSV rows end with CRLF (RFC 4180, so a CR or LF inside a value is quoted), and a text cell
    starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so
    a spreadsheet shows it instead of running it as a formula (OWASP's CSV injection rule).
    """
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        yield buf.getvalue()
        for r in records:
            buf.seek(0)
            buf.truncate()
            writer.writerow([_cell(v) for v in _csv_row(r)])
            yield buf.getvalue()
        return
    convert = {"jsonl": None, "ocsf": to_ocsf, "ecs": to_ecs}
    if fmt not in convert:
        raise ValueError(f"format must be jsonl, csv, ocsf or ecs, got {fmt!r}")
    fn = convert[fmt]
    for r in records:
        yield orjson.dumps(r if fn is None else fn(r)).decode() + "\n"
