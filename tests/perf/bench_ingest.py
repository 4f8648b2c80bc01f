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
- direct: `PositionPipeline.ingest` per batch on one thread, built as the app builds it (fleet
  directory contexts, alarm storage; hub publishes counted);
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
import asyncio
import contextlib
import hashlib
import hmac
import http.client
import io
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import orjson
import psycopg2
import shapely
import sqlalchemy as sa
from pyproj import Transformer

from backend.db.engine import create_engine, drop_database, ensure_database
from backend.db.migrate import upgrade
from backend.ingest.jt808 import codec
from backend.ingest.jt808 import messages as m
from backend.settings import get_settings
from backend.vehicles.position import Position

INGEST_TOKEN = "bench-ingest-token"
JT808_SECRET = "bench-jt808-secret"
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


def http_body(batch: list[Position]) -> bytes:
    return orjson.dumps({"positions": [
        {"vehicle_id": p.vehicle_id, "time": p.time.isoformat(), "lon": p.lon, "lat": p.lat,
         "speed_kmh": p.speed_kmh, "heading_deg": p.heading_deg, "status_flags": p.status_flags}
        for p in batch]})


# ---- the database --------------------------------------------------------------------------

class Database:
    def __init__(self, name: str, scale: float) -> None:
        from backend.county import build_county, load_county, load_recipe
        from backend.demo import analyze_as_owner

        self.settings = get_settings(database_name=name)
        if self.settings.database_url:
            raise SystemExit("bench_ingest makes a scratch database in the managed cluster; "
                             "unset DATABASE_URL")
        drop_database(self.settings)
        self.urls = ensure_database(self.settings)
        upgrade(self.urls)
        self.engine = create_engine(self.urls.app, pool_size=4)
        self.admin = create_engine(self.urls.admin, pool_size=1)
        counts = load_county(self.engine, build_county(load_recipe(), scale=scale))
        analyze_as_owner(self.urls.admin, list(counts))
        self.dsn = self.urls.app.replace("postgresql+psycopg2://", "postgresql://")

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

        rows = [{"vehicle_id": phone(i), "label": f"bench {i}",
                 "line_code": lines[i % len(lines)][0]}
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
        drop_database(self.settings)


# ---- the measurements ----------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def postgres_cpu() -> float:
    """CPU seconds of the managed cluster's processes (the postmaster's children)."""
    from backend.db.engine import local_cluster

    pidfile = local_cluster(get_settings()).data_dir / "postmaster.pid"
    try:
        master = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    total = proc_cpu(master)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    return sum(vals) - vals[3] - vals[4], sum(vals)


def cpu_now(server: int | None) -> float:
    own = time.process_time() if server is None else proc_cpu(server)
    return own + postgres_cpu()


def timed(fn: Callable[[], int], server: int | None = None) -> dict[str, float]:
    """positions/s, and positions per CPU-second of the ingesting process (this one, or the
    `server` process: the load generator's CPU is left out) and PostgreSQL together. The
    wall-clock rate swings with other load on a shared machine; the CPU figure much less."""
    c, b = cpu_now(server), machine_busy()
    t = time.perf_counter()
    n = fn()
    dt = time.perf_counter() - t
    cpu, b1 = cpu_now(server) - c, machine_busy()
    return {"rate": n / dt, "seconds": dt, "n": n, "per_cpu_s": n / cpu if cpu else 0.0,
            "busy": (b1[0] - b[0]) / max(b1[1] - b[1], 1)}


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
    """What `position_pipeline` needs of the hub: a thread-safe publish; here, counted."""

    def __init__(self) -> None:
        self.published: Counter[str] = Counter()

    def publish_nowait_threadsafe(self, channel: str, data: dict) -> None:
        self.published[channel] += 1


def build_pipeline(db: Database) -> tuple[Any, CountingHub]:
    """The pipeline as the app builds it (backend.main): fleet directory contexts, storage."""
    from backend.catalog.layers import load_catalog
    from backend.vehicles.feeds import position_pipeline
    from backend.vehicles.fleet import FleetDirectory, geofence_sources

    settings = db.settings
    catalog = load_catalog(settings.layers_dir)
    fleet = FleetDirectory(db.engine, geofences=geofence_sources(settings, catalog))
    fleet.snapshot()  # load the register, lines and roads before the clock starts
    hub = CountingHub()
    return position_pipeline(settings, db.engine, hub, fleet), hub  # type: ignore[arg-type]


def bench_direct(db: Database, parts: list[list[Position]]) -> dict[str, float]:
    pipeline, hub = build_pipeline(db)
    accepted = alarms = 0

    def run() -> int:
        nonlocal accepted, alarms
        for b in parts:
            report = pipeline.ingest(b)
            accepted += report.accepted
            alarms += len(report.alarms)
        return accepted

    out = timed(run)
    return {**out, "alarms": alarms, "published": sum(hub.published.values())}


def bench_rules(db: Database, parts: list[list[Position]]) -> dict[str, float]:
    from backend.vehicles.rules import run_rules

    pipeline, _ = build_pipeline(db)
    context_for = pipeline.context_for
    states: dict[str, Any] = {}

    def run() -> int:
        n = 0
        for b in parts:
            for p in sorted(b, key=lambda q: q.time):
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

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(db: Database) -> Iterator[tuple[int, int, int]]:
    """The real app under uvicorn (one worker) with its JT/T 808 gateway:
    (its pid, the HTTP port, the JT/T 808 port)."""
    port, jt_port = free_port(), free_port()
    env = {**os.environ, "CITYOPS_DATABASE_NAME": db.settings.database_name,
           "CITYOPS_INGEST_TOKEN": INGEST_TOKEN, "CITYOPS_JT808_ENABLED": "true",
           "CITYOPS_JT808_PORT": str(jt_port), "CITYOPS_JT808_SECRET": JT808_SECRET}
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory",
         "backend.main:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"], env=env)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        yield proc.pid, port, jt_port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_http(pid: int, port: int, parts: list[list[Position]], clients: int
               ) -> dict[str, float]:
    bodies = [http_body(b) for b in parts]
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "application/json"}
    lock = threading.Lock()
    queue = list(range(len(bodies)))[::-1]
    results = Counter[str]()
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    i = queue.pop()
                conn.request("POST", "/api/ingest/positions", bodies[i], headers)
                response = conn.getresponse()
                answer = orjson.loads(response.read())
                with lock:
                    if response.status == 200:
                        results["accepted"] += answer["accepted"]
                        results["alarms"] += answer["alarms"]
                    else:
                        results[f"status_{response.status}"] += 1
                        if len(errors) < 3:
                            errors.append(f"{response.status} {str(answer)[:300]}")
        finally:
            conn.close()

    def run() -> int:
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results["accepted"]

    out = timed(run, server=pid)
    for e in errors:
        print(f"  HTTP error: {e}", flush=True)
    return {**out, "alarms": results["alarms"],
            "errors": sum(v for k, v in results.items() if k.startswith("status_"))}


