"""The fleet and line routes against the real app and database: fixes posted through the HTTP
ingest, then the vehicle list and its statuses, a vehicle's next stop and ETA, tracks and their
simplification, the lines, a line's operations and its replay, and the 400/404 answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.ingest.jt808.alarm_bits import encode_alarms
from tests.transit.conftest import fix_on, fleet_line, post, register

VEHICLE_KEYS = {"vehicle_id", "label", "plate", "vehicle_class", "line_id", "line_code", "time",
                "lon", "lat", "speed_kmh", "heading_deg", "status", "alarms"}


def now_s() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def window(a: datetime, b: datetime, **extra: object) -> dict[str, object]:
    return {"from": a.isoformat(), "to": b.isoformat(), **extra}


# Vehicles ----------------------------------------------------------------------------------


def test_vehicle_list_with_statuses_and_bbox(
    client: TestClient, engine: sa.Engine, vid: Callable[[str], str]
) -> None:
    line, now = fleet_line(client, "1路"), now_s()
    a, b, c, d = vid("a"), vid("b"), vid("c"), vid("d")
    register(engine, a, "1路", "1路#T1")
    register(engine, b, "1路")
    register(engine, d, "1路")  # registered, never reported
    post(client, fix_on(line, a, 300, now - timedelta(seconds=20)),
         fix_on(line, a, 350, now - timedelta(seconds=15)),
         fix_on(line, b, line.geometry.path.length - 100, now - timedelta(minutes=10)),
         {"vehicle_id": c, "time": (now - timedelta(seconds=5)).isoformat(), "lon": 117.9,
          "lat": 33.5, "speed_kmh": 10, "alarm_flags": encode_alarms(["sos"])})
    listed = client.get("/api/vehicles").json()["vehicles"]
    mine = {v["vehicle_id"]: v for v in listed if v["vehicle_id"] in (a, b, c, d)}
    assert set(mine) == {a, b, c, d} and all(set(v) == VEHICLE_KEYS for v in mine.values())
    assert [v["vehicle_id"] for v in listed] == sorted(v["vehicle_id"] for v in listed)
    va = mine[a]
    assert (va["status"], va["alarms"], va["label"], va["line_code"], va["line_id"]) == (
        "normal", [], "1路#T1", "1路", line.id)
    assert va["time"] == (now - timedelta(seconds=15)).isoformat()
    assert va["speed_kmh"] == 25 and va["vehicle_class"] == "bus" and va["plate"]
    assert (mine[b]["status"], mine[b]["alarms"]) == ("offline", [])
    assert (mine[c]["status"], mine[c]["alarms"]) == ("alarm", ["sos"])
    assert mine[c]["label"] is None and mine[c]["line_id"] is None
    assert mine[d]["status"] == "offline" and mine[d]["lon"] is None and mine[d]["time"] is None

    box = f"{va['lon'] - 0.002},{va['lat'] - 0.002},{va['lon'] + 0.002},{va['lat'] + 0.002}"
    inside = client.get("/api/vehicles", params={"bbox": box}).json()["vehicles"]
    assert {v["vehicle_id"] for v in inside} & {a, b, c, d} == {a}


@pytest.mark.parametrize("bbox", ["1,2,3", "117.9,33.4,117.8,33.6", "a,b,c,d", "0,0,200,10"])
def test_a_bad_bbox_is_400(client: TestClient, bbox: str) -> None:
    response = client.get("/api/vehicles", params={"bbox": bbox})
    assert response.status_code == 400 and "bbox" in response.json()["detail"]


def test_vehicle_details_with_next_stop_and_eta(
    client: TestClient, engine: sa.Engine, vid: Callable[[str], str]
) -> None:
    line, now = fleet_line(client), now_s()
    stops = line.stops
    k = len(stops) // 2
    stop, before, after = stops[k], stops[k - 1], stops[k + 1]
    gap_out = min(150.0, (stop.distance_m - before.distance_m) / 2)
    gap_in = min(150.0, (after.distance_m - stop.distance_m) / 2)
    out, back, loose = vid("out"), vid("back"), vid("loose")
    register(engine, out, line.code)
    register(engine, back, line.code)
    t1, t2 = now - timedelta(seconds=10), now - timedelta(seconds=5)
    post(client, fix_on(line, out, stop.distance_m - gap_out - 50, t1, speed=36),
         fix_on(line, out, stop.distance_m - gap_out, t2, speed=36),
         fix_on(line, back, stop.distance_m + gap_in + 50, t1, speed=36, inbound=True),
         fix_on(line, back, stop.distance_m + gap_in, t2, speed=36, inbound=True),
         {"vehicle_id": loose, "time": t2.isoformat(), "lon": 117.9, "lat": 33.5})

    detail = client.get(f"/api/vehicles/{out}").json()
    assert set(detail) == VEHICLE_KEYS | {"line", "progress_m", "direction", "next_stop"}
    assert detail["line"] == {"id": line.id, "code": line.code, "name": line.name,
                              "color": line.color}
    assert detail["progress_m"] == pytest.approx(stop.distance_m - gap_out, abs=1.0)
    assert detail["direction"] == "outbound" and detail["status"] == "normal"
    nxt = detail["next_stop"]
    assert set(nxt) == {"seq", "code", "name", "distance_m", "eta_s"}
    assert (nxt["code"], nxt["name"]) == (stop.code, stop.name)
    assert nxt["distance_m"] == pytest.approx(gap_out, abs=1.0)
    assert nxt["eta_s"] == pytest.approx(gap_out / 10.0, abs=1)  # 36 km/h = 10 m/s

    inbound = client.get(f"/api/vehicles/{back}").json()
    assert inbound["direction"] == "inbound" and inbound["next_stop"]["code"] == stop.code
    assert inbound["next_stop"]["distance_m"] == pytest.approx(gap_in, abs=1.0)

    unregistered = client.get(f"/api/vehicles/{loose}").json()
    assert unregistered["line"] is None and unregistered["next_stop"] is None
    assert unregistered["status"] == "normal" and unregistered["lon"] == 117.9

    missing = client.get(f"/api/vehicles/{vid('nobody')}")
    assert missing.status_code == 404 and "fleet register" in missing.json()["detail"]


# Tracks ------------------------------------------------------------------------------------


def test_track_window_order_and_simplification(
    client: TestClient, vid: Callable[[str], str]
) -> None:
    v, t0 = vid("track"), now_s() - timedelta(minutes=30)
    # 60 fixes 5 s apart, about 9.3 m east each (a straight street at 6.7 m/s), sent shuffled.
    records = [{"vehicle_id": v, "time": (t0 + timedelta(seconds=5 * k)).isoformat(),
                "lon": round(117.86 + k * 1e-4, 6), "lat": 33.47, "speed_kmh": 24,
                "heading_deg": 90} for k in range(60)]
    post(client, *records[::2], *records[1::2])
    full = client.get(f"/api/vehicles/{v}/track",
                      params=window(t0, t0 + timedelta(seconds=300))).json()
    assert set(full) == {"vehicle_id", "from", "to", "zoom", "points"}
    assert full["vehicle_id"] == v and full["zoom"] is None
    assert full["from"] == t0.isoformat()
    points = full["points"]
    assert len(points) == 60
    assert points[0] == [int(t0.timestamp() * 1000), 117.86, 33.47, 24.0, 90.0]
    assert [p[0] for p in points] == [int(t0.timestamp() * 1000) + 5000 * k for k in range(60)]

    part = client.get(f"/api/vehicles/{v}/track", params=window(
        t0 + timedelta(seconds=50), t0 + timedelta(seconds=100))).json()["points"]
    assert [p[0] for p in part] == [points[k][0] for k in range(10, 20)]  # `to` excluded

    simple = client.get(f"/api/vehicles/{v}/track", params=window(
        t0, t0 + timedelta(seconds=300), zoom=14)).json()
    assert simple["zoom"] == 14 and simple["points"] == [points[0], points[-1]]
    close = client.get(f"/api/vehicles/{v}/track", params=window(
        t0, t0 + timedelta(seconds=300), zoom=22)).json()["points"]
    assert close[0] == points[0] and close[-1] == points[-1] and len(close) >= 2


@pytest.mark.parametrize(("params", "says"), [
    ({}, "from and to"),
    ({"from": "2026-11-24T08:00:00", "to": "2026-11-24T09:00:00+08:00"}, "UTC offset"),
    ({"from": "yesterday", "to": "2026-11-24T09:00:00+08:00"}, "ISO 8601"),
    ({"from": "2026-11-24T09:00:00+08:00", "to": "2026-11-24T08:00:00+08:00"}, "after"),
    ({"from": "2026-11-24T08:00:00+08:00", "to": "2026-11-25T08:00:01+08:00"}, "24 h"),
    ({"from": "2026-11-24T08:00:00+08:00", "to": "2026-11-24T09:00:00+08:00", "zoom": "23"},
     "zoom"),
    ({"from": "2026-11-24T08:00:00+08:00", "to": "2026-11-24T09:00:00+08:00", "zoom": "x"},
     "zoom"),
])
def test_bad_windows_and_zooms_are_400(
    client: TestClient, engine: sa.Engine, vid: Callable[[str], str],
    params: dict[str, str], says: str,
) -> None:
    v = vid("w")
    register(engine, v, None)
    line_id = fleet_line(client).id
    for url in (f"/api/vehicles/{v}/track", f"/api/lines/{line_id}/replay"):
        response = client.get(url, params=params)
        assert response.status_code == 400, (url, response.text)
        assert says in response.json()["detail"]


def test_a_whole_day_is_allowed_and_an_unknown_vehicle_is_404(
    client: TestClient, engine: sa.Engine, vid: Callable[[str], str]
) -> None:
    v = vid("day")
    register(engine, v, None)
    day = {"from": "2026-11-24T00:00:00+08:00", "to": "2026-11-25T00:00:00+08:00"}
    assert client.get(f"/api/vehicles/{v}/track", params=day).json()["points"] == []
    assert client.get(f"/api/vehicles/{vid('none')}/track", params=day).status_code == 404


# Lines -------------------------------------------------------------------------------------


def test_lines_list_counts_registered_and_online_vehicles(
    client: TestClient, engine: sa.Engine, vid: Callable[[str], str]
) -> None:
    before = {x["id"]: x for x in client.get("/api/lines").json()["lines"]}
    assert len(before) == 10
    line = fleet_line(client, "2路")
    first = before[line.id]
    assert set(first) == {"id", "code", "name", "color", "length_m", "stops", "vehicles",
                          "online"}
    assert (first["code"], first["stops"]) == ("2路", len(line.stops))
    assert first["length_m"] == pytest.approx(line.geometry.path.length, rel=0.01)
    on, off = vid("on"), vid("off")
    register(engine, on, "2路")
    register(engine, off, "2路")
    post(client, fix_on(line, on, 200, now_s() - timedelta(seconds=5)))
    after = {x["id"]: x for x in client.get("/api/lines").json()["lines"]}[line.id]
    assert after["vehicles"] == first["vehicles"] + 2 and after["online"] == first["online"] + 1


def test_line_operations_progress_headways_and_bunching(
    client: TestClient, engine: sa.Engine, vid: Callable[[str], str]
) -> None:
    line = fleet_line(client)
    length = line.geometry.path.length
    assert length > 2500, "the longest test line is long enough for three buses"
    a, b, c, d, idle = vid("a"), vid("b"), vid("c"), vid("d"), vid("idle")
    for v in (a, b, c, idle):  # idle never reports
        register(engine, v, line.code)
    t1, t2 = now_s() - timedelta(seconds=10), now_s() - timedelta(seconds=5)
    post(client, *(fix_on(line, v, s - 30, t1) for v, s in ((a, 300), (b, 1300))),
         fix_on(line, c, length - 470, t1, inbound=True),
         *(fix_on(line, v, s, t2) for v, s in ((a, 300), (b, 1300))),
         fix_on(line, c, length - 500, t2, inbound=True))
    ops = client.get(f"/api/lines/{line.id}/operations").json()
    assert set(ops) == {"line", "time", "vehicles", "headways", "bunching"}
    assert ops["line"]["code"] == line.code and ops["line"]["stops"] == len(line.stops)
    vehicles = {v["vehicle_id"]: v for v in ops["vehicles"]}
    assert vehicles[a]["progress_m"] == pytest.approx(300, abs=1)
    assert vehicles[a]["direction"] == "outbound" and vehicles[c]["direction"] == "inbound"
    assert vehicles[a]["next_stop"]["eta_s"] > 0 and vehicles[a]["online"]
    assert vehicles[a]["fraction"] == pytest.approx(300 / length, abs=1e-3)
    assert set(vehicles[a]) == set(vehicles[idle]) == {
        "vehicle_id", "label", "plate", "time", "lon", "lat", "speed_kmh", "heading_deg",
        "online", "on_line", "offset_m", "progress_m", "fraction", "direction", "next_stop"}
    assert not vehicles[idle]["online"] and vehicles[idle]["progress_m"] is None

    def pairs(direction: str) -> list[tuple]:
        return [(h["follower"], h["leader"], round(h["gap_m"]), h["across_terminus"])
                for h in ops["headways"][direction]]

    assert pairs("outbound") == [(b, c, round(length - 800), True), (a, b, 1000, False)]
    assert pairs("inbound") == [(c, a, round(length - 200), True)]
    assert ops["headways"]["outbound"][1]["headway_s"] == pytest.approx(1000 / (25 / 3.6), abs=1)
    assert ops["bunching"] == []

    register(engine, d, line.code)
    post(client, fix_on(line, d, 1210, t1), fix_on(line, d, 1240, t2))
    ops = client.get(f"/api/lines/{line.id}/operations").json()
    (bunch,) = ops["bunching"]
    assert (bunch["follower"], bunch["leader"], bunch["direction"]) == (d, b, "outbound")
    assert bunch["gap_m"] == pytest.approx(60, abs=1)
    assert client.get("/api/lines/99999999/operations").status_code == 404


def test_line_replay_holds_the_lines_buses_their_alarms_the_line_and_stops(
    client: TestClient, engine: sa.Engine, vid: Callable[[str], str]
) -> None:
    line, other = fleet_line(client), fleet_line(client, "1路")
    assert line.id != other.id
    r1, r2, quiet, elsewhere = vid("r1"), vid("r2"), vid("quiet"), vid("elsewhere")
    for v in (r1, r2, quiet):
        register(engine, v, line.code)
    register(engine, elsewhere, other.code)
    t0 = now_s() - timedelta(minutes=40)
    sos = encode_alarms(["sos"])
    post(client,
         *(fix_on(line, r1, 100 + 50 * k, t0 + timedelta(seconds=5 * k),
                  flags=sos if 3 <= k <= 5 else 0) for k in range(12)),
         *(fix_on(line, r2, 1500 + 50 * k, t0 + timedelta(seconds=5 * k)) for k in range(12)),
         fix_on(line, quiet, 800, t0 - timedelta(hours=2)),
         fix_on(other, elsewhere, 300, t0 + timedelta(seconds=30)))
    span = window(t0 - timedelta(minutes=1), t0 + timedelta(minutes=10))
    replay = client.get(f"/api/lines/{line.id}/replay", params=span).json()
    assert set(replay) == {"line", "from", "to", "zoom", "geometry", "stops", "vehicles",
                           "alarms"}
    assert replay["line"]["code"] == line.code and replay["line"]["id"] == line.id
    assert [v["vehicle_id"] for v in replay["vehicles"]] == [r1, r2]
    assert all(len(v["points"]) == 12 and v["label"] == v["vehicle_id"]
               for v in replay["vehicles"])
    assert replay["geometry"]["type"] == "LineString"
    assert len(replay["geometry"]["coordinates"]) >= 2
    assert [s["code"] for s in replay["stops"]] == [s.code for s in line.stops]
    assert set(replay["stops"][0]) == {"seq", "code", "name", "lon", "lat", "distance_m"}
    (alarm,) = replay["alarms"]
    assert (alarm["vehicle_id"], alarm["kind"], alarm["status"]) == (r1, "sos", "cleared")
    assert alarm["started_at"] == (t0 + timedelta(seconds=15)).isoformat()

    simple = client.get(f"/api/lines/{line.id}/replay", params={**span, "zoom": 9}).json()
    assert simple["zoom"] == 9
    for full, few in zip(replay["vehicles"], simple["vehicles"], strict=True):
        assert len(few["points"]) < len(full["points"])
        assert (few["points"][0], few["points"][-1]) == (full["points"][0], full["points"][-1])

    before = window(t0 - timedelta(hours=3), t0 - timedelta(hours=1))
    early = client.get(f"/api/lines/{line.id}/replay", params=before).json()
    assert [v["vehicle_id"] for v in early["vehicles"]] == [quiet] and early["alarms"] == []
    assert client.get("/api/lines/99999999/replay", params=span).status_code == 404
    assert client.get("/api/lines/abc/replay", params=span).status_code == 422
