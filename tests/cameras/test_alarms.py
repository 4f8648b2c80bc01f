"""Camera alarms over HTTP: the analytics webhook (machine credential, idempotent by key,
hostile bodies refused and counted), acknowledging, closing and making a case of an alarm
(source video, at the camera's place), each pushed on `cameras.alarms` and audited."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.cameras.alarms import KINDS
from backend.realtime.messages import CAMERA_ALARMS, INCIDENTS
from tests.cameras.conftest import VIDEO_ALARM_TOKEN
from tests.conftest import bearer, console, next_event

MACHINE = {"Authorization": f"Bearer {VIDEO_ALARM_TOKEN}"}


@pytest.fixture(scope="module")
def camera(engine: Engine, video_cameras: list[dict]) -> dict:
    """A camera inside the county's grid (a case needs a grid cell)."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT c.code, c.name, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat FROM cameras c "
            "WHERE EXISTS (SELECT 1 FROM grid_cells g WHERE ST_Intersects(g.geom, c.geom)) "
            "ORDER BY c.code LIMIT 1")).mappings().one()
    return dict(row)


@pytest.fixture(scope="module")
def category(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT code FROM case_categories WHERE active ORDER BY code LIMIT 1")).scalar_one()


def alarm_body(cam: dict, **extra: object) -> dict:
    return {"camera": cam["code"], "time": "2026-12-05T21:30:00+08:00", "kind": "intrusion",
            "priority": 2, "description": "北侧围栏有人翻越", "key": uuid.uuid4().hex, **extra}


def post(client: TestClient, body: object, headers: dict | None = None) -> object:
    return client.post("/api/cameras/alarms", json=body,
                       headers=MACHINE if headers is None else headers)


def counts(client: TestClient) -> dict:
    return dict(getattr(client.app.state, "camera_alarm_counts", {}))


def audit_rows(engine: Engine, alarm_id: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT action, actor FROM audit_log WHERE entity = 'camera_alarm' "
            "AND entity_id = :id ORDER BY id"), {"id": str(alarm_id)})]


def test_the_webhook_needs_the_machine_token(video_client: TestClient, camera: dict) -> None:
    body = alarm_body(camera)
    assert post(video_client, body, {"Authorization": ""}).status_code == 401
    assert post(video_client, body, {"Authorization": "Bearer wrong"}).status_code == 401
    # a user's session is not the analytics system's credential, not even the admin's
    assert post(video_client, body, bearer(video_client, "admin")).status_code == 401


def test_a_key_sent_twice_is_one_alarm(video_client: TestClient, camera: dict,
                                       engine: Engine) -> None:
    before = counts(video_client)
    body = alarm_body(camera)
    with console(video_client, CAMERA_ALARMS) as ws:
        first = post(video_client, body)
        assert first.status_code == 201, first.text
        event = next_event(ws)
    alarm = first.json()
    assert (alarm["camera"], alarm["kind"], alarm["source"], alarm["state"]) == (
        camera["code"], "intrusion", "webhook", "open")
    assert (alarm["lon"], alarm["lat"]) == pytest.approx((camera["lon"], camera["lat"]))
    assert alarm["camera_name"] == camera["name"]
    assert event["channel"] == CAMERA_ALARMS
    assert event["data"]["action"] == "raised"
    assert event["data"]["alarm"]["id"] == alarm["id"]
    assert event["data"]["lon"] == pytest.approx(camera["lon"])

    again = post(video_client, body)
    assert again.status_code == 200
    assert again.json()["id"] == alarm["id"]
    after = counts(video_client)
    assert after.get("raised", 0) - before.get("raised", 0) == 1
    assert after.get("repeat", 0) - before.get("repeat", 0) == 1
    assert audit_rows(engine, alarm["id"]) == [("camera_alarm.raise", "camera-alarms")]
    # without a key, each post is an alarm of its own
    keyless = alarm_body(camera)
    del keyless["key"]
    ids = {post(video_client, keyless).json()["id"] for _ in range(2)}
    assert len(ids) == 2


