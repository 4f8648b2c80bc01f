"""Tile benchmark (`make bench`): our server against the raw ST_AsMVT rate, same run, same SQL.

A fixed list of ~500 tiles (z10-z16, weighted to the county seat, repeats allowed) of the
merged default view is fetched with gzip at 4 concurrent requests, with the tile cache off
and on; the same tile queries go straight to PostGIS (gzip applied) on 2 and 4 connections.
Prints tiles/s, p50/p99 and the ratios. Figures, not assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import secrets
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import numpy as np
import psycopg2
import sqlalchemy as sa

from backend.catalog.layers import load_catalog
from backend.db.engine import create_engine, resolve_urls
from backend.maps.service import vector_layer
from backend.settings import Settings, get_settings
from tests.perf.common import free_port, median_of, pct, start_app, stop_process
from tiles.postgis import tile_params, tile_query
from tiles.service import GZIP_LEVEL
from tiles.tms import lonlat_to_tile

SEAT = (117.88003, 33.47922)
BOUNDS = (117.6286, 33.2767, 118.1804, 33.769)
LAYERS = ["county", "townships", "parcels", "roads", "pilot_segments", "buildings",
          "bus_lines", "bus_stops", "cameras"]
ZOOM_WEIGHTS = {10: 1, 11: 2, 12: 3, 13: 4, 14: 5, 15: 5, 16: 4}


def tile_list(n: int = 500, seed: int = 20201) -> list[tuple[int, int, int]]:
    """Deterministic: 70 % within ~3 km of the seat, the rest anywhere in the county."""
    rng = np.random.default_rng(seed)
    zooms = list(ZOOM_WEIGHTS)
    p = np.array(list(ZOOM_WEIGHTS.values()), dtype=float)
    out = []
    for _ in range(n):
        z = int(rng.choice(zooms, p=p / p.sum()))
        if rng.random() < 0.7:
            lon = SEAT[0] + rng.normal(0, 0.02)
            lat = SEAT[1] + rng.normal(0, 0.015)
        else:
            lon = rng.uniform(BOUNDS[0], BOUNDS[2])
            lat = rng.uniform(BOUNDS[1], BOUNDS[3])
        out.append((z, *lonlat_to_tile(lon, lat, z)))
    return out


def run(worker: Callable[[tuple[int, int, int]], int], tiles: list, concurrency: int) -> dict:
    latencies: list[float] = []

    def timed(t: tuple[int, int, int]) -> int:
        t0 = time.perf_counter()
        size = worker(t)
        latencies.append(time.perf_counter() - t0)
        return size

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        sizes = list(pool.map(timed, tiles))
    elapsed = time.perf_counter() - start
    ms = sorted(x * 1000 for x in latencies)
    return {
        "rate": len(tiles) / elapsed,
        "p50": statistics.median(ms),
        "p99": pct(ms, 0.99),
        "bytes": sum(sizes),
    }


def start_server(cache: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "CITYOPS_TILE_CACHE_ENABLED": "true" if cache else "false"}
    return start_app(port, env), f"http://127.0.0.1:{port}"


@contextmanager
def bench_session(settings: Settings) -> Iterator[str]:
    """A bearer token of a temporary admin (the merged view holds role-restricted layers),
    so every tile request pays for its authorisation as a console's would."""
    from backend.auth.permissions import principal_for
    from backend.auth.users import SessionStore, create_user

    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    name = f"bench-{secrets.token_hex(4)}"
    try:
        with engine.begin() as conn:
            uid = create_user(conn, name, secrets.token_urlsafe(16), ["admin"])
        store = SessionStore(engine, ttl=timedelta(hours=1))
        yield store.create(principal_for(uid, name, name, ["admin"])).token
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM users WHERE username = :u"), {"u": name})
        engine.dispose()


