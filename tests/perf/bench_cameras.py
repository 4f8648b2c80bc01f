"""Camera views benchmark (`make bench`): on the full demo county (2,000 cameras, ~87,000
buildings) in a database of its own (`--database`, built once and kept for the next run;
`--rebuild` builds it anew):

1. the time to compute every camera's views (`views.refresh(everything=True)`: buildings
   query, cones, writes), and per cone;
2. the seeing query (`backend.cameras.seeing`, both of its statements) at points around the
   cameras and across the county, median and p95, beside a plain radius search (ST_DWithin
   over cameras, the desk's former camera list) as the baseline, in the same run;
3. with --compare, the cone method against ray casting (one ray per degree) and against
   the same overlay done in PostGIS, on a sample of cameras: time per cone and area error.

Figures, not assertions: machines are noisy."""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import shapely
import sqlalchemy as sa

from backend.cameras import cones, views
from backend.cameras.seeing import seeing
from backend.catalog.camera_views import load_camera_views
from backend.db.engine import create_engine
from backend.settings import get_settings
from tests.perf.common import pct

RADIUS_SQL = """
WITH here AS (
  SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS pt,
         ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS g)
SELECT c.code, c.name, c.kind, c.status, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
  ST_Distance(c.geom::geography, here.g) AS distance_m
FROM here, cameras c
WHERE c.geom && ST_Expand(here.pt, :dlon, :dlat)
  AND ST_DWithin(c.geom::geography, here.g, :radius)
ORDER BY distance_m, c.code LIMIT 20"""

POSTGIS_SQL = """
SELECT ST_Area(ST_Difference(ST_GeomFromWKB(:sector),
  ST_Union(ARRAY(SELECT ST_GeomFromWKB(w) FROM unnest(CAST(:shadows AS bytea[])) AS w))))"""


def points(conn: sa.Connection, n: int, seed: int = 11) -> list[tuple[float, float]]:
    """70 % within 60 m of a random camera (places someone asks about), 30 % anywhere in the
    county's box."""
    rng = np.random.default_rng(seed)
    cams = conn.execute(sa.text("SELECT ST_X(geom), ST_Y(geom) FROM cameras ORDER BY id")).all()
    box = conn.execute(sa.text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                               "(SELECT ST_Extent(geom) AS e FROM county) x")).one()
    out = []
    for _ in range(n):
        if rng.random() < 0.7:
            lon, lat = cams[int(rng.integers(len(cams)))]
            bearing, dist = rng.uniform(0, 2 * math.pi), rng.uniform(0, 60)
            out.append((lon + dist * math.sin(bearing) / (111_000 * math.cos(math.radians(lat))),
                        lat + dist * math.cos(bearing) / 111_000))
        else:
            out.append((rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])))
    return out


def timed(fn, items: list) -> list[float]:  # noqa: ANN001
    ms = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        ms.append((time.perf_counter() - t0) * 1000)
    return ms


def summary(name: str, ms: list[float]) -> str:
    return (f"  {name:<44} median {statistics.median(ms):6.2f} ms   p95 {pct(ms, 0.95):6.2f} ms"
            f"   max {max(ms):6.1f} ms")


def bench_queries(engine: sa.Engine, pts: list[tuple[float, float]], repeat: int) -> None:
    seen_ms: list[float] = []
    radius_ms: list[float] = []
    hits = blocked = 0
    with engine.connect() as conn:
        def ask(p: tuple[float, float]) -> None:
            nonlocal hits, blocked
            answer = seeing(conn, p[0], p[1])
            hits += bool(answer.cameras)
            blocked += answer.blocked

        def radius(p: tuple[float, float]) -> None:
            dlon = 120 / (110_000 * math.cos(math.radians(p[1])))
            conn.execute(sa.text(RADIUS_SQL), {"lon": p[0], "lat": p[1], "radius": 120,
                                               "dlon": dlon, "dlat": 120 / 110_000}).all()

        timed(ask, pts[:50])  # warm the caches
        timed(radius, pts[:50])
        for _ in range(repeat):  # interleaved runs
            seen_ms += timed(ask, pts)
            radius_ms += timed(radius, pts)
    print(f"{len(pts)} points x {repeat} runs; {hits // repeat} of {len(pts)} seen by a camera, "
          f"{blocked / repeat / len(pts):.2f} blocked cameras per point:")
    print(summary("seeing (clipped views + blocked count)", seen_ms) + "   (target p95 <= 50)")
    print(summary("baseline: ST_DWithin 120 m over cameras", radius_ms))


def bench_concurrent(engine: sa.Engine, pts: list[tuple[float, float]], clients: int
                     ) -> None:
    """The seeing query from `clients` threads at once, each on its own connection."""
    from concurrent.futures import ThreadPoolExecutor

    def client(share: list[tuple[float, float]]) -> list[float]:
        with engine.connect() as conn:
            return timed(lambda p: seeing(conn, p[0], p[1]), share)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        ms = [m for part in pool.map(client, [pts[i::clients] for i in range(clients)])
              for m in part]
    rate = len(pts) / (time.perf_counter() - t0)
    print(summary(f"seeing, {clients} clients at once", ms) + f"   {rate:.0f} answers/s")


def ray_cast(x: float, y: float, heading: float, fov: float, rng: float,
             boundary: shapely.Geometry) -> shapely.Polygon:
    """The alternative: one ray per degree, each cut at its first hit."""
    n = max(2, math.ceil(fov) + 1)
    bearings = np.radians(np.linspace(heading - fov / 2, heading + fov / 2, n))
    ends = np.column_stack([x + rng * np.sin(bearings), y + rng * np.cos(bearings)])
    rays = shapely.linestrings([[[x, y], list(e)] for e in ends])
    hits = shapely.intersection(rays, boundary)
    here = shapely.Point(x, y)
    dist = np.where(shapely.is_empty(hits), rng, shapely.distance(here, hits))
    ring = np.column_stack([x + dist * np.sin(bearings), y + dist * np.cos(bearings)])
    return shapely.Polygon(np.vstack([[[x, y]], ring]))