@pytest.mark.parametrize(("change", "status", "words"), [
    ({"camera": "34132400001329999999"}, 404, "No camera 34132400001329999999"),
    ({"kind": "ufo"}, 422, "Unknown alarm kind 'ufo'"),
    ({"camera": "3413240000132000000"}, 422, "camera"),
    ({"camera": "3413240000132000000１"}, 422, "camera"),
    ({"time": "2026-12-05T21:30:00"}, 422, "UTC offset"),
    ({"time": "3026-12-05T21:30:00+08:00"}, 422, "between 1970 and 2099"),
    ({"time": "2026-12-05T21:30:00+23:00"}, 422, "time"),
    ({"priority": 0}, 422, "priority"),
    ({"priority": "high"}, 422, "priority"),
    ({"description": "x" * 2001}, 422, "description"),
    ({"key": "k" * 129}, 422, "key"),
    ({"key": ""}, 422, "key"),
    ({"kind": "k" * 33}, 422, "kind"),
    ({"extra": 1}, 422, "extra"),
    ({"description": "a\x00b"}, 422, "description"),
])
def test_hostile_bodies_are_refused_with_a_reason(video_client: TestClient, camera: dict,
                                                  change: dict, status: int,
                                                  words: str) -> None:
    answer = post(video_client, alarm_body(camera, **change))
    assert answer.status_code == status, answer.text
    assert words in answer.text


def test_refusals_are_counted_on_metrics(video_client: TestClient, camera: dict) -> None:
    post(video_client, alarm_body(camera, kind="ufo"))
    post(video_client, alarm_body(camera, camera="34132400001329999998"))
    text = video_client.get("/metrics").text
    assert 'cityops_camera_alarm_webhook_total{outcome="bad_kind"}' in text
    assert 'cityops_camera_alarm_webhook_total{outcome="unknown_camera"}' in text


def test_not_json_or_too_big(video_client: TestClient) -> None:
    raw = video_client.post("/api/cameras/alarms", content=b"{not json",
                            headers={**MACHINE, "Content-Type": "application/json"})
    assert raw.status_code == 422
    huge = video_client.post("/api/cameras/alarms", content=b"[" + b"1," * 2_000_000 + b"1]",
                             headers={**MACHINE, "Content-Type": "application/json"})
    assert huge.status_code == 413
    assert video_client.post("/api/cameras/alarms", json=[], headers=MACHINE).status_code == 422


def test_acknowledge_then_close(video_client: TestClient, camera: dict,
                                engine: Engine) -> None:
    alarm = post(video_client, alarm_body(camera)).json()
    dispatcher = bearer(video_client, "dispatcher")
    with console(video_client, CAMERA_ALARMS) as ws:
        ack = video_client.post(f"/api/cameras/alarms/{alarm['id']}/ack", headers=dispatcher)
        assert ack.status_code == 200, ack.text
        event = next_event(ws)
    assert ack.json()["state"] == "acknowledged"
    assert ack.json()["acknowledged_by"] == "dispatcher"
    assert (event["data"]["action"], event["data"]["alarm"]["state"]) == (
        "acknowledged", "acknowledged")

    twice = video_client.post(f"/api/cameras/alarms/{alarm['id']}/ack", headers=dispatcher)
    assert twice.status_code == 409
    assert "acknowledged" in twice.json()["detail"]

    listed = video_client.get("/api/cameras/alarms", params={"state": "acknowledged"}).json()
    assert alarm["id"] in [a["id"] for a in listed["alarms"]]
    assert alarm["id"] not in [a["id"] for a in video_client.get(
        "/api/cameras/alarms").json()["alarms"]]  # open is the default

    closed = video_client.post(f"/api/cameras/alarms/{alarm['id']}/close", headers=dispatcher)
    assert closed.status_code == 200
    assert closed.json()["state"] == "closed"
    assert video_client.post(f"/api/cameras/alarms/{alarm['id']}/close",
                             headers=dispatcher).status_code == 409
    assert audit_rows(engine, alarm["id"]) == [
        ("camera_alarm.raise", "camera-alarms"), ("camera_alarm.acknowledge", "dispatcher"),
        ("camera_alarm.close", "dispatcher")]
    everything = video_client.get("/api/cameras/alarms", params={"state": "all",
                                                                 "limit": 1000}).json()
    assert alarm["id"] in [a["id"] for a in everything["alarms"]]
    assert video_client.get("/api/cameras/alarms",
                            params={"state": "gone"}).status_code == 422
    assert video_client.post("/api/cameras/alarms/999999999/ack").status_code == 404


def test_traffic_police_read_alarms_but_do_not_handle_them(video_client: TestClient,
                                                           camera: dict) -> None:
    alarm = post(video_client, alarm_body(camera)).json()
    police = bearer(video_client, "traffic_police")
    assert video_client.get("/api/cameras/alarms", headers=police).status_code == 200
    assert video_client.post(f"/api/cameras/alarms/{alarm['id']}/ack",
                             headers=police).status_code == 403
    assert video_client.post(f"/api/cameras/alarms/{alarm['id']}/case", headers=police,
                             json={"category_code": "E0101"}).status_code == 403


