"""Which cameras can see a place: those whose stored, clipped view (camera_views, any of their
views: own heading or a preset) contains the point, online first, then by geodesic distance,
each with the share of a small disc around the point that its view covers; and how many
cameras would see it but for a building (their unclipped sector holds the point, their clipped
view does not).

Both searches start from the GiST indexes (camera_views.geom holding the point; cameras.geom
within the longest stored range) and do the metric work (disc, azimuth, distance in the
county's CRS, as the cones were computed) only on the few rows the index found."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa

from backend.cameras.media import Streams
from backend.cameras.schemas import SeeingAnswer, SeeingCamera
from backend.catalog.camera_views import load_camera_views
from backend.errors import InvalidInput

DISC_M = (1.0, 100.0)   # the disc around the point whose covered share is given
LIMIT = (1, 50)
DISC_SEGMENTS = 8       # quarter-circle segments of the disc: its area within 0.7 % of pi r^2
MAX_NUMBER_CHARS = 32    # a longer query value is refused before it is parsed
M_PER_DEG = 110_000.0   # on the small side, so that the degree box covers the range

# Per camera the view that sees the point: its own heading first, else the preset covering
# the most of the disc.
SEEING_SQL = """
WITH here AS (
  SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS pt,
         ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :srid) AS m),
disc AS (SELECT ST_Buffer(here.m, :disc, :segments) AS d FROM here),
seen AS (
  SELECT DISTINCT ON (v.camera_id) v.camera_id, v.view_no, v.heading_deg,
    ST_Area(ST_Intersection(ST_Transform(v.geom, :srid), disc.d)) / ST_Area(disc.d) AS share
  FROM here, disc, camera_views v
  WHERE v.geom && here.pt AND ST_Intersects(v.geom, here.pt)
  ORDER BY v.camera_id, v.view_no = 0 DESC, share DESC, v.view_no)
SELECT c.code, c.name, c.kind, c.status, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
  ST_Distance(c.geom::geography, here.pt::geography) AS distance_m, s.view_no, s.heading_deg,
  s.share, s.camera_id
FROM seen s JOIN cameras c ON c.id = s.camera_id, here
ORDER BY c.status = 'online' DESC, distance_m, c.code
LIMIT :limit"""

# Cameras with a view (drawn, or all hidden) whose unclipped sector holds the point (within
# its range, bearing within half the field of view of its heading) and none of whose clipped
# views does. `seen` is every camera that sees the point, not only the listed ones.
BLOCKED_SQL = """
WITH here AS (
  SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS pt,
         ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :srid) AS m),
near AS (
  SELECT v.camera_id, v.heading_deg, v.fov_deg, v.range_m,
    ST_Transform(c.geom, :srid) AS cm
  FROM cameras c JOIN camera_views v ON v.camera_id = c.id
  WHERE c.geom && (  -- one value for the whole query: the GiST index takes it
      SELECT ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
                       r / (:m_per_deg * cos(radians(:lat))), r / :m_per_deg)
      FROM (SELECT coalesce(max(range_m), 0) AS r FROM camera_views) AS longest)
    AND v.status IN ('ok', 'empty'))
SELECT count(DISTINCT n.camera_id)
FROM near n, here
WHERE ST_DWithin(n.cm, here.m, n.range_m)
  AND (n.fov_deg >= 360 OR ST_Equals(n.cm, here.m) OR
       abs(mod(CAST(degrees(ST_Azimuth(n.cm, here.m)) - n.heading_deg + 540 AS numeric), 360)
           - 180) <= n.fov_deg / 2)
  AND n.camera_id NOT IN (
    SELECT v.camera_id FROM camera_views v
    WHERE v.geom && here.pt AND ST_Intersects(v.geom, here.pt))"""


@dataclass(frozen=True)
class SeeingQuery:
    lon: float
    lat: float
    disc_m: float = 10.0
    limit: int = 20


def _number(name: str, raw: str | None, low: float, high: float, default: float | None
            ) -> float:
    if raw is None or raw == "":
        if default is None:
            raise InvalidInput(f"{name} is required: a number from {low:g} to {high:g}")
        return default
    try:
        value = float(raw) if len(raw) <= MAX_NUMBER_CHARS else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidInput(f"{name} must be a number from {low:g} to {high:g}, got {raw!r}")
    return value


def parse_seeing(lon: str | None, lat: str | None, disc_m: str | None = None,
                 limit: str | None = None) -> SeeingQuery:
    """Query-string values checked here (400 naming the value and what is allowed)."""
    count = 20
    if limit not in (None, ""):
        if len(limit) > 2 or not limit.isdigit() or not LIMIT[0] <= int(limit) <= LIMIT[1]:
            raise InvalidInput(f"limit must be a whole number from {LIMIT[0]} to {LIMIT[1]}, "
                               f"got {limit!r}")
        count = int(limit)
    return SeeingQuery(_number("lon", lon, -180, 180, None), _number("lat", lat, -85, 85, None),
                       _number("disc_m", disc_m, *DISC_M, 10.0), count)


@lru_cache(maxsize=1)
def metric_srid() -> int:
    """The metric CRS the views are computed in (camera_views.yaml), read once."""
    return load_camera_views().metric_epsg


def seeing(conn: sa.Connection, lon: float, lat: float, *, streams: Streams,
           disc_m: float = 10.0, limit: int = 20, srid: int | None = None) -> SeeingAnswer:
    """The cameras that see (lon, lat) and the count blocked by buildings; `streams` tells
    which of them the media server can play (backend.cameras.media.MediaLinks.streams);
    `srid` the metric CRS the views were computed in (default: the county's)."""
    srid = srid or metric_srid()
    params = {"lon": lon, "lat": lat, "srid": srid, "disc": disc_m, "limit": limit,
              "segments": DISC_SEGMENTS, "m_per_deg": M_PER_DEG}
    rows = conn.execute(sa.text(SEEING_SQL), params).mappings().all()
    blocked = conn.execute(sa.text(BLOCKED_SQL), params).scalar_one()
    playable = streams([r["code"] for r in rows])
    cameras = [SeeingCamera(
        code=r["code"], name=r["name"], kind=r["kind"], status=r["status"], lon=r["lon"],
        lat=r["lat"], distance_m=round(r["distance_m"], 1), view_no=r["view_no"],
        heading_deg=r["heading_deg"], coverage_share=round(min(1.0, r["share"]), 4),
        has_stream=playable.get(r["code"], False)) for r in rows]
    return SeeingAnswer(lon=lon, lat=lat, disc_m=disc_m, cameras=cameras, blocked=blocked)
