"""The stored views (`camera_views`): one row per camera (view 0, its own heading) and per preset
(view n = preset n), the polygon clipped by the buildings (cones.py), computed in the county's
metric CRS and stored in EPSG:4326 (GiST indexed, with the generated 3857 copy for tiles).

Staleness, per camera, without a marker table: a camera's views are stale when one is missing
or left over (a preset added or removed), when the heading, field of view or range a view was
computed with differs from what the camera or preset says now (with the kind's defaults for
empty values), when the camera's row was updated after the view was computed, or when the
buildings changed after it (`layer_versions`, bumped by a trigger on every write). A camera's
status changes touch none of these, so a keepalive never recomputes a view."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
import sqlalchemy as sa

from backend.cameras import cones
from backend.catalog.camera_views import CameraViewParams

log = logging.getLogger(__name__)
# One writer of camera_views at a time, across processes (the server's refresh, the command):
# two would both delete, then both insert the same keys.
LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('cityops.camera_views'))"
MOUNT_MARGIN_M = 2.0  # the building query's box reaches this far beyond the longest range

# What every view should be now: view 0 from the camera, view n from preset n.
WANT_SQL = """
WITH d AS (SELECT CAST(:ranges AS jsonb) AS r, CAST(:fovs AS jsonb) AS f)
SELECT c.id AS camera_id, 0 AS view_no, c.direction_deg IS NULL AS no_heading,
  CAST(coalesce(c.direction_deg, 0) AS real) AS heading_deg,
  CAST(coalesce(c.fov_deg, (d.f ->> c.kind)::real) AS real) AS fov_deg,
  CAST(coalesce(c.range_m, (d.r ->> c.kind)::real) AS real) AS range_m, c.updated_at
FROM cameras c, d WHERE (CAST(:ids AS bigint[]) IS NULL OR c.id = ANY(:ids))
UNION ALL
SELECT p.camera_id, p.preset_no, false, p.heading_deg, p.fov_deg,
  CAST(coalesce(p.range_m, c.range_m, (d.r ->> c.kind)::real) AS real), c.updated_at
FROM camera_presets p JOIN cameras c ON c.id = p.camera_id, d
WHERE (CAST(:ids AS bigint[]) IS NULL OR c.id = ANY(:ids))"""

STALE_SQL = "WITH want AS (" + WANT_SQL + """),
built AS (SELECT coalesce((SELECT changed_at FROM layer_versions
                           WHERE table_name = 'buildings'), '-infinity') AS at)
SELECT DISTINCT coalesce(w.camera_id, v.camera_id) AS camera_id
FROM want w FULL JOIN camera_views v ON v.camera_id = w.camera_id AND v.view_no = w.view_no,
  built
WHERE v.camera_id IS NULL OR w.camera_id IS NULL
   OR v.heading_deg <> w.heading_deg OR v.fov_deg <> w.fov_deg OR v.range_m <> w.range_m
   OR v.computed_at < w.updated_at OR v.computed_at < built.at
ORDER BY 1"""  # noqa: S608 (constants)

# The cameras in metric coordinates, near ones together (geohash order) so that a batch's
# building boxes overlap.
PLACES_SQL = """
SELECT c.id, ST_X(m.pt) AS x, ST_Y(m.pt) AS y
FROM cameras c, LATERAL (SELECT ST_Transform(c.geom, :srid) AS pt) m
WHERE c.id = ANY(:ids)
ORDER BY ST_GeoHash(c.geom, 8), c.id"""

# Buildings whose box meets any camera's box (a GiST probe per camera), in metric CRS.
BUILDINGS_SQL = """
WITH box AS (
  SELECT ST_Transform(ST_MakeEnvelope(x - r, y - r, x + r, y + r, :srid), 4326) AS env
  FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[]), CAST(:rs AS float8[])) AS t(x, y, r)),
hit AS (SELECT DISTINCT b.id FROM box JOIN buildings b ON b.geom && box.env)
SELECT ST_AsBinary(ST_Transform(b.geom, :srid)) AS wkb
FROM hit JOIN buildings b ON b.id = hit.id"""

INSERT_SQL = """
INSERT INTO camera_views (camera_id, view_no, heading_deg, fov_deg, range_m, status, area_m2,
                          visible_share, computed_at, geom)
