"""What the traffic API answers (the shapes of common.md), from the service's current levels
and the stored buckets. Reads only; the router is a thin layer over these."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

import orjson
import sqlalchemy as sa

from backend.errors import InvalidInput, NotFound
from backend.traffic import alerts as alert_store
from backend.traffic import segments as segment_store
from backend.traffic import store
from backend.traffic.levels import BUCKET, UNKNOWN, level_of
from backend.traffic.service import TrafficService
from backend.traffic.typical import slot_of

MAX_SEGMENTS = 50_000  # one answer's segments (the whole demo county has ~20 000)
MAX_DAYS_BACK = 3660


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _segment_rows(service: TrafficService, keys: list[int], typical: dict[int, tuple[float, int]]
                  ) -> list[dict[str, Any]]:
    levels = service.current.levels
    out = []
    for k in keys:
        info = service.segments.get(k)
        if info is None:
            continue
        lv = levels.get(k)
        usual = typical.get(k)
        out.append({
            "segment": k, "road_id": info.road_id, "forward": info.forward, "name": info.name,
            "road_class": info.road_class, "length_m": round(info.length_m, 1),
            "pilot_code": info.pilot_code,
            "speed_kmh": None if lv is None else lv.speed_kmh,
            "typical_kmh": None if usual is None else round(usual[0], 1),
            "vehicles": 0 if lv is None else lv.vehicles,
            "level": UNKNOWN if lv is None else lv.level})
    return out


def _keys(service: TrafficService, conn: sa.Connection,
          bbox: tuple[float, float, float, float] | None) -> list[int]:
    keys = sorted(service.segments) if bbox is None else segment_store.in_bbox(conn, bbox)
    if len(keys) > MAX_SEGMENTS:
        raise InvalidInput(f"{len(keys)} segments in this bbox, more than {MAX_SEGMENTS}: "
                           "ask for a smaller bbox")
    return keys


def segments(service: TrafficService, conn: sa.Connection,
             bbox: tuple[float, float, float, float] | None) -> dict[str, Any]:
    """Every segment in `bbox` with its current level (0: too few vehicles)."""
    keys = _keys(service, conn, bbox)
    snap = service.current
    typical = store.typical_for(conn, slot_of(snap.time, service.tz), keys)
    return {"time": snap.time.isoformat(), "window_s": int(BUCKET.total_seconds()),
            "segments": _segment_rows(service, keys, typical)}


def segments_geojson(service: TrafficService, conn: sa.Connection,
                     bbox: tuple[float, float, float, float] | None) -> dict[str, Any]:
    """The same as a FeatureCollection of LineStrings in the direction of travel."""
    body = segments(service, conn, bbox)
    geoms = segment_store.geojson_rows(conn, [s["segment"] for s in body["segments"]])
    return {"type": "FeatureCollection", "time": body["time"], "window_s": body["window_s"],
            "features": [{"type": "Feature", "id": s["segment"], "geometry": geoms[s["segment"]],
                          "properties": s}
                         for s in body["segments"] if s["segment"] in geoms]}


def index(service: TrafficService) -> dict[str, Any]:
    snap = service.current
    return {"time": snap.time.isoformat(),
            "seat": {"tpi": snap.seat.tpi, "level": snap.seat.level,
                     "length_m": round(snap.seat.length_m, 1)},
            "townships": [{"code": a.code, "name": a.name, "tpi": a.tpi, "level": a.level,
                           "length_m": round(a.length_m, 1)} for a in snap.townships]}


def check_day(day: date, service: TrafficService) -> None:
    today = datetime.now(UTC).astimezone(service.tz).date()
    if (today - day).days > MAX_DAYS_BACK or day > today:
        raise InvalidInput(f"date must be a past or today's date within {MAX_DAYS_BACK} days, "
                           f"got {day.isoformat()}")


def history(service: TrafficService, conn: sa.Connection, segment: int, day: date
            ) -> dict[str, Any]:
    """The 288 buckets of a local day: speed, vehicles and level, and the slot's typical."""
    if segment not in service.segments:
        raise NotFound(f"No traffic segment {segment}")
    check_day(day, service)
    start, end = store.day_bounds(day, service.tz)
    stored = store.history(conn, segment, start, end)
    usual = store.typical_week(conn, segment)
    buckets = []
    for t in store.buckets(start, end):
        speed, vehicles, level = stored.get(t, (None, 0, UNKNOWN))
        typical = usual.get(slot_of(t, service.tz))
        buckets.append({"start": t.isoformat(), "speed_kmh": speed, "vehicles": vehicles,
                        "level": level,
                        "typical_kmh": None if typical is None else round(typical, 1)})
    return {"segment": segment, "date": day.isoformat(), "buckets": buckets}


