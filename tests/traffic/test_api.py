"""The traffic API and hub channels on the session app: rights per role, the shapes of
common.md, acknowledging and closing alerts (409 with the allowed actions, 404, 4xx naming
the field, the audit chain), and the pushes on traffic.segments and traffic.alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.realtime.messages import TRAFFIC, TRAFFIC_ALERTS
from backend.traffic.levels import bucket_floor
from backend.traffic.router import cap
from backend.traffic.service import TrafficService
from tests.conftest import COUNTY_BBOX, bearer, console, next_event
from tests.traffic.support import FIVE, TZ, pilot_segments, speeds

BBOX = ",".join(map(str, COUNTY_BBOX))


@pytest.fixture(scope="module")
def as_(client: TestClient) -> dict[str, dict[str, str]]:
    return {role: bearer(client, role) for role in (
        "traffic_police", "commander", "dispatcher", "grid_worker", "viewer", "admin",
        "data_steward")}


@pytest.fixture(scope="module")
def traffic(client: TestClient) -> TrafficService:
    service = client.app.state.resources.traffic  # type: ignore[attr-defined]
    # The session's app started before tests/county reloaded the county (new road ids); the
    # service reads its segments at start, as a server does after `cityops demo --regenerate`.
    service.refresh_segments()
    return service


def test_who_may_read_traffic(client: TestClient, anonymous: TestClient,
                              as_: dict[str, dict[str, str]]) -> None:
    # viewer: the video wall's read-only account shows the traffic alerts (issue 14)
    for role in ("traffic_police", "commander", "dispatcher", "admin", "viewer"):
        assert client.get("/api/traffic/index", headers=as_[role]).status_code == 200, role
    for role in ("grid_worker", "data_steward"):
        assert client.get("/api/traffic/index", headers=as_[role]).status_code == 403, role
    assert anonymous.get("/api/traffic/index").status_code == 401


def test_segments_carry_their_current_level(client: TestClient, traffic: TrafficService,
                                            engine: sa.Engine,
                                            as_: dict[str, dict[str, str]]) -> None:
    segs = pilot_segments(engine, "SX-JT-02B")
    now = datetime.now(UTC)
    traffic.publish_live(now, speeds(now - FIVE, {segs[0]: 14.0, segs[1]: 45.0}))
    body = client.get(f"/api/traffic/segments?bbox={BBOX}", headers=as_["traffic_police"]).json()
    assert body["window_s"] == 300 and body["time"] == now.isoformat()
    by_key = {s["segment"]: s for s in body["segments"]}
    assert len(by_key) == len(traffic.segments)
    first = by_key[segs[0]]
    assert (first["level"], first["speed_kmh"], first["vehicles"], first["pilot_code"]) == (
        5, 14.0, 4, "SX-JT-02B")
    assert first["road_id"] == segs[0] >> 1 and first["forward"] is False
    assert by_key[segs[1]]["level"] == 1
    assert by_key[segs[2]]["level"] == 0 and by_key[segs[2]]["speed_kmh"] is None
    geo = client.get(f"/api/traffic/segments.geojson?bbox={BBOX}",
                     headers=as_["commander"]).json()
    feature = next(f for f in geo["features"] if f["id"] == segs[0])
    assert feature["geometry"]["type"] == "LineString"
    assert feature["properties"]["level"] == 5


@pytest.mark.parametrize("bbox", ["1,2,3", "118,33,117,34", "a,b,c,d", "117,33,nan,34"])
def test_a_bad_bbox_is_refused_with_a_message(client: TestClient, bbox: str,
                                              as_: dict[str, dict[str, str]]) -> None:
    response = client.get(f"/api/traffic/segments?bbox={bbox}", headers=as_["traffic_police"])
    assert response.status_code == 400 and "bbox" in response.json()["detail"]


def test_index_and_pilot_segments(client: TestClient, traffic: TrafficService,
                                  engine: sa.Engine, as_: dict[str, dict[str, str]]) -> None:
    segs = pilot_segments(engine, "SX-JT-03B")
    now = datetime.now(UTC)
    traffic.publish_live(now, speeds(now - FIVE, {s: 10.0 for s in segs}))
    index = client.get("/api/traffic/index", headers=as_["traffic_police"]).json()
    assert index["seat"]["tpi"] is not None and 0 <= index["seat"]["tpi"] <= 10
    assert all({"code", "name", "tpi", "level"} <= set(t) for t in index["townships"])
    pilot = client.get("/api/traffic/pilot", headers=as_["traffic_police"]).json()
    assert len(pilot) == 16
    entry = next(p for p in pilot if p["code"] == "SX-JT-03B")
    assert entry["segments"] == segs and entry["speed_kmh"] == 10.0 and entry["level"] == 5
    assert entry["direction"] and entry["road_name"]
    assert next(p for p in pilot if p["code"] == "SX-JT-01A")["level"] == 0


def test_a_segments_day_and_the_replay(client: TestClient, traffic: TrafficService,
                                       engine: sa.Engine,
                                       as_: dict[str, dict[str, str]]) -> None:
    seg = pilot_segments(engine, "SX-JT-04B")[0]
    start = bucket_floor(datetime.now(UTC)) - 2 * FIVE
    traffic.close_bucket(start, speeds(start, {seg: 22.0}))
    day = start.astimezone(TZ).date().isoformat()
    body = client.get(f"/api/traffic/segments/{seg}/history?date={day}",
                      headers=as_["traffic_police"]).json()
    assert body["segment"] == seg and len(body["buckets"]) == 288
    hit = next(b for b in body["buckets"] if b["start"] == start.isoformat())
    assert (hit["speed_kmh"], hit["vehicles"], hit["level"]) == (22.0, 4, 3)
    assert hit["typical_kmh"] is not None  # learned from this very bucket
    assert sum(b["speed_kmh"] is not None for b in body["buckets"]) >= 1
    replay = client.get(f"/api/traffic/replay?date={day}", headers=as_["commander"]).json()
    assert len(replay["buckets"]) == 288
    assert next(b for b in replay["buckets"] if b["start"] == start.isoformat()
                )["levels"][str(seg)] == 3
    part = client.get("/api/traffic/replay", headers=as_["commander"], params={
        "date": day, "start": start.isoformat(), "end": (start + FIVE).isoformat()}).json()
    assert [b["start"] for b in part["buckets"]] == [start.isoformat()]


def test_history_refuses_what_it_cannot_answer(client: TestClient,
                                               as_: dict[str, dict[str, str]]) -> None:
    police = as_["traffic_police"]
    assert client.get("/api/traffic/segments/2/history?date=2026-13-40",
                      headers=police).status_code == 422
    assert client.get("/api/traffic/segments/2/history", headers=police).status_code == 422
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    missing = client.get(f"/api/traffic/segments/999999999999/history?date={future}",
                         headers=police)
    assert missing.status_code == 404 and "segment" in missing.json()["detail"]
    assert client.get(f"/api/traffic/segments/2/history?date={future}",
                      headers=police).status_code in (400, 404)
    backwards = client.get("/api/traffic/replay", headers=police, params={
        "date": "2026-03-02", "start": "2026-03-02T10:00:00+08:00",
        "end": "2026-03-02T09:00:00+08:00"})
    assert backwards.status_code == 400 and "end" in backwards.json()["detail"]


def _raise_congestion(traffic: TrafficService, segment: int) -> int:
    start = bucket_floor(datetime.now(UTC)) - 10 * FIVE
    alert_ids = []
    for k in range(2):
        t = start + k * FIVE
        alert_ids += [a.id for a in traffic.close_bucket(t, speeds(t, {segment: 8.0}))]
    return alert_ids[0]


def test_police_acknowledge_and_close_alerts(client: TestClient, traffic: TrafficService,
                                             engine: sa.Engine,
                                             as_: dict[str, dict[str, str]]) -> None:
    seg = pilot_segments(engine, "SX-JT-05B")[2]
    alert_id = _raise_congestion(traffic, seg)
    police = as_["traffic_police"]
    listed = client.get("/api/traffic/alerts", headers=as_["dispatcher"]).json()["alerts"]
    mine = next(a for a in listed if a["id"] == alert_id)
    assert (mine["kind"], mine["status"], mine["segment"], mine["pilot_code"]) == (
        "congestion", "active", seg, "SX-JT-05B")
    assert "严重拥堵" in mine["headline_zh"] and "congestion" in mine["headline_en"]
    # Readers who may not handle alerts: 403.
    for role in ("dispatcher", "commander", "grid_worker"):
        assert client.post(f"/api/traffic/alerts/{alert_id}/acknowledge",
                           headers=as_[role]).status_code == 403, role
    with console(client, TRAFFIC_ALERTS) as ws:
        ack = client.post(f"/api/traffic/alerts/{alert_id}/acknowledge", headers=police,
                          json={"note": "已派警力疏导"})
        assert ack.status_code == 200, ack.text
        assert (ack.json()["status"], ack.json()["acknowledged_by"]) == (
            "acknowledged", "traffic_police")
        event = next_event(ws)
        assert (event["data"]["action"], event["data"]["id"]) == ("acknowledged", alert_id)
    again = client.post(f"/api/traffic/alerts/{alert_id}/acknowledge", headers=police)
    assert again.status_code == 409 and again.json()["actions"] == ["close"]
    closed = client.post(f"/api/traffic/alerts/{alert_id}/close", headers=police, json={})
    assert closed.status_code == 200 and closed.json()["closed_by"] == "traffic_police"
    late = client.post(f"/api/traffic/alerts/{alert_id}/close", headers=police)
    assert late.status_code == 409 and late.json()["actions"] == []
    assert "closed" in late.json()["detail"]
    with engine.connect() as conn:
        audited = conn.execute(sa.text(
            "SELECT action, actor FROM audit_log WHERE entity = 'traffic_alert' "
            "AND entity_id = :id ORDER BY id"), {"id": str(alert_id)}).all()
    assert [tuple(r) for r in audited] == [("traffic_alert.acknowledge", "traffic_police"),
                                           ("traffic_alert.close", "traffic_police")]
    everything = client.get("/api/traffic/alerts?status=all", headers=police).json()["alerts"]
    assert any(a["id"] == alert_id and a["status"] == "closed" for a in everything)
    still_open = client.get("/api/traffic/alerts", headers=police).json()["alerts"]
    assert all(a["id"] != alert_id for a in still_open)


def test_bad_alert_actions_name_what_is_wrong(client: TestClient, traffic: TrafficService,
                                              engine: sa.Engine,
                                              as_: dict[str, dict[str, str]]) -> None:
    police = as_["traffic_police"]
    assert client.post("/api/traffic/alerts/999999999/close",
                       headers=police).status_code == 404
    if cap is not None:  # helper `scenario`'s CAP module is part of the build
        assert client.get("/api/traffic/alerts/999999999.cap",
                          headers=police).status_code == 404
    alert_id = _raise_congestion(traffic, pilot_segments(engine, "SX-JT-06B")[0])
    for body, field in (({"note": 5}, "note"), ({"nota": "x"}, "nota"),
                        ({"note": "x" * 501}, "note")):
        response = client.post(f"/api/traffic/alerts/{alert_id}/close", headers=police,
                               json=body)
        assert response.status_code == 422, body
        assert field in str(response.json()["detail"][0]["loc"]), response.json()
    assert client.get("/api/traffic/alerts?status=closedish",
                      headers=police).status_code == 422
    assert client.post("/api/traffic/alerts/abc/close", headers=police).status_code == 422
    assert client.get(f"/api/traffic/alerts/{alert_id}", headers=police).json()["status"] == \
        "active"


def test_levels_reach_consoles_on_traffic_segments(client: TestClient, traffic: TrafficService,
                                                   engine: sa.Engine) -> None:
    segs = pilot_segments(engine, "SX-JT-07B")
    with console(client, TRAFFIC) as ws:
        now = datetime.now(UTC)
        traffic.publish_live(now, speeds(now - FIVE, {segs[0]: 19.0}))
        data = next_event(ws)["data"]
    assert data["time"] == now.isoformat() and len(data["bbox"]) == 4
    assert {"segment": segs[0], "level": 4, "speed_kmh": 19.0, "vehicles": 4} in data["segments"]
    assert "seat" in data["tpi"]


def test_only_traffic_roles_subscribe_to_traffic_channels(client: TestClient) -> None:
    from tests.conftest import login_token

    for role, allowed in (("traffic_police", True), ("viewer", True), ("data_steward", False)):
        with client.websocket_connect("/ws") as ws:
            ws.send_json({"type": "auth", "token": login_token(client, role)})
            assert ws.receive_json()["type"] == "authenticated"
            for channel in (TRAFFIC, TRAFFIC_ALERTS):
                ws.send_json({"type": "subscribe", "channel": channel})
                reply = ws.receive_json()
                assert reply["type"] == ("subscribed" if allowed else "error"), (role, reply)


def test_an_alert_as_cap_follows_its_life_and_the_feed_lists_it(
        client: TestClient, traffic: TrafficService, engine: sa.Engine,
        as_: dict[str, dict[str, str]]) -> None:
    from pathlib import Path

    from lxml import etree

    xsd = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "data/cap/CAP-v1.2.xsd")))
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    police = as_["traffic_police"]
    alert_id = _raise_congestion(traffic, pilot_segments(engine, "SX-JT-08A")[3])

    def cap_doc() -> etree._Element:
        response = client.get(f"/api/traffic/alerts/{alert_id}.cap", headers=police)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/cap+xml")
        doc = etree.fromstring(response.content)
        xsd.assertValid(doc)
        return doc

    first = cap_doc()
    assert first.findtext("cap:msgType", namespaces=ns) == "Alert"
    ring = first.findtext(".//cap:polygon", namespaces=ns).split()
    lat, lon = (float(v) for v in ring[0].split(","))
    assert 33 < lat < 34 and 117 < lon < 119 and ring[0] == ring[-1]  # lat,lon; closed
    feed = client.get("/api/traffic/alerts.atom", headers=as_["commander"])
    assert feed.status_code == 200
    atom = etree.fromstring(feed.content)
    links = atom.xpath("//a:entry/a:link/@href", namespaces={"a": "http://www.w3.org/2005/Atom"})
    assert any(h.endswith(f"/api/traffic/alerts/{alert_id}.cap") for h in links)
    client.post(f"/api/traffic/alerts/{alert_id}/acknowledge", headers=police)
    update = cap_doc()
    assert update.findtext("cap:msgType", namespaces=ns) == "Update"
    assert update.findtext("cap:references", namespaces=ns)
    client.post(f"/api/traffic/alerts/{alert_id}/close", headers=police)
    assert cap_doc().findtext("cap:msgType", namespaces=ns) == "Cancel"
    assert client.get(f"/api/traffic/alerts/{alert_id}.cap",
                      headers=as_["grid_worker"]).status_code == 403
