"""GPS ingest benchmark (`make bench`): positions/s through validation, the alarm rules and into
PostGIS, against the raw COPY rate of the same rows into the same table, same run.

A scratch database (`--database`, dropped at the end) gets the migrations and the demo county at
2 % (its ten bus lines); `--vehicles` buses are registered in the fleet register, each on a
line, so every fix runs the real rule contexts (off-route and long-stop measure distances to the
line and its stops, overspeed looks up the road's posted limit). Each bus drives along its line,
one fix every 5 s; a few wander off the line and some stand still, so the rules also raise and
clear alarms. The stream is ordered by time (one fix of every bus, then the next), cut in
batches of `--batch`.

Measured, `--repeat` times, interleaved, tables truncated in between:
- baseline: the same rows COPYed (psycopg2 copy_expert) into the partitioned vehicle_positions
  table on one connection, one COPY and commit per batch, and one COPY of everything;
- parts: the rules alone (no database) and `PositionStore.store` alone, to see where time goes;
- direct: `PositionPipeline.ingest` per batch from one thread, built as the app builds it
  (backend.positions: fleet directory contexts, alarm storage; hub publishes counted), the
  consumers overlapping storage; and `direct_serial`, the same pipeline with the consumers run
  after the commit on the calling thread (the order before the consumers overlapped storage);
- with `--consumers module:factory,...` (or `main(extra=...)`): `direct_with`, the same with
  those consumers added after the alarm rules, e.g. the traffic probe engine (each factory is
  called with the scratch database's engine and returns one PositionConsumer);
- HTTP: `POST /api/ingest/positions` batches to the real app under uvicorn, `--http-clients`
  concurrent keep-alive connections;
- JT/T 808: `--terminals` terminals over TCP to the app's gateway, each registering,
  authenticating and sending its bus's fixes in 0x0704 batch frames of `--frame-fixes` (the
  10-bit body length allows at most 34 plain fixes a frame), waiting for each 0x8001 like a
  real terminal: positions/s acknowledged.
Prints positions/s (medians) and the ratios to the COPY baseline. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg2
import shapely
import sqlalchemy as sa
from pyproj import Transformer

from backend.db.engine import create_engine
from backend.ingest.pipeline import PositionConsumer, PositionPipeline
from backend.ingest.position import Position
from tests.perf.common import ScratchDatabase, app_server, free_port, median_of
from tests.perf.ingest_clients import (
    BENCH_PLATE,
    INGEST_TOKEN,
    bench_http,
    bench_jt808,
    timed,
)

FIX_INTERVAL_S = 5
COPY_SQL = ("COPY vehicle_positions (vehicle_id, time, received_at, lon, lat, speed_kmh, "
            "heading_deg, altitude_m, alarm_flags, status_flags, source) FROM STDIN")
TABLES = ("vehicle_positions", "vehicle_latest", "vehicle_alarms")


# ---- the workload --------------------------------------------------------------------------

def phone(i: int) -> str:
    return f"0177{i:08d}"  # 12 digits: a JT/T 808 (2013) terminal's phone is its vehicle id


def make_positions(lines: list[tuple[str, shapely.LineString]], vehicles: int, fixes: int,
                   seed: int = 808) -> list[Position]:
    """`fixes` fixes of each of `vehicles` buses shuttling along their lines (EPSG:4548 in
    `lines`), time-ordered: fix k of every bus, then fix k+1."""
    rng = np.random.default_rng(seed)
    to_wgs84 = Transformer.from_crs("EPSG:4548", "EPSG:4326", always_xy=True)
    start = (datetime.now(UTC) - timedelta(seconds=fixes * FIX_INTERVAL_S + 900)).replace(
        microsecond=0)
    per_vehicle = []
    for i in range(vehicles):
        _, line = lines[i % len(lines)]
        length = line.length
        speed = np.clip(rng.normal(8.0, 2.5, fixes), 0.0, 19.0)  # m/s
        speed[rng.random(fixes) < 0.05] = 0.0                     # standing still now and then
        if i % 50 == 7:
            speed[fixes // 3: fixes // 3 + 70] = 0.0             # a long stop (> 5 min)
        along = rng.uniform(0, 2 * length) + np.cumsum(speed * FIX_INTERVAL_S)
        along = np.abs((along % (2 * length)) - length)           # out and back
        pts = shapely.line_interpolate_point(line, along)
        xy = shapely.get_coordinates(pts) + rng.normal(0.0, 4.0, (fixes, 2))
        if i % 40 == 3:                                           # off the route for a while
            xy[fixes // 2: fixes // 2 + 8, 0] += 120.0
        lon, lat = to_wgs84.transform(xy[:, 0], xy[:, 1])
        dx, dy = np.diff(xy[:, 0], prepend=xy[0, 0]), np.diff(xy[:, 1], prepend=xy[0, 1])
        heading = np.degrees(np.arctan2(dx, dy)) % 360.0
        per_vehicle.append((phone(i), lon, lat, speed * 3.6, heading, i % FIX_INTERVAL_S))
    out = []
    for k in range(fixes):
        for vid, lon, lat, kmh, heading, offset in per_vehicle:
            out.append(Position(
                vehicle_id=vid,
                time=start + timedelta(seconds=k * FIX_INTERVAL_S + offset),
                lon=round(float(lon[k]), 6), lat=round(float(lat[k]), 6),
                speed_kmh=round(float(kmh[k]), 1), heading_deg=round(float(heading[k]), 1),
                status_flags=3, source="http",
            ))
    return out


def batches(positions: list[Position], size: int) -> list[list[Position]]:
    return [positions[i:i + size] for i in range(0, len(positions), size)]


def copy_text(batch: list[Position], now: datetime) -> str:
    out = io.StringIO()
    for p in batch:
        out.write(f"{p.vehicle_id}\t{p.time.isoformat()}\t{now.isoformat()}\t{p.lon}\t{p.lat}\t"
                  f"{p.speed_kmh}\t{p.heading_deg}\t\\N\t{p.alarm_flags}\t{p.status_flags}\t"
                  f"{p.source}\n")
    return out.getvalue()

# ---- the database --------------------------------------------------------------------------

class Database(ScratchDatabase):
    def __init__(self, name: str, scale: float) -> None:
        from backend.demo import analyze_as_owner

        super().__init__(name, scale, "bench_ingest", pool_size=4)
        self.admin = create_engine(self.urls.admin, pool_size=1)
        analyze_as_owner(self.urls.admin, list(self.counts))

    def lines(self) -> list[tuple[str, shapely.LineString]]:
        to_metric = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT code, ST_AsBinary(geom) FROM bus_lines ORDER BY code")).all()
        out = []
        for code, raw in rows:
            line = shapely.from_wkb(bytes(raw))
            if line.geom_type == "MultiLineString":
                line = max(line.geoms, key=lambda g: g.length)
            out.append((code, shapely.transform(line, lambda xy: np.column_stack(
                to_metric.transform(xy[:, 0], xy[:, 1])))))
        return out

    def register(self, lines: list[tuple[str, shapely.LineString]], vehicles: int) -> None:
        from backend.vehicles.fleet import register_vehicles

        rows = [{"vehicle_id": phone(i), "label": f"bench {i}", "plate": BENCH_PLATE,
                 "line_code": lines[i % len(lines)][0], "terminal_phone": phone(i)}
                for i in range(vehicles)]
        with self.engine.begin() as conn:
            register_vehicles(conn, rows)

    def truncate(self) -> None:
        with self.admin.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)}"))

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM vehicle_positions")).scalar_one()

    def close(self) -> None:
        self.engine.dispose()
        self.admin.dispose()
        self.drop()


# ---- the measurements ----------------------------------------------------------------------

def bench_copy(db: Database, parts: list[list[Position]], whole: bool) -> dict[str, float]:
    now = datetime.now(UTC)
    texts = [copy_text(b, now) for b in parts]
    if whole:
        texts = ["".join(texts)]
    conn = psycopg2.connect(db.dsn)
    try:
        def run() -> int:
            with conn.cursor() as cur:
                for text in texts:
                    cur.copy_expert(COPY_SQL, io.StringIO(text))
                    conn.commit()
            return sum(len(b) for b in parts)

        # Partitions first, as the store makes them (not part of the COPY rate).
        days = sorted({p.time.date() for b in parts for p in b})
        with conn.cursor() as cur:
            for day in days:
                cur.execute("SELECT cityops_ensure_position_partition(%s)", (day,))
        conn.commit()
        return timed(run)
    finally:
        conn.close()


class CountingHub:
    """What `build_position_pipeline` needs of the hub: a thread-safe publish; here, counted."""

    def __init__(self) -> None:
        self.published: Counter[str] = Counter()

    def publish_nowait_threadsafe(self, channel: str, data: dict) -> None:
        self.published[channel] += 1


Extra = Callable[[sa.Engine], Sequence[PositionConsumer]]


def fleet_directory(db: Database) -> Any:
    from backend.catalog.layers import load_catalog
    from backend.vehicles.fleet import FleetDirectory, geofence_sources

    settings = db.settings
    catalog = load_catalog(settings.layers_dir)
    fleet = FleetDirectory(db.engine, geofences=geofence_sources(settings, catalog))
    fleet.snapshot()  # load the register, lines and roads before the clock starts
    return fleet


def build_pipeline(db: Database, extra: Sequence[PositionConsumer] = (), *,
                   overlap: bool = True) -> tuple[PositionPipeline, CountingHub]:
    """The pipeline as the app builds it (backend.positions): fleet directory contexts,
    storage, alarm rules, hub pushes, and `extra` consumers after the rules."""
    from backend.positions import build_position_pipeline

    hub = CountingHub()
    return build_position_pipeline(db.settings, db.engine, hub, fleet_directory(db), extra,
                                   overlap=overlap), hub


def bench_direct(db: Database, parts: list[list[Position]], *, overlap: bool = True,
                 extra: Extra | None = None) -> dict[str, float]:
    pipeline, hub = build_pipeline(db, extra(db.engine) if extra else (), overlap=overlap)
    accepted = alarms = 0

    def run() -> int:
        nonlocal accepted, alarms
        for b in parts:
            report = pipeline.ingest(b)
            accepted += report.accepted
            alarms += len(report.alarms)
        return accepted

    try:
        out = timed(run)
    finally:
        pipeline.close()
    stages = {f"s_{k}": v for k, v in pipeline.seconds.items()}
    failed = sum(n for k, n in pipeline.counters.items() if k.startswith("failed:"))
    return {**out, "alarms": alarms, "published": sum(hub.published.values()), **stages,
            "failed": failed}


def load_consumers(specs: str) -> Extra:
    """`module:factory,...` -> a function making those consumers for an engine."""
    factories = []
    for spec in filter(None, specs.split(",")):
        module, _, name = spec.partition(":")
        factories.append(getattr(importlib.import_module(module), name))
    return lambda engine: [factory(engine) for factory in factories]


def bench_rules(db: Database, parts: list[list[Position]]) -> dict[str, float]:
    from backend.vehicles.rules import run_rules

    fleet = fleet_directory(db)
    context_for = fleet.context_for
    states: dict[str, Any] = {}

    def run() -> int:
        n = 0
        for b in parts:
            ordered = sorted(b, key=lambda q: q.time)
            with fleet.prepared(ordered):  # as the pipeline runs them (AlarmRules)
                for p in ordered:
                    states[p.vehicle_id], _ = run_rules(states.get(p.vehicle_id), p,
                                                        context_for(p.vehicle_id))
                    n += 1
        return n

    return timed(run)


def bench_store(db: Database, parts: list[list[Position]]) -> dict[str, float]:
    from backend.vehicles.store import PositionStore

    store = PositionStore(db.engine)
    return timed(lambda: sum(store.store(b).stored for b in parts))


# ---- the server (HTTP and JT/T 808) --------------------------------------------------------

@contextlib.contextmanager
def server(db: Database) -> Iterator[tuple[int, int, int]]:
    """The real app under uvicorn (one worker) with its JT/T 808 gateway:
    (its pid, the HTTP port, the JT/T 808 port)."""
    jt_port = free_port()
    with app_server(db.settings.database_name, CITYOPS_INGEST_TOKEN=INGEST_TOKEN,
                    CITYOPS_JT808_ENABLED="true", CITYOPS_JT808_PORT=str(jt_port)
                    ) as (pid, port):
        yield pid, port, jt_port


# ---- report --------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None, extra: Extra | None = None) -> None:
    """`extra` (or --consumers): consumers added to the pipeline for `direct_with`."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="cityops_bench_ingest")
    parser.add_argument("--scale", type=float, default=0.02, help="demo county scale")
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--fixes", type=int, default=100, help="fixes per vehicle")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--http-clients", type=int, default=4)
    parser.add_argument("--terminals", type=int, default=200)
    parser.add_argument("--frame-fixes", type=int, default=34)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; medians shown")
    parser.add_argument("--only", default="copy,parts,direct,http,jt808",
                        help="comma-separated subset")
    parser.add_argument("--consumers", default="",
                        help="extra consumers, module:factory,... (factory(engine) -> consumer)"
                             ": measured as 'direct_with' beside 'direct'")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--quick", action="store_true", help="one small run (a smoke test)")
    args = parser.parse_args(argv)
    if args.consumers:
        extra = load_consumers(args.consumers)
    if args.quick:
        args.repeat, args.vehicles, args.fixes, args.terminals = 1, 500, 40, 100
    only = set(args.only.split(","))

    t = time.time()
    db = Database(args.database, args.scale)
    try:
        lines = db.lines()
        db.register(lines, args.vehicles)
        positions = make_positions(lines, args.vehicles, args.fixes)
        parts = batches(positions, args.batch)
        jt_total = min(args.terminals, args.vehicles) * args.fixes
        print(f"{len(positions)} positions of {args.vehicles} buses on {len(lines)} lines "
              f"(fix every {FIX_INTERVAL_S} s), batches of {args.batch}; JT/T 808: "
              f"{min(args.terminals, args.vehicles)} terminals x {args.fixes} fixes = {jt_total} "
              f"in 0x0704 frames of {args.frame_fixes}; setup {time.time() - t:.0f} s",
              flush=True)
        runs: dict[str, list[dict[str, float]]] = {}

        def record(name: str, fn: Callable[[], dict[str, float]], expect: int) -> None:
            db.truncate()
            r = fn()
            stored = db.count()
            if stored != expect:
                print(f"  warning: {name}: {stored} rows stored, {expect} expected", flush=True)
            runs.setdefault(name, []).append(r)

        for i in range(args.repeat):
            if "copy" in only:
                record("copy_batches", lambda: bench_copy(db, parts, whole=False), len(positions))
                record("copy_whole", lambda: bench_copy(db, parts, whole=True), len(positions))
            if "parts" in only:
                runs.setdefault("rules", []).append(bench_rules(db, parts))
                record("store", lambda: bench_store(db, parts), len(positions))
            if "direct" in only:
                record("direct", lambda: bench_direct(db, parts), len(positions))
                record("direct_serial", lambda: bench_direct(db, parts, overlap=False),
                       len(positions))
                if extra is not None:
                    record("direct_with", lambda: bench_direct(db, parts, extra=extra),
                           len(positions))
            if only & {"http", "jt808"}:
                with server(db) as (pid, port, jt_port):
                    if "http" in only:
                        record("http", lambda: bench_http(pid, port, parts, args.http_clients),
                               len(positions))
                    if "jt808" in only:
                        db.truncate()
                        runs.setdefault("jt808", []).append(bench_jt808(
                            pid, jt_port, positions, args.terminals, args.frame_fixes))
            print(f"  run {i + 1}/{args.repeat} done ({time.time() - t:.0f} s)", flush=True)

        med = {k: median_of(v) for k, v in runs.items()}
        titles = {
            "copy_batches": f"raw COPY, one per batch of {args.batch}, 1 connection",
            "copy_whole": "raw COPY, all rows at once, 1 connection",
            "rules": "alarm rules alone (no database)",  # batch-prepared, as in the pipeline
            "store": "PositionStore.store alone",
            "direct": "pipeline, consumers beside storage",
            "direct_serial": "pipeline, consumers after storage (serial)",
            "direct_with": "pipeline + extra consumers, beside storage",
            "http": f"HTTP POST, {args.http_clients} clients",
            "jt808": f"JT/T 808 0x0704, {args.terminals} terminals",
        }
        print(f"medians of {args.repeat} runs, runs interleaved; per CPU-s: positions per "
              "CPU-second of the ingesting process and PostgreSQL (the figure that holds up "
              "when other work shares the machine):")
        for key, title in titles.items():
            if key in med:
                r = med[key]
                notes = "".join(f"  {k} {r[k]:.0f}" for k in ("alarms", "errors", "failed")
                                if r.get(k))
                stages = ", ".join(f"{k[2:]} {r[k]:.1f} s" for k in sorted(r)
                                   if k.startswith("s_"))
                print(f"  {title:<44} {r['rate']:9.0f} positions/s  {r['per_cpu_s']:9.0f} per "
                      f"CPU-s  ({r['n']:.0f} in {r['seconds']:.1f} s, machine {r['busy']:.0%} "
                      f"busy){notes}" + (f"\n  {'':<44} stages: {stages}" if stages else ""),
                      flush=True)
        if "copy_batches" in med:
            base = med["copy_batches"]["rate"]
            base_cpu = med["copy_batches"]["per_cpu_s"]
            print("ratios to raw COPY (one per batch; all at once in brackets):")
            for key in ("store", "direct_serial", "direct", "direct_with", "http", "jt808"):
                if key in med:
                    print(f"  {titles[key]:<44} positions/s {med[key]['rate'] / base:.3f} "
                          f"({med[key]['rate'] / med['copy_whole']['rate']:.3f}),  per CPU-s "
                          f"{med[key]['per_cpu_s'] / base_cpu:.3f}")
        if "direct" in med:
            d, s = med["direct"], med["direct_serial"]
            print(f"  through the rules into PostGIS: {d['rate']:.0f} positions/s, "
                  f"{d['per_cpu_s']:.0f} per CPU-second   (target >= 25,000 positions/s); "
                  f"{d['rate'] / s['rate']:.2f} x the serial order")
        if "direct_with" in med:
            w = med["direct_with"]
            print(f"  with the extra consumers: {w['rate']:.0f} positions/s, "
                  f"{w['rate'] / med['direct']['rate']:.2f} x without them "
                  "(targets: >= 20,000 positions/s with matching, >= 0.5 x without)")
    finally:
        if args.keep:
            db.engine.dispose()
            db.admin.dispose()
        else:
            db.close()


if __name__ == "__main__":
    main()
