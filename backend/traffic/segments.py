"""traffic_segments: one row per direction of travel along each road row, derived from
`roads`, `townships` and `pilot_segments` by `refresh` (idempotent: run after the demo load or
an ingest of roads, and at start).

A segment's township is the one its midpoint lies in. Its pilot code is the pilot segment it
is part of in the same direction: both ends within PILOT_TOLERANCE_M of the pilot line and
running the same way (their end-to-end bearings less than 90 degrees apart)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from backend.traffic.network import METRIC_CRS

PILOT_TOLERANCE_M = 5.0
_SRID = int(METRIC_CRS.split(":")[1])

REFRESH = sa.text(f"""
WITH r AS (
  SELECT id, road_class, name, geom FROM roads
  WHERE NOT ST_IsEmpty(geom) AND ST_NPoints(geom) >= 2
), d AS (
  SELECT 2 * id AS segment, id AS road_id, true AS forward, name, road_class, geom FROM r
  UNION ALL
  SELECT 2 * id + 1, id, false, name, road_class, ST_Reverse(geom) FROM r
), m AS (
  SELECT d.*, ST_Transform(d.geom, {_SRID}) AS g FROM d
), p AS (
  SELECT code, ST_Transform(geom, {_SRID}) AS g FROM pilot_segments WHERE NOT ST_IsEmpty(geom)
)
INSERT INTO traffic_segments AS t (segment, road_id, forward, name, road_class, length_m,
  township_code, pilot_code, geom, updated_at)
SELECT m.segment, m.road_id, m.forward, m.name, m.road_class, ST_Length(m.g),
  (SELECT tw.code FROM townships tw
   WHERE ST_Intersects(tw.geom, ST_LineInterpolatePoint(m.geom, 0.5))
   ORDER BY tw.code LIMIT 1),
  (SELECT p.code FROM p
   WHERE ST_DWithin(p.g, ST_StartPoint(m.g), :tol) AND ST_DWithin(p.g, ST_EndPoint(m.g), :tol)
     AND cos(ST_Azimuth(ST_StartPoint(p.g), ST_EndPoint(p.g))
             - ST_Azimuth(ST_StartPoint(m.g), ST_EndPoint(m.g))) > 0
   ORDER BY p.code LIMIT 1),
  m.geom, now()
FROM m
ON CONFLICT (segment) DO UPDATE SET road_id = EXCLUDED.road_id, forward = EXCLUDED.forward,
  name = EXCLUDED.name, road_class = EXCLUDED.road_class, length_m = EXCLUDED.length_m,
  township_code = EXCLUDED.township_code, pilot_code = EXCLUDED.pilot_code,
  geom = EXCLUDED.geom, updated_at = now()
WHERE (t.road_class, t.name, t.length_m, t.township_code, t.pilot_code, t.geom)
  IS DISTINCT FROM (EXCLUDED.road_class, EXCLUDED.name, EXCLUDED.length_m,
                    EXCLUDED.township_code, EXCLUDED.pilot_code, EXCLUDED.geom)""")  # noqa: S608
DROP_GONE = sa.text(
    "DELETE FROM traffic_segments t WHERE NOT EXISTS (SELECT 1 FROM roads r WHERE r.id = t.road_id"
    " AND NOT ST_IsEmpty(r.geom) AND ST_NPoints(r.geom) >= 2)")


@dataclass(frozen=True, slots=True)
class RefreshReport:
    changed: int
    removed: int
    segments: int
    pilot: int                       # segments that are part of a pilot segment
    unknown_classes: tuple[str, ...]  # road classes the levels file does not map


def refresh(conn: sa.Connection, known_classes: Sequence[str] = ()) -> RefreshReport:
    """Bring traffic_segments in line with roads (in the caller's transaction)."""
    changed = conn.execute(REFRESH, {"tol": PILOT_TOLERANCE_M}).rowcount
    removed = conn.execute(DROP_GONE).rowcount
    total, pilot = conn.execute(sa.text(
        "SELECT count(*), count(pilot_code) FROM traffic_segments")).one()
    classes = [c for (c,) in conn.execute(sa.text(
        "SELECT DISTINCT road_class FROM traffic_segments ORDER BY 1"))]
    unknown = tuple(c for c in classes if known_classes and c not in known_classes)
    return RefreshReport(changed, removed, total, pilot, unknown)


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    segment: int
    road_id: int
    forward: bool
    name: str | None
    road_class: str
    length_m: float
    township_code: str | None
    pilot_code: str | None
    lon: float     # midpoint
    lat: float
    bbox: tuple[float, float, float, float]


LOAD = sa.text("""
SELECT segment, road_id, forward, name, road_class, length_m, township_code, pilot_code,
  ST_X(ST_LineInterpolatePoint(geom, 0.5)), ST_Y(ST_LineInterpolatePoint(geom, 0.5)),
  ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)
FROM traffic_segments ORDER BY segment""")


def load(conn: sa.Connection) -> dict[int, SegmentInfo]:
    """Every segment's attributes, midpoint and bbox (kept in memory by the service)."""
    out = {}
    for r in conn.execute(LOAD):
        out[r[0]] = SegmentInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
                                r[8], r[9], (r[10], r[11], r[12], r[13]))
    return out


