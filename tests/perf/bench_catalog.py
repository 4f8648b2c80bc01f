"""Catalog search benchmark (`make bench`): the real app under uvicorn (one process) on a
scratch database (migrations, a tiny demo county, the catalog synced at the server's start),
50 concurrent users (threads, each its own httpx client and its own logged-in viewer session)
each sending back-to-back searches: a mix of Chinese queries (substring hits, trigram-only
hits, misses) and filters (department, share type, update cycle, has a map layer, class).

The baseline, in the same run at the same concurrency: `GET /api/health` (the framework,
routing and the auth-free path: what any request costs). Reported per round and as the
median over rounds: p50 and p99 of each and their ratio. Figures, not assertions."""

from __future__ import annotations

import argparse
import os
import statistics
from datetime import timedelta

import httpx
import sqlalchemy as sa

from backend.settings import get_settings
from tests.perf.common import ScratchDatabase, app_server, concurrent_gets, pct

QUERIES = ["人口", "户籍人口资料", "企业", "学籍", "信用", "公交", "管线", "气象", "医院",
           "低保人员", "土地确权", "投诉", "许可", "项目审批", "不存在的数据", "Population",
           "养老院", "监控"]
FILTERS: list[dict[str, str]] = [
    {}, {"department": "GAJ"}, {"share_type": "conditional"}, {"update_cycle": "daily"},
    {"has_layer": "true"}, {"class_code": "101"}, {"storage": "rows"},
]


def requests_for(user: int, count: int) -> list[str]:
    """The user's mix: queries with and without a filter, a filter alone now and then."""
    out = []
    for i in range(count):
        k = user * 7 + i
        params = dict(FILTERS[k % len(FILTERS)])
        if k % 5 != 4:
            params["q"] = QUERIES[k % len(QUERIES)]
        params["limit"] = "20"
        out.append("/api/datasets?" + str(httpx.QueryParams(params)))
    return out


def sessions(db: ScratchDatabase, users: int) -> list[str]:
    from backend.auth.permissions import principal_for
    from backend.auth.users import SessionStore

    store = SessionStore(db.engine, ttl=timedelta(hours=2))
    made = []
    with db.engine.begin() as conn:
        for i in range(users):
            name = f"bench-catalog-{i:03d}"
            uid = conn.execute(sa.text(
                "INSERT INTO users (username, display_name, password_hash, roles) "
                "VALUES (:u, :u, '!bench', :r) RETURNING id"),
                {"u": name, "r": ["viewer"]}).scalar_one()
            made.append((uid, name))
    return [store.create(principal_for(uid, name, name, ["viewer"])).token
            for uid, name in made]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="per user per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default="cityops_bench_catalog")
    parser.add_argument("--scale", type=float, default=0.005)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    from backend.cli import _prepare_database

    _prepare_database(get_settings())  # the managed cluster is up
    db = ScratchDatabase(args.database, args.scale, "bench_catalog", pool_size=2)
    try:
        tokens = sessions(db, args.users)
        with app_server(db.settings.database_name) as (_pid, port):
            with db.engine.connect() as conn:
                n = conn.execute(sa.text("SELECT count(*) FROM datasets")).scalar_one()
            print(f"{n} datasets in the catalog; {args.users} users x {args.requests} requests"
                  f" per round, {args.rounds} rounds", flush=True)
            search_paths = [requests_for(i, args.requests) for i in range(args.users)]
            health_paths = [["/api/health"] * args.requests for _ in range(args.users)]
            concurrent_gets(port, tokens, [p[:2] for p in search_paths])  # warm up
            rows = []
            for r in range(args.rounds):
                s, s_err = concurrent_gets(port, tokens, search_paths)
                h, h_err = concurrent_gets(port, tokens, health_paths)
                row = {"search p50": pct(s, 0.5), "search p99": pct(s, 0.99),
                       "health p50": pct(h, 0.5), "health p99": pct(h, 0.99)}
                rows.append(row)
                print(f"  round {r + 1}: search p50 {row['search p50']:.1f} ms, p99 "
                      f"{row['search p99']:.1f} ms ({s_err} errors); health p50 "
                      f"{row['health p50']:.1f} ms, p99 {row['health p99']:.1f} ms "
                      f"({h_err} errors)", flush=True)
        med = {k: statistics.median(row[k] for row in rows) for k in rows[0]}
        print(f"\ncatalog search at {args.users} concurrent users (median of {args.rounds} "
              f"rounds; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
        print(f"  search p50 {med['search p50']:.1f} ms, p99 {med['search p99']:.1f} ms; "
              f"/api/health p50 {med['health p50']:.1f} ms, p99 {med['health p99']:.1f} ms; "
              f"ratio p50 {med['search p50'] / med['health p50']:.2f}, "
              f"p99 {med['search p99'] / med['health p99']:.2f}")
    finally:
        db.engine.dispose()
        if not args.keep:
            db.drop()


if __name__ == "__main__":
    main()
