"""GTFS-Realtime against the real app and database (the small demo county's 10 bus lines):
vehicle positions parsed with the official bindings, trip matching at a scheduled time, the
realtime cache driven by injected clocks, the congestion level of a bus's segment."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from google.transit import gtfs_realtime_pb2 as rt
from sqlalchemy.engine import Engine

from backend.transit.gtfs.static import Trip
from backend.transit.gtfs_router import GtfsFeeds
from tests.conftest import TEST_INGEST_TOKEN

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture()
def buses(engine: Engine, county: dict[str, int]) -> Iterator[dict[str, str]]:
    """Two buses in the fleet register, on 1路 and 5路: {vehicle_id: line code}. Their fixes,
    latest states, alarms and register rows are deleted afterwards."""
    tag = uuid.uuid4().hex[:8]
    made = {f"gtfs-{tag}-1": "1路", f"gtfs-{tag}-5": "5路"}
    with engine.begin() as conn:
        for n, (vehicle_id, code) in enumerate(made.items(), start=1):
            conn.execute(sa.text(
                "INSERT INTO vehicles (vehicle_id, label, plate, line_id) "
                "SELECT :v, :label, :plate, id FROM bus_lines WHERE code = :code"),
                {"v": vehicle_id, "label": f"{code}#9{n}", "plate": f"皖L9{n}{tag[:3]}",
                 "code": code})
    yield made
    with engine.begin() as conn:
        for table in ("vehicle_alarms", "vehicle_positions", "vehicle_latest", "vehicles"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE :tag"),
                         {"tag": f"gtfs-{tag}-%"})


def post_fixes(client: TestClient, fixes: list[dict]) -> None:
    response = client.post("/api/ingest/positions", json={"positions": fixes},
                           headers={"Authorization": f"Bearer {TEST_INGEST_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(fixes), response.text


def fix(vehicle_id: str, at: datetime, lon: float, lat: float, speed_kmh: float,
        heading_deg: float) -> dict:
    return {"vehicle_id": vehicle_id, "time": at.isoformat(), "lon": lon, "lat": lat,
            "speed_kmh": speed_kmh, "heading_deg": heading_deg}


def feed_message(client: TestClient) -> rt.FeedMessage:
    response = client.get("/gtfs-rt/vehicle-positions.pb")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    return rt.FeedMessage.FromString(response.content)


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_vehicle_positions_parse_with_the_official_bindings(
        client: TestClient, buses: dict[str, str], feeds: GtfsFeeds,
        gtfs: dict[str, list[dict[str, str]]]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ids = list(buses)
    stale = f"{ids[0]}-stale"
    post_fixes(client, [
        fix(ids[0], now, 117.88, 33.479, 36.0, 90.0),
        fix(ids[1], now - timedelta(seconds=30), 117.87, 33.47, 18.0, 180.0),
        fix(stale, now - timedelta(minutes=20), 117.86, 33.46, 10.0, 0.0),
    ])
    with client.app.state.resources.engine.begin() as conn:  # a bus gone quiet 20 minutes ago
        conn.execute(sa.text("INSERT INTO vehicles (vehicle_id, line_id) SELECT :v, id "
                             "FROM bus_lines WHERE code = '1路'"), {"v": stale})
    feeds.realtime.invalidate()
    message = feed_message(client)
    assert message.header.gtfs_realtime_version == "2.0"
    assert message.header.incrementality == rt.FeedHeader.FULL_DATASET
    assert abs(message.header.timestamp - now.timestamp()) < 120
    entities = {e.id: e for e in message.entity}
    assert set(buses) <= set(entities) and stale not in entities
    routes = {r["route_id"] for r in gtfs["routes.txt"]}
    trips = {t["trip_id"] for t in gtfs["trips.txt"]}
    first = entities[ids[0]].vehicle
    assert first.vehicle.id == ids[0] and first.vehicle.label == "1路#91"
    assert first.vehicle.license_plate.startswith("皖L91")
    assert first.position.speed == pytest.approx(10.0)  # 36 km/h in m/s
    assert first.position.bearing == pytest.approx(90.0)
    assert (first.position.longitude, first.position.latitude) == pytest.approx((117.88, 33.479))
    assert first.timestamp == int(now.timestamp())
    for vehicle_id, code in buses.items():
        vp = entities[vehicle_id].vehicle
        assert vp.trip.route_id == code and vp.trip.route_id in routes
        if vp.trip.trip_id:
            assert vp.trip.trip_id in trips
    assert entities[ids[1]].vehicle.position.speed == pytest.approx(5.0)

    as_json = client.get("/gtfs-rt/vehicle-positions.pb", params={"format": "json"})
    assert as_json.status_code == 200
    assert as_json.headers["content-type"] == "application/json; charset=utf-8"
    parsed = json.loads(as_json.content.decode("utf-8"))
    assert [e["id"] for e in parsed["entity"]] == [e.id for e in message.entity]
    by_id = {e["id"]: e for e in parsed["entity"]}
    assert by_id[ids[0]]["vehicle"]["vehicle"]["license_plate"] == first.vehicle.license_plate
    assert by_id[ids[0]]["vehicle"]["trip"]["route_id"] == "1路"


@pytest.mark.parametrize("value", ["xml", "", "JSON"])
def test_an_unknown_format_answers_400(client: TestClient, value: str) -> None:
    response = client.get("/gtfs-rt/vehicle-positions.pb", params={"format": value})
    assert response.status_code == 400
    assert "format must be 'json'" in response.json()["detail"]


def _service_day(feeds: GtfsFeeds, at_s: int) -> date:
    """A past service day whose trips at `at_s` are already over now (yesterday, as a rule)."""
    feed = feeds.static.current().feed
    today = datetime.now(SHANGHAI).date()
    for day in (today - timedelta(days=1), today):
        when = datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(seconds=at_s)
        if feed.services_on(day) and when < datetime.now(UTC) - timedelta(minutes=20):
            return day
    pytest.skip("no past service day in this year's calendar yet (1 January)")


def _at(day: date, seconds: float) -> datetime:
    return datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(seconds=seconds)


def _point(trip: Trip, shape_dist: float, lead_m: float = 20.0) -> tuple[float, float, float]:
    """lon, lat at `shape_dist` along the trip's shape, and the bearing of the shape there."""
    shape = trip.pattern.shape

    def at(d: float) -> tuple[float, float]:
        d = min(max(d, 0.0), shape[-1][2])
        for (lon0, lat0, d0), (lon1, lat1, d1) in zip(shape, shape[1:], strict=False):
            if d0 <= d <= d1:
                f = (d - d0) / (d1 - d0)
                return lon0 + f * (lon1 - lon0), lat0 + f * (lat1 - lat0)
        return shape[-1][0], shape[-1][1]

    lon, lat = at(shape_dist)
    (lon_a, lat_a), (lon_b, lat_b) = at(shape_dist - lead_m), at(shape_dist + lead_m)
    east = (lon_b - lon_a) * math.cos(math.radians(lat))
    return lon, lat, math.degrees(math.atan2(east, lat_b - lat_a)) % 360


