"""Case benchmark (`make bench`): creating and moving cases at 100 concurrent clients, and the
KPI query over 100,000 cases, against same-run baselines.

A scratch database (`--database`, dropped at the end unless `--keep`) gets the migrations and
the demo county at 2 %; the real app runs under uvicorn (one process) in a subprocess.
`--clients` clients each get their own users and login sessions (a supervisor, a dispatcher, and
a handler of the unit responsible for E0101) and their own keep-alive connection, and take
cases through the whole flow: report (POST /api/incidents), file, dispatch, accept, start,
handle, send_to_verify, confirm: every write appends to the audit hash chain.

- warm-up: a few cases, then every session once with all clients at once (the server's session
  cache and connection pool are warm, as with consoles signed in for a while).
- paced: every client waits a think time (uniform, mean `--think-ms`) between its requests, so
  the server sees ~clients/think requests per second from 100 open sessions; p50/p99 per
  operation. Baseline: `GET /api/health` by the same clients at the same pace.
- saturated: no think time (closed loop): throughput and p50/p99 at 100 requests in flight;
  baseline `GET /api/health` the same way. Latency here is queueing: 100 / throughput.
- raw SQL: one case row INSERTed and committed on one psycopg2 connection (the round trip a
  create cannot go below).
- queue: with the KPI cases in, `GET /api/incidents` (a dispatcher's queue over every case, a
  unit handler's over its department's) by every client, paced and saturated, beside
  `GET /api/health` in the same run; p50/p99, and the PostgreSQL sessions the app opened
  (pg_stat_database.sessions: a pool that churns opens one per overflow checkout).
- KPIs: `--kpi-cases` synthetic cases bulk-inserted with generate_series over the last year;
  GET /api/kpi/incidents for the whole year and for one month (median of 5 each, by
  department, grid and day), and the same SQL straight on psycopg2, with its plan's top scan.
Prints figures and ratios; no assertions (machines are noisy; 2 shared cores here).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg2
import sqlalchemy as sa

from backend.settings import get_settings
from tests.perf.common import ScratchDatabase, analyze, app_server, pct
from tests.perf.incident_clients import (
    DEPARTMENT,
    FLOW,
    Client,
    CpuMeter,
    Latencies,
    case_flow,
    health,
    queue_reads,
    run_clients,
    warm,
)

# ---- the database --------------------------------------------------------------------------

class Database(ScratchDatabase):
    def __init__(self, name: str, scale: float) -> None:
        super().__init__(name, scale, "bench_incidents", pool_size=2)
        analyze(self.urls.admin)

    def points(self) -> list[tuple[float, float]]:
        """A point inside each grid cell (cases spread over the county's grids)."""
        with self.engine.connect() as conn:
            return [(r[0], r[1]) for r in conn.execute(sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
                "FROM grid_cells ORDER BY grid_code) g"))]

    def sessions(self, clients: int) -> list[dict[str, str]]:
        """Per client: a supervisor, a dispatcher and a handler of HWS, each logged in once.
        (Users are inserted without a usable password: they only ever use these sessions.)"""
        from backend.auth.permissions import principal_for
        from backend.auth.users import SessionStore

        store = SessionStore(self.engine, ttl=timedelta(hours=2))
        out = []
        with self.engine.begin() as conn:
            made = []
            for i in range(clients):
                for key, role in (("sup", "supervisor"), ("disp", "dispatcher"),
                                  ("hand", "department_handler")):
                    name = f"bench-{i:03d}-{key}"
                    uid = conn.execute(sa.text(
                        "INSERT INTO users (username, display_name, password_hash, roles, "
                        "department) VALUES (:u, :u, '!bench', :r, :d) RETURNING id"),
                        {"u": name, "r": [role], "d": DEPARTMENT if key == "hand" else None},
                    ).scalar_one()
                    made.append((i, key, uid, name, role))
        tokens: list[dict[str, str]] = [{} for _ in range(clients)]
        for i, key, uid, name, role in made:
            tokens[i][key] = store.create(principal_for(uid, name, name, [role])).token
        out.extend(tokens)
        return out

    def close(self, keep: bool) -> None:
        self.engine.dispose()
        if not keep:
            self.drop()


def server(db: Database) -> contextlib.AbstractContextManager[tuple[int, int]]:
    """The real app under uvicorn (one process); yields (its pid, its port)."""
    return app_server(db.settings.database_name)


def summary_line(name: str, values: list[float]) -> str:
    if not values:
        return f"  {name:<16} n     0"
    return (f"  {name:<16} n {len(values):>5}   p50 {statistics.median(values):7.1f} ms   "
            f"p99 {pct(values, 0.99):7.1f} ms   max {max(values):7.1f} ms")


