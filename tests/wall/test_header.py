"""The wall's header: server time, the county seat's weather (null without data, stale after
3 h), warnings in force, the people on duty by the clock, phones by the masking policy, and
the `wall.header` push when one of its datasets gets a new version."""

from __future__ import annotations

import concurrent.futures
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from shapely.geometry import box
from starlette.testclient import WebSocketTestSession

from backend.realtime.messages import WALL_HEADER
from backend.wall.service import DUTY, TZ, WARNINGS, WEATHER, build_header, push_header
from tests.conftest import bearer, login_token
from tests.dataset_versions import write_rows

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=TZ)
SEAT, OTHER = "341324100", "341324101"
AREA = box(117.85, 33.45, 117.92, 33.50)


def _iso(at: datetime) -> str:
    return at.isoformat()


def _weather(t0: datetime) -> list[tuple[dict, None]]:
    def obs(code: str, at: datetime, weather: str, temp: float) -> tuple[dict, None]:
        return ({"record_id": f"W{code}{at:%H%M}", "township_code": code,
                 "observed_at": _iso(at), "weather": weather, "temperature": temp,
                 "humidity": 62, "wind_direction": "东北", "wind_level": 3, "aqi": 71}, None)
    return [obs(SEAT, t0 - timedelta(minutes=5), "多云", 6.5),
            obs(OTHER, t0 - timedelta(minutes=1), "晴", 7.0)]


def _warnings(t0: datetime) -> list[tuple[dict, object]]:
    def warn(wid: str, level: str, start: float, end: float) -> tuple[dict, object]:
        return ({"warning_id": wid, "kind": "大雾", "level": level, "township_code": SEAT,
                 "issued_at": _iso(t0 + timedelta(hours=start)),
                 "expires_at": _iso(t0 + timedelta(hours=end)), "text": f"{wid} 大雾预警（示意）"},
                AREA)
    return [warn("YJ-1", "黄色", -2, 3), warn("YJ-2", "橙色", -1, 1),
            warn("YJ-OLD", "红色", -9, -1), warn("YJ-NEXT", "蓝色", 2, 6)]


def _duty(t0: datetime) -> list[tuple[dict, None]]:
    day, night = t0 - timedelta(hours=1), t0 + timedelta(hours=11)

    def shift(sid: str, post: str, name: str, start: datetime, hours: float) -> tuple[dict, None]:
        return ({"shift_id": sid, "post": post, "name": name, "phone": "13812345678",
                 "unit": "县数据资源管理局", "starts_at": _iso(start),
                 "ends_at": _iso(start + timedelta(hours=hours))}, None)
    return [shift("S3", "值班员", "王五", day, 12), shift("S1", "带班领导", "张一", day, 12),
            shift("S2", "值班长", "李二", day, 12), shift("S4", "带班领导", "赵六", night, 12)]


def _write_all(engine: sa.Engine, t0: datetime) -> None:
    write_rows(engine, WEATHER, "record_id", _weather(t0))
    write_rows(engine, WARNINGS, "warning_id", _warnings(t0))
    write_rows(engine, DUTY, "shift_id", _duty(t0))


@pytest.fixture(scope="module")
def fixed(client: TestClient, engine: sa.Engine) -> None:
    """Versions of the three datasets around T0 (the app's start synced their records)."""
    _write_all(engine, T0)


def test_weather_is_the_seats_and_turns_stale_after_three_hours(
    engine: sa.Engine, fixed: None
) -> None:
    header = build_header(engine, ["viewer"], T0)
    weather = header.data["weather"]
    assert weather["township_code"] == SEAT and weather["township"] == "泗城镇"
    assert (weather["weather"], weather["temperature"], weather["wind_level"]) == ("多云", 6.5, 3)
    assert weather["stale"] is False and weather["synthetic"] is True
    assert weather["source"]
    observed = T0 - timedelta(minutes=5)
    assert datetime.fromisoformat(weather["observed_at"]) == observed
    later = build_header(engine, ["viewer"], observed + timedelta(hours=3, seconds=1))
    assert later.data["weather"]["stale"] is True
    assert build_header(engine, ["viewer"], observed + timedelta(hours=2, minutes=59)
                        ).data["weather"]["stale"] is False


