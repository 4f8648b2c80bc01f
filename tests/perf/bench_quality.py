"""Quality benchmark (`make bench`): every enabled rule over every dataset with data, against
one plain sequential scan of the same rows in the same run (target: quality <= 3 x the scan).

The scan reads every current row once: `SELECT count(*), sum(length(data::text))` over the
current rows of dataset_rows (and the same over each layer dataset's table, with to_jsonb).
The quality side is `run_all`: the predicate rules of a dataset in one scan, its check-digit
columns streamed once, one join per linked dataset, uniqueness and coverage once each, results
written.

Without --rows it measures the database it is pointed at (CITYOPS_DATABASE_NAME, e.g. the
demo's ~1.03 M rows once its content is generated). With --rows N it first makes a scratch
database with the demo county (--scale) and writes N synthetic rows of its own through
write_version: a people register (citizen IDs with check digits, names, dates, an enum, a
range, a regex, a link and 一数一源 fields to a second register of N/4 people, points in the
county) and a parcel coverage of N/20 squares, with a few defects of each kind. Prints the
medians and the ratio; figures, not assertions.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Iterator

import psycopg2
import sqlalchemy as sa
from stdnum.cn import ric, uscc

from backend.catalog.layers import load_catalog
from backend.datasets.store import Row
from backend.datasets.store import write_version as store_write
from backend.incidents.calendar import WorkCalendar
from backend.quality.rules import sync_rules
from backend.quality.runner import datasets_with_data, layer_relation, run_dataset
from backend.settings import get_settings
from tests.perf.common import ScratchDatabase, analyze

DEPT = "BENCHQ"
SCAN_ROWS = """
SELECT count(*), coalesce(sum(length(r.data::text)), 0) FROM dataset_rows r
JOIN datasets d ON d.id = r.dataset_id JOIN dataset_versions v ON v.id = d.current_version_id
WHERE d.storage = 'rows' AND r.first_seq <= v.seq AND (r.last_seq IS NULL OR r.last_seq > v.seq)
"""


def _citizen(rng: random.Random) -> str:
    base = (f"341324{rng.randint(1940, 2015)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            f"{rng.randint(0, 999):03d}0")
    return base[:-1] + ric.calc_check_digit(base)


def _point(x0: float, y0: float, rng: random.Random) -> str:
    from shapely import Point, wkb

    return wkb.dumps(Point(x0 + rng.uniform(-0.05, 0.05), y0 + rng.uniform(-0.05, 0.05)),
                     hex=True, srid=4326)


def _dataset(conn: sa.Connection, dataset_id: str, fields: list[tuple], key: str,
             geometry: str | None, coverage: bool = False) -> None:
    conn.execute(sa.text(
        "INSERT INTO datasets (id, resource_code, name, department_code, share_type, "
        "update_cycle, storage, key_field, geometry_type, coverage) VALUES (:id, :code, :id, "
        ":dept, 'conditional', 'daily', 'rows', :key, :geom, :cov)"),
        {"id": dataset_id, "code": f"BENCH/{dataset_id}", "dept": DEPT, "key": key,
         "geom": geometry, "cov": coverage})
    for i, (name, data_type, required, kind, authority, link) in enumerate(fields):
        conn.execute(sa.text(
            "INSERT INTO dataset_fields (dataset_id, position, name, name_zh, data_type, "
            "required, kind, authority, link) VALUES (:d, :p, :n, :n, :t, :r, :k, :a, :l)"),
            {"d": dataset_id, "p": i, "n": name, "t": data_type, "r": required, "k": kind,
             "a": authority, "l": link})


def write_synthetic(engine: sa.Engine, n: int, catalog_dir: object) -> None:
    rng = random.Random(20261206)
    with engine.connect() as conn:
        x0, y0 = conn.execute(sa.text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface("
                                      "ST_Union(geom)) p FROM county) c")).one()
    registry = [_citizen(rng) for _ in range(max(10, n // 4))]
    codes = [c[:-1] + uscc.calc_check_digit(c[:-1]) for c in (
        "91341324" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
        + "0" for _ in range(1000))]
    codes += [c[:-1] + ("0" if c[-1] != "0" else "1") for c in codes[:3]]  # bad check digits
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO departments (code, name) VALUES (:c, '基准测试局') "
                             "ON CONFLICT DO NOTHING"), {"c": DEPT})
        _dataset(conn, "bench_registry", [
            ("citizen_id", "string", True, "id_number", None, None),
            ("name", "string", True, "name", None, None),
            ("birth_date", "date", True, None, None, None)], "citizen_id", None)
        _dataset(conn, "bench_people", [
            ("record_no", "string", True, None, None, None),
            ("citizen_id", "string", True, "id_number", None, "bench_registry"),
            ("name", "string", True, "name", "bench_registry.name", None),
            ("birth_date", "date", True, None, "bench_registry.birth_date", None),
            ("amount", "number", True, None, None, None),
            ("level", "integer", False, None, None, None),
            ("employer_uscc", "string", False, None, None, None),
            ("phone", "string", False, "phone", None, None)], "record_no", "point")
        _dataset(conn, "bench_parcels", [("parcel_no", "string", True, None, None, None)],
                 "parcel_no", "polygon", coverage=True)
    with engine.begin() as conn:
        store_write(conn, dataset_id="bench_registry", arrival="generator", actor="bench",
                    rows=(Row(c, {"citizen_id": c, "name": f"居民{i}",
                                  "birth_date": f"{c[6:10]}-{c[10:12]}-{c[12:14]}"})
                          for i, c in enumerate(registry)))

    def people() -> Iterator[Row]:
        for i in range(n):
            c = registry[rng.randrange(len(registry))]
            data = {"record_no": f"R{i:08d}", "citizen_id": c, "name": f"居民{i}",
                    "birth_date": f"{c[6:10]}-{c[10:12]}-{c[12:14]}",
                    "amount": f"{rng.uniform(0, 3100):.2f}", "level": str(rng.randint(1, 5)),
                    "employer_uscc": codes[rng.randrange(len(codes))],
                    "phone": f"13{rng.randint(0, 999999999):09d}"}
            if rng.random() < 0.002:
                data["citizen_id"] = c[:-1] + ("1" if c[-1] != "1" else "2")
            yield Row(data["record_no"], data, _point(x0, y0, rng))

    with engine.begin() as conn:
        store_write(conn, dataset_id="bench_people", rows=people(), arrival="generator",
                    actor="bench")
    side = max(2, int((n / 20) ** 0.5))
    cell = 0.0004

    def parcels() -> Iterator[Row]:
        from shapely import box, wkb

        for i in range(side):
            for j in range(side):
                if rng.random() < 0.002:
                    continue  # a gap
                grow = cell * 0.3 if rng.random() < 0.002 else 0.0  # an overlap
                yield Row(f"P{i}-{j}", {"parcel_no": f"P{i}-{j}"}, wkb.dumps(box(
                    x0 + i * cell, y0 + j * cell, x0 + (i + 1) * cell + grow,
                    y0 + (j + 1) * cell), hex=True, srid=4326))

    with engine.begin() as conn:
        store_write(conn, dataset_id="bench_parcels", rows=parcels(), arrival="generator",
                    actor="bench")
    report = sync_rules(engine, catalog_dir, None)  # type: ignore[arg-type]
    with engine.begin() as conn:  # what content.yaml and quality_rules.yaml add for real ones
        for key, kind, params in (
                ("range:amount", "range", '{"field": "amount", "min": 0, "max": 3000}'),
                ("enum:level", "enum", '{"field": "level", "values": ["1", "2", "3", "4"]}'),
                ("regex:phone", "regex", '{"field": "phone", "pattern": "^1[3-9][0-9]{9}$"}'),
                ("gcj02_plausible", "gcj02_plausible", '{"sample": 300}')):
            conn.execute(sa.text(
                "INSERT INTO quality_rules (dataset_id, rule_key, kind, dimension, params) "
                "VALUES ('bench_people', :k, :kind, :dim, CAST(:p AS jsonb)) "
                "ON CONFLICT (dataset_id, rule_key) DO UPDATE SET enabled = true"),
                {"k": key, "kind": kind, "p": params,
                 "dim": "geometry" if kind.startswith("gcj") else "validity"})
    print(f"synthetic: {n} people, {len(registry)} registry, {side * side} parcel cells; "
          f"{report.rules} rules synced")


def scan(engine: sa.Engine, layers: object) -> tuple[float, int]:
    t0 = time.perf_counter()
    rows = 0
    with engine.connect() as conn:
        rows += conn.execute(sa.text(SCAN_ROWS)).one()[0]
        cur = conn.connection.dbapi_connection.cursor()
        for (layer_id,) in conn.execute(sa.text(
                "SELECT layer_id FROM datasets WHERE storage = 'layer'")).all():
            rel = layer_relation(layers, layer_id)  # type: ignore[arg-type]
            if rel is not None:
                cur.execute(psycopg2.sql.SQL(
                    "SELECT count(*), sum(length(data::text)) FROM {} AS t").format(rel))
                rows += cur.fetchone()[0]
    return time.perf_counter() - t0, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=0,
                        help="write N synthetic rows into a scratch database first")
    parser.add_argument("--demo", action="store_true",
                        help="a scratch database with the demo's catalog and generated content "
                             "(--content-scale x ~1.03 M rows), as `make bench` runs it")
    parser.add_argument("--content-scale", type=float, default=1.0)
    parser.add_argument("--scale", type=float, default=0.05, help="scratch county's scale")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    settings = get_settings()
    db = None
    if args.demo:
        from backend.datasets.sync import sync_from
        from backend.simulation.dataset_content import generate_content

        db = ScratchDatabase("cityops_bench_quality", args.scale, "bench_quality", pool_size=2)
        engine, admin = db.engine, db.urls.admin
        sync_from(settings, engine, load_catalog(settings.layers_dir))
        t0 = time.perf_counter()
        made = generate_content(engine, scale=args.content_scale)
        print(f"demo content: {sum(o.rows_total for o in made.values()):,} rows generated in "
              f"{time.perf_counter() - t0:.1f} s")
        sync_rules(engine, settings.catalog_dir)
        analyze(admin)
    elif args.rows:
        db = ScratchDatabase("cityops_bench_quality", args.scale, "bench_quality", pool_size=2)
        engine, admin = db.engine, db.urls.admin
        write_synthetic(engine, args.rows, settings.catalog_dir)
        analyze(admin)
    else:
        from backend.db.engine import create_engine, resolve_urls

        urls = resolve_urls(settings)
        engine, admin = create_engine(urls.app, pool_size=2), urls.admin
    calendar = WorkCalendar.load(*settings.work_calendars)
    layers = load_catalog(settings.layers_dir)
    try:
        ids = datasets_with_data(engine)
        if not ids:
            print("quality: no dataset with data in this database (run `cityops demo` first, "
                  "or pass --rows N for synthetic rows of the bench's own)")
            return
        scans, runs, per = [], [], {d: [] for d in ids}
        rows = 0
        for _ in range(max(1, args.runs)):
            took, rows = scan(engine, layers)
            scans.append(took)
            t0 = time.perf_counter()
            for d in ids:
                t1 = time.perf_counter()
                run_dataset(engine, d, trigger="manual", calendar=calendar, layers=layers)
                per[d].append(time.perf_counter() - t1)
            runs.append(time.perf_counter() - t0)
        with engine.connect() as conn:
            rules = conn.execute(sa.text("SELECT count(*) FROM quality_rules WHERE enabled AND "
                                         "dataset_id = ANY (:ids)"), {"ids": ids}).scalar_one()
        s, q = statistics.median(scans), statistics.median(runs)
        slowest = sorted(per.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
        print(f"quality: {len(ids)} datasets, {rows} rows, {rules} rules, {args.runs} runs")
        print("  slowest: " + ", ".join(f"{d} {statistics.median(t):.2f} s" for d, t in slowest))
        print(f"plain scan median {s:.2f} s; all rules median {q:.2f} s; "
              f"ratio {q / s:.2f} x (target <= 3 x)")
    finally:
        engine.dispose()
        if db is not None and not args.keep:
            db.drop()


if __name__ == "__main__":
    main()