def writes(lat: Latencies) -> list[float]:
    return [v for op, values in lat.items() if op != "health" for v in values]



# ---- raw SQL -------------------------------------------------------------------------------

RAW_INSERT = """
INSERT INTO incidents (case_no, category_code, description, lon, lat, department_code, state,
  source, reported_at)
VALUES (%s, 'E0101', 'raw', 117.88, 33.479, 'HWS', 'reported', 'inspection', now())"""


def bench_raw_insert(dsn: str, n: int) -> list[float]:
    conn = psycopg2.connect(dsn)
    out = []
    try:
        with conn.cursor() as cur:
            for i in range(n):
                t0 = time.perf_counter()
                cur.execute(RAW_INSERT, (f"RAW-{i}-{secrets.token_hex(3)}",))
                conn.commit()
                out.append((time.perf_counter() - t0) * 1000)
            cur.execute("DELETE FROM incidents WHERE case_no LIKE 'RAW-%%'")
        conn.commit()
    finally:
        conn.close()
    return out


# ---- KPIs ----------------------------------------------------------------------------------

SYNTHETIC = """
WITH cats AS (SELECT array_agg(code ORDER BY code) AS c, array_agg(department_code ORDER BY code)
              AS d FROM case_categories WHERE active),
     grids AS (SELECT array_agg(grid_code ORDER BY grid_code) AS g FROM grid_cells),
     raw AS (
  SELECT n, 1 + (hashint4(n) & 2147483647) %% cardinality(cats.c) AS ci,
         1 + (hashint4(n + 7) & 2147483647) %% cardinality(grids.g) AS gi,
         (hashint4(n + 13) & 2147483647) %% 1000 AS r,
         now() - make_interval(secs => ((hashint4(n + 17) & 2147483647) %% 31536000)) AS filed,
         cats.c, cats.d, grids.g
  FROM generate_series(1, %(n)s) n, cats, grids)
INSERT INTO incidents (case_no, category_code, description, lon, lat, grid_code,
  department_code, state, source, reported_at, filed_at, dispatched_at, handled_at, closed_at,
  supervised, overdue, on_time, rework_count, extension_count)
SELECT 'KPI-' || n, c[ci], 'synthetic', 117.88, 33.479, g[gi], d[ci],
  CASE WHEN r < 800 THEN 'closed' WHEN r < 850 THEN 'verifying' WHEN r < 930 THEN 'in_progress'
       WHEN r < 970 THEN 'dispatched' ELSE 'filed' END,
  'inspection', filed - interval '1 hour', filed,
  CASE WHEN r < 970 THEN filed + interval '1 hour' END,
  CASE WHEN r < 850 THEN filed + interval '20 hours' END,
  CASE WHEN r < 800 THEN filed + interval '30 hours' END,
  r BETWEEN 850 AND 880, r BETWEEN 850 AND 880,
  CASE WHEN r < 800 THEN r %% 50 <> 0 END,
  CASE WHEN r %% 25 = 0 THEN 1 ELSE 0 END, CASE WHEN r %% 40 = 0 THEN 1 ELSE 0 END
FROM raw"""