def test_buses_on_schedule_are_matched_to_their_trips(
        client: TestClient, buses: dict[str, str], feeds: GtfsFeeds) -> None:
    feed = feeds.static.current().feed
    day = _service_day(feeds, 9 * 3600)
    (service,) = feed.services_on(day)
    town, rural = list(buses)
    # The 1路 bus stands at the 6th stop of the first trip from 08:00 towards the east terminus.
    t1 = min((t for t in feed.trips if t.pattern.route_id == "1路" and t.service_id == service
              and t.pattern.direction_id == 0 and t.start_s >= 8 * 3600), key=lambda t: t.start_s)
    k = 5
    at1 = t1.start_s + t1.pattern.arrive_s[k] + 5
    lon1, lat1, heading1 = _point(t1, t1.pattern.shape_dist[k])
    # The 5路 bus runs back towards 县政府, halfway between two stops, about the same time.
    mid = [(abs(t.start_s + (t.pattern.depart_s[j] + t.pattern.arrive_s[j + 1]) / 2 - at1), t, j)
           for t in feed.trips if t.pattern.route_id == "5路" and t.service_id == service
           and t.pattern.direction_id == 1 for j in range(len(t.pattern.stop_ids) - 1)]
    _, t5, j = min(mid, key=lambda m: m[0])
    at5 = t5.start_s + (t5.pattern.depart_s[j] + t5.pattern.arrive_s[j + 1]) / 2
    lon5, lat5, heading5 = _point(t5, (t5.pattern.shape_dist[j] + t5.pattern.shape_dist[j + 1]) / 2)
    post_fixes(client, [fix(town, _at(day, at1), lon1, lat1, 0.0, heading1),
                        fix(rural, _at(day, int(at5)), lon5, lat5, 30.0, heading5)])
    now = _at(day, max(at1, at5) + 30)
    feeds.static.now = feeds.realtime.now = lambda: now
    feeds.realtime.invalidate()
    entities = {e.id: e.vehicle for e in feed_message(client).entity}

    standing, moving = entities[town], entities[rural]
    assert standing.trip.trip_id == t1.trip_id
    assert standing.trip.route_id == "1路" and standing.trip.direction_id == 0
    assert standing.trip.start_date == day.strftime("%Y%m%d")
    assert standing.trip.start_time == f"{t1.start_s // 3600:02d}:{t1.start_s % 3600 // 60:02d}:00"
    assert standing.stop_id == t1.pattern.stop_ids[k]
    assert standing.current_stop_sequence == k + 1
    assert standing.current_status == rt.VehiclePosition.STOPPED_AT
    assert moving.trip.trip_id == t5.trip_id and moving.trip.direction_id == 1
    assert moving.current_status == rt.VehiclePosition.IN_TRANSIT_TO
    assert moving.stop_id == t5.pattern.stop_ids[j + 1]
    assert moving.current_stop_sequence == j + 2


