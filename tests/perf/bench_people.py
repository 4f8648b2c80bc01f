"""Population base benchmark (`make bench`, issue 13 parts 10a and 10c).

(a) Lookup of one person at 50 concurrent clients through the real app under uvicorn (one
process): `GET /api/people/{id}?purpose=...` (scope, purpose check, masking by the policy,
the household and versions, one audit-chain row + a person_access row, commit) against the
same lookup without them: a plain SELECT of the person by citizen_id answered as JSON by a
route this benchmark adds to the same app (same auth, same pool). The masked record without
a purpose (everything but the audit) is measured too, to tell the audit's share.
(c) The row scope's overhead on a grid worker's household list: the service's scoped list
(scope_of + the cell check + the predicate) against the same query unscoped on the same rows.

Data: a scratch database with the demo county at --scale and --persons synthetic persons
(SQL generate_series: households of 3 on the county's cells); or --demo-database NAME, an
existing database with the population loaded (`cityops demo`). Figures, not assertions."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta

import httpx
import sqlalchemy as sa
from fastapi import APIRouter

from backend.settings import get_settings
from tests.perf.common import (
    ScratchDatabase,
    analyze,
    concurrent_gets,
    free_port,
    pct,
    stop_process,
)

PURPOSE = "census_check"


def create_bench_app():  # noqa: ANN201 (uvicorn --factory)
    """The real app plus the baseline: a plain SELECT by citizen_id, as JSON, under the same
    guard (people:read) and pool."""
    from backend.api.route import GuardedRoute
    from backend.auth.permissions import Permission, requires
    from backend.main import create_app

    app = create_app(get_settings())
    plain = APIRouter(route_class=GuardedRoute)

    @plain.get("/bench/plain/{citizen_id}", dependencies=[requires(Permission.PEOPLE_READ)])
    def plain_lookup(citizen_id: str) -> dict:
        with app.state.resources.engine.connect() as conn:
            row = conn.execute(sa.text("SELECT * FROM persons WHERE citizen_id = :c"),
                               {"c": citizen_id}).mappings().first()
        return dict(row) if row else {}

    app.include_router(plain)
    app.router.routes.insert(0, app.router.routes.pop())  # before the static files' mount
    return app


def generate(engine: sa.Engine, persons: int) -> None:
    """Households of 3 on the county's cells, round robin; synthetic unique IDs (the reads
    measured here do not check them)."""
    households = persons // 3
    with engine.begin() as conn:
        conn.execute(sa.text("""
CREATE TEMP TABLE bench_cells AS
SELECT row_number() OVER (ORDER BY grid_code) - 1 AS n, grid_code, township_code, community,
       ST_PointOnSurface(geom) AS pt FROM grid_cells"""))
        conn.execute(sa.text("""
INSERT INTO addresses (id, grid_code, township_code, community, building_label, unit, geom)
SELECT i, c.grid_code, c.township_code, c.community, '测试路' || i || '号楼', '1单元101室', c.pt
FROM generate_series(1, :h) i
JOIN bench_cells c ON c.n = i % (SELECT count(*) FROM bench_cells)"""), {"h": households})
        conn.execute(sa.text("""
INSERT INTO households (id, household_no, address_id, grid_code, township_code)
SELECT id, 'B' || lpad(id::text, 12, '0'), id, grid_code, township_code FROM addresses"""))
        conn.execute(sa.text("""
INSERT INTO persons (id, citizen_id, name, sex, birth_date, ethnicity, phone, registered_region,
  registered_address, address_id, household_id, relation, status, grid_code, township_code,
  source_dataset)
SELECT i + 1, '341324' || to_char(date '1940-01-01' + i % 29000, 'YYYYMMDD')
         || lpad((i / 29000)::text, 3, '0') || 'X',
       substr('王李张刘陈杨黄赵吴周', 1 + i % 10, 1)
         || substr('伟芳娜秀英敏静丽强磊', 1 + i % 7, 1),
       CASE WHEN i % 2 = 0 THEN '女' ELSE '男' END, date '1940-01-01' + i % 29000, '汉族',
       '139' || lpad(i::text, 8, '0'), '341324', '泗县', h.id, h.id,
       CASE WHEN i % 3 = 0 THEN '户主' ELSE '子女' END,
       CASE WHEN i % 50 = 0 THEN 'moved' ELSE 'resident' END, h.grid_code, h.township_code,
       'bench'
