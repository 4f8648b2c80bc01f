"""Bus-line operations and playback against the database: the lines with their fleet, a line's
live operations, a vehicle's place on its line, tracks and a line's replay. Keyword-only
arguments, no fastapi; raises backend.errors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa

from backend.bounds import check_instant
from backend.errors import InvalidInput, NotFound
from backend.ingest.position import Position
from backend.transit.operations import (
    DIRECTIONS,
    Bunched,
    BunchingState,
    LineOperations,
    OperationsParams,
    bunched_pairs,
    line_operations,
    step_bunching,
)
from backend.transit.playback import MAX_ZOOM, MIN_ZOOM, track_points
from backend.vehicles.service import FleetDirectory, FleetLine, latest_fixes, list_alarms, track

MAX_WINDOW = timedelta(hours=24)
NO_FIX = ("time", "lon", "lat", "speed_kmh", "heading_deg", "offset_m", "progress_m", "fraction",
          "direction", "next_stop")
EXAMPLE_TIME = "2026-11-24T08:00:00+08:00"


# Input ---------------------------------------------------------------------------------


def parse_window(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """`from`/`to` as ISO 8601 with a UTC offset, `to` after `from`, at most 24 h apart."""
    if not start or not end:
        raise InvalidInput(f"Give the window as from and to, e.g. from={EXAMPLE_TIME}"
                           "&to=2026-11-24T09:00:00+08:00")
    times = []
    for name, text in (("from", start), ("to", end)):
        try:
            t = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"'{name}' is not an ISO 8601 time: {text[:40]!r}; "
                               f"write it like {EXAMPLE_TIME}") from None
        if t.tzinfo is None:
            raise InvalidInput(f"Give '{name}' with a UTC offset, e.g. {EXAMPLE_TIME}")
        try:
            times.append(check_instant(t))
        except ValueError as exc:
            raise InvalidInput(f"'{name}': {exc}") from None
    a, b = times
    if b <= a:
        raise InvalidInput("'to' must be after 'from'")
    if b - a > MAX_WINDOW:
        raise InvalidInput(f"The window is {(b - a).total_seconds() / 3600:.1f} h; "
                           "ask for at most 24 h at a time")
    return a, b


def parse_zoom(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        zoom = float(text)
    except ValueError:
        zoom = float("nan")
    if not MIN_ZOOM <= zoom <= MAX_ZOOM:  # also false for nan
        raise InvalidInput(f"zoom must be a number from {MIN_ZOOM} to {MAX_ZOOM}, "
                           f"got {text[:20]!r}")
    return zoom


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None or text == "":
        return None
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidInput("bbox is west,south,east,north in degrees, "
                           "e.g. bbox=117.8,33.4,118.0,33.6") from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InvalidInput("bbox needs -180 <= west < east <= 180 and -90 <= south < north "
                           "<= 90, e.g. bbox=117.8,33.4,118.0,33.6")
    return w, s, e, n


# Lines ---------------------------------------------------------------------------------


def line_summary(line: FleetLine) -> dict[str, Any]:
    return {"id": line.id, "code": line.code, "name": line.name, "color": line.color}


def get_line(fleet: FleetDirectory, line_id: int) -> FleetLine:
    line = fleet.line(line_id)
    if line is None:
        known = ", ".join(f"{v.id} ({v.code})" for v in
                          sorted(fleet.snapshot().lines.values(), key=lambda v: v.id))
        raise NotFound(f"No bus line {line_id}; lines: {known or 'none loaded'}")
    return line


def list_lines(conn: sa.Connection, *, now: datetime, offline_after_s: float
               ) -> list[dict[str, Any]]:
    """Every line with its length, number of stops, registered vehicles and those online."""
    rows = conn.execute(sa.text("""
SELECT b.id, b.code, b.name, b.color,
  round(COALESCE(b.length_m, ST_Length(b.geom::geography))::numeric, 1)::float8,
  (SELECT count(*) FROM bus_line_stops s WHERE s.line_id = b.id),
  (SELECT count(*) FROM vehicles v WHERE v.line_id = b.id AND v.active),
  (SELECT count(*) FROM vehicles v JOIN vehicle_latest l ON l.vehicle_id = v.vehicle_id
   WHERE v.line_id = b.id AND v.active AND l.time >= :since)