def test_a_bus_off_its_line_or_out_of_service_hours_has_no_trip(
        client: TestClient, buses: dict[str, str], feeds: GtfsFeeds) -> None:
    day = _service_day(feeds, 3 * 3600)
    town, rural = list(buses)
    feed = feeds.static.current().feed
    t1 = next(t for t in feed.trips if t.pattern.route_id == "1路")
    lon, lat, heading = _point(t1, 1000.0)
    post_fixes(client, [fix(town, _at(day, 3 * 3600), lon, lat, 20.0, heading),  # 03:00
                        fix(rural, _at(day, 3 * 3600), 117.70, 33.70, 20.0, 0.0)])  # far away
    now = _at(day, 3 * 3600 + 10)
    feeds.static.now = feeds.realtime.now = lambda: now
    feeds.realtime.invalidate()
    entities = {e.id: e.vehicle for e in feed_message(client).entity}
    night, astray = entities[town], entities[rural]
    assert night.trip.route_id == "1路" and night.trip.direction_id == 0
    assert not night.trip.trip_id and not night.HasField("current_stop_sequence")
    assert astray.trip.route_id == "5路" and not astray.trip.trip_id
    assert not astray.trip.HasField("direction_id")


def test_the_feed_is_built_at_most_once_per_max_age(
        client: TestClient, buses: dict[str, str], feeds: GtfsFeeds) -> None:
    ticks = FakeClock()
    feeds.realtime.monotonic = ticks
    feeds.realtime.invalidate()
    town = next(iter(buses))
    now = datetime.now(UTC).replace(microsecond=0)
    post_fixes(client, [fix(town, now - timedelta(seconds=10), 117.88, 33.48, 20.0, 0.0)])
    first = client.get("/gtfs-rt/vehicle-positions.pb")
    assert first.headers["cache-control"] == f"public, max-age={int(feeds.realtime.max_age_s)}"
    post_fixes(client, [fix(town, now, 117.881, 33.481, 25.0, 10.0)])
    ticks.t += feeds.realtime.max_age_s - 0.5
    assert client.get("/gtfs-rt/vehicle-positions.pb").content == first.content  # cached
    ticks.t += 1.0
    fresh = rt.FeedMessage.FromString(client.get("/gtfs-rt/vehicle-positions.pb").content)
    moved = next(e.vehicle for e in fresh.entity if e.id == town)
    assert moved.timestamp == int(now.timestamp())
    assert moved.position.speed == pytest.approx(25 / 3.6)


