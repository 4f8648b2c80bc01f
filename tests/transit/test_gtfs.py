"""The GTFS static feed against the real app and database (the small demo county's 10 bus
lines): the timetable, the zip's files, columns and referential integrity, byte-identical
rebuilds, an independent reader (partridge). Realtime: test_gtfs_realtime.py."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import partridge as ptg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.catalog.timetable import TimetableError, load_timetable, parse_timetable
from backend.errors import NotConfigured
from backend.transit.gtfs.static import (
    StaticGtfs,
    build_feed,
    feed_files,
    load_network,
    write_zip,
)
from backend.transit.gtfs_router import GtfsFeeds

ROOT = Path(__file__).resolve().parents[2]
TIMETABLE = ROOT / "scenarios" / "sixian" / "timetable.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
REQUIRED = {  # required (or, here, always given) columns of each file, from the GTFS reference
    "agency.txt": {"agency_id", "agency_name", "agency_url", "agency_timezone"},
    "stops.txt": {"stop_id", "stop_name", "stop_lat", "stop_lon"},
    "routes.txt": {"route_id", "agency_id", "route_short_name", "route_long_name", "route_type",
                   "route_color"},
    "trips.txt": {"route_id", "service_id", "trip_id", "direction_id", "shape_id"},
    "stop_times.txt": {"trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence",
                       "shape_dist_traveled"},
    "calendar.txt": {"service_id", "monday", "tuesday", "wednesday", "thursday", "friday",
                     "saturday", "sunday", "start_date", "end_date"},
    "shapes.txt": {"shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence",
                   "shape_dist_traveled"},
    "feed_info.txt": {"feed_publisher_name", "feed_publisher_url", "feed_lang"},
}


def secs(hms: str) -> int:
    h, m, s = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + s


# The timetable ------------------------------------------------------------------------------

def test_shipped_timetable_covers_every_line(engine: Engine, county: dict[str, int]) -> None:
    timetable = load_timetable(TIMETABLE)
    with engine.connect() as conn:
        codes = set(conn.execute(sa.text("SELECT code FROM bus_lines")).scalars())
    assert set(timetable.lines) == codes == {f"{n}路" for n in range(1, 11)}
    assert timetable.agency.name == "泗县公交" and timetable.agency.timezone == "Asia/Shanghai"
    peak = timetable.pattern("1路", "weekday")
    departures = peak.departures()
    gaps = {b - a for a, b in zip(departures, departures[1:], strict=False)
            if 7 * 3600 <= a < 9 * 3600}
    assert gaps == {8 * 60}  # the morning peak's headway
    assert departures[0] == 6 * 3600 and departures[-1] == 21 * 3600


def test_timetable_errors_name_the_file_the_key_and_what_was_expected() -> None:
    text = TIMETABLE.read_text(encoding="utf-8")
    with pytest.raises(TimetableError) as bad:
        parse_timetable(text.replace("  lang: zh\n\nfeed:", "  lang: zh\n  colour: red\n\nfeed:")
                        .replace('first: "06:00"', 'first: "6h"', 1), "sixian/timetable.yaml")
    problems = bad.value.problems
    assert "sixian/timetable.yaml: agency.colour: unknown key (typo?)" in problems
    assert any(p.startswith("sixian/timetable.yaml: patterns.town_weekday.first: expected a "
                            "time 'HH:MM'") for p in problems), problems
    with pytest.raises(TimetableError) as unknown:
        parse_timetable(text.replace("weekend: rural_weekend}}", "weekend: rural_sunday}}", 1),
                        "sixian/timetable.yaml")
    assert "lines.5路.services.weekend: no pattern 'rural_sunday'" in str(unknown.value)


def test_a_missing_or_broken_timetable_is_reported(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(NotConfigured, match="CITYOPS_GTFS_TIMETABLE"):
        StaticGtfs(engine, tmp_path / "timetable.yaml").current()
    broken = tmp_path / "timetable.yaml"
    broken.write_text(TIMETABLE.read_text(encoding="utf-8").replace("speed_kmh: 18", "speed: 18"),
                      encoding="utf-8")
    with pytest.raises(NotConfigured) as exc:
        StaticGtfs(engine, broken).current()
    assert f"{tmp_path.name}/timetable.yaml: lines.1路.speed: unknown key (typo?)" in \
        exc.value.detail["problems"]


# The static feed ----------------------------------------------------------------------------

def test_zip_has_every_file_with_its_columns(client: TestClient, static_zip: bytes,
                                             gtfs: dict[str, list[dict[str, str]]]) -> None:
    response = client.get("/gtfs/static.zip")
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == 'attachment; filename="sixian-bus-gtfs.zip"'
    with zipfile.ZipFile(io.BytesIO(static_zip)) as zf:
        assert zf.testzip() is None
        headers = {n: zf.read(n).decode("utf-8").splitlines()[0].split(",")
                   for n in zf.namelist()}
    assert set(headers) == set(REQUIRED)
    for name, columns in REQUIRED.items():
        assert columns <= set(headers[name]), name
        assert gtfs[name], f"{name} is empty"
    assert gtfs["agency.txt"][0]["agency_timezone"] == "Asia/Shanghai"
    assert {r["route_type"] for r in gtfs["routes.txt"]} == {"3"}
    assert {r["direction_id"] for r in gtfs["trips.txt"]} == {"0", "1"}
    year = datetime.now(SHANGHAI).year
    assert {(c["start_date"], c["end_date"]) for c in gtfs["calendar.txt"]} == {
        (f"{year}0101", f"{year}1231")}


def test_routes_carry_the_lines_codes_and_colours(engine: Engine,
                                                  gtfs: dict[str, list[dict[str, str]]]) -> None:
    with engine.connect() as conn:
        lines = dict(conn.execute(sa.text("SELECT code, color FROM bus_lines")).all())
    routes = {r["route_id"]: r for r in gtfs["routes.txt"]}
    assert set(routes) == set(lines)
    for code, color in lines.items():
        assert routes[code]["route_color"] == color.lstrip("#").upper()
        assert routes[code]["route_short_name"] == code
    assert [r["route_id"] for r in gtfs["routes.txt"]][:3] == ["1路", "2路", "3路"]
    trip_ids = {t["trip_id"] for t in gtfs["trips.txt"]}
    assert {"1路-weekday-0-0600", "1路-weekday-1-0600", "10路-weekend-1-1800"} <= trip_ids


def test_referential_integrity_and_order(gtfs: dict[str, list[dict[str, str]]]) -> None:
    routes = {r["route_id"] for r in gtfs["routes.txt"]}
    stops = {s["stop_id"] for s in gtfs["stops.txt"]}
    services = {c["service_id"] for c in gtfs["calendar.txt"]}
    shapes: dict[str, list[dict[str, str]]] = {}
    for p in gtfs["shapes.txt"]:
        shapes.setdefault(p["shape_id"], []).append(p)
    trips = {t["trip_id"]: t for t in gtfs["trips.txt"]}
    assert len(trips) == len(gtfs["trips.txt"])
    for t in trips.values():
        assert t["route_id"] in routes and t["shape_id"] in shapes
        assert t["service_id"] in services
    for points in shapes.values():
        seq = [int(p["shape_pt_sequence"]) for p in points]
        dist = [float(p["shape_dist_traveled"]) for p in points]
        assert seq == sorted(seq) and dist == sorted(dist) and dist[0] == 0.0
    by_trip: dict[str, list[dict[str, str]]] = {}
    for st in gtfs["stop_times.txt"]:
        assert st["trip_id"] in trips and st["stop_id"] in stops
        by_trip.setdefault(st["trip_id"], []).append(st)
    assert set(by_trip) == set(trips)
    for trip_id, rows in by_trip.items():
        seq = [int(r["stop_sequence"]) for r in rows]
        assert all(b > a for a, b in zip(seq, seq[1:], strict=False)), trip_id
        times = [secs(r[k]) for r in rows for k in ("arrival_time", "departure_time")]
        assert times == sorted(times), trip_id
        dist = [float(r["shape_dist_traveled"]) for r in rows]
        assert dist == sorted(dist), trip_id
        shape_end = float(shapes[trips[trip_id]["shape_id"]][-1]["shape_dist_traveled"])
        assert dist[-1] <= shape_end + 0.1
    used = {st["stop_id"] for st in gtfs["stop_times.txt"]}
    assert used == stops  # no stop without service


def test_stop_times_follow_distance_and_speed(engine: Engine,
                                              gtfs: dict[str, list[dict[str, str]]]) -> None:
    with engine.connect() as conn:
        dist = conn.execute(sa.text(
            "SELECT ls.distance_m FROM bus_line_stops ls JOIN bus_lines l ON l.id = ls.line_id "
            "WHERE l.code = '1路' ORDER BY ls.seq")).scalars().all()
    rows = [r for r in gtfs["stop_times.txt"] if r["trip_id"] == "1路-weekday-0-0716"]
    assert [r["stop_sequence"] for r in rows] == [str(k) for k in range(1, len(dist) + 1)]
    speed, dwell = 18 / 3.6, 20  # 1路 in the timetable
    expected = round((dist[-1] - dist[0]) / speed + dwell * (len(dist) - 2))
    assert secs(rows[-1]["arrival_time"]) - secs(rows[0]["departure_time"]) == expected
    assert rows[0]["departure_time"] == "07:16:00"
    assert secs(rows[1]["departure_time"]) - secs(rows[1]["arrival_time"]) == dwell
    back = [r for r in gtfs["stop_times.txt"] if r["trip_id"] == "1路-weekday-1-0716"]
    assert [r["stop_id"] for r in back] == [r["stop_id"] for r in reversed(rows)]


def test_builds_are_byte_identical_and_revalidate(client: TestClient, engine: Engine,
                                                  static_zip: bytes, feeds: GtfsFeeds) -> None:
    again = client.get("/gtfs/static.zip")
    assert again.content == static_zip
    etag = again.headers["etag"]
    assert client.get("/gtfs/static.zip", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/gtfs/static.zip",
                      headers={"If-None-Match": '"gtfs-other"'}).status_code == 200
    built = feeds.static.current().feed  # a fresh build from the same data, not the cache
    with engine.connect() as conn:
        fresh = build_feed(load_network(conn), load_timetable(TIMETABLE), built.start_date)
    assert write_zip(feed_files(fresh)) == static_zip


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # partridge on pandas 3
def test_an_independent_reader_reads_the_feed(static_zip: bytes, tmp_path: Path,
                                              gtfs: dict[str, list[dict[str, str]]]) -> None:
    path = tmp_path / "sixian-bus-gtfs.zip"
    path.write_bytes(static_zip)
    busiest, services = ptg.read_busiest_date(str(path))
    assert busiest.year == datetime.now(SHANGHAI).year
    assert services == ({"weekday"} if busiest.weekday() < 5 else {"weekend"})
    feed = ptg.load_feed(str(path), view={"trips.txt": {"service_id": "weekday"}})
    weekday_trips = [t for t in gtfs["trips.txt"] if t["service_id"] == "weekday"]
    assert len(feed.trips) == len(weekday_trips)
    assert set(feed.routes.route_id) == {r["route_id"] for r in gtfs["routes.txt"]}
    assert feed.stop_times.arrival_time.notna().all()  # partridge parses HH:MM:SS to seconds
    first = feed.stop_times[feed.stop_times.trip_id == "1路-weekday-0-0600"]
    assert first.departure_time.min() == 6 * 3600
    assert set(feed.stop_times.stop_id) <= set(feed.stops.stop_id)
