"""OCSF exports validate against the official OCSF 1.3.0 schema (JSON Schemas generated from the
official export, vendored in data/ocsf-1.3.0 with their provenance), and ECS exports use ECS's
categories and types; both round-trip losslessly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from maestro_audit_logger import Actor, AuditLogger, AuditReader, JsonlFileSink, Source, Target
from maestro_audit_logger._export import from_ecs, from_ocsf, to_ecs, to_ocsf
from maestro_audit_logger.cli import main

SCHEMAS = Path(__file__).parent / "data" / "ocsf-1.3.0"
CLASSES = {6003: "api_activity", 3002: "authentication"}


def validator_for(event: dict[str, Any]) -> Draft202012Validator:
    """The official schema of the event's class, with the profiles its metadata declares."""
    profiles = "-".join(sorted(event["metadata"].get("profiles", []))) or "base"
    path = SCHEMAS / f"{CLASSES[event['class_uid']]}.{profiles}.schema.json"
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def nine_events(path: Path) -> list[dict[str, Any]]:
    """Nine events of the shapes a service records (the issue's 9: API and authentication, with
    and without source, targets, service, on-behalf-of, failures, ids and extras)."""
    with AuditLogger(JsonlFileSink(path), service="billing") as audit:
        audit.record("invoice.create", actor=Actor("u-1", name="Ann"), targets=Target("invoice", "42"))
        audit.record("invoice.read", actor=Actor("u-1"), source=Source(ip="10.0.0.7", port=443, user_agent="curl/8"))
        audit.record(
            "invoice.update",
            actor=Actor("svc-billing", type="service", on_behalf_of=Actor("u-2")),
            targets=[Target("invoice", "42", name="Q3"), Target("customer", "c-9")],
            changes={"total": [100, 120]},
            request_id="r-1",
            correlation_id="c-1",
            tenant="acme",
            extra={"note": "x"},
        )
        audit.record(
            "user.delete", actor=Actor("admin-1"), targets=Target("user", "u-5"), outcome="failure", reason="in use"
        )
        audit.record("report.export", actor=Actor("u-3"), source=Source(user_agent="Mozilla/5.0"))
        audit.record("auth.login", actor=Actor("u-1"), category="authentication", source=Source(ip="192.0.2.1"))
        audit.record("auth.logout", actor=Actor("u-1", name="Ann"), category="authentication")
        audit.record(
            "auth.mfa_challenge", actor=Actor("u-4"), category="authentication", outcome="failure", reason="bad code"
        )
        audit.record(
            "auth.login",
            actor=Actor("u-6"),
            category="auth",
            request_id="r-2",
            trace_id="0af7651916cd43dd8448eb211c80319c",
            span_id="b7ad6b7169203331",
        )
    records = list(AuditReader(path).records())
    assert len(records) == 9
    return records


def test_every_ocsf_export_validates_against_the_official_ocsf_1_3_0_schema(tmp_path: Path) -> None:
    records = nine_events(tmp_path / "audit.jsonl")
    failures = []
    for record in records:
        event = to_ocsf(record)
        errors = sorted(validator_for(event).iter_errors(event), key=lambda e: list(e.absolute_path))
        failures += [f"{record['action']}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
        assert from_ocsf(event) == record  # lossless
    assert failures == []
    assert {to_ocsf(r)["class_uid"] for r in records} == {6003, 3002}


def test_the_schema_rejects_what_the_old_exports_did(tmp_path: Path) -> None:
    # The validator is not a rubber stamp: the findings are violations of these files.
    [record] = nine_events(tmp_path / "audit.jsonl")[:1]
    event = to_ocsf(record)
    without_source = {k: v for k, v in event.items() if k != "src_endpoint"}
    assert not validator_for(without_source).is_valid(without_source)  # API Activity needs it
    undeclared = {**event, "metadata": {**event["metadata"], "profiles": []}}
    with pytest.raises(FileNotFoundError):  # no schema generated without the datetime profile...
        validator_for(undeclared)
    base = json.loads((SCHEMAS / "api_activity.datetime.schema.json").read_text(encoding="utf-8"))
    base["properties"].pop("time_dt")  # ...which is what declares time_dt
    assert not Draft202012Validator(base).is_valid(event)


def test_ocsf_export_through_the_cli_is_valid_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    nine_events(path)
    result = CliRunner().invoke(main, ["export", str(path), "--format", "ocsf"])
    assert result.exit_code == 0, result.output
    events = [orjson.loads(line) for line in result.output.splitlines()]
    assert len(events) == 9
    assert all(validator_for(e).is_valid(e) for e in events)


def test_ecs_categories_types_and_related_users(tmp_path: Path) -> None:
    records = {r["action"] + str(i): r for i, r in enumerate(nine_events(tmp_path / "audit.jsonl"))}
    docs = {key: to_ecs(r) for key, r in records.items()}
    for key, doc in docs.items():
        assert from_ecs(doc) == records[key]  # lossless
    assert docs["invoice.create0"]["event"]["category"] == ["api"]
    assert docs["invoice.create0"]["event"]["type"] == ["creation"]
    assert docs["user.delete3"]["event"]["category"] == ["iam"]
    assert docs["user.delete3"]["event"]["type"] == ["deletion", "user"]
    assert docs["auth.login5"]["event"]["category"] == ["authentication"]
    assert docs["auth.login5"]["event"]["type"] == ["start"]
    assert docs["auth.logout6"]["event"]["type"] == ["end"]
    assert docs["auth.mfa_challenge7"]["event"]["type"] == ["info"]  # neither a start nor an end
    # on-behalf-of: both the service account and the user it acted for are related users.
    assert docs["invoice.update2"]["related"]["user"] == ["svc-billing", "u-2"]
    assert docs["invoice.update2"]["user"]["effective"] == {"id": "u-2"}