class OnSegments:
    """Stands in for the probe engine (helper `matching`) as far as the feed needs it: which
    segment each bus is on. Levels come from the real traffic service."""

    def __init__(self, where: dict[str, int]) -> None:
        self.where = where

    def consume(self, positions: object) -> None:
        pass

    def window(self, *args: object, **kwargs: object) -> list:
        return []

    def segment_of(self, vehicle_id: str) -> int | None:
        return self.where.get(vehicle_id)


def test_congestion_level_is_the_level_of_the_buss_segment(
        client: TestClient, buses: dict[str, str], feeds: GtfsFeeds, engine: Engine) -> None:
    from backend.traffic.speeds import SegmentSpeed
    from backend.transit.gtfs.realtime import CONGESTION

    assert [CONGESTION[k] for k in (1, 2, 3, 4, 5)] == [
        rt.VehiclePosition.RUNNING_SMOOTHLY, rt.VehiclePosition.RUNNING_SMOOTHLY,
        rt.VehiclePosition.STOP_AND_GO, rt.VehiclePosition.CONGESTION,
        rt.VehiclePosition.SEVERE_CONGESTION] and 0 not in CONGESTION
    traffic = client.app.state.resources.traffic
    with engine.connect() as conn:
        segs = [s for (s,) in conn.execute(sa.text(
            "SELECT segment FROM traffic_segments WHERE pilot_code = 'SX-JT-08B' "
            "ORDER BY segment"))]
    ids = list(buses)
    now = datetime.now(UTC).replace(microsecond=0)
    post_fixes(client, [fix(ids[0], now, 117.88, 33.479, 8.0, 90.0),
                        fix(ids[1], now, 117.87, 33.47, 30.0, 180.0)])
    saved = traffic.probes
    traffic.probes = OnSegments({ids[0]: segs[0], ids[1]: segs[1]})
    try:
        window = now - timedelta(minutes=5)
        traffic.publish_live(now, [
            SegmentSpeed(segs[0], window, now, 16.0, 3, 3),   # 主干路 15-20: 中度拥堵
            SegmentSpeed(segs[1], window, now, 25.0, 2, 2)])  # two vehicles: unknown
        feeds.realtime.invalidate()
        entities = {e.id: e.vehicle for e in feed_message(client).entity}
        assert entities[ids[0]].congestion_level == rt.VehiclePosition.CONGESTION
        assert entities[ids[1]].congestion_level == rt.VehiclePosition.UNKNOWN_CONGESTION_LEVEL
        traffic.publish_live(now, [SegmentSpeed(segs[0], window, now, 12.0, 4, 4),
                                   SegmentSpeed(segs[1], window, now, 45.0, 4, 4)])
        feeds.realtime.invalidate()
        entities = {e.id: e.vehicle for e in feed_message(client).entity}
        assert entities[ids[0]].congestion_level == rt.VehiclePosition.SEVERE_CONGESTION
        assert entities[ids[1]].congestion_level == rt.VehiclePosition.RUNNING_SMOOTHLY
    finally:
        traffic.probes = saved
        feeds.realtime.invalidate()
