"""The ingest benchmark's measurement and network load: `timed` (positions/s, and positions
per CPU-second of the ingesting process and PostgreSQL together), and the clients that drive
the real app: HTTP batches on keep-alive connections and JT/T 808 terminals over TCP."""

from __future__ import annotations

import asyncio
import http.client
import os
import threading
import time
from collections import Counter
from collections.abc import Callable

import orjson

from backend.ingest.jt808 import codec
from backend.ingest.jt808 import messages as m
from backend.ingest.position import Position
from backend.settings import get_settings
from tests.perf.common import CLK_TCK, machine_busy, proc_cpu

INGEST_TOKEN = "bench-ingest-token"
BENCH_PLATE = "皖L00000"  # every bench bus's plate in the fleet register


# ---- the measurements ----------------------------------------------------------------------

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



# ---- HTTP ----------------------------------------------------------------------------------

def http_body(batch: list[Position]) -> bytes:
    return orjson.dumps({"positions": [
        {"vehicle_id": p.vehicle_id, "time": p.time.isoformat(), "lon": p.lon, "lat": p.lat,
         "speed_kmh": p.speed_kmh, "heading_deg": p.heading_deg, "status_flags": p.status_flags}
        for p in batch]})



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


# ---- JT/T 808 ------------------------------------------------------------------------------

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
        w.write(m.encode_register(self.phone, self.next_serial(), m.Register(plate=BENCH_PLATE)))
        code = m.decode_register_response((await self.reply(r, pending)).body).auth_code
        if not code:
            raise RuntimeError(f"{self.phone}: registration refused")
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

