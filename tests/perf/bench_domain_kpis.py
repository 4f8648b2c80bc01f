"""Domain KPI recomputation benchmark (`make bench`): one view's full recomputation (every
card with its reference, every chart: backend.domains.service.compute_figures), county-wide
and cut by a township and by a drawn polygon, over 100,000 rows of one dataset written
through the version store (backend.datasets.store.write_version).

Two views: culture_tourism over 100,000 visitor_flow rows (no geometry: cut by township code)
and relocation over 100,000 relocation_households points (cut by the GiST index). On a scratch
database of the managed cluster (the demo county at a small scale). Prints medians and the
ratio to the issue's target (<= 200 ms), for the cards over the typed projections (migration
0023) against the same cards casting the version store's JSON, and what a new version costs
(the county's cards from the version store, pushed; then its projection rebuilt). Figures, not
assertions."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import struct
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.settings import get_settings

TARGET_MS = 200.0
TZ = ZoneInfo("Asia/Shanghai")


def _townships(conn: sa.Connection) -> list[tuple[str, float, float, float, float]]:
    return [tuple(r) for r in conn.execute(sa.text(
        "SELECT code, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
        "FROM townships ORDER BY code"))]


def _flow(n: int, towns: list[tuple], rnd: random.Random) -> list:
    from backend.datasets.store import Row

    spots = [(f"S{i:02d}", towns[i % len(towns)][0]) for i in range(24)]
    top = datetime.now(TZ).replace(minute=0, second=0, microsecond=0)
    rows = []
    for i in range(n):
        spot, town = spots[i % len(spots)]
        hour = top - timedelta(hours=i // len(spots))
        key = f"{spot}-{i}"
        rows.append(Row(key, {"record_id": key, "spot_id": spot, "township_code": town,
                              "hour": hour.isoformat(), "visitors": rnd.randint(0, 300),
                              "in_park": rnd.randint(0, 3000)}))
    return rows


def _households(n: int, towns: list[tuple], rnd: random.Random) -> list:
    from backend.datasets.store import Row

    stages = ["未签约", "已签约", "已腾空", "已拆除"]
    rows = []
    for i in range(n):
        code, w, s, e, north = towns[i % len(towns)]
        x, y = rnd.uniform(w, e), rnd.uniform(s, north)
        # EWKB of a point in 4326, written by hand: one round trip less per row
        geom = (struct.pack("<BII", 1, 0x20000001, 4326) + struct.pack("<dd", x, y)).hex()
        key = f"H{i:06d}"
        signed = (datetime.now(TZ).date() - timedelta(days=rnd.randint(0, 400))).isoformat()
        rows.append(Row(key, {"household_id": key, "project_id": f"P{i % 25:02d}",
                              "township_code": code, "head_name": "示意", "phone": None,
                              "floor_area_m2": rnd.uniform(40, 300),
                              "stage": rnd.choice(stages), "signed_on": signed,
                              "compensation": rnd.choice(["货币补偿", "产权调换"])}, geom))
    return rows


def _time(fn, runs: int) -> float:  # noqa: ANN001
    fn()  # warm: plans, caches
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--database", default="cityops_bench_domains")
    parser.add_argument("--scale", type=float, default=0.005)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    from backend.catalog.layers import load_catalog, model_columns
    from backend.cli import _prepare_database
    from backend.datasets.store import write_version
    from backend.datasets.sync import sync_from
    from backend.domains.area import Area, parse_polygon
    from backend.domains.engine import refresh_projections
    from backend.domains.service import compute_figures, load_views
    from tests.perf.common import ScratchDatabase, analyze

    _prepare_database(get_settings())  # the managed cluster is up
    db = ScratchDatabase(args.database, args.scale, "bench_domain_kpis", pool_size=2)
    try:
        layers = load_catalog(db.settings.layers_dir, known_columns=model_columns())
        sync_from(db.settings, db.engine, layers)
        views = load_views(db.settings, layers)
        rnd = random.Random(14)
        with db.engine.begin() as conn:
            towns = _townships(conn)
            t0 = time.perf_counter()
            write_version(conn, dataset_id="visitor_flow", rows=_flow(args.rows, towns, rnd),
                          arrival="generator", actor="bench")
            write_version(conn, dataset_id="relocation_households",
                          rows=_households(args.rows, towns, rnd), arrival="generator",
                          actor="bench")
        print(f"wrote 2 x {args.rows} rows in {time.perf_counter() - t0:.1f} s", flush=True)
        analyze(db.urls.admin, "dataset_rows")
        town = towns[len(towns) // 2]
        w, s, e, n = town[1:]
        cx, cy, dx, dy = (w + e) / 2, (s + n) / 2, (e - w) / 4, (n - s) / 4
        ring = [[cx - dx, cy - dy], [cx + dx, cy - dy], [cx + dx, cy + dy], [cx - dx, cy + dy],
                [cx - dx, cy - dy]]
        areas: list[tuple[str, Area | None]] = [
            ("county", None), ("township", Area("township", code=town[0])),
            ("polygon", parse_polygon({"type": "Polygon", "coordinates": [ring]}))]
        timeout = db.settings.domain_query_timeout_ms
        print(f"\ndomain KPI recomputation, {args.rows} rows, median of {args.runs} "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")

        def timed(view_id: str, area: Area | None) -> tuple[float, list[str]]:
            view = views.get(view_id)
            assert view is not None
            figures = compute_figures(db.engine, view, area, timeout_ms=timeout)
            down = [c["id"] for c in figures["cards"] if not c["available"]]
            return _time(lambda: compute_figures(db.engine, view, area, timeout_ms=timeout),
                         args.runs), down

        plan = [("culture_tourism", "visitor_flow"), ("relocation", "relocation_households")]
        # the baseline: every query casts the version store's JSON (no projection yet)
        json_ms = {(v, name): timed(v, area)[0] for v, _ in plan for name, area in areas}
        builds: dict[str, float] = {}
        for _, dataset in plan:  # once per version: what a new version costs before the cards
            builds[dataset] = _time(lambda d=dataset: refresh_projections(db.engine, [d]),
                                    max(3, args.runs // 3))
        for view_id, dataset in plan:
            for name, area in areas:
                ms, down = timed(view_id, area)
                view = views.get(view_id)
                assert view is not None
                note = f"; unavailable: {', '.join(down)}" if down else ""
                base = json_ms[(view_id, name)]
                print(f"  {view_id:16s} {name:9s} {ms:7.1f} ms  ratio to {TARGET_MS:.0f} ms "
                      f"{ms / TARGET_MS:.2f}  (JSON path {base:.1f} ms: {base / ms:.1f}x; "
                      f"{len(view.spec.kpis)} cards, {len(view.spec.charts)} charts{note})",
                      flush=True)
            county = json_ms[(view_id, "county")]
            print(f"  {view_id:16s} after a new version of {dataset}: the county's cards pushed "
                  f"in {county:.0f} ms (version store: ratio to {TARGET_MS:.0f} ms "
                  f"{county / TARGET_MS:.2f}), then its projection built in "
                  f"{builds[dataset]:.0f} ms for the filtered figures", flush=True)
    finally:
        db.engine.dispose()
        if not args.keep:
            db.drop()


if __name__ == "__main__":
    main()