def test_warnings_in_force_most_severe_first(engine: sa.Engine, fixed: None) -> None:
    warnings = build_header(engine, ["viewer"], T0).data["warnings"]
    assert [w["warning_id"] for w in warnings] == ["YJ-2", "YJ-1"]  # 橙色 before 黄色
    assert warnings[0]["township"] == "泗城镇" and warnings[0]["level"] == "橙色"
    at_eleven = build_header(engine, ["viewer"], T0 + timedelta(hours=2)).data["warnings"]
    assert [w["warning_id"] for w in at_eleven] == ["YJ-1", "YJ-NEXT"]  # YJ-2 expired at 10:00


def test_duty_by_the_clock_in_post_order_and_the_next_change(
    engine: sa.Engine, fixed: None
) -> None:
    header = build_header(engine, ["viewer"], T0)
    assert [(d["post"], d["name"]) for d in header.data["duty"]] == [
        ("带班领导", "张一"), ("值班长", "李二"), ("值班员", "王五")]
    assert header.data["duty"][0]["phone"] == "138****5678"  # viewer: masked
    # the next change by the clock alone: YJ-2 expires at 10:00
    assert header.next_change == T0 + timedelta(hours=1)
    night = build_header(engine, ["viewer"], T0 + timedelta(hours=12))
    assert [d["name"] for d in night.data["duty"]] == ["赵六"]
    assert build_header(engine, ["commander"], T0).data["duty"][0]["phone"] == "13812345678"
    assert push_header(engine, T0).data["duty"][0]["phone"] == "138****5678"


def test_no_current_version_means_no_weather(engine: sa.Engine, fixed: None) -> None:
    with engine.begin() as conn:
        current = conn.execute(sa.text("SELECT current_version_id FROM datasets WHERE id = :d"),
                               {"d": WEATHER}).scalar_one()
        conn.execute(sa.text("UPDATE datasets SET current_version_id = NULL WHERE id = :d"),
                     {"d": WEATHER})
    try:
        assert build_header(engine, ["viewer"], T0).data["weather"] is None
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE datasets SET current_version_id = :v WHERE id = :d"),
                         {"v": current, "d": WEATHER})


def test_the_route_masks_by_role_audits_a_full_phone_and_refuses_others(
    client: TestClient, anonymous: TestClient, engine: sa.Engine
) -> None:
    _write_all(engine, datetime.now(TZ))  # in force now
    viewer = client.get("/api/wall/header", headers=bearer(client, "viewer"))
    assert viewer.status_code == 200, viewer.text
    body = viewer.json()
    assert body["timezone"] == "Asia/Shanghai" and body["synthetic"] is True
    assert abs(datetime.fromisoformat(body["now"]) - datetime.now(TZ)) < timedelta(minutes=5)
    assert [d["phone"] for d in body["duty"]] == ["138****5678"] * 3
    assert body["weather"]["township"] == "泗城镇"
    with engine.connect() as conn:
        looks = conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE actor = 'commander'"
                                     " AND entity = 'dataset:duty_roster'")).scalar_one()
    commander = client.get("/api/wall/header", headers=bearer(client, "commander")).json()
    assert [d["phone"] for d in commander["duty"]] == ["13812345678"] * 3
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE actor = 'commander'"
            " AND entity = 'dataset:duty_roster'")).scalar_one() == looks + 1
    assert anonymous.get("/api/wall/header").status_code == 401
    for role in ("grid_worker", "data_steward"):
        assert client.get("/api/wall/header", headers=bearer(client, role)).status_code == 403


def _next_event(ws: WebSocketTestSession, channel: str) -> dict:
    while True:
        msg = ws.receive_json()
        if msg["type"] == "event" and msg["channel"] == channel:
            return msg["data"]


def test_a_new_version_pushes_the_header(client: TestClient, engine: sa.Engine) -> None:
    # the socket closes before the pool waits for its reader: a missing event cannot hang
    with concurrent.futures.ThreadPoolExecutor(1) as pool, \
            client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "auth", "token": login_token(client, "viewer")})
        assert ws.receive_json()["type"] == "authenticated"
        ws.send_json({"type": "subscribe", "channel": WALL_HEADER})
        assert ws.receive_json()["type"] == "subscribed"
        now = datetime.now(TZ)
        rows = _weather(now)
        rows[0][0]["temperature"] = -3.5
        write_rows(engine, WEATHER, "record_id", rows)  # committed: the NOTIFY fires
        event = pool.submit(_next_event, ws, WALL_HEADER).result(timeout=30)
    assert event["weather"]["temperature"] == -3.5
    assert "now" not in event
    assert all(d["phone"] == "138****5678" for d in event["duty"])