def test_an_alarm_becomes_a_case_once(video_client: TestClient, camera: dict, category: str,
                                      engine: Engine) -> None:
    alarm = post(video_client, alarm_body(camera, kind="fire", description=None)).json()
    commander = bearer(video_client, "commander")
    url = f"/api/cameras/alarms/{alarm['id']}/case"
    with console(video_client, CAMERA_ALARMS) as alarms_ws, \
            console(video_client, INCIDENTS) as cases_ws:
        made = video_client.post(url, json={"category_code": category, "urgency": "urgent"},
                                 headers=commander)
        assert made.status_code == 201, made.text
        alarm_event = next_event(alarms_ws)
        case_event = next_event(cases_ws)
    answer = made.json()
    assert answer["created"] is True
    assert answer["alarm"]["state"] == "acknowledged"
    assert answer["alarm"]["incident_id"] == answer["incident_id"]
    assert answer["case_no"] and answer["alarm"]["case_no"] == answer["case_no"]
    assert alarm_event["data"]["action"] == "case"
    assert alarm_event["data"]["alarm"]["incident_id"] == answer["incident_id"]
    assert (case_event["data"]["id"], case_event["data"]["action"]) == (
        answer["incident_id"], "report")

    with engine.connect() as conn:
        case = conn.execute(sa.text(
            "SELECT source, category_code, urgency, lon, lat, description, state, "
            "grid_code FROM incidents WHERE id = :id"),
            {"id": answer["incident_id"]}).mappings().one()
    assert (case["source"], case["category_code"], case["urgency"], case["state"]) == (
        "video", category, "urgent", "reported")
    assert (case["lon"], case["lat"]) == pytest.approx((camera["lon"], camera["lat"]))
    assert KINDS["fire"][0] in case["description"]
    assert camera["name"] in case["description"]
    assert case["grid_code"]

    again = video_client.post(url, json={"category_code": category}, headers=commander)
    assert again.status_code == 200
    assert again.json()["incident_id"] == answer["incident_id"]
    assert again.json()["created"] is False
    with engine.connect() as conn:
        made_cases = conn.execute(sa.text(
            "SELECT count(*) FROM incidents WHERE idempotency_key = :k"),
            {"k": f"camera-alarm:{alarm['id']}"}).scalar_one()
    assert made_cases == 1
    assert audit_rows(engine, alarm["id"])[-1] == ("camera_alarm.case", "commander")
    # the case is a case: the incidents API shows it with its source
    shown = video_client.get(f"/api/incidents/{answer['incident_id']}")
    assert shown.status_code == 200
    assert shown.json()["source"] == "video"


def test_a_case_with_the_operators_words_and_bad_requests(video_client: TestClient,
                                                          camera: dict, category: str) -> None:
    alarm = post(video_client, alarm_body(camera)).json()
    url = f"/api/cameras/alarms/{alarm['id']}/case"
    assert video_client.post(url, json={"category_code": "Z9999"}).status_code == 422
    assert video_client.post(url, json={"category_code": category,
                                        "extra": True}).status_code == 422
    assert video_client.post(url, json={}).status_code == 422
    made = video_client.post(url, json={"category_code": category,
                                        "description": "东门两人斗殴，已派警"})
    assert made.status_code == 201, made.text
    shown = video_client.get(f"/api/incidents/{made.json()['incident_id']}").json()
    assert shown["description"] == "东门两人斗殴，已派警"
    assert video_client.post("/api/cameras/alarms/999999999/case",
                             json={"category_code": category}).status_code == 404

    closed = post(video_client, alarm_body(camera)).json()
    video_client.post(f"/api/cameras/alarms/{closed['id']}/close")
    refused = video_client.post(f"/api/cameras/alarms/{closed['id']}/case",
                                json={"category_code": category})
    assert refused.status_code == 409
    assert "closed" in refused.json()["detail"]


def test_the_kinds_come_from_one_table(video_client: TestClient) -> None:
    kinds = video_client.get("/api/cameras/alarm-kinds").json()["kinds"]
    assert [k["key"] for k in kinds] == list(KINDS)
    assert kinds[0] == {"key": "intrusion", "zh": KINDS["intrusion"][0],
                        "en": KINDS["intrusion"][1]}