def compare(engine: sa.Engine, sample: int) -> None:
    params = load_camera_views()
    srid = params.metric_epsg
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT ST_X(ST_Transform(c.geom, :srid)) AS x, ST_Y(ST_Transform(c.geom, :srid)) "
            "AS y, v.heading_deg, v.fov_deg, v.range_m FROM camera_views v JOIN cameras c "
            "ON c.id = v.camera_id WHERE v.status = 'ok' AND v.visible_share < 0.999 "
            "ORDER BY c.id, v.view_no LIMIT :n"), {"srid": srid, "n": sample}).all()
        exact_ms, ray_ms, pg_ms, ray_err, pg_err = [], [], [], [], []
        for r in rows:
            wkbs = conn.execute(sa.text(views.BUILDINGS_SQL), {
                "srid": srid, "xs": [r.x], "ys": [r.y], "rs": [r.range_m + 2]}).scalars().all()
            fps = list(shapely.make_valid(shapely.from_wkb([bytes(w) for w in wkbs])))
            t0 = time.perf_counter()
            cone = cones.view(r.x, r.y, r.heading_deg, r.fov_deg, r.range_m, fps)
            t1 = time.perf_counter()
            near = [fp for fp in fps if fp.distance(shapely.Point(r.x, r.y)) > 1.0]
            ray = ray_cast(r.x, r.y, r.heading_deg, r.fov_deg, r.range_m,
                           shapely.union_all([fp.boundary for fp in near]))
            t2 = time.perf_counter()
            whole = cones.sector(r.x, r.y, r.heading_deg, r.fov_deg, r.range_m)
            shadows = cones._shadows(r.x, r.y, near, r.range_m * cones.REACH_FACTOR)
            area = conn.execute(sa.text(POSTGIS_SQL), {
                "sector": shapely.to_wkb(whole),
                "shadows": [shapely.to_wkb(s) for s in shadows]}).scalar_one()
            t3 = time.perf_counter()
            if cone.geom is None:
                continue
            exact_ms.append((t1 - t0) * 1000)
            ray_ms.append((t2 - t1) * 1000)
            pg_ms.append((t3 - t2) * 1000)
            ray_err.append(abs(ray.area - cone.area_m2) / cone.area_m2)
            pg_err.append(abs((area or 0) - cone.area_m2) / cone.area_m2)
    print(f"cone methods on {len(exact_ms)} views that a building clips:")
    print(summary("exact shadows (cones.py)", exact_ms))
    print(summary("ray casting, 1 ray per degree", ray_ms)
          + f"   area error median {statistics.median(ray_err):.2%}, "
            f"p95 {pct(ray_err, 0.95):.2%}")
    print(summary("the same overlay in PostGIS (a round trip)", pg_ms)
          + f"   area error median {statistics.median(pg_err):.2%}")


def county_database(name: str, scale: float, rebuild: bool) -> sa.Engine:
    """The bench's database in the managed cluster, with the demo county at `scale`."""
    from backend.county import build_county, load_county, load_recipe
    from backend.db.engine import ensure_database
    from backend.db.migrate import upgrade
    from tests.perf.common import analyze

    settings = get_settings(database_name=name)
    urls = ensure_database(settings)
    upgrade(urls)
    engine = create_engine(urls.app, pool_size=4)
    with engine.connect() as conn:
        loaded = conn.execute(sa.text("SELECT count(*) FROM cameras")).scalar_one()
    if loaded and not rebuild:
        return engine
    county = build_county(load_recipe(), scale=scale)
    cams = county.tables["cameras"]
    # The generator can round a heading to 360.0, which ck_cameras_direction refuses.
    cams["direction_deg"] = cams["direction_deg"] % 360.0
    load_county(engine, county, replace=True)
    analyze(urls.admin)
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="cityops_bench_cameras")
    parser.add_argument("--scale", type=float, default=1.0, help="demo county scale")
    parser.add_argument("--rebuild", action="store_true", help="build the county anew")
    parser.add_argument("--points", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the query figures")
    parser.add_argument("--clients", type=int, default=4, help="concurrent seeing clients")
    parser.add_argument("--compare", type=int, default=0, metavar="N",
                        help="compare the cone methods on N clipped views (e.g. 300)")
    args = parser.parse_args()

    engine = county_database(args.database, args.scale, args.rebuild)
    with engine.connect() as conn:
        n_cam, n_bld = (conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
                        for t in ("cameras", "buildings"))
    print(f"demo county: {n_cam} cameras, {n_bld} buildings", flush=True)
    params = load_camera_views()
    t0 = time.perf_counter()
    done, counts = views.refresh(engine, params, everything=True)
    seconds = time.perf_counter() - t0
    total = sum(counts.values())
    print(f"all views: {done} cameras, {total} views ({dict(sorted(counts.items()))}) in "
          f"{seconds:.1f} s, {seconds / max(total, 1) * 1000:.1f} ms per view (buildings "
          f"query, cone, write)", flush=True)
    with engine.connect() as conn:
        pts = points(conn, args.points)
    bench_queries(engine, pts, args.repeat)
    bench_concurrent(engine, pts * args.repeat, args.clients)
    if args.compare:
        compare(engine, args.compare)
    engine.dispose()


if __name__ == "__main__":
    main()