def load_kpi_cases(db: Database, n: int) -> float:
    t0 = time.perf_counter()
    conn = psycopg2.connect(db.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(SYNTHETIC, {"n": n})
        conn.commit()
    finally:
        conn.close()
    analyze(db.urls.admin, "incidents")
    return time.perf_counter() - t0


def kpi_window(days: int) -> tuple[str, str]:
    to = datetime.now(UTC) + timedelta(minutes=1)
    return (to - timedelta(days=days)).isoformat(), to.isoformat()


def median_ms(fn: Callable[[], object], repeat: int = 5) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench_kpis(db: Database, port: int, token: str) -> list[tuple[str, float, float, str]]:
    from backend.incidents.kpi import kpi_sql, parse_kpi

    client = Client(port, {"k": token})
    conn = psycopg2.connect(db.dsn)
    rows = []
    try:
        for days, group_by in ((366, "department"), (366, "grid"), (366, "period"),
                               (30, "department"), (1, "department")):
            start, end = kpi_window(days)
            query = parse_kpi(start, end, group_by, "day")
            sql = sa.text(kpi_sql(query)).compile(dialect=db.engine.dialect)
            raw_sql = str(sql)
            params = {"start": query.start, "end": query.end}
            path = "/api/kpi/incidents?" + str(httpx.QueryParams(
                {"from": start, "to": end, "group_by": group_by}))

            def http(path: str = path) -> None:
                _, status, data = client.call("GET", path, "k")
                if status != 200:
                    raise RuntimeError(f"kpi: {status} {data[:200]!r}")

            def direct(raw_sql: str = raw_sql, params: dict = params) -> None:
                with conn.cursor() as cur:
                    cur.execute(raw_sql, params)
                    cur.fetchall()
                conn.rollback()

            with conn.cursor() as cur:
                cur.execute("EXPLAIN " + raw_sql, params)
                plan = [r[0] for r in cur.fetchall()]
            conn.rollback()
            scan = next((line.split("(cost")[0].strip().removeprefix("->").strip()
                         for line in plan if " on incidents" in line), "?")
            label = f"{days:>3} d, by {group_by}"
            rows.append((label, median_ms(http), median_ms(direct), scan))
    finally:
        conn.close()
        client.close()
    return rows


# ---- case writes ---------------------------------------------------------------------------

def bench_writes(db: Database, srv: tuple[CpuMeter, int], tokens: list[dict[str, str]],
                 points: list[tuple[float, float]], cases: int, think_ms: float) -> list[str]:
    """Cases through the whole flow, paced then saturated, beside /api/health; the raw
    INSERT baseline. Returns the ratio lines for the closing summary."""
    ops = cases * (len(FLOW) + 1)
    print(f"{cases} case(s) per client per phase through {len(FLOW) + 1} requests "
          f"(report, {', '.join(a for a, _ in FLOW)})")
    offered = len(tokens) / (think_ms / 1000)
    print(f"\npaced: think time {think_ms:.0f} ms mean -> ~{offered:.0f} requests/s offered",
          flush=True)
    base, _, base_cpu, err1 = run_clients(srv, tokens, health(ops, think_ms))
    paced, paced_s, paced_cpu, err2 = run_clients(srv, tokens, case_flow(cases, points,
                                                                         think_ms))
    print(summary_line("GET /api/health", base["health"]))
    for op in ["report", *(a for a, _ in FLOW)]:
        print(summary_line(op, paced[op]))
    all_writes = writes(paced)
    print(summary_line("all case writes", all_writes))
    per_write, per_check = paced_cpu / len(all_writes), base_cpu / len(base["health"])
    print(f"  {len(all_writes) / paced_s:.0f} writes/s over {paced_s:.1f} s; CPU (app + "
          f"its PostgreSQL backends) {1000 * per_write:.1f} ms per write, "
          f"{1000 * per_check:.2f} ms per health check")

    print("\nsaturated: no think time, every client keeps one request in flight", flush=True)
    sat_base, base_s, _, err3 = run_clients(srv, tokens, health(ops, 0))
    sat, sat_s, sat_cpu, err4 = run_clients(srv, tokens, case_flow(cases, points, 0))
    print(summary_line("GET /api/health", sat_base["health"])
          + f"   {len(sat_base['health']) / base_s:.0f} req/s")
    sat_writes = writes(sat)
    print(summary_line("report", sat["report"]))
    print(summary_line("all case writes", sat_writes) + f"   {len(sat_writes) / sat_s:.0f} "
          "writes/s")
    print(f"  CPU (app + its PostgreSQL backends) {1000 * sat_cpu / len(sat_writes):.1f} ms "
          "per write")

    raw = bench_raw_insert(db.dsn, 500)
    print("\nraw SQL baseline:")
    print(summary_line("one INSERT+commit", raw))
    errors = err1 + err2 + err3 + err4
    if errors:
        print(f"\n{len(errors)} client error(s), first: {errors[:3]}")
    return [
        f"  paced case writes p50 = {statistics.median(all_writes):.1f} ms, "
        f"p99 = {pct(all_writes, 0.99):.1f} ms   (target p99 <= 50 ms)",
        f"  paced report p50 / health p50 = "
        f"{statistics.median(paced['report']) / statistics.median(base['health']):.1f}",
        f"  paced report p50 / raw INSERT p50 = "
        f"{statistics.median(paced['report']) / statistics.median(raw):.1f}",
        f"  saturated writes/s / health req/s = "
        f"{(len(sat_writes) / sat_s) / (len(sat_base['health']) / base_s):.3f}",
        f"  capacity from CPU: ~{os.cpu_count() / per_write:.0f} writes/s on "
        f"{os.cpu_count()} dedicated cores ({1000 * per_write:.1f} CPU ms per write)"]


# ---- the queue over many cases -------------------------------------------------------------

def sessions_opened(db: Database) -> int:
    """Sessions PostgreSQL has opened on the scratch database so far."""
    with db.engine.connect() as conn:
        return int(conn.execute(sa.text(
            "SELECT sessions FROM pg_stat_database WHERE datname = :d"),
            {"d": db.settings.database_name}).scalar_one())


def bench_queue(db: Database, srv: tuple[CpuMeter, int], tokens: list[dict[str, str]],
                requests: int, think_ms: float) -> dict[str, float]:
    """The queue read by every client, paced then saturated, each beside /api/health."""
    figures: dict[str, float] = {}
    for label, think in (("paced", think_ms), ("saturated", 0.0)):
        base, base_s, _, err1 = run_clients(srv, tokens, health(requests, think))
        opened = sessions_opened(db)
        reads, reads_s, cpu, err2 = run_clients(srv, tokens, queue_reads(requests, think))
        opened = sessions_opened(db) - opened
        every = [v for values in reads.values() for v in values]
        print(f"\nqueue, {label}" + (f" (think {think:.0f} ms)" if think else
                                      " (no think time)"), flush=True)
        print(summary_line("GET /api/health", base["health"])
              + f"   {len(base['health']) / base_s:.0f} req/s")
        for op, values in reads.items():
            print(summary_line(op, values))
        print(summary_line("all queue reads", every)
              + f"   {len(every) / reads_s:.0f} req/s")
        print(f"  CPU (app + its PostgreSQL backends) {1000 * cpu / max(1, len(every)):.1f} ms "
              f"per read; {opened} PostgreSQL session(s) opened for {len(every)} reads")
        if err1 or err2:
            print(f"  {len(err1 + err2)} client error(s), first: {(err1 + err2)[:2]}")
        figures[f"{label} p50"] = statistics.median(every) if every else float("nan")
        figures[f"{label} p99"] = pct(every, 0.99)
    return figures


# ---- main ----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--cases", type=int, default=2, help="cases per client per phase")
    parser.add_argument("--think-ms", type=float, default=2000.0,
                        help="mean pause between a client's requests in the paced phase")
    parser.add_argument("--kpi-cases", type=int, default=100_000)
    parser.add_argument("--queue-requests", type=int, default=10,
                        help="queue reads per client per phase (over the KPI cases)")
    parser.add_argument("--skip-writes", action="store_true",
                        help="skip the case-write phases (the queue and KPIs only)")
    parser.add_argument("--database", default="cityops_bench_incidents")
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    settings = get_settings()
    from backend.cli import _prepare_database

    _prepare_database(settings)  # the managed cluster is up
    db = Database(args.database, args.scale)
    try:
        points = db.points()
        tokens = db.sessions(args.clients)
        print(f"{args.clients} clients, each its own supervisor/dispatcher/handler sessions; "
              f"{len(points)} grid cells", flush=True)
        ratios: list[str] = []
        with server(db) as (pid, port):
            srv = (CpuMeter(pid, db.dsn, db.settings.database_name), port)
            run_clients(srv, tokens[:4], case_flow(2, points, 0))  # warm up
            run_clients(srv, tokens, warm)
            if not args.skip_writes:
                ratios += bench_writes(db, srv, tokens, points, args.cases, args.think_ms)
            print(f"\nKPIs: inserting {args.kpi_cases:,} synthetic cases over the last year",
                  flush=True)
            took = load_kpi_cases(db, args.kpi_cases)
            print(f"  loaded in {took:.1f} s (generate_series, then ANALYZE)")
            queue = bench_queue(db, srv, tokens, args.queue_requests, args.think_ms)
            kpis = bench_kpis(db, srv[1], tokens[0]["disp"])
            print("\nKPIs: window, grouping     HTTP median   SQL median   plan")
            for label, http_ms, sql_ms, scan in kpis:
                print(f"  {label:<26} {http_ms:9.1f} ms {sql_ms:9.1f} ms   {scan}")

        load = os.getloadavg()[0]
        print(f"\nratios and targets (load average {load:.1f} on {os.cpu_count()} cores):")
        for line in ratios:
            print(line)
        print(f"  queue over {args.kpi_cases:,} cases at {args.clients} clients: paced p50 "
              f"{queue['paced p50']:.1f} ms, p99 {queue['paced p99']:.1f} ms (target p99 <= "
              f"100 ms); saturated p50 {queue['saturated p50']:.1f} ms, p99 "
              f"{queue['saturated p99']:.1f} ms")
        year = next(k for k in kpis if k[0].startswith("366 d, by department"))
        print(f"  KPI over {args.kpi_cases:,} cases (1 year, by department): HTTP "
              f"{year[1]:.0f} ms, SQL {year[2]:.0f} ms   (target <= 200 ms); "
              f"HTTP / SQL = {year[1] / year[2]:.2f}")
    finally:
        db.close(args.keep)

if __name__ == "__main__":
    main()