FROM generate_series(0, :n - 1) i JOIN households h ON h.id = i / 3 + 1"""),
                     {"n": households * 3})
        conn.execute(sa.text("UPDATE households h SET head_person_id = (h.id - 1) * 3 + 1"))


def sessions(engine: sa.Engine, users: int) -> tuple[list[str], str, list[str]]:
    """(officer tokens, a grid worker's token, the worker's cells)."""
    from backend.auth.permissions import principal_for
    from backend.auth.users import SessionStore

    store = SessionStore(engine, ttl=timedelta(hours=2))
    with engine.begin() as conn:
        ids = []
        for i in range(users + 1):
            role = "grid_worker" if i == users else "population_officer"
            name = f"bench-people-{i:03d}"
            uid = conn.execute(sa.text("""
INSERT INTO users (username, display_name, password_hash, roles, department)
VALUES (:u, :u, '!bench', :r, 'GAJ') ON CONFLICT (username) DO UPDATE SET roles = :r
RETURNING id"""), {"u": name, "r": [role]}).scalar_one()
            ids.append((uid, name, role))
        cells = list(conn.execute(sa.text("""
SELECT grid_code FROM households GROUP BY grid_code ORDER BY count(*) DESC LIMIT 3""")).scalars())
        conn.execute(sa.text("INSERT INTO grid_workers (grid_code, user_id) SELECT unnest("
                             "CAST(:c AS text[])), :u ON CONFLICT DO NOTHING"),
                     {"c": cells, "u": ids[-1][0]})
    tokens = [store.create(principal_for(uid, n, n, [r], "GAJ")).token for uid, n, r in ids]
    return tokens[:-1], tokens[-1], cells


def bench_lookup(args: argparse.Namespace, database: str, engine: sa.Engine,
                 tokens: list[str]) -> None:
    import subprocess

    with engine.connect() as conn:
        sample = conn.execute(sa.text(
            "SELECT id, citizen_id FROM persons TABLESAMPLE SYSTEM (5) LIMIT :n"),
            {"n": args.users * args.requests * 4}).all()
    rng = random.Random(13)
    port = free_port()
    env = {**os.environ, "CITYOPS_DATABASE_NAME": database}
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory",
                             "tests.perf.bench_people:create_bench_app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning", "--no-access-log"],
                            env=env)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

        def paths(kind: str) -> list[list[str]]:
            out = []
            for _ in range(args.users):
                picks = rng.sample(sample, args.requests)
                if kind == "plain":
                    out.append([f"/bench/plain/{p.citizen_id}" for p in picks])
                elif kind == "masked":
                    out.append([f"/api/people/{p.id}" for p in picks])
                else:
                    out.append([f"/api/people/{p.id}?purpose={PURPOSE}" for p in picks])
            return out

        concurrent_gets(port, tokens, [p[:2] for p in paths("full")])  # warm up
        rows = []
        for r in range(args.rounds):
            row = {}
            for kind in ("plain", "masked", "full"):
                lat, err = concurrent_gets(port, tokens, paths(kind))
                row[f"{kind} p50"], row[f"{kind} p99"] = pct(lat, 0.5), pct(lat, 0.99)
                row[f"{kind} errors"] = err
            rows.append(row)
            print(f"  round {r + 1}: " + "; ".join(
                f"{k} p50 {row[k + ' p50']:.1f} ms p99 {row[k + ' p99']:.1f} ms "
                f"({row[k + ' errors']} errors)" for k in ("plain", "masked", "full")),
                flush=True)
    finally:
        stop_process(proc)
    med = {k: statistics.median(row[k] for row in rows) for k in rows[0]}
    print(f"\n(a) person lookup at {args.users} concurrent clients (median of {args.rounds} "
          f"rounds; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    for kind, what in (("plain", "plain SELECT by citizen_id as JSON"),
                       ("masked", "record, masked, no purpose, no audit"),
                       ("full", "record, purpose + masking + audit")):
        print(f"  {what:<40} p50 {med[kind + ' p50']:6.1f} ms  p99 {med[kind + ' p99']:6.1f} ms")
    print(f"  overhead ratio full/plain: p50 {med['full p50'] / med['plain p50']:.2f}, "
          f"p99 {med['full p99'] / med['plain p99']:.2f} (target <= 1.2 at p99); "
          f"full/masked p99 {med['full p99'] / med['masked p99']:.2f} (the audit's share)")


def bench_scope(args: argparse.Namespace, engine: sa.Engine, cells: list[str]) -> None:
    from backend.auth.permissions import principal_for
    from backend.people import service

    with engine.connect() as conn:
        uid = conn.execute(sa.text("SELECT id FROM users WHERE username = :u"),
                           {"u": f"bench-people-{args.users:03d}"}).scalar_one()
    worker = principal_for(uid, "w", "w", ["grid_worker"])
    query = service.HOUSEHOLDS_SQL.replace("{where}", "{where} AND h.grid_code = :grid")
    variants = {
        "unscoped": sa.text(query.format(where="TRUE")),
        "predicate": sa.text(query.format(where="h.grid_code = ANY(:scope_cells)")),
    }
    times: dict[str, list[float]] = {"unscoped": [], "predicate": [], "service": []}
    kinds = list(times)
    with engine.connect() as conn:
        for i in range(args.scope_iterations * len(kinds) + 30):
            grid = cells[i // len(kinds) % len(cells)]
            kind = kinds[i % len(kinds)]
            t0 = time.perf_counter()
            if kind == "service":
                n = len(service.list_households(conn, principal=worker, grid_code=grid,
                                                limit=100, offset=0)["items"])
            else:
                conn.execute(sa.text("SELECT count(*) FROM households h WHERE h.grid_code = :g"
                                     + (" AND h.grid_code = ANY(:c)" if kind == "predicate"
                                        else "")), {"g": grid, "c": cells}).scalar_one()
                n = len(conn.execute(variants[kind], {
                    "grid": grid, "scope_cells": cells, "current": service.CURRENT,
                    "limit": 100, "offset": 0}).all())
            if i >= 30:
                times[kind].append((time.perf_counter() - t0) * 1000)
            assert n > 0
    base50, base99 = statistics.median(times["unscoped"]), pct(times["unscoped"], 0.99)
    print(f"\n(c) a grid worker's household list (100 a page, {len(cells)} cells, "
          f"{args.scope_iterations} each, interleaved):")
    for kind, what in (("unscoped", "unscoped, same rows"),
                       ("predicate", "scoped: + the scope predicate"),
                       ("service", "the service: scope_of + cell check + predicate + masking")):
        m, p = statistics.median(times[kind]), pct(times[kind], 0.99)
        print(f"  {what:<58} median {m:5.2f} ms ({100 * (m / base50 - 1):+5.1f} %)  "
              f"p99 {p:5.2f} ms ({100 * (p / base99 - 1):+5.1f} %)")
    print("  target: the row scope's overhead <= 10 %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--persons", type=int, default=300_000)
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--scope-iterations", type=int, default=300)
    parser.add_argument("--database", default="cityops_bench_people")
    parser.add_argument("--demo-database", help="use this existing database's population")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    from backend.cli import _prepare_database
    from backend.db.engine import create_engine, resolve_urls

    _prepare_database(get_settings())  # the managed cluster is up
    db = None
    if args.demo_database:
        settings = get_settings(database_name=args.demo_database)
        engine = create_engine(resolve_urls(settings).app, pool_size=2)
        database = args.demo_database
    else:
        db = ScratchDatabase(args.database, args.scale, "bench_people", pool_size=2)
        engine, database = db.engine, args.database
        t0 = time.perf_counter()
        generate(engine, args.persons)
        analyze(db.urls.admin)
        print(f"{args.persons:,} synthetic persons generated in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    try:
        with engine.connect() as conn:
            n = conn.execute(sa.text("SELECT count(*) FROM persons")).scalar_one()
        print(f"{n:,} persons; {args.users} clients x {args.requests} lookups per round",
              flush=True)
        tokens, _worker, cells = sessions(engine, args.users)
        bench_lookup(args, database, engine, tokens)
        bench_scope(args, engine, cells)
    finally:
        engine.dispose()
        if db is not None and not args.keep:
            db.drop()


if __name__ == "__main__":
    main()