class Terminal:
    def __init__(self, phone_no: str, frames: list[bytes]) -> None:
        self.phone = phone_no
        self.frames = frames
        self.reader = codec.FrameReader()
        self.serial = 0
        self.acked = 0
        self.failed = 0

    def next_serial(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial

    async def reply(self, r: asyncio.StreamReader, pending: list[codec.Frame]) -> codec.Frame:
        while not pending:
            data = await asyncio.wait_for(r.read(4096), 60)
            if not data:
                raise ConnectionError("gateway closed the connection")
            pending += [codec.decode_frame(raw) for raw in self.reader.feed(data)]
        return pending.pop(0)

    async def login(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter,
                                              list[codec.Frame]]:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        pending: list[codec.Frame] = []
        w.write(m.encode_register(self.phone, self.next_serial(), m.Register(plate="皖L00000")))
        code = m.decode_register_response((await self.reply(r, pending)).body).auth_code
        if not code:
            code = hmac.new(JT808_SECRET.encode(), self.phone.encode(),
                            hashlib.sha256).hexdigest()[:16]
        w.write(m.encode_authenticate(self.phone, self.next_serial(), m.Authenticate(code)))
        if m.decode_general_response((await self.reply(r, pending)).body).result != 0:
            raise RuntimeError(f"{self.phone}: authentication refused")
        return r, w, pending

    async def run(self, r: asyncio.StreamReader, w: asyncio.StreamWriter,
                  pending: list[codec.Frame], sizes: list[int]) -> None:
        for frame, size in zip(self.frames, sizes, strict=True):
            w.write(frame)
            reply = m.decode_general_response((await self.reply(r, pending)).body)
            if reply.result == m.RESULT_OK:
                self.acked += size
            else:
                self.failed += size
        w.close()


def jt808_frames(positions: list[Position], per_frame: int) -> tuple[list[bytes], list[int]]:
    """One bus's fixes as 0x0704 frames (serials 3, 4, ...: 1 and 2 go to register and auth)."""
    frames, sizes = [], []
    for k, i in enumerate(range(0, len(positions), per_frame)):
        chunk = positions[i:i + per_frame]
        locs = [m.Location(time=p.time, lat=p.lat, lon=p.lon, status=p.status_flags,
                           speed_kmh=p.speed_kmh or 0.0, direction=int(p.heading_deg or 0))
                for p in chunk]
        frames.append(m.encode_batch(positions[0].vehicle_id, 3 + k, locs, backfill=False))
        sizes.append(len(chunk))
    return frames, sizes


def bench_jt808(pid: int, port: int, positions: list[Position], terminals: int,
                per_frame: int) -> dict[str, float]:
    by_vehicle: dict[str, list[Position]] = {}
    for p in positions:
        by_vehicle.setdefault(p.vehicle_id, []).append(p)
    chosen = list(by_vehicle)[:terminals]
    plans = {v: jt808_frames(by_vehicle[v], per_frame) for v in chosen}

    async def main() -> dict[str, float]:
        terms = [Terminal(v, plans[v][0]) for v in chosen]
        sessions = await asyncio.gather(*(t.login(port) for t in terms))
        c0, b0, t0 = cpu_now(pid), machine_busy(), time.perf_counter()
        await asyncio.gather(*(t.run(*s, plans[t.phone][1])
                               for t, s in zip(terms, sessions, strict=True)))
        dt, cpu, b1 = time.perf_counter() - t0, cpu_now(pid) - c0, machine_busy()
        acked = sum(t.acked for t in terms)
        return {"rate": acked / dt, "seconds": dt, "n": acked, "per_cpu_s": acked / cpu,
                "busy": (b1[0] - b0[0]) / max(b1[1] - b0[1], 1),
                "failed": sum(t.failed for t in terms)}

    return asyncio.run(main())


# ---- report --------------------------------------------------------------------------------

def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
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
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--quick", action="store_true", help="one small run (a smoke test)")
    args = parser.parse_args()
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
            "rules": "alarm rules alone (no database)",
            "store": "PositionStore.store alone",
            "direct": "PositionPipeline.ingest, 1 thread",
            "http": f"HTTP POST, {args.http_clients} clients",
            "jt808": f"JT/T 808 0x0704, {args.terminals} terminals",
        }
        print(f"medians of {args.repeat} runs, runs interleaved; per CPU-s: positions per "
              "CPU-second of the ingesting process and PostgreSQL (the figure that holds up "
              "when other work shares the machine):")
        for key, title in titles.items():
            if key in med:
                r = med[key]
                extra = "".join(f"  {k} {r[k]:.0f}" for k in ("alarms", "errors", "failed")
                                if r.get(k))
                print(f"  {title:<44} {r['rate']:9.0f} positions/s  {r['per_cpu_s']:9.0f} per "
                      f"CPU-s  ({r['n']:.0f} in {r['seconds']:.1f} s, machine {r['busy']:.0%} "
                      f"busy){extra}", flush=True)
        if "copy_batches" in med:
            base = med["copy_batches"]["rate"]
            base_cpu = med["copy_batches"]["per_cpu_s"]
            print("ratios to raw COPY (one per batch; all at once in brackets):")
            for key in ("store", "direct", "http", "jt808"):
                if key in med:
                    print(f"  {titles[key]:<44} positions/s {med[key]['rate'] / base:.3f} "
                          f"({med[key]['rate'] / med['copy_whole']['rate']:.3f}),  per CPU-s "
                          f"{med[key]['per_cpu_s'] / base_cpu:.3f}")
        if "direct" in med:
            d = med["direct"]
            print(f"  through the rules into PostGIS: {d['rate']:.0f} positions/s, "
                  f"{d['per_cpu_s']:.0f} per CPU-second   (target >= 20,000 positions/s)")
    finally:
        if args.keep:
            db.engine.dispose()
            db.admin.dispose()
        else:
            db.close()


if __name__ == "__main__":
    main()
