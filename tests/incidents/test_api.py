"""Grid incidents through the real app and PostGIS: reporting, the whole flow by the right
roles, scopes, masking, idempotency, supervision of overdue cases, and the audit chain."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.audit.chain import verify
from backend.incidents.supervision import supervise_once
from tests.conftest import bearer, console, next_event

SEAT = (117.88003, 33.47922)


@pytest.fixture(scope="module")
def as_(client: TestClient, engine: sa.Engine) -> dict[str, dict[str, str]]:
    """Bearer headers per role; the handler works for 县环境卫生管理所 (HWS)."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET department = 'HWS' "
                             "WHERE username = 'department_handler'"))
    return {role: bearer(client, role) for role in (
        "grid_worker", "supervisor", "dispatcher", "department_handler", "commander",
        "viewer", "traffic_police")}


@pytest.fixture()
def other_handler(client: TestClient, engine: sa.Engine) -> Iterator[dict[str, str]]:
    from backend.auth.users import create_user

    with engine.begin() as conn:
        create_user(conn, "t-handler-sw", "handler-sw-secret-pw", ["department_handler"])
        conn.execute(sa.text(
            "UPDATE users SET department = 'SWGS' WHERE username = 't-handler-sw'"))
    token = client.post("/api/auth/login", json={"username": "t-handler-sw",
                                                 "password": "handler-sw-secret-pw"})
    yield {"Authorization": f"Bearer {token.json()['token']}"}
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE username = 't-handler-sw'"))


def report(client: TestClient, who: dict[str, str], **extra: object) -> dict:
    body = {"category_code": "E0101", "description": "路边暴露垃圾一堆", "lon": SEAT[0],
            "lat": SEAT[1], "reporter_phone": "13912345678", **extra}
    response = client.post("/api/incidents", json=body, headers=who)
    assert response.status_code in (200, 201), response.text
    return response.json()


def act(client: TestClient, who: dict[str, str], case: dict, action: str, **body: object
        ) -> dict:
    response = client.post(f"/api/incidents/{case['id']}/actions/{action}", json=body,
                           headers=who)
    assert response.status_code == 200, (action, response.text)
    return response.json()


def test_a_case_goes_the_whole_way_by_the_right_hands(
    client: TestClient, as_: dict[str, dict[str, str]]
) -> None:
    with console(client, "incidents.changes") as ws:
        case = report(client, as_["grid_worker"])
        assert case["state"] == "reported" and case["case_no"].startswith("SX")
        assert case["department_code"] == "HWS" and len(case["grid_code"]) == 15
        assert next_event(ws)["data"]["action"] == "report"
        act(client, as_["supervisor"], case, "file")
        dispatched = act(client, as_["dispatcher"], case, "dispatch", note="请尽快处理")
        assert dispatched["clocks"]["stages"]["accept"]["running"]
        assert dispatched["stage_due_at"] is not None
        act(client, as_["department_handler"], case, "accept")
        act(client, as_["department_handler"], case, "start")
        act(client, as_["department_handler"], case, "handle", note="已清运", lon=SEAT[0],
            lat=SEAT[1])
        verifying = act(client, as_["supervisor"], case, "send_to_verify")
        assert verifying["verifier"] == "grid_worker"  # the reporter checks by default
        closed = act(client, as_["grid_worker"], case, "confirm", note="现场已干净")
        seen = [next_event(ws)["data"]["action"] for _ in range(7)]
    assert seen == ["file", "dispatch", "accept", "start", "handle", "send_to_verify", "confirm"]
    assert closed["state"] == "closed" and closed["on_time"] is True
    assert [e["action"] for e in closed["timeline"]] == [
        "report", "file", "dispatch", "accept", "start", "handle", "send_to_verify", "confirm"]
    handled = closed["timeline"][5]
    assert handled["actor"] == "department_handler" and handled["note"] == "已清运"
    # The desk shows people by name, not by login (issue 15 item 6).
    assert handled["actor_name"] == "测试 department_handler"
    assert closed["timeline"][2]["actor_name"] == "测试 dispatcher"
    assert handled["lon"] == SEAT[0]