FROM bus_lines b ORDER BY b.id"""), {"since": now - timedelta(seconds=offline_after_s)})
    keys = ("id", "code", "name", "color", "length_m", "stops", "vehicles", "online")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def line_vehicles(conn: sa.Connection, line_id: int) -> list[tuple[str, str | None, str | None]]:
    """(vehicle_id, label, plate) of the active vehicles registered on the line."""
    return [tuple(r) for r in conn.execute(sa.text(  # type: ignore[misc]
        "SELECT vehicle_id, label, plate FROM vehicles WHERE line_id = :l AND active "
        "ORDER BY vehicle_id"), {"l": line_id})]


def active_bunching(conn: sa.Connection, vehicle_ids: Sequence[str] | None = None
                    ) -> list[tuple[int, str, datetime, dict[str, Any], float, float]]:
    """(id, vehicle_id, started_at, details, lon, lat) of the active bunching alarms."""
    where = "" if vehicle_ids is None else "AND vehicle_id = ANY(:vids)"
    return [tuple(r) for r in conn.execute(sa.text(  # type: ignore[misc]
        "SELECT id, vehicle_id, started_at, details, lon, lat FROM vehicle_alarms "  # noqa: S608
        f"WHERE kind = 'bunching' AND status = 'active' {where} ORDER BY vehicle_id"),
        {"vids": list(vehicle_ids or ())})]


def state_from_alarms(conn: sa.Connection, fleet: FleetDirectory,
                      vehicle_ids: Sequence[str] | None = None) -> dict[str, Bunched]:
    """The bunching flags that the active stored alarms stand for (the monitor's state after a
    restart, and the hysteresis a stateless read starts from)."""
    out: dict[str, Bunched] = {}
    for _id, vid, started, details, lon, lat in active_bunching(conn, vehicle_ids):
        line_id = details.get("line_id")
        if line_id is None:
            v = fleet.vehicle(vid)
            line_id = v.line_id if v is not None else None
        if line_id is None:
            continue
        out[vid] = Bunched(vid, str(details.get("leader", "")), int(line_id),
                           details.get("direction"), started,
                           float(details.get("gap_m", 0.0)), float(details.get("headway_s", 0.0)),
                           Position(vid, started, lon, lat))
    return out


def operations_of(conn: sa.Connection, line: FleetLine, *, now: datetime,
                  params: OperationsParams) -> LineOperations:
    ids = [vid for vid, _, _ in line_vehicles(conn, line.id)]
    latest, previous = latest_fixes(conn, ids)
    return line_operations(line, [latest[v] for v in ids if v in latest], previous, now=now,
                           params=params)


def line_operations_view(conn: sa.Connection, fleet: FleetDirectory, line: FleetLine, *,
                         now: datetime, params: OperationsParams) -> dict[str, Any]:
    """A line's vehicles with progress, direction, next stop and ETA; headways per direction;
    the pairs bunched now (the monitor's hysteresis, started from the stored alarms)."""
    registered = {vid: (label, plate) for vid, label, plate in line_vehicles(conn, line.id)}
    ops = operations_of(conn, line, now=now, params=params)
    state: BunchingState = state_from_alarms(conn, fleet, list(registered))
    state, _ = step_bunching(state, ops, params)
    vehicles = []
    for v in ops.vehicles:
        label, plate = registered[v.vehicle_id]
        vehicles.append({"vehicle_id": v.vehicle_id, "label": label, "plate": plate,
                         **{k: x for k, x in v.as_dict().items() if k != "vehicle_id"}})
    reported = {v.vehicle_id for v in ops.vehicles}
    for vid, (label, plate) in registered.items():
        if vid not in reported:  # registered, never reported
            vehicles.append({"vehicle_id": vid, "label": label, "plate": plate,
                             **dict.fromkeys(NO_FIX), "online": False, "on_line": False})
    return {
        "line": {**line_summary(line), "length_m": round(ops.length_m, 1),
                 "stops": len(line.stops)},
        "time": now.isoformat(),
        "vehicles": vehicles,
        "headways": {d: [h.as_dict() for h in ops.headways_in(d)] for d in DIRECTIONS},
        "bunching": [{"follower": b.follower, "leader": b.leader, "direction": b.direction,
                      "gap_m": round(b.gap_m, 1), "headway_s": round(b.headway_s),
                      "since": b.since.isoformat()}
                     for b in bunched_pairs(state, line.id)],
    }


def vehicle_on_line(conn: sa.Connection, line: FleetLine, vehicle_id: str, *, now: datetime,
                    params: OperationsParams) -> dict[str, Any]:
    """progress_m, direction and next_stop of one vehicle on its line (nulls without a fix or
    away from the line)."""
    latest, previous = latest_fixes(conn, [vehicle_id])
    none = {"progress_m": None, "direction": None, "next_stop": None}
    if vehicle_id not in latest:
        return none
    ops = line_operations(line, [latest[vehicle_id]], previous, now=now, params=params)
    v = ops.vehicles[0]
    if not v.on_line:
        return none
    return {"progress_m": round(v.progress_m, 1), "direction": v.direction,
            "next_stop": None if v.next_stop is None else v.next_stop.as_dict()}


# Playback ------------------------------------------------------------------------------


def vehicle_track(conn: sa.Connection, vehicle_id: str, start: datetime, end: datetime,
                  zoom: float | None) -> list[list]:
    return track_points(track(conn, vehicle_id, start, end), zoom)


def line_replay(conn: sa.Connection, line: FleetLine, *, start: datetime, end: datetime,
                zoom: float | None) -> dict[str, Any]:
    """Every bus registered on the line with fixes in [start, end) and its (simplified)
    points, the alarms of those buses open at some time in the window, the line and stops."""
    vehicles = []
    for vid, label, plate in line_vehicles(conn, line.id):
        points = vehicle_track(conn, vid, start, end, zoom)
        if points:
            vehicles.append({"vehicle_id": vid, "label": label, "plate": plate,
                             "points": points})
    ids = [v["vehicle_id"] for v in vehicles]
    alarms = list_alarms(conn, vehicle_ids=ids, start=start, end=end, limit=1000) if ids else []
    geometry = conn.execute(sa.text("SELECT ST_AsGeoJSON(geom, 6) FROM bus_lines WHERE id = :l"),
                            {"l": line.id}).scalar_one()
    return {
        "line": {**line_summary(line), "length_m": round(line.geometry.path.length, 1)},
        "from": start.isoformat(), "to": end.isoformat(), "zoom": zoom,
        "geometry": orjson.loads(geometry),
        "stops": [{"seq": s.seq, "code": s.code, "name": s.name, "lon": s.lon, "lat": s.lat,
                   "distance_m": s.distance_m} for s in line.stops],
        "vehicles": vehicles,
        "alarms": [a.as_dict() for a in sorted(alarms, key=lambda a: (a.started_at, a.id))],
    }