def in_bbox(conn: sa.Connection, bbox: tuple[float, float, float, float]) -> list[int]:
    """Segment keys whose line meets `bbox` (w, s, e, n; the GiST index does the work)."""
    return [s for (s,) in conn.execute(sa.text(
        "SELECT segment FROM traffic_segments WHERE geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
        " ORDER BY segment"), dict(zip("wsen", bbox, strict=True)))]


def geojson_rows(conn: sa.Connection, segments: Sequence[int]) -> dict[int, dict]:
    """The line geometry (GeoJSON, 6 decimals) of `segments`."""
    import orjson

    rows = conn.execute(sa.text(
        "SELECT segment, ST_AsGeoJSON(geom, 6) FROM traffic_segments WHERE segment = ANY(:s)"),
        {"s": list(segments)})
    return {s: orjson.loads(g) for s, g in rows}


NEAREST = sa.text(f"""
WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
near AS (
  SELECT s.road_id FROM traffic_segments s, pt
  WHERE s.forward AND s.geom && ST_Expand(pt.g, :r / 90000.0)
    AND ST_DWithin(s.geom::geography, pt.g::geography, :r)
  ORDER BY ST_Distance(s.geom::geography, pt.g::geography), s.road_id LIMIT 1
), loc AS (
  SELECT n.road_id, ST_Transform(s.geom, {_SRID}) AS g, ST_Transform(pt.g, {_SRID}) AS p
  FROM near n JOIN traffic_segments s ON s.segment = 2 * n.road_id, pt
), ab AS (
  SELECT road_id, p, ST_LineInterpolatePoint(g, GREATEST(0, ST_LineLocatePoint(g, p) - 0.01)) AS a,
         ST_LineInterpolatePoint(g, LEAST(1, ST_LineLocatePoint(g, p) + 0.01)) AS b
  FROM loc
)
SELECT road_id,
  (ST_X(b) - ST_X(a)) * (ST_Y(p) - ST_Y(a)) - (ST_Y(b) - ST_Y(a)) * (ST_X(p) - ST_X(a))
FROM ab""")  # noqa: S608 (the SRID is a constant)


def nearest(conn: sa.Connection, lon: float, lat: float, radius_m: float) -> int | None:
    """The segment nearest a point within `radius_m` (an accident case's location). Of the
    two directions of the nearest road, the one with the point on its right-hand side (China
    drives on the right); a point on the line itself takes the forward one."""
    row = conn.execute(NEAREST, {"lon": lon, "lat": lat, "r": radius_m}).first()
    if row is None:
        return None
    # A positive cross product puts the point left of the forward direction: the backward one.
    return 2 * int(row[0]) + (1 if row[1] is not None and row[1] > 0 else 0)
