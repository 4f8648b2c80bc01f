"""By hand: `python -m backend.county [--scale 1.0] [--seed N]` builds the county (no database)
and prints timings, row counts and the realism figures the recipe aims at."""

from __future__ import annotations

import argparse
import time

import numpy as np
import shapely

from backend.county import build_county, load_recipe
from backend.county.frame import transformer


def _metric_lengths(geoms: np.ndarray) -> np.ndarray:
    fwd = transformer(4326, 4548)
    m = shapely.transform(geoms, lambda xy: np.column_stack(fwd.transform(*xy.T)))
    return shapely.length(m)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    t0 = time.perf_counter()
    county = build_county(load_recipe(), scale=args.scale, seed=args.seed)
    print(f"built in {time.perf_counter() - t0:.1f} s (scale {args.scale}, seed {county.seed})")
    for table, n in county.counts().items():
        print(f"  {table:<16}{n:>9,}")
    t = county.tables
    print("parcel land use:", t["parcels"]["land_use"].value_counts().to_dict())
    print("building floors by use:",
          t["buildings"].groupby("use")["floors"].agg(["min", "max"]).to_dict("index"))
    pipes = _metric_lengths(t["pipelines"]["geom"].to_numpy())
    if len(pipes):
        print(f"pipeline pieces: {pipes.min():.0f}-{pipes.max():.0f} m")
    print("camera status:", t["cameras"]["status"].value_counts().to_dict())
    gaps = county.line_stops.groupby("line_code")["distance_m"].apply(lambda d: np.diff(d))
    g = np.concatenate(gaps.to_numpy())
    print(f"bus stop spacing: median {np.median(g):.0f} m, {len(t['bus_stops'])} stops")
    print(f"grid cells: {len(t['grid_cells'])}")


if __name__ == "__main__":
    main()