def test_wrong_role_wrong_state_and_wrong_unit_are_refused(
    client: TestClient, as_: dict[str, dict[str, str]], other_handler: dict[str, str]
) -> None:
    case = report(client, as_["grid_worker"])
    denied = client.post(f"/api/incidents/{case['id']}/actions/file",
                         headers=as_["grid_worker"])
    assert denied.status_code == 403 and "supervisor" in denied.json()["detail"]
    assert denied.json()["actions"] == []  # a grid worker can do nothing to a new report
    early = client.post(f"/api/incidents/{case['id']}/actions/accept",
                        headers=as_["department_handler"])
    assert early.status_code == 409 and "reported" in early.json()["detail"]
    assert early.json()["actions"] == []
    act(client, as_["supervisor"], case, "file")
    act(client, as_["dispatcher"], case, "dispatch")
    stranger = client.post(f"/api/incidents/{case['id']}/actions/accept", headers=other_handler)
    assert stranger.status_code == 403 and "another unit" in stranger.json()["detail"]
    assert client.get(f"/api/incidents/{case['id']}", headers=other_handler).status_code == 403
    listed = client.get("/api/incidents", headers=other_handler).json()
    assert case["id"] not in {c["id"] for c in listed["incidents"]}
    no_note = client.post(f"/api/incidents/{case['id']}/actions/return", json={},
                          headers=as_["department_handler"])
    assert no_note.status_code == 409 and "note" in no_note.json()["detail"]
    unknown = client.post(f"/api/incidents/{case['id']}/actions/teleport",
                          headers=as_["supervisor"])
    assert unknown.status_code == 400 and "dispatch" in unknown.json()["detail"]
    assert client.post("/api/incidents", json={"category_code": "E0101"},
                       headers=as_["traffic_police"]).status_code == 403


def test_return_extension_and_rework_paths(
    client: TestClient, as_: dict[str, dict[str, str]]
) -> None:
    case = report(client, as_["grid_worker"], urgency="urgent")
    act(client, as_["supervisor"], case, "file")
    act(client, as_["dispatcher"], case, "dispatch")
    act(client, as_["department_handler"], case, "return", note="非本单位职责")
    returned = client.get(f"/api/incidents/{case['id']}", headers=as_["supervisor"]).json()
    assert returned["state"] == "returned" and returned["return_count"] == 1
    act(client, as_["dispatcher"], case, "dispatch", department_code="HWS",
        assignee="grid_worker")
    act(client, as_["grid_worker"], case, "accept")
    act(client, as_["grid_worker"], case, "start")
    asked = act(client, as_["grid_worker"], case, "request_extension", note="需要车辆")
    assert asked["extension_pending"] and "grant_extension" not in asked["actions"]
    bad = client.post(f"/api/incidents/{case['id']}/actions/grant_extension",
                      json={"extension_hours": 0}, headers=as_["dispatcher"])
    assert bad.status_code == 400 and "extension_hours" in bad.json()["detail"]
    granted = act(client, as_["dispatcher"], case, "grant_extension", extension_hours=8)
    assert granted["extension_count"] == 1 and not granted["extension_pending"]
    # E0101 暴露垃圾 urgent: the file's urgent handle limit of 4 h, plus the 8 h granted
    assert granted["clocks"]["stages"]["handle"]["limit_h"] == 4 + 8
    act(client, as_["grid_worker"], case, "handle", note="已清理")
    act(client, as_["supervisor"], case, "send_to_verify", verifier="grid_worker")
    reworked = act(client, as_["grid_worker"], case, "rework", note="仍有残留")
    assert reworked["state"] == "in_progress" and reworked["rework_count"] == 1


def test_reports_are_idempotent_validated_and_masked(
    client: TestClient, as_: dict[str, dict[str, str]]
) -> None:
    key = f"draft-{uuid.uuid4()}"
    first = client.post("/api/incidents", headers={**as_["grid_worker"], "Idempotency-Key": key},
                        json={"category_code": "C0105", "description": "路灯不亮",
                              "lon": SEAT[0], "lat": SEAT[1]})
    again = client.post("/api/incidents", headers={**as_["grid_worker"], "Idempotency-Key": key},
                        json={"category_code": "C0105", "description": "路灯不亮",
                              "lon": SEAT[0], "lat": SEAT[1]})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    outside = client.post("/api/incidents", headers=as_["grid_worker"], json={
        "category_code": "C0105", "description": "x", "lon": 116.0, "lat": 33.0})
    assert outside.status_code == 422 and "outside the county" in outside.json()["detail"]
    unknown = client.post("/api/incidents", headers=as_["grid_worker"], json={
        "category_code": "C9999", "description": "x", "lon": SEAT[0], "lat": SEAT[1]})
    assert unknown.status_code == 422 and "E0101" in unknown.json()["valid_codes"]
    assert "valid codes" in unknown.json()["detail"]
    no_photo = client.post("/api/incidents", headers=as_["grid_worker"], json={
        "category_code": "C0105", "description": "x", "lon": SEAT[0], "lat": SEAT[1],
        "photos": ["0" * 64]})
    assert no_photo.status_code == 400 and "/api/photos" in no_photo.json()["detail"]
    blank = client.post("/api/incidents", headers=as_["grid_worker"], json={
        "category_code": "C0105", "description": "   ", "lon": SEAT[0], "lat": SEAT[1]})
    assert blank.status_code == 422

    case = report(client, as_["grid_worker"])
    seen_by = {role: client.get(f"/api/incidents/{case['id']}", headers=as_[role]).json()
               for role in ("supervisor", "viewer", "grid_worker")}
    assert seen_by["supervisor"]["reporter_phone"] == "13912345678"
    assert seen_by["viewer"]["reporter_phone"] == "139****5678"
    assert seen_by["grid_worker"]["reporter_phone"] == "139****5678"


