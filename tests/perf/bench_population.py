"""Population benchmark (`make bench`): generation and load of the demo population (763,310
current residents at --scale 1) in people/s, against a raw COPY of the same rows into a plain
table (the peer, measured in the same run on the same connection).

Each run happens in one transaction that is rolled back, so the demo database (--demo, the
default: the database the settings name, with the demo county loaded) keeps its state; each
run uses another seed, so its people are new to the base (a fresh load, not an unchanged one).
--scratch makes a scratch database with the demo county (--county-scale) instead. Prints each
run and the medians of generation, version-store write and load (s and people/s, each against
the peer COPY's rows/s). Figures, not assertions."""

from __future__ import annotations

import argparse
import io
import statistics
import time

import sqlalchemy as sa

from backend.settings import get_settings

PEER_COLUMNS = ("citizen_id", "name", "gender", "birth_date", "household_no", "relation",
                "residence_address", "residence_unit", "building_id", "phone")


def peer_copy(conn: sa.Connection, made: dict[str, dict[str, list]]) -> tuple[int, float]:
    """The same rows (the persons' columns as text) COPYed into a plain table: (rows, s)."""
    from backend.ingest.values import copy_escape

    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    started = time.perf_counter()
    cur.execute("CREATE TEMP TABLE bench_peer (" + ", ".join(f"{c} text" for c in PEER_COLUMNS)
                + ") ON COMMIT DROP")
    n = 0
    for cols in made.values():
        buf = io.StringIO()
        for values in zip(*(cols[c] for c in PEER_COLUMNS), strict=True):
            buf.write("\t".join(copy_escape(None if v is None else str(v)) for v in values))
            buf.write("\n")
            n += 1
        buf.seek(0)
        cur.copy_expert("COPY bench_peer FROM STDIN", buf)
    return n, time.perf_counter() - started


def one_run(engine: sa.Engine, scale: float, seed: int) -> dict[str, float]:
    from backend.datasets.store import write_version
    from backend.people.load import load_dataset
    from backend.simulation.population import _rows, generate, homes_of, plant_bad_rows

    with engine.connect() as conn:
        tx = conn.begin()
        t0 = time.perf_counter()
        made = generate(seed, scale, homes_of(conn))
        for dataset, cols in made.items():
            plant_bad_rows(dataset, cols, seed)
        t1 = time.perf_counter()
        for dataset, cols in made.items():
            write_version(conn, dataset_id=dataset, rows=_rows(cols), arrival="generator",
                          actor="bench", source=f"bench seed={seed} (示意)")
        t2 = time.perf_counter()
        persons = 0
        for dataset in made:
            r = load_dataset(conn, dataset, actor="bench")
            persons += r.loaded + r.changed + r.unchanged
        t3 = time.perf_counter()
        rows, copy_s = peer_copy(conn, made)
        tx.rollback()
    total = t3 - t0
    return {"generate_s": t1 - t0, "write_s": t2 - t1, "load_s": t3 - t2, "total_s": total,
            "persons": persons, "generate_per_s": rows / (t1 - t0),
            "write_per_s": rows / (t2 - t1), "load_per_s": persons / (t3 - t2),
            "people_per_s": persons / total, "copy_s": copy_s, "copy_rows_per_s": rows / copy_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", default=True,
                        help="the settings' database with the demo county (default)")
    parser.add_argument("--scratch", action="store_true",
                        help="a scratch database with the demo county instead")
    parser.add_argument("--county-scale", type=float, default=0.1)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 763,310 residents")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    scratch = None
    if args.scratch:
        from tests.perf.common import ScratchDatabase

        scratch = ScratchDatabase("cityops_bench_population", args.county_scale,
                                  "bench_population", 2)
        from backend.catalog.layers import load_catalog
        from backend.datasets.sync import sync_from

        sync_from(scratch.settings, scratch.engine, load_catalog(scratch.settings.layers_dir))
        engine = scratch.engine
    else:
        from backend.db.engine import create_engine, resolve_urls

        engine = create_engine(resolve_urls(get_settings()).app, pool_size=1)
    try:
        runs = []
        for i in range(args.runs):
            r = one_run(engine, args.scale, seed=900_001 + i)
            runs.append(r)
            print(f"run {i + 1}: {r['persons']:,.0f} persons: generate {r['generate_s']:.1f} s, "
                  f"write {r['write_s']:.1f} s, load {r['load_s']:.1f} s = {r['total_s']:.1f} s "
                  f"({r['people_per_s']:,.0f} people/s); peer COPY {r['copy_s']:.1f} s "
                  f"({r['copy_rows_per_s']:,.0f} rows/s)", flush=True)
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        peer = med["copy_rows_per_s"]
        print(f"population (示意) median of {len(runs)} (people/s; the peer, a raw COPY of the "
              f"same rows in the same run: {peer:,.0f} rows/s):")
        for step in ("generate", "write", "load"):
            print(f"  {step:9} {med[step + '_s']:6.1f} s {med[step + '_per_s']:>10,.0f} people/s "
                  f"({peer / med[step + '_per_s']:.1f}x the COPY time)")
        print(f"  {'total':9} {med['total_s']:6.1f} s {med['people_per_s']:>10,.0f} people/s "
              f"({peer / med['people_per_s']:.1f}x the COPY time)")
    finally:
        engine.dispose()
        if scratch is not None:
            scratch.drop()


if __name__ == "__main__":
    main()
