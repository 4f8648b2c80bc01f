"""Requests through the API on the session's PostGIS: each share type's flow, refusals with
reasons, the 422s, permissions per role, the clocks across a weekend, the overdue sweep and its
escalation, and every step in the audit chain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.auth.permissions import principal_for
from backend.sharing import service
from tests.sharing.conftest import add_dataset, add_version

H = Callable[[str], dict[str, str]]
TZ = ZoneInfo("Asia/Shanghai")


def _request(anonymous: TestClient, headers: H, dataset_id: str, role: str = "viewer",
             **body: object) -> dict:
    r = anonymous.post(f"/api/datasets/{dataset_id}/requests", headers=headers(role),
                       json={"purpose": "网格巡查需要核对设施位置", **body})
    assert r.status_code == 201, r.text
    return r.json()


def _steps(item: dict) -> list[str]:
    return [s["action"] for s in item["steps"]]


def test_unconditional_the_bureau_passes_and_the_platform_grants(
        engine: sa.Engine, anonymous: TestClient, headers: H) -> None:
    ds = add_dataset(engine, "GVA", share_type="unconditional")
    made = _request(anonymous, headers, ds, fields=["name"], period_days=30)
    assert made["status"] == "bureau_review" and made["grant"] is None
    assert made["provider_department"] == "GVA" and made["fields"] == ["name"]
    assert made["bureau_due_at"] > made["created_at"] and made["overdue"] is False
    queue = anonymous.get("/api/requests?box=review", headers=headers("data_bureau")).json()
    assert made["id"] in [q["id"] for q in queue]
    done = anonymous.post(f"/api/requests/{made['id']}/review", headers=headers("data_bureau"),
                          json={"decision": "pass"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "approved" and body["decided_by"] == "data_bureau"
    assert _steps(body) == ["created", "bureau_passed", "granted"]
    assert body["grant"]["valid_until"] > body["grant"]["valid_from"]
    with engine.connect() as conn:
        actions = conn.execute(sa.text(
            "SELECT array_agg(action ORDER BY id) FROM audit_log WHERE entity = 'data_request' "
            "AND entity_id = :id"), {"id": str(made["id"])}).scalar_one()
        grant = conn.execute(sa.text("SELECT grantee, fields, valid_until - valid_from FROM "
                                     "data_grants WHERE request_id = :id"),
                             {"id": made["id"]}).one()
    assert actions == ["data_request.created", "data_request.bureau_passed",
                       "data_request.granted"]
    assert (grant.grantee, grant.fields, grant[2].days) == ("viewer", ["name"], 30)
    mine = anonymous.get("/api/requests", headers=headers("viewer")).json()
    assert made["id"] in [m["id"] for m in mine]


def test_conditional_goes_to_the_provider_who_must_give_a_reason_to_refuse(
        engine: sa.Engine, anonymous: TestClient, headers: H) -> None:
    ds = add_dataset(engine, "CGJ", share_type="conditional")
    made = _request(anonymous, headers, ds, role="dispatcher")
    passed = anonymous.post(f"/api/requests/{made['id']}/review",
                            headers=headers("data_bureau"), json={"decision": "pass"}).json()
    assert passed["status"] == "provider_review" and passed["provider_due_at"] is not None
    box = anonymous.get("/api/requests?box=answer", headers=headers("data_steward")).json()
    assert made["id"] in [b["id"] for b in box]
    # the bureau cannot answer for the provider; the provider must give a reason to refuse
    assert anonymous.post(f"/api/requests/{made['id']}/answer", headers=headers("data_bureau"),
                          json={"decision": "approve"}).status_code == 403
    blank = anonymous.post(f"/api/requests/{made['id']}/answer",
                           headers=headers("data_steward"),
                           json={"decision": "refuse", "reason": "   "})
    assert blank.status_code == 422 and "reason" in blank.json()["detail"]
    refused = anonymous.post(f"/api/requests/{made['id']}/answer",
                             headers=headers("data_steward"),
                             json={"decision": "refuse", "reason": "涉及在办案件，暂不提供"})
    assert refused.status_code == 200
    assert refused.json()["status"] == "refused"
    assert refused.json()["reason"] == "涉及在办案件，暂不提供"
    assert refused.json()["grant"] is None
    again = anonymous.post(f"/api/requests/{made['id']}/answer", headers=headers("data_steward"),
                           json={"decision": "approve"})
    assert again.status_code == 409


def test_conditional_approved_by_the_provider(engine: sa.Engine, anonymous: TestClient,
                                              headers: H) -> None:
    ds = add_dataset(engine, "CGJ", share_type="conditional")
    made = _request(anonymous, headers, ds)
    anonymous.post(f"/api/requests/{made['id']}/review", headers=headers("data_bureau"),
                   json={"decision": "pass", "reason": "用途合理"})
    ok = anonymous.post(f"/api/requests/{made['id']}/answer", headers=headers("data_steward"),
                        json={"decision": "approve"}).json()
    assert ok["status"] == "approved" and ok["grant"] is not None
    assert _steps(ok) == ["created", "bureau_passed", "approved", "granted"]


def test_a_steward_of_another_department_may_not_answer(engine: sa.Engine,
                                                        anonymous: TestClient,
                                                        headers: H) -> None:
    ds = add_dataset(engine, "GVB", share_type="conditional")
    made = _request(anonymous, headers, ds)
    anonymous.post(f"/api/requests/{made['id']}/review", headers=headers("data_bureau"),
                   json={"decision": "pass"})
    r = anonymous.post(f"/api/requests/{made['id']}/answer", headers=headers("data_steward"),
                       json={"decision": "approve"})
    assert r.status_code == 403 and "GVB" in r.json()["detail"]
    # ... nor read it (not the requester, not the provider, not the bureau)
    assert anonymous.get(f"/api/requests/{made['id']}",
                         headers=headers("data_steward")).status_code == 403
    assert anonymous.get(f"/api/requests/{made['id']}",
                         headers=headers("data_bureau")).status_code == 200
    # the review and answer boxes belong to their roles
    assert anonymous.get("/api/requests?box=review",
                         headers=headers("viewer")).status_code == 403
    assert anonymous.get("/api/requests?box=answer",
                         headers=headers("viewer")).status_code == 403
    assert anonymous.post(f"/api/requests/{made['id']}/review", headers=headers("viewer"),
                          json={"decision": "pass"}).status_code == 403


def test_not_shared_is_refused_citing_the_rule_unless_the_bureau_escalates(
        engine: sa.Engine, anonymous: TestClient, headers: H) -> None:
    ds = add_dataset(engine, "CGJ", share_type="none",
                     share_condition="含个人隐私信息，依《个人信息保护法》不予共享")
    made = _request(anonymous, headers, ds)
    assert made["status"] == "refused" and made["decided_by"] == "system"
    assert "个人信息保护法" in made["reason"]
    assert _steps(made) == ["created", "refused"]
    no_reason = anonymous.post(f"/api/requests/{made['id']}/escalate",
                               headers=headers("data_bureau"), json={})
    assert no_reason.status_code == 422
    up = anonymous.post(f"/api/requests/{made['id']}/escalate", headers=headers("data_bureau"),
                        json={"reason": "防汛应急，县政府同意"})
    assert up.status_code == 200, up.text
    assert up.json()["status"] == "provider_review" and up.json()["escalated_at"]
    ok = anonymous.post(f"/api/requests/{made['id']}/answer", headers=headers("data_steward"),
                        json={"decision": "approve"}).json()
    assert ok["status"] == "approved"


def test_the_bureau_refuses_with_a_reason_and_the_requester_withdraws(
        engine: sa.Engine, anonymous: TestClient, headers: H) -> None:
    ds = add_dataset(engine, "GVA", share_type="conditional")
    first = _request(anonymous, headers, ds)
    assert anonymous.post(f"/api/requests/{first['id']}/review", headers=headers("data_bureau"),
                          json={"decision": "refuse"}).status_code == 422
    refused = anonymous.post(f"/api/requests/{first['id']}/review",
                             headers=headers("data_bureau"),
                             json={"decision": "refuse", "reason": "用途与职责无关"}).json()
    assert refused["status"] == "refused" and refused["reason"] == "用途与职责无关"
    second = _request(anonymous, headers, ds)
    assert anonymous.post(f"/api/requests/{second['id']}/withdraw",
                          headers=headers("dispatcher")).status_code == 403
    gone = anonymous.post(f"/api/requests/{second['id']}/withdraw", headers=headers("viewer"))
    assert gone.status_code == 200 and gone.json()["status"] == "withdrawn"
    assert anonymous.post(f"/api/requests/{second['id']}/withdraw",
                          headers=headers("viewer")).status_code == 409


def test_a_request_needs_a_purpose_and_fields_of_the_dataset(
        engine: sa.Engine, anonymous: TestClient, headers: H) -> None:
    ds = add_dataset(engine, "GVA", fields=[("name", "string", None),
                                           ("addr", "string", None)])
    url = f"/api/datasets/{ds}/requests"
    for body in ({}, {"purpose": ""}, {"purpose": " \n "}):
        r = anonymous.post(url, headers=headers("viewer"), json=body)
        assert r.status_code == 422 and "purpose" in str(r.json()["detail"])
    r = anonymous.post(url, headers=headers("viewer"),
                       json={"purpose": "核查", "fields": ["name", "salary", "idno"]})
    assert r.status_code == 422
    assert r.json()["unknown"] == ["salary", "idno"] and "salary, idno" in r.json()["detail"]
    assert anonymous.post(url, headers=headers("viewer"),
                          json={"purpose": "核查", "period_days": 0}).status_code == 422
    assert anonymous.post("/api/datasets/no_such_dataset/requests", headers=headers("viewer"),
                          json={"purpose": "核查"}).status_code == 404
    assert anonymous.post(url, json={"purpose": "核查"},
                          headers={"Authorization": ""}).status_code == 401


def test_the_clock_crosses_a_weekend(engine: sa.Engine, app: object,
                                     departments: dict[str, str]) -> None:
    ds = add_dataset(engine, "GVA", share_type="conditional")
    calendar = app.state.resources.calendar  # type: ignore[attr-defined]
    viewer = principal_for(None, "viewer", "viewer", ["viewer"])
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=TZ)
    with engine.begin() as conn:
        made = service.create_request(conn, dataset_id=ds, principal=viewer, purpose="周五下午",
                                      fields=[], period_days=30, calendar=calendar, now=friday)
        bureau = principal_for(None, "data_bureau", "bureau", ["data_bureau"])
        monday = datetime(2026, 12, 7, 9, 0, tzinfo=TZ)
        passed = service.act(conn, request_id=made["id"], action="review_pass", reason=None,
                             principal=bureau, calendar=calendar, now=monday)
    assert made["bureau_due_at"] == datetime(2026, 12, 8, 15, 0, tzinfo=TZ)  # Tuesday
    # Monday 09:00 + 10 working days (the data is not on the platform yet): two weeks on
    assert passed["provider_due_at"] == datetime(2026, 12, 21, 9, 0, tzinfo=TZ)
    add_version(engine, ds, [{"k": "a", "name": "一"}])
    with engine.begin() as conn:
        again = service.create_request(conn, dataset_id=ds, principal=viewer, purpose="再次",
                                       fields=[], period_days=30, calendar=calendar, now=friday)
        passed = service.act(conn, request_id=again["id"], action="review_pass", reason=None,
                             principal=bureau, calendar=calendar, now=monday)
    # on the platform: Monday 09:00 + 5 working days, the next Monday 09:00
    assert passed["provider_due_at"] == datetime(2026, 12, 14, 9, 0, tzinfo=TZ)


def test_overdue_requests_are_flagged_once_and_the_provider_step_escalates(
        engine: sa.Engine, anonymous: TestClient, headers: H) -> None:
    ds = add_dataset(engine, "CGJ", share_type="conditional")
    late = _request(anonymous, headers, ds)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE data_requests SET bureau_due_at = now() - interval '1 hour'"
                             " WHERE id = :id"), {"id": late["id"]})
    assert anonymous.get(f"/api/requests/{late['id']}",
                         headers=headers("viewer")).json()["overdue"] is True
    first = service.sweep(engine)
    assert {"request_id": late["id"], "steps": ["overdue"]} in first
    assert all(c["request_id"] != late["id"] for c in service.sweep(engine))  # once
    overview = anonymous.get("/api/governance/overview", headers=headers("data_bureau")).json()
    assert late["id"] in [r["id"] for r in overview["overdue_requests"]]
    # the bureau passes it late; then the provider is late too: escalated to the bureau
    anonymous.post(f"/api/requests/{late['id']}/review", headers=headers("data_bureau"),
                   json={"decision": "pass"})
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE data_requests SET provider_due_at = now() - interval "
                             "'1 minute' WHERE id = :id"), {"id": late["id"]})
    assert {"request_id": late["id"], "steps": ["overdue", "escalated"]} in service.sweep(engine)
    assert all(c["request_id"] != late["id"] for c in service.sweep(engine))
    now = anonymous.get(f"/api/requests/{late['id']}", headers=headers("viewer")).json()
    assert now["escalated_at"] is not None and now["overdue"] is True
    assert _steps(now) == ["created", "overdue", "bureau_passed", "overdue", "escalated"]
    queue = anonymous.get("/api/requests?box=review", headers=headers("data_bureau")).json()
    assert late["id"] in [q["id"] for q in queue]  # escalated: back on the bureau's desk
    with engine.connect() as conn:
        audited = conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE entity = 'data_request' AND entity_id = :id "
            "AND action IN ('data_request.overdue', 'data_request.escalated')"),
            {"id": str(late["id"])}).scalar_one()
    assert audited == 3


def test_refused_bodies_are_counted_and_own_data_needs_no_request(
        engine: sa.Engine, app: object, anonymous: TestClient, headers: H) -> None:
    edge = app.state.edge  # type: ignore[attr-defined]
    before = edge.rejected[("invalid_input", "data_request")]
    ds = add_dataset(engine, "CGJ")
    assert anonymous.post(f"/api/datasets/{ds}/requests", headers=headers("viewer"),
                          json={"purpose": " "}).status_code == 422
    assert edge.rejected[("invalid_input", "data_request")] == before + 1
    own = anonymous.post(f"/api/datasets/{ds}/requests", headers=headers("data_steward"),
                         json={"purpose": "自查"})
    assert own.status_code == 409 and f"/api/datasets/{ds}/rows" in own.json()["detail"]
