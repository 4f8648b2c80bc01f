"""The fleet's live state as the console lists it: each vehicle's latest fix with its register
entry and a status (`alarm` while a stored alarm is active, `offline` without a fix for
`offline_after_s`, else `normal`); and the latest fixes the line operations start from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from backend.ingest.position import Position
from backend.vehicles.fleet import PROBE_CLASS

Status = Literal["alarm", "offline", "normal"]

VEHICLE_COLUMNS = """
  COALESCE(v.vehicle_id, l.vehicle_id) AS vehicle_id, v.label, v.plate, v.vehicle_class,
  v.line_id, b.code AS line_code, l.time, l.lon, l.lat, l.speed_kmh, l.heading_deg,
  COALESCE((SELECT array_agg(DISTINCT a.kind ORDER BY a.kind) FROM vehicle_alarms a
            WHERE a.vehicle_id = COALESCE(v.vehicle_id, l.vehicle_id)
              AND a.status = 'active'), '{}') AS alarms"""
# Every vehicle with a fix, registered or not, and every active registered one; probes (their
# positions are for the traffic speeds only) are neither listed nor looked up.
VEHICLE_FROM = """
FROM vehicle_latest l
FULL JOIN (SELECT * FROM vehicles WHERE active) v ON v.vehicle_id = l.vehicle_id
LEFT JOIN bus_lines b ON b.id = v.line_id
WHERE NOT EXISTS (SELECT 1 FROM vehicles p
                  WHERE p.vehicle_id = COALESCE(v.vehicle_id, l.vehicle_id)
                    AND p.vehicle_class = :probe)"""


def status_of(time: datetime | None, alarms: Sequence[str], now: datetime,
              offline_after_s: float) -> Status:
    if alarms:
        return "alarm"
    if time is None or (now - time).total_seconds() > offline_after_s:
        return "offline"
    return "normal"


def _record(row: sa.Row, now: datetime, offline_after_s: float) -> dict[str, Any]:
    r = row._mapping
    alarms = list(r["alarms"])
    return {
        "vehicle_id": r["vehicle_id"], "label": r["label"], "plate": r["plate"],
        "vehicle_class": r["vehicle_class"], "line_id": r["line_id"],
        "line_code": r["line_code"],
        "time": r["time"].isoformat() if r["time"] is not None else None,
        "lon": r["lon"], "lat": r["lat"], "speed_kmh": r["speed_kmh"],
        "heading_deg": r["heading_deg"],
        "status": status_of(r["time"], alarms, now, offline_after_s), "alarms": alarms,
    }


def list_vehicles(
    conn: sa.Connection,
    *,
    now: datetime,
    offline_after_s: float,
    bbox: tuple[float, float, float, float] | None = None,
) -> list[dict[str, Any]]:
    """Vehicles by id; with `bbox` (w, s, e, n) only those whose latest fix lies inside it
    (a registered vehicle that never reported has no place, so it is listed only without)."""
    where, params = "", {"probe": PROBE_CLASS}
    if bbox is not None:
        where = "AND l.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
        params.update(zip("wsen", bbox, strict=True))
    query = f"SELECT {VEHICLE_COLUMNS} {VEHICLE_FROM} {where} ORDER BY 1"  # noqa: S608
    return [_record(r, now, offline_after_s) for r in conn.execute(sa.text(query), params)]


def get_vehicle(conn: sa.Connection, vehicle_id: str, *, now: datetime,
                offline_after_s: float) -> dict[str, Any] | None:
    """One vehicle as listed, or None when it is neither registered nor ever reported."""
    query = (f"SELECT {VEHICLE_COLUMNS} {VEHICLE_FROM} "  # noqa: S608
             "AND COALESCE(v.vehicle_id, l.vehicle_id) = :vid")
    row = conn.execute(sa.text(query), {"vid": vehicle_id, "probe": PROBE_CLASS}).first()
    return None if row is None else _record(row, now, offline_after_s)


def known_vehicle(conn: sa.Connection, vehicle_id: str) -> bool:
    """Registered, or has a latest fix; not a probe."""
    return conn.execute(sa.text(
        "SELECT (EXISTS (SELECT 1 FROM vehicles WHERE vehicle_id = :v) "
        "OR EXISTS (SELECT 1 FROM vehicle_latest WHERE vehicle_id = :v)) "
        "AND NOT EXISTS (SELECT 1 FROM vehicles WHERE vehicle_id = :v "
        "AND vehicle_class = :probe)"),
        {"v": vehicle_id, "probe": PROBE_CLASS}).scalar_one()


LATEST_WITH_PREVIOUS = sa.text("""
SELECT l.vehicle_id, l.time, l.lon, l.lat, l.speed_kmh, l.heading_deg,
  p.time, p.lon, p.lat, p.speed_kmh, p.heading_deg
FROM vehicle_latest l
LEFT JOIN LATERAL (
  SELECT q.time, q.lon, q.lat, q.speed_kmh, q.heading_deg FROM vehicle_positions q
  WHERE q.vehicle_id = l.vehicle_id AND q.time < l.time AND q.time >= l.time - :lookback
    AND ST_DistanceSphere(ST_MakePoint(q.lon, q.lat), l.geom) >= :moved_m
  ORDER BY q.time DESC LIMIT 1) p ON true
WHERE l.vehicle_id = ANY(:vids)""")


def latest_fixes(
    conn: sa.Connection,
    vehicle_ids: Sequence[str],
    *,
    lookback: timedelta = timedelta(minutes=5),
    moved_m: float = 5.0,
) -> tuple[dict[str, Position], dict[str, Position]]:
    """(latest fix, previous fix) by vehicle. The previous fix is the newest earlier one at
    least `moved_m` away within `lookback`: it tells which way a bus that now stands went."""
    latest: dict[str, Position] = {}
    previous: dict[str, Position] = {}
    if not vehicle_ids:
        return latest, previous
    rows = conn.execute(LATEST_WITH_PREVIOUS, {
        "vids": list(vehicle_ids), "lookback": lookback, "moved_m": moved_m})
    for vid, *rest in rows:
        latest[vid] = Position(vid, *rest[:5])
        if rest[5] is not None:
            previous[vid] = Position(vid, *rest[5:])
    return latest, previous