def bench_server(tiles: list, cache: bool, concurrency: int, token: str) -> dict:
    """Keep-alive http.client connections, one per thread: the lightest Python client, so
    that the figures measure the server rather than the load generator."""
    proc, base = start_server(cache)
    path = ",".join(LAYERS)
    host, port = base.removeprefix("http://").split(":")
    local = threading.local()

    def fetch(t: tuple[int, int, int]) -> int:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        z, x, y = t
        conn.request("GET", f"/tiles/{path}/{z}/{x}/{y}.mvt",
                     headers={"Accept-Encoding": "gzip", "Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        body = response.read()  # compressed bytes as sent on the wire
        if response.status not in (200, 204):
            raise RuntimeError(f"{response.status} {body[:200]!r}")
        return len(body)

    try:
        if cache:
            run(fetch, tiles, concurrency)  # fill the cache
        else:
            run(fetch, tiles[:20], concurrency)  # warm connections
        return run(fetch, tiles, concurrency)
    finally:
        stop_process(proc, 10)


def bench_raw(tiles: list, connections: int, dsn: str) -> dict:
    settings = get_settings()
    catalog = load_catalog(settings.layers_dir)
    layers = [vector_layer(catalog[i]) for i in LAYERS]
    conns = [psycopg2.connect(dsn) for _ in range(connections)]
    pool = list(conns)
    lock = threading.Lock()
    query_by_zoom = {}

    def fetch(t: tuple[int, int, int]) -> int:
        z, x, y = t
        active = [la for la in layers if la.in_zoom(z)]
        with lock:
            conn = pool.pop()
        try:
            sql = query_by_zoom.get(z)
            if sql is None:
                sql = query_by_zoom[z] = tile_query(active).as_string(conn)
            with conn.cursor() as cur:
                cur.execute(sql, tile_params(active, z, x, y))
                raw = bytes(cur.fetchone()[0])
            conn.rollback()
            return len(gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)) if raw else 0
        finally:
            with lock:
                pool.append(conn)

    try:
        run(fetch, tiles[:20], connections)
        return run(fetch, tiles, connections)
    finally:
        for c in conns:
            c.close()


def fmt(name: str, r: dict) -> str:
    return (f"  {name:<34} {r['rate']:8.1f} tiles/s   p50 {r['p50']:7.1f} ms   "
            f"p99 {r['p99']:7.1f} ms   {r['bytes'] / 1e6:6.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiles", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; medians shown")
    args = parser.parse_args()

    settings = get_settings()
    from backend.cli import _prepare_database
    from backend.demo import prepare_demo

    _prepare_database(settings)
    prepare_demo(settings)  # no-op when the demo county is loaded
    dsn = resolve_urls(settings).app.replace("postgresql+psycopg2://", "postgresql://")
    tiles = tile_list(args.tiles)
    print(f"{len(tiles)} tiles (z10-z16, {len(set(tiles))} distinct), merged layers: "
          f"{','.join(LAYERS)}; gzip level {GZIP_LEVEL}", flush=True)

    print(f"medians of {args.repeat} runs each, runs interleaved:", flush=True)
    runs: dict[str, list[dict]] = {"raw2": [], "raw4": [], "off": [], "on": []}
    with bench_session(settings) as token:
        for _ in range(args.repeat):
            runs["raw2"].append(bench_raw(tiles, 2, dsn))
            runs["raw4"].append(bench_raw(tiles, args.concurrency, dsn))
            runs["off"].append(bench_server(tiles, cache=False, concurrency=args.concurrency,
                                            token=token))
            runs["on"].append(bench_server(tiles, cache=True, concurrency=args.concurrency,
                                           token=token))
    raw2, raw4, off, on = (median_of(runs[k]) for k in ("raw2", "raw4", "off", "on"))
    print(fmt("raw ST_AsMVT+gzip, 2 connections", raw2))
    print(fmt(f"raw ST_AsMVT+gzip, {args.concurrency} connections", raw4))
    print(fmt(f"server, cache off, {args.concurrency} concurrent", off))
    print(fmt(f"server, cache on, {args.concurrency} concurrent", on))
    best_raw = max(raw2["rate"], raw4["rate"])
    print("ratios:")
    print(f"  cache off / raw (best of 2 and {args.concurrency} conns) = "
          f"{off['rate'] / best_raw:.2f}   (target >= 0.8)")
    print(f"  cache off p99 = {off['p99']:.0f} ms   (target <= 150 ms)")
    print(f"  cache on / cache off = {on['rate'] / off['rate']:.1f}   (target >= 10)")


if __name__ == "__main__":
    main()
