"""Grid workers in the database: the last position their phone reported, who works which grid
cell, and the list the dispatchers see. Assignments are audited; positions are not (they are
frequent, personal, and only the latest one is kept). Phones go out by the masking policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.auth.permissions import Principal
from backend.errors import InvalidInput, NotFound
from backend.privacy.policy import Kind, View, present

# A phone's clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=2)
# Positions farther than this outside the county's extent are refused (degrees, ~20 km).
BBOX_MARGIN_DEG = 0.2
GRID_WORKER = "grid_worker"
WORKER_PERSONAL = {"phone": Kind.PHONE}  # a worker's own phone, by the masking policy


@dataclass(frozen=True)
class Position:
    lon: float
    lat: float
    time: datetime
    accuracy_m: float | None = None


def check_position(position: Position, county_bbox: Sequence[float], now: datetime) -> None:
    w, s, e, n = county_bbox
    m = BBOX_MARGIN_DEG
    if not (w - m <= position.lon <= e + m and s - m <= position.lat <= n + m):
        raise InvalidInput(
            f"The position {position.lon:.6f}, {position.lat:.6f} is outside the county "
            f"({w:.3f}, {s:.3f} to {e:.3f}, {n:.3f}): send WGS-84 longitude and latitude")
    if position.time > now + CLOCK_SKEW:
        raise InvalidInput(f"The position's time {position.time.isoformat()} is in the future: "
                           "check the phone's clock")


def record_position(conn: sa.Connection, user_id: int, position: Position) -> bool:
    """Keep the newest position per worker; an older one than stored is ignored (False)."""
    stored = conn.execute(sa.text("""
INSERT INTO worker_positions AS w (user_id, time, lon, lat, accuracy_m)
VALUES (:u, :t, :lon, :lat, :acc)
ON CONFLICT (user_id) DO UPDATE SET time = EXCLUDED.time, lon = EXCLUDED.lon,
  lat = EXCLUDED.lat, accuracy_m = EXCLUDED.accuracy_m
WHERE w.time <= EXCLUDED.time
RETURNING user_id"""), {"u": user_id, "t": position.time, "lon": position.lon,
                        "lat": position.lat, "acc": position.accuracy_m}).scalar()
    return stored is not None


WORKERS_SQL = """
SELECT u.id, u.username, u.display_name, u.phone, u.active,
  w.time, w.lon, w.lat, w.accuracy_m,
  coalesce((SELECT json_agg(json_build_object(
              'grid_code', gw.grid_code, 'name', gc.name, 'township_name', gc.township_name,
              'community', gc.community) ORDER BY gw.grid_code)
            FROM grid_workers gw JOIN grid_cells gc ON gc.grid_code = gw.grid_code
            WHERE gw.user_id = u.id), '[]'::json) AS grids
FROM users u LEFT JOIN worker_positions w ON w.user_id = u.id
WHERE u.active AND (:role = ANY(u.roles) OR EXISTS (
  SELECT 1 FROM grid_workers gw WHERE gw.user_id = u.id))
  AND ({where})
ORDER BY u.username"""


def list_workers(conn: sa.Connection, principal: Principal, now: datetime,
                 bbox: Sequence[float] | None = None) -> dict[str, Any]:
    """Every active grid worker with their grid cells and last position (with its age);
    with `bbox`, only those whose last position lies inside it."""
    where, params = "TRUE", {"role": GRID_WORKER}
    if bbox:
        where = "w.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
        params.update(dict(zip("wsen", bbox, strict=True)))
    rows = conn.execute(sa.text(WORKERS_SQL.format(where=where)), params).mappings().all()
    out = []
    for r in rows:
        one = {"username": r["username"], "display_name": r["display_name"],
               "phone": r["phone"], "grids": r["grids"],
               "position": None if r["time"] is None else {
                   "lon": r["lon"], "lat": r["lat"], "accuracy_m": r["accuracy_m"],
                   "time": r["time"].isoformat(),
                   "age_s": max(0, round((now - r["time"]).total_seconds()))}}
        # A list never shows a person's phone in full (the nearby answer for one case does).
        present(one, WORKER_PERSONAL, principal.roles, View.LIST)
        out.append(one)
    return {"at": now.isoformat(), "workers": out}


def assign_workers(conn: sa.Connection, grid_code: str, usernames: Sequence[str],
                   actor: str) -> dict[str, Any]:
    """Make `usernames` (active grid workers) the workers of one grid cell, replacing those
    it had; audited as grid.assign_workers with who was added and removed."""
    cell = conn.execute(sa.text(
        "SELECT grid_code, name, township_name, community FROM grid_cells "
        "WHERE grid_code = :g FOR UPDATE"), {"g": grid_code}).mappings().first()
    if cell is None:
        raise NotFound(f"No grid cell {grid_code!r}")
    wanted = list(dict.fromkeys(usernames))
    found = {r.username: r for r in conn.execute(sa.text(
        "SELECT id, username, roles, active FROM users WHERE username = ANY(:names)"),
        {"names": wanted})}
    unknown = [u for u in wanted if u not in found or not found[u].active]
    if unknown:
        raise InvalidInput(f"No active user(s) {', '.join(unknown)}")
    not_workers = [u for u in wanted if GRID_WORKER not in found[u].roles]
    if not_workers:
        raise InvalidInput(f"{', '.join(not_workers)} do(es) not have the grid_worker role")
    before = set(conn.execute(sa.text(
        "SELECT u.username FROM grid_workers gw JOIN users u ON u.id = gw.user_id "
        "WHERE gw.grid_code = :g"), {"g": grid_code}).scalars())
    conn.execute(sa.text("DELETE FROM grid_workers WHERE grid_code = :g AND NOT "
                         "(user_id = ANY(:keep))"),
                 {"g": grid_code, "keep": [found[u].id for u in wanted]})
    if wanted:
        conn.execute(sa.text("INSERT INTO grid_workers (grid_code, user_id) VALUES (:g, :u) "
                             "ON CONFLICT DO NOTHING"),
                     [{"g": grid_code, "u": found[u].id} for u in wanted])
    added = sorted(set(wanted) - before)
    removed = sorted(before - set(wanted))
    audit(conn, actor, "grid.assign_workers", "grid_cell", grid_code,
          {"workers": sorted(wanted), "added": added, "removed": removed})
    return {**dict(cell), "workers": sorted(wanted), "added": added, "removed": removed}