VALUES (:camera_id, :view_no, :heading_deg, :fov_deg, :range_m, :status, :area_m2,
        :visible_share, :computed_at,
        ST_Multi(ST_Transform(ST_GeomFromWKB(CAST(:wkb AS bytea), :srid), 4326)))"""


@dataclass(frozen=True)
class Wanted:
    camera_id: int
    view_no: int
    no_heading: bool
    heading_deg: float
    fov_deg: float
    range_m: float


def _defaults(params: CameraViewParams) -> dict[str, str]:
    return {"ranges": json.dumps(params.default_range_m),
            "fovs": json.dumps(params.default_fov_deg)}


def stale_cameras(conn: sa.Connection, params: CameraViewParams) -> list[int]:
    """Ids of the cameras whose views are missing, left over or out of date."""
    return list(conn.execute(sa.text(STALE_SQL), {**_defaults(params), "ids": None}).scalars())


def all_cameras(conn: sa.Connection) -> list[int]:
    return list(conn.execute(sa.text("SELECT id FROM cameras ORDER BY id")).scalars())


def _wanted(conn: sa.Connection, ids: Sequence[int], params: CameraViewParams
            ) -> dict[int, list[Wanted]]:
    out: dict[int, list[Wanted]] = {}
    for r in conn.execute(sa.text(WANT_SQL), {**_defaults(params), "ids": list(ids)}):
        out.setdefault(r.camera_id, []).append(Wanted(
            r.camera_id, r.view_no, r.no_heading, r.heading_deg, r.fov_deg, r.range_m))
    return out


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def compute(conn: sa.Connection, ids: Sequence[int], params: CameraViewParams
            ) -> Counter[str]:
    """Recompute and store every view of the cameras `ids` (their old rows replaced), in
    batches of `params.batch`; the caller commits. Returns the count of views per status."""
    srid = params.metric_epsg
    conn.execute(sa.text(LOCK_SQL))
    wanted = _wanted(conn, ids, params)
    places = conn.execute(sa.text(PLACES_SQL), {"srid": srid, "ids": list(ids)}).all()
    now = conn.execute(sa.text("SELECT now()")).scalar_one()
    counts: Counter[str] = Counter()
    for batch in _batches(places, params.batch):
        reach = [max((w.range_m for w in wanted.get(p.id, [])), default=0.0) + MOUNT_MARGIN_M
                 for p in batch]
        wkbs = conn.execute(sa.text(BUILDINGS_SQL), {
            "srid": srid, "xs": [p.x for p in batch], "ys": [p.y for p in batch],
            "rs": reach}).scalars().all()
        footprints = shapely.from_wkb([bytes(w) for w in wkbs])
        broken = ~shapely.is_valid(footprints)
        footprints[broken] = shapely.make_valid(footprints[broken])  # drawn data, not trusted
        tree = shapely.STRtree(footprints)
        rows = []
        for place, r in zip(batch, reach, strict=True):
            near = footprints[tree.query(shapely.box(place.x - r, place.y - r,
                                                     place.x + r, place.y + r))]
            for w in wanted.get(place.id, []):
                cone = cones.view(place.x, place.y, None if w.no_heading else w.heading_deg,
                                  w.fov_deg, w.range_m, list(near))
                counts[cone.status] += 1
                rows.append({
                    "camera_id": w.camera_id, "view_no": w.view_no,
                    "heading_deg": w.heading_deg, "fov_deg": w.fov_deg, "range_m": w.range_m,
                    "status": cone.status, "area_m2": round(cone.area_m2, 2),
                    "visible_share": cone.visible_share, "computed_at": now, "srid": srid,
                    "wkb": None if cone.geom is None else shapely.to_wkb(cone.geom)})
        conn.execute(sa.text("DELETE FROM camera_views WHERE camera_id = ANY(:ids)"),
                     {"ids": [p.id for p in batch]})
        if rows:
            conn.execute(sa.text(INSERT_SQL), rows)
    return counts


def refresh(engine: sa.Engine, params: CameraViewParams, *, everything: bool = False
            ) -> tuple[int, Counter[str]]:
    """Recompute the stale views (or all): (cameras done, views per status). Blocking: call it
    in a thread from async code."""
    with engine.begin() as conn:
        conn.execute(sa.text(LOCK_SQL))  # what another writer has just done is not stale
        ids = all_cameras(conn) if everything else stale_cameras(conn, params)
        if not ids:
            return 0, Counter()
        counts = compute(conn, ids, params)
    log.info("camera views: %d cameras recomputed (%s)", len(ids), dict(counts))
    return len(ids), counts


async def keep_fresh(engine: sa.Engine, params: CameraViewParams) -> None:
    """The server's task: the stale views now (in a thread: startup does not wait for it), then
    a staleness check every `params.check_interval_s` (0: only once). A failure is logged and
    tried again at the next check; it never ends the task."""
    while True:
        try:
            await asyncio.to_thread(refresh, engine, params)
        except Exception:
            log.exception("camera views: refresh failed; trying again at the next check")
        if params.check_interval_s <= 0:
            return
        await asyncio.sleep(params.check_interval_s)


FLAGGED_SQL = """
SELECT c.code, c.name, v.view_no, v.status
FROM camera_views v JOIN cameras c ON c.id = v.camera_id
WHERE v.status <> 'ok' ORDER BY v.status, c.code, v.view_no"""


def flagged(conn: sa.Connection) -> list[sa.Row]:
    """Views without a polygon (inside_building, no_heading, empty), for the report."""
    return list(conn.execute(sa.text(FLAGGED_SQL)).all())
