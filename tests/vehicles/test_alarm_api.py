"""Stored vehicle alarms and the dispatcher's API: an SOS from the HTTP feed is stored and
pushed, acknowledged once, cleared by hand once; every change reaches the console."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.ingest.jt808.alarm_bits import encode_alarms
from tests.conftest import TEST_INGEST_TOKEN, console, next_event

INGEST = {"Authorization": f"Bearer {TEST_INGEST_TOKEN}"}
VID = "alarmapi-1"


@pytest.fixture()
def cleanup(engine: sa.Engine) -> Iterator[None]:
    yield
    with engine.begin() as conn:
        for table in ("vehicle_positions", "vehicle_latest", "vehicle_alarms"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE 'alarmapi-%'"))


def post_fix(client: TestClient, t: datetime, flags: int) -> None:
    body = {"positions": [{"vehicle_id": VID, "time": t.isoformat(), "lon": 117.88,
                           "lat": 33.48, "speed_kmh": 20, "alarm_flags": flags}]}
    assert client.post("/api/ingest/positions", json=body, headers=INGEST).status_code == 200


def test_sos_is_stored_acknowledged_and_cleared_once(
    client: TestClient, engine: sa.Engine, cleanup: None
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    with console(client, "vehicles.alarms") as ws:
        post_fix(client, t0, encode_alarms(["sos"]))
        raised = next_event(ws)["data"]
        assert (raised["action"], raised["kind"], raised["status"]) == ("raised", "sos", "active")
        alarm_id = raised["id"]

        active = client.get("/api/alarms", params={"status": "active",
                                                   "vehicle_id": VID}).json()["alarms"]
        assert [a["id"] for a in active] == [alarm_id]
        assert active[0]["severity"] == "critical" and active[0]["acknowledged_at"] is None

        ack = client.post(f"/api/alarms/{alarm_id}/ack", json={"note": "已电话联系司机"})
        assert ack.status_code == 200
        assert ack.json()["acknowledged_by"] and ack.json()["note"] == "已电话联系司机"
        pushed = next_event(ws)["data"]
        assert (pushed["action"], pushed["id"]) == ("acknowledged", alarm_id)
        again = client.post(f"/api/alarms/{alarm_id}/ack")
        assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]

        cleared = client.post(f"/api/alarms/{alarm_id}/clear", json={"note": "误报"})
        assert cleared.status_code == 200 and cleared.json()["status"] == "cleared"
        assert next_event(ws)["data"]["action"] == "cleared"
        assert client.post(f"/api/alarms/{alarm_id}/clear").status_code == 409

        # The terminal still reports SOS: the rule's alarm stays closed (the dispatcher closed
        # it); when the bit drops, the rule's "cleared" finds nothing open and pushes nothing.
        post_fix(client, t0 + timedelta(seconds=10), encode_alarms(["sos"]))
        post_fix(client, t0 + timedelta(seconds=20), 0)
        post_fix(client, t0 + timedelta(seconds=30), encode_alarms(["sos"]))
        reraised = next_event(ws)["data"]
        assert reraised["action"] == "raised" and reraised["id"] != alarm_id

    window = client.get("/api/alarms", params={
        "vehicle_id": VID, "from": (t0 - timedelta(minutes=1)).isoformat(),
        "to": (t0 + timedelta(minutes=1)).isoformat()}).json()["alarms"]
    assert [a["id"] for a in window] == [reraised["id"], alarm_id]
    assert window[1]["cleared_by"] == window[1]["acknowledged_by"]


def test_alarm_api_rejects_bad_requests(client: TestClient) -> None:
    assert client.post("/api/alarms/999999999/ack").status_code == 404
    assert client.get("/api/alarms/999999999").status_code == 404
    assert client.get("/api/alarms", params={"status": "open"}).status_code == 422
    naive = client.get("/api/alarms", params={"from": "2026-11-24T08:00:00"})
    assert naive.status_code == 422 and "offset" in naive.json()["detail"][0]["msg"]
    too_long = client.post("/api/alarms/1/ack", json={"note": "x" * 501})
    assert too_long.status_code == 422
