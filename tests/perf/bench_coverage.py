"""Coverage benchmark (`make bench`): the full-county `cityops cameras coverage` run time, and
the camera register's export and import (CSV and JSON) of the whole county's cameras.

A scratch database gets the demo county (scale 1: ~450 grid cells, the roads, 2,000 cameras).
When no views are computed there (the cones work fills camera_views), each camera gets a
stand-in view, the unclipped disc of its range: the run's cost depends on how many views
touch each cell's roads and how large they are, which the disc overstates (a cone is a
fraction of it), so the figure is an upper bound. Prints seconds per run and the county's
share covered. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from backend.cameras.coverage import recompute_coverage
from backend.cameras.registry import export_register, import_register
from tests.perf.common import ScratchDatabase, analyze

STAND_IN = """
INSERT INTO camera_views (camera_id, view_no, heading_deg, fov_deg, range_m, status, geom)
SELECT id, 0, coalesce(direction_deg, 0), 360, coalesce(range_m, 50), 'ok',
       ST_Multi(ST_Buffer(geom::geography, coalesce(range_m, 50), 16)::geometry)
FROM cameras
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    db = ScratchDatabase("cityops_bench_coverage", args.scale, "bench_coverage", pool_size=1)
    try:
        with db.engine.begin() as conn:
            views = conn.execute(sa.text("SELECT count(*) FROM camera_views")).scalar_one()
            if views == 0:
                views = conn.execute(sa.text(STAND_IN)).rowcount
                print(f"stand-in views (unclipped discs of each camera's range): {views}")
        analyze(db.urls.admin)
        times = []
        for _ in range(max(1, args.runs)):
            run = recompute_coverage(db.engine)
            times.append(run.duration_s)
            print(run.summary())
        print(f"coverage, scale {args.scale}: {db.counts['grid_cells']} cells, "
              f"{db.counts['roads']} roads, {db.counts['cameras']} cameras, {views} views: "
              f"median {statistics.median(times):.1f} s, min {min(times):.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            for fmt in ("csv", "json"):
                path = Path(tmp) / f"register.{fmt}"
                t0 = time.perf_counter()
                n = export_register(db.engine, path)
                t1 = time.perf_counter()
                report = import_register(db.engine, path, realm="bench")
                t2 = time.perf_counter()
                print(f"register {fmt}: {n} cameras ({path.stat().st_size / 1e6:.1f} MB), "
                      f"export {t1 - t0:.2f} s, import {t2 - t1:.2f} s ({report.updated} "
                      f"updated, {report.rejected} refused)")
    finally:
        db.engine.dispose()
        if not args.keep:
            db.drop()


if __name__ == "__main__":
    main()