def test_overdue_cases_are_supervised_by_the_server(
    client: TestClient, as_: dict[str, dict[str, str]], engine: sa.Engine, app  # noqa: ANN001
) -> None:
    case = report(client, as_["grid_worker"])
    act(client, as_["supervisor"], case, "file")
    act(client, as_["dispatcher"], case, "dispatch")
    calendar = app.state.resources.calendar
    changes = supervise_once(engine, calendar, datetime.now(UTC) + timedelta(days=10))
    mine = [c for c in changes if c.incident_id == case["id"]]
    assert len(mine) == 1 and mine[0].data["supervised"] and mine[0].data["overdue"]
    detail = client.get(f"/api/incidents/{case['id']}", headers=as_["supervisor"]).json()
    assert detail["supervised"] and detail["timeline"][-1]["actor"] == "system"
    assert "accept" in detail["timeline"][-1]["note"]
    later = supervise_once(engine, calendar, datetime.now(UTC) + timedelta(days=10))
    assert case["id"] not in {c.incident_id for c in later}  # flagged once


def test_the_audit_chain_catches_an_edited_row(
    client: TestClient, as_: dict[str, dict[str, str]], engine: sa.Engine,
    admin_engine: sa.Engine
) -> None:
    report(client, as_["grid_worker"])
    with engine.connect() as conn:
        assert verify(conn).ok
        newest = conn.execute(sa.text("SELECT max(id) FROM audit_log")).scalar_one()
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            conn.execute(sa.text("UPDATE audit_log SET actor = 'x' WHERE id = :i"),
                         {"i": newest})
        conn.rollback()
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            conn.execute(sa.text("DELETE FROM audit_log WHERE id = :i"), {"i": newest})
        conn.rollback()
    with admin_engine.begin() as conn:
        original = conn.execute(sa.text("SELECT data FROM audit_log WHERE id = :i"),
                                {"i": newest}).scalar_one()
        conn.execute(sa.text("UPDATE audit_log SET data = data || '{\"grid\": \"x\"}' "
                             "WHERE id = :i"), {"i": newest})
    try:
        with engine.connect() as conn:
            verdict = verify(conn)
        assert verdict.bad_id == newest and "altered" in (verdict.problem or "")
    finally:
        with admin_engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_log SET data = CAST(:d AS jsonb) WHERE id = :i"),
                         {"d": json.dumps(original), "i": newest})
    with engine.connect() as conn:
        assert verify(conn).ok


def test_traffic_police_read_their_units_cases_and_move_none_on(
    client: TestClient, engine: sa.Engine, as_: dict[str, dict[str, str]]
) -> None:
    """交警 read the cases routed to 交警大队 (JJDD: accidents, signals), nobody else's, and
    may not act on any (they do not dispatch grid cases)."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET department = 'JJDD' "
                             "WHERE username = 'traffic_police'"))
    made: list[int] = []
    try:
        police = bearer(client, "traffic_police")
        accident = report(client, as_["grid_worker"], category_code="E0505")
        other = report(client, as_["grid_worker"])
        made += [accident["id"], other["id"]]
        assert accident["department_code"] == "JJDD" != other["department_code"]
        assert client.get(f"/api/incidents/{accident['id']}", headers=police).status_code == 200
        assert client.get(f"/api/incidents/{other['id']}", headers=police).status_code == 403
        listed = {c["id"] for c in client.get("/api/incidents", headers=police).json()["incidents"]}
        assert accident["id"] in listed and other["id"] not in listed
        moved = client.post(f"/api/incidents/{accident['id']}/actions/accept", headers=police)
        assert moved.status_code == 403
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE users SET department = NULL "
                                 "WHERE username = 'traffic_police'"))
            # An open accident case would become a traffic alert in the traffic tests.
            conn.execute(sa.text("DELETE FROM incidents WHERE id = ANY(:ids)"), {"ids": made})
