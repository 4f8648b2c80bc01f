"""Posted speed limits from the roads layer, matched by distance and heading (real PostGIS)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import sqlalchemy as sa
from pyproj import Transformer

from backend.ingest.position import Position
from backend.vehicles.road_limits import RoadSpeedLimits

TO_LONLAT = Transformer.from_crs("EPSG:4548", "EPSG:4326", always_xy=True)
T = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def a_long_straight_road(conn: sa.Connection, road_class: str) -> tuple[float, float, float, int]:
    """The middle of the longest part of a road of `road_class`: (x, y, bearing, limit)."""
    row = conn.execute(sa.text("""
SELECT ST_X(m), ST_Y(m), degrees(ST_Azimuth(ST_LineInterpolatePoint(g, 0.45),
       ST_LineInterpolatePoint(g, 0.55))), speed_limit
FROM (SELECT g, ST_LineInterpolatePoint(g, 0.5) AS m, speed_limit FROM (
  SELECT (ST_Dump(ST_Transform(geom, 4548))).geom AS g, speed_limit FROM roads
  WHERE road_class = :c) parts ORDER BY ST_Length(g) DESC LIMIT 1) r"""),
        {"c": road_class}).one()
    return float(row[0]), float(row[1]), float(row[2]), int(row[3])


def fix(x: float, y: float, speed: float | None, heading: float | None) -> Position:
    lon, lat = TO_LONLAT.transform(x, y)
    return Position("road-test", T, lon, lat, speed_kmh=speed, heading_deg=heading)


def test_a_fix_takes_the_limit_of_the_road_it_drives_along(
    engine: sa.Engine, county: dict[str, int]
) -> None:
    with engine.connect() as conn:
        limits = RoadSpeedLimits.load(conn)
        x, y, bearing, limit = a_long_straight_road(conn, "tertiary")
    assert limit == 40
    assert limits.limit_at(fix(x, y, 55.0, bearing)) == 40
    assert limits.limit_at(fix(x, y, 55.0, (bearing + 180) % 360)) == 40  # the other way
    assert limits.limit_at(fix(x, y, 55.0, None)) == 40  # no heading: the nearest road
    assert limits.limit_at(fix(x, y, 55.0, (bearing + 90) % 360)) is None  # across it
    assert limits.limit_at(fix(x, y, 20.0, bearing)) is None  # slower than any limit
    dx, dy = math.cos(math.radians(bearing)), -math.sin(math.radians(bearing))
    assert limits.limit_at(fix(x + 60 * dx, y + 60 * dy, 55.0, bearing)) is None  # 60 m off


def test_a_prepared_batch_gets_the_same_limits_and_metres_as_one_fix_at_a_time(
    engine: sa.Engine, county: dict[str, int]
) -> None:
    """The vectorised pass of the pipeline (`prepared`) against the fix-by-fix path: fixes on
    and beside roads and on their crossings (where two roads are equally near), any heading."""
    import numpy as np

    from backend.vehicles.rules.context import point_at, prepared, project

    with engine.connect() as conn:
        limits = RoadSpeedLimits.load(conn)
        nodes = conn.execute(sa.text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_StartPoint((ST_Dump(geom))"
            ".geom), 4548) AS p FROM roads WHERE speed_limit IS NOT NULL LIMIT 300) s")).all()
    rng = np.random.default_rng(33)
    fixes = []
    for i, (x, y) in enumerate(nodes):
        for dx, dy in ((0.0, 0.0), *rng.normal(0.0, 12.0, (3, 2))):
            heading = None if i % 7 == 0 else float(rng.uniform(0, 360))
            fixes.append(fix(x + dx, y + dy, float(rng.uniform(20, 90)), heading))
    one_by_one = [limits.limit_at(p) for p in fixes]
    metres = [project(p.lon, p.lat) for p in fixes]
    with prepared(fixes), limits.prepared(fixes):
        batch = [limits.limit_at(p) for p in fixes]
        assert [project(p.lon, p.lat) for p in fixes] == metres
        assert point_at(metres[0]) is point_at(metres[0])  # the batch's own point
    assert batch == one_by_one
    assert sum(v is not None for v in batch) > len(fixes) // 4  # most are on a road