def replay(service: TrafficService, conn: sa.Connection, day: date, start: datetime | None,
           end: datetime | None, bbox: tuple[float, float, float, float] | None
           ) -> dict[str, Any]:
    """Levels per bucket of a local day (or the part of it in [start, end)); a segment absent
    from a bucket had no published level."""
    check_day(day, service)
    lo, hi = store.day_bounds(day, service.tz)
    for name, t in (("start", start), ("end", end)):
        if t is not None and t.tzinfo is None:
            raise InvalidInput(f"Give {name} with a UTC offset, e.g. 2026-11-24T08:00:00+08:00")
    a, b = max(lo, start or lo), min(hi, end or hi)
    if b <= a:
        raise InvalidInput("end must be after start, and both within the date")
    keys = None if bbox is None else _keys(service, conn, bbox)
    levels = store.replay(conn, a, b, keys)
    return {"date": day.isoformat(), "buckets": [
        {"start": t.isoformat(), "levels": {str(s): lv for s, lv in levels.get(t, {}).items()}}
        for t in store.buckets(store.bucket_start_at_or_after(a), b)]}


def pilot(service: TrafficService, conn: sa.Connection) -> list[dict[str, Any]]:
    """Pilot segments with their current speed (length over the summed travel times of the
    parts with a published speed), typical speed and level."""
    rows = conn.execute(sa.text(
        "SELECT code, name, road_name, direction, length_m FROM pilot_segments ORDER BY code"))
    parts: dict[str, list[int]] = {}
    for info in service.segments.values():
        if info.pilot_code is not None:
            parts.setdefault(info.pilot_code, []).append(info.segment)
    snap = service.current
    keys = [k for ks in parts.values() for k in ks]
    typical = store.typical_for(conn, slot_of(snap.time, service.tz), keys)
    out = []
    for code, name, road_name, direction, length_m in rows:
        segs = sorted(parts.get(code, []))
        speed = _space_mean(service, segs, {k: lv.speed_kmh for k, lv in snap.levels.items()})
        usual = _space_mean(service, segs, {k: v for k, (v, _n) in typical.items()})
        road_class = service.segments[segs[0]].road_class if segs else "primary"
        level = UNKNOWN if speed is None else level_of(speed, service.grader.thresholds(road_class))
        out.append({"code": code, "name": name, "road_name": road_name,
                    "direction": direction, "segments": segs,
                    "speed_kmh": speed, "typical_kmh": usual, "level": level,
                    "length_m": length_m})
    return out


def _space_mean(service: TrafficService, segs: list[int], speeds: dict[int, float]
                ) -> float | None:
    length = hours = 0.0
    for k in segs:
        v = speeds.get(k)
        if v:
            length += service.segments[k].length_m
            hours += service.segments[k].length_m / v
    return round(length / hours, 1) if hours > 0 else None


def alerts(conn: sa.Connection, status: Literal["open", "all"], limit: int) -> dict[str, Any]:
    return {"alerts": [a.as_dict() for a in alert_store.list_alerts(conn, status=status,
                                                                    limit=limit)]}


def alert_polygon(conn: sa.Connection, segment: int, buffer_m: float = 30.0
                  ) -> list[tuple[float, float]]:
    """The segment's buffer (the area to notify in CAP) as a closed ring of (lon, lat)."""
    row = conn.execute(sa.text(
        "SELECT ST_AsGeoJSON(ST_Buffer(geom::geography, :m, 'quad_segs=4')::geometry, 6) "
        "FROM traffic_segments WHERE segment = :s"), {"s": segment, "m": buffer_m}).scalar()
    if row is None:
        return []
    ring = orjson.loads(row)["coordinates"][0]
    return [(float(x), float(y)) for x, y in ring]
