"""Dataset-layer tile benchmark: land_rights_parcels (~50,000 polygons at --content-scale 1)
as a `dataset` layer (rows of the version store, fields from JSON, cut in EPSG:4326) against
the same rows copied into a plain table with a stored EPSG:3857 geometry (a `table` layer).

A scratch database gets the demo county (--scale), the catalog and one version of
land_rights_parcels written through the version store: --parcels squares (~200 m) on a grid
over the county's extent (the content generator would need the population base first). The
same deterministic list of z13-z16 tiles (at parcels) is rendered
by the tile engine's PostGISRenderer for both layers (no cache), --runs times. Prints
median / p95 ms per tile and features per tile. Figures, not assertions.

    python -m tests.perf.bench_dataset_tiles [--parcels 50000] [--tiles 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import mapbox_vector_tile
import sqlalchemy as sa
from shapely.geometry import box

from backend.catalog.layers import load_catalog
from backend.datasets.sync import sync_from
from backend.db.engine import create_engine
from backend.maps.service import vector_layer
from backend.settings import get_settings
from tests.dataset_versions import write_rows
from tests.perf.common import ScratchDatabase, analyze, pct
from tiles.connections import raw_connections
from tiles.postgis import PostGISRenderer, VectorLayer
from tiles.tms import lonlat_to_tile

DATASET = "land_rights_parcels"
BOUNDS = (117.6286, 33.2767, 118.1804, 33.769)


def parcels(n: int, seed: int = 14) -> list[tuple[dict, object]]:
    """n parcels on a grid over the county's extent, 80 % of each cell, random areas."""
    rng = random.Random(seed)
    cols = int((n * 1.12) ** 0.5)
    rows = -(-n // cols)
    w, h = (BOUNDS[2] - BOUNDS[0]) / cols, (BOUNDS[3] - BOUNDS[1]) / rows
    out = []
    for i in range(n):
        x0, y0 = BOUNDS[0] + (i % cols) * w, BOUNDS[1] + (i // cols) * h
        out.append(({"contract_no": f"3413241{i:09d}", "holder_name": "示意",
                     "holder_citizen_id": "341324199001011234",
                     "area_mu": round(rng.uniform(0.5, 30), 2),
                     "village_code": f"341324{100 + i % 15:03d}{200 + i % 20:03d}"},
                    box(x0, y0, x0 + 0.8 * w, y0 + 0.8 * h)))
    return out
COPY_SQL = """
DROP TABLE IF EXISTS bench_parcels;
CREATE TABLE bench_parcels AS
SELECT row_number() OVER (ORDER BY key)::int AS id, data ->> 'contract_no' AS contract_no,
       (data ->> 'area_mu')::float8 AS area_mu, data ->> 'village_code' AS village_code,
       geom, ST_Transform(geom, 3857) AS geom_3857
FROM dataset_rows WHERE dataset_id = 'land_rights_parcels' AND last_seq IS NULL;
CREATE INDEX ON bench_parcels USING gist (geom_3857);
"""


def tile_list(engine: sa.Engine, n: int, seed: int = 14) -> list[tuple[int, int, int]]:
    with engine.connect() as conn:
        points = conn.execute(sa.text(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM dataset_rows "
            "WHERE dataset_id = :d AND last_seq IS NULL ORDER BY key) s"), {"d": DATASET}).all()
    rng = random.Random(seed)
    return [(z, *lonlat_to_tile(*rng.choice(points), z))
            for z in (rng.choice((13, 14, 15, 16)) for _ in range(n))]


def render_all(renderer: PostGISRenderer, layer: VectorLayer,
               tiles: list[tuple[int, int, int]]) -> tuple[list[float], list[int]]:
    times, counts = [], []
    for z, x, y in tiles:
        t0 = time.perf_counter()
        raw = renderer.render([layer], z, x, y)
        times.append((time.perf_counter() - t0) * 1000)
        decoded = mapbox_vector_tile.decode(raw) if raw else {}
        counts.append(len(decoded.get(layer.id, {}).get("features", [])))
    return times, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.05, help="scratch county's scale")
    parser.add_argument("--parcels", type=int, default=50_000)
    parser.add_argument("--tiles", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = get_settings()
    db = ScratchDatabase("cityops_bench_dataset_tiles", args.scale, "bench_dataset_tiles",
                         pool_size=2)
    try:
        catalog = load_catalog(settings.layers_dir)
        sync_from(settings, db.engine, catalog)
        t0 = time.perf_counter()
        made = write_rows(db.engine, DATASET, "contract_no", parcels(args.parcels))
        print(f"{DATASET}: {made.rows_total:,} rows written in "
              f"{time.perf_counter() - t0:.1f} s")
        admin = create_engine(db.urls.admin, pool_size=1)  # the app's role makes no tables
        with admin.begin() as conn:
            conn.exec_driver_sql(COPY_SQL)
            conn.exec_driver_sql(f'GRANT SELECT ON bench_parcels TO "{db.engine.url.username}"')
        admin.dispose()
        analyze(db.urls.admin)
        dataset_layer = vector_layer(catalog[DATASET])
        table_layer = VectorLayer(
            id="bench_parcels", table="bench_parcels", fields=dataset_layer.fields, minzoom=13,
            rank_field="area_mu", feature_cap=dataset_layer.feature_cap)
        renderer = PostGISRenderer(raw_connections(db.engine))
        tiles = tile_list(db.engine, args.tiles)
        results: dict[str, tuple[list[float], list[int]]] = {}
        for name, layer in (("dataset", dataset_layer), ("table", table_layer)) * args.runs:
            times, counts = render_all(renderer, layer, tiles)
            old = results.get(name)
            results[name] = (times if old is None else [min(a, b) for a, b in
                                                        zip(old[0], times, strict=True)], counts)
        print(f"{len(tiles)} tiles z13-z16 at parcels, best of {args.runs} runs per tile:")
        for name, (times, counts) in results.items():
            print(f"  {name:8s} median {statistics.median(times):6.1f} ms  p95 "
                  f"{pct(times, 0.95):6.1f} ms  features/tile median "
                  f"{statistics.median(counts):.0f} max {max(counts)}")
        ratio = statistics.median(results["dataset"][0]) / statistics.median(results["table"][0])
        print(f"  dataset / table median: {ratio:.2f}x")
        assert results["dataset"][1] == results["table"][1], "both layers hold the same features"
    finally:
        db.engine.dispose()
        db.drop()


if __name__ == "__main__":
    main()
