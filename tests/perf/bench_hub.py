"""Live-bus benchmark (`make bench`): the /ws hub against a bare `websockets` broadcast server.

Three kinds of process on loopback, so that neither side measures the other's event loop:
- the server: either a bare `websockets.asyncio.server` that `broadcast()`s one pre-serialised
  frame per event to every connection (a viewport filter, when clients send one, is a plain
  bbox test per connection before the broadcast), or the real hub app (hub + /ws router, memory
  backplane) under uvicorn, one worker. Both run the same event loop (uvloop when installed) and
  a publisher task fed by the orchestrator over stdin; every event carries `time.time()` at
  publish in `data.sent`;
- the clients (`--client-procs` processes, 1,000 connections in all): a minimal websocket
  client written on asyncio.Protocol (handshake by hand, no compression offered unless
  --deflate, frames parsed in place), cheaper per message than either server, so that the
  figures are the server's. Each
  authenticates, subscribes to `vehicles.positions` (whole county or a random small bbox) and
  adds `receive - sent` of every event to a 1 ms histogram;
- this orchestrator, which runs the scenarios on both servers, interleaved, `--repeat` times.

Scenarios: unfiltered and viewport-filtered (each client a random `--bbox-deg` square over the
county) at 100 and 1,000 events/s, positions of `--vehicles` distinct vehicles (so the hub's
latest-position-per-vehicle coalescing works when a client lags). The publisher works in 5 ms
ticks and stamps each event with its scheduled time, so a server that falls behind shows it in
its latencies (no coordinated omission). Saturation: `--sat-rate` events/s offered, far above
what either server delivers to 1,000 clients; deliveries/s counted at the clients, latency from
the actual publish time. Stall: 10 % of the clients (small receive buffers) pause reading for
`--stall-s` seconds: the others' p99 before and during, and the server's RSS (VmRSS) before, at
the peak during and after. Also printed: the server's and the clients' CPU (cores) and how busy
the whole machine was; deliveries per server CPU-second is the figure that survives other load
on a shared machine. Figures, not assertions: medians of the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

TOKEN = "bench-hub-token"
COUNTY = (117.6286, 33.2767, 118.1804, 33.769)  # Sixian's bbox (WGS84)
STALLER_RCVBUF = 16 * 1024
HIST_MS = 20_000  # latency histogram: 1 ms buckets, the last one is ">= 20 s"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- shared helpers ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def new_loop() -> asyncio.AbstractEventLoop:
    """The loop uvicorn's `loop="auto"` picks: uvloop when installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


# ---- the server side: one publisher, driven over stdin -------------------------------------

class Fleet:
    """`n` vehicles parked at random points of the county (jittered a little per fix)."""

    def __init__(self, n: int, seed: int = 808) -> None:
        rng = random.Random(seed)
        w, s, e, nn = COUNTY
        self.ids = [f"bench-{i:05d}" for i in range(n)]
        self.at = [(rng.uniform(w, e), rng.uniform(s, nn)) for _ in range(n)]
        self.i = 0

    def next(self) -> dict[str, Any]:
        i = self.i = (self.i + 1) % len(self.ids)
        lon, lat = self.at[i]
        jitter = random.random() * 1e-4
        # `sent` last: clients read it just before the closing braces.
        return {"vehicle_id": self.ids[i], "time": datetime.now(UTC).isoformat(),
                "lon": round(lon + jitter, 6), "lat": round(lat + jitter, 6),
                "speed_kmh": 31.5, "heading_deg": 90.0, "alarm_flags": 0, "source": "jt808",
                "sent": time.time()}


async def drive(publish: Callable[[dict[str, Any]], Any], stats: Callable[[], dict],
                vehicles: int) -> None:
    """Read commands from stdin; answer each with one JSON line on stdout.

    `pub RATE T0 T1 SCHED`: RATE events/s from wall time T0 to T1, published in ticks of 5 ms
    (at most 50 ms worth at once, so a server that cannot keep up falls behind instead of
    publishing ever larger bursts). SCHED=1 stamps each event with its scheduled time, so a
    server that falls behind shows it in the latencies (no coordinated omission); SCHED=0
    stamps the time it was actually published. `stats`: the server's counters."""
    loop = asyncio.get_running_loop()
    fleet = Fleet(vehicles)
    print(json.dumps({"ready": True}), flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        cmd, *args = line.split()
        if cmd == "stats":
            print(json.dumps(stats()), flush=True)
        elif cmd == "pub":
            rate, t0, t1, sched = float(args[0]), float(args[1]), float(args[2]), args[3] == "1"
            cap = max(1, round(rate * 0.05))
            await asyncio.sleep(max(0.0, t0 - time.time()))
            sent = 0
            while (now := time.time()) < t1:
                due = min(int((now - t0) * rate), sent + cap)
                while sent < due:
                    data = fleet.next()
                    if sched:
                        data["sent"] = t0 + sent / rate
                    await publish(data)
                    sent += 1
                await asyncio.sleep(0.005)
            print(json.dumps({"published": sent, "rate": sent / (time.time() - t0),
                              "behind": int((time.time() - t0) * rate) - sent, **stats()}),
                  flush=True)


def serve_bare(port: int, vehicles: int, deflate: bool) -> None:
    from websockets.asyncio.server import broadcast, serve
    from websockets.exceptions import ConnectionClosed

    raise_fd_limit()
    views: dict[Any, tuple[float, float, float, float] | None] = {}
    seq = 0

    async def handler(ws: Any) -> None:
        views[ws] = None
        try:
            with contextlib.suppress(ConnectionClosed):
                async for text in ws:
                    msg = orjson.loads(text)
                    if msg.get("type") == "subscribe":
                        views[ws] = tuple(msg["bbox"]) if msg.get("bbox") else None
                        await ws.send(orjson.dumps({"type": "subscribed",
                                                    "channel": msg["channel"]}).decode())
                    elif msg.get("type") == "ping":
                        await ws.send('{"type":"pong"}')
        finally:
            views.pop(ws, None)

    async def publish(data: dict[str, Any]) -> None:
        nonlocal seq
        seq += 1
        frame = orjson.dumps({"type": "event", "channel": "vehicles.positions", "seq": seq,
                              "data": data})
        lon, lat = data["lon"], data["lat"]
        targets = [ws for ws, v in views.items()
                   if v is None or (v[0] <= lon <= v[2] and v[1] <= lat <= v[3])]
        broadcast(targets, frame, text=True)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port, max_queue=64, backlog=2048,
                         compression="deflate" if deflate else None):
            await drive(publish, lambda: {"clients": len(views)}, vehicles)

    loop = new_loop()
    loop.run_until_complete(main())


def hub_bench_app(vehicles: int, gc_threshold: str | None = None) -> Any:
    """The real hub and /ws router in a minimal app, plus the bench's publisher task."""
    from fastapi import FastAPI

    from backend.realtime.hub import SERVER_GC_THRESHOLD, Hub
    from backend.realtime.messages import POSITIONS
    from backend.realtime.router import router
    from backend.settings import Settings

    settings = Settings(env="test", hub_token=TOKEN)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = Hub.from_settings(settings)
        await hub.start()
        app.state.hub = hub

        async def publish(data: dict[str, Any]) -> None:
            await hub.publish(POSITIONS, data)

        gc_pauses: list[float] = []  # full collections
        young_max = [0.0]            # longest collection of the younger generations
        started: list[float] = []

        def on_gc(phase: str, info: dict) -> None:
            if phase == "start":
                started[:] = [time.perf_counter()]
            elif started:
                pause = time.perf_counter() - started[0]
                if info["generation"] == 2:
                    gc_pauses.append(pause)
                else:
                    young_max[0] = max(young_max[0], pause)

        gc.callbacks.append(on_gc)
        # As `cityops serve` runs it, unless an experiment asks for other thresholds.
        gc.set_threshold(*(int(x) for x in gc_threshold.split(",")) if gc_threshold
                         else SERVER_GC_THRESHOLD)

        def stats() -> dict[str, Any]:
            out = {**hub.stats(), "gc2": len(gc_pauses),
                   "gc2_max_ms": round(max(gc_pauses, default=0) * 1000, 1),
                   "gc_young_max_ms": round(young_max[0] * 1000, 1)}
            gc_pauses.clear()
            young_max[0] = 0.0
            return out

        driver = asyncio.create_task(drive(publish, stats, vehicles))
        try:
            yield
        finally:
            driver.cancel()
            await hub.close()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app


def serve_hub(port: int, vehicles: int, gc_threshold: str | None) -> None:
    import uvicorn

    raise_fd_limit()
    config = uvicorn.Config(hub_bench_app(vehicles, gc_threshold), host="127.0.0.1", port=port,
                            log_level="warning", access_log=False, backlog=2048)
    uvicorn.Server(config).run()


# ---- the client side -----------------------------------------------------------------------

def client_frame(text: bytes, opcode: int = 1) -> bytes:
    """A masked client frame (payloads < 126 bytes)."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i & 3] for i, b in enumerate(text))
    return bytes([0x80 | opcode, 0x80 | len(text)]) + mask + masked


class Window:
    """Latency histograms and delivery counts for events sent / received within [t0, t1]."""

    def __init__(self, t0: float, t1: float) -> None:
        self.t0, self.t1 = t0, t1
        self.hist = [[0] * (HIST_MS + 1), [0] * (HIST_MS + 1)]  # [others, stallers]
        self.delivered = [0, 0]


class Conn(asyncio.Protocol):
    def __init__(self, proc: ClientProc, request: bytes, hello: list[bytes], staller: bool
                 ) -> None:
        self.proc, self.request, self.hello, self.group = proc, request, hello, int(staller)
        self.buf = b""
        self.open = False
        self.subscribed = False
        self.inflate: Any = None
        self.no_takeover = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.proc.lost += 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        now = time.time()
        proc = self.proc
        proc.last_data = now
        buf = self.buf + data if self.buf else data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if b" 101 " not in buf[:end]:
                raise RuntimeError(f"handshake refused: {buf[:end]!r}")
            response = buf[:end].lower()
            if b"permessage-deflate" in response:
                self.inflate = zlib.decompressobj(-15)
                self.no_takeover = b"server_no_context_takeover" in response
            self.open = True
            for hello in self.hello:
                self.transport.write(hello)  # type: ignore[union-attr]
            buf = buf[end + 4:]
        pos, n = 0, len(buf)
        windows, group = proc.windows, self.group
        while n - pos >= 2:
            length = buf[pos + 1] & 0x7F
            if length < 126:
                head = 2
            elif length == 126:
                if n - pos < 4:
                    break
                length, head = (buf[pos + 2] << 8) | buf[pos + 3], 4
            else:
                if n - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            end = pos + head + length
            if end > n:
                break
            first = buf[pos]
            opcode = first & 0x0F
            start = pos + head
            pos = end
            if opcode == 1:
                if first & 0x40:  # RSV1: compressed (permessage-deflate)
                    text = self.inflate.decompress(buf[start:end] + b"\x00\x00\xff\xff")
                    if self.no_takeover:
                        self.inflate = zlib.decompressobj(-15)
                    start, end = 0, len(text)
                else:
                    text = buf
                if text.startswith(b'{"type":"event"', start):
                    i = text.rfind(b'"sent":', start, end)
                    sent = float(text[i + 7:end - 2])
                    proc.events += 1
                    for w in windows:
                        if w.t0 <= sent <= w.t1:
                            w.hist[group][min(int((now - sent) * 1000), HIST_MS)] += 1
                        if w.t0 <= now <= w.t1:
                            w.delivered[group] += 1
                else:
                    self.control(text[start:end])
            elif opcode == 9:  # protocol ping: answer with the same payload
                self.transport.write(client_frame(buf[start:end], 0xA))  # type: ignore[union-attr]
        self.buf = buf[pos:]

    def control(self, payload: bytes) -> None:
        msg = orjson.loads(payload)
        kind = msg.get("type")
        if kind == "subscribed":
            self.subscribed = True
            self.proc.subscribed += 1
        elif kind == "ping":
            self.transport.write(client_frame(b'{"type":"pong"}'))  # type: ignore[union-attr]
        elif kind in ("error", "resync"):
            self.proc.notes[f"{kind}: {msg.get('message') or msg.get('reason')}"] = 1


class ClientProc:
    """One client process: `connect PORT COUNT FIRST MODE SEED`, `measure` windows, `stall`,
    `quiet`, `report`, `close`; one JSON line answers each."""

    def __init__(self) -> None:
        self.conns: list[Conn] = []
        self.windows: list[Window] = []
        self.events = 0
        self.subscribed = 0
        self.lost = 0
        self.last_data = 0.0
        self.notes: dict[str, int] = {}

    async def connect(self, port: int, count: int, first: int, bbox_deg: float, seed: int,
                      deflate: bool) -> None:
        loop = asyncio.get_running_loop()
        rng = random.Random(seed * 1_000_003 + first)
        w, s, e, n = COUNTY

        def make(k: int) -> Conn:
            sub: dict[str, Any] = {"type": "subscribe", "channel": "vehicles.positions"}
            if bbox_deg > 0:
                x, y = rng.uniform(w, e - bbox_deg), rng.uniform(s, n - bbox_deg)
                sub["bbox"] = [round(x, 5), round(y, 5), round(x + bbox_deg, 5),
                               round(y + bbox_deg, 5)]
            key = base64.b64encode(os.urandom(16)).decode()
            offer = ("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                     if deflate else "")  # what browsers send
            request = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n{offer}"
                       "Sec-WebSocket-Version: 13\r\n\r\n").encode()
            hello = [client_frame(orjson.dumps({"type": "auth", "token": TOKEN})),
                     client_frame(orjson.dumps(sub))]
            return Conn(self, request, hello, staller=(first + k) % 10 == 0)

        def sock(p: Conn) -> socket.socket:
            s = socket.socket()
            if p.group:  # a small window: a staller's backlog piles up in the server, not here
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLER_RCVBUF)
            s.setblocking(False)
            return s

        async def open_one(p: Conn) -> None:
            s = sock(p)
            await loop.sock_connect(s, ("127.0.0.1", port))
            await loop.create_connection(lambda: p, sock=s)

        protos = [make(k) for k in range(count)]
        for i in range(0, count, 50):  # a few at a time: no SYN backlog overflow
            await asyncio.gather(*(open_one(p) for p in protos[i:i + 50]))
        self.conns.extend(protos)
        deadline = time.time() + 60
        while sum(c.subscribed for c in protos) < count and time.time() < deadline:
            await asyncio.sleep(0.05)

    def stall(self, t0: float, t1: float) -> None:
        loop = asyncio.get_running_loop()
        stallers = [c for c in self.conns if c.group and c.transport is not None]

        def pause() -> None:
            for c in stallers:
                if c.transport is not None:
                    c.transport.pause_reading()

        def resume() -> None:
            for c in stallers:
                if c.transport is not None:
                    c.transport.resume_reading()

        loop.call_later(max(0.0, t0 - time.time()), pause)
        loop.call_later(max(0.0, t1 - time.time()), resume)

    async def quiet(self, idle: float, limit: float) -> None:
        deadline = time.time() + limit
        while time.time() < deadline and time.time() - self.last_data < idle:
            await asyncio.sleep(0.05)

    def report(self) -> dict[str, Any]:
        return {"windows": [{"hist": w.hist, "delivered": w.delivered} for w in self.windows],
                "events": self.events, "subscribed": sum(c.subscribed for c in self.conns),
                "connections": len(self.conns), "lost": self.lost, "notes": list(self.notes)}

    def close(self) -> None:
        for c in self.conns:
            if c.transport is not None:
                c.transport.close()
        self.conns, self.windows, self.events, self.subscribed, self.lost = [], [], 0, 0, 0
        self.notes = {}

    async def main(self) -> None:
        raise_fd_limit()
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            cmd, *a = line.split()
            answer: dict[str, Any] = {"ok": True}
            if cmd == "connect":
                await self.connect(int(a[0]), int(a[1]), int(a[2]), float(a[3]), int(a[4]),
                                   a[5] == "1")
                answer["subscribed"] = sum(c.subscribed for c in self.conns)
            elif cmd == "measure":  # t0 t1 [t0 t1 ...]
                vals = [float(x) for x in a]
                self.windows = [Window(vals[i], vals[i + 1]) for i in range(0, len(vals), 2)]
            elif cmd == "stall":
                self.stall(float(a[0]), float(a[1]))
            elif cmd == "quiet":
                await self.quiet(float(a[0]), float(a[1]))
            elif cmd == "report":
                answer = self.report()
            elif cmd == "close":
                self.close()
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()


# ---- the orchestrator ----------------------------------------------------------------------

class Proc:
    """A child process spoken to in JSON lines over stdin/stdout."""

    def __init__(self, args: list[str]) -> None:
        self.p = subprocess.Popen([sys.executable, "-m", "tests.perf.bench_hub", *args],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  bufsize=1)
        self.pid = self.p.pid

    def send(self, line: str) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def recv(self) -> dict[str, Any]:
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"child {self.p.args} ended ({self.p.poll()})")
        return json.loads(line)

    def ask(self, line: str) -> dict[str, Any]:
        self.send(line)
        return self.recv()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            assert self.p.stdin is not None
            self.p.stdin.close()
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def ask_all(procs: list[Proc], line: str) -> list[dict[str, Any]]:
    for p in procs:
        p.send(line)
    return [p.recv() for p in procs]


def percentile(hist: list[int], q: float) -> float | None:
    total = sum(hist)
    if not total:
        return None
    rank, seen = q * (total - 1), 0
    for ms, count in enumerate(hist):
        seen += count
        if seen > rank:
            return ms + 0.5  # bucket middle
    return float(HIST_MS)


def merge(reports: list[dict[str, Any]], window: int, groups: tuple[int, ...] = (0, 1)
          ) -> tuple[list[int], int]:
    hist = [0] * (HIST_MS + 1)
    delivered = 0
    for r in reports:
        w = r["windows"][window]
        for g in groups:
            hist = [a + b for a, b in zip(hist, w["hist"][g], strict=True)]
            delivered += w["delivered"][g]
    return hist, delivered


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def run_server(self, kind: str) -> dict[str, dict[str, Any]]:
        a = self.args
        port = free_port()
        server = Proc([f"--serve-{kind}", str(port), "--vehicles", str(a.vehicles),
                       *(["--deflate"] if a.deflate else []),
                       *(["--hub-gc-threshold", a.hub_gc_threshold]
                         if a.hub_gc_threshold else [])])
        clients: list[Proc] = []
        out: dict[str, dict[str, Any]] = {}
        try:
            if not server.recv().get("ready"):
                raise RuntimeError("server did not start")
            if kind == "hub":  # uvicorn binds after the lifespan has started
                deadline = time.time() + 30
                while time.time() < deadline:
                    with socket.socket() as s:
                        if s.connect_ex(("127.0.0.1", port)) == 0:
                            break
                    time.sleep(0.05)
            clients = [Proc(["--clients-child"]) for _ in range(a.client_procs)]
            per = [a.clients // a.client_procs + (i < a.clients % a.client_procs)
                   for i in range(a.client_procs)]
            firsts = [sum(per[:i]) for i in range(a.client_procs)]

            def connect(bbox: float) -> None:
                ask_all(clients, "close")
                for c, n, f in zip(clients, per, firsts, strict=True):
                    c.send(f"connect {port} {n} {f} {bbox} {a.seed} {int(a.deflate)}")
                got = sum(c.recv()["subscribed"] for c in clients)
                if got < a.clients:
                    raise RuntimeError(f"{kind}: only {got} of {a.clients} clients subscribed")

            def steady(name: str, rate: float) -> None:
                t0 = time.time() + 0.3
                m0, m1 = t0 + a.warmup, t0 + a.warmup + a.duration
                ask_all(clients, f"measure {m0} {m1}")
                cpu0 = [cpu_s(p.pid) for p in (server, *clients)]
                busy0 = machine_busy()
                pub = server.ask(f"pub {rate} {t0} {m1} 1")
                busy1 = machine_busy()
                cpu1 = [cpu_s(p.pid) for p in (server, *clients)]
                ask_all(clients, f"quiet 0.5 {a.drain_s}")
                reports = ask_all(clients, "report")
                hist, delivered = merge(reports, 0)
                wall = m1 - t0
                out[name] = {
                    "deliveries": delivered / a.duration, "p50": percentile(hist, 0.5),
                    "p99": percentile(hist, 0.99), "published": pub["rate"],
                    "server_cpu": (cpu1[0] - cpu0[0]) / wall,
                    "clients_cpu": sum(b - c for b, c in zip(cpu1[1:], cpu0[1:], strict=True))
                    / wall,
                    "machine": (busy1[0] - busy0[0]) / (busy1[1] - busy0[1]),
                    "per_cpu": delivered / a.duration / max((cpu1[0] - cpu0[0]) / wall, 1e-9),
                    "coalesced": pub.get("coalesced", 0), "dropped": pub.get("dropped", 0),
                    "gc2": pub.get("gc2", 0), "gc2_max_ms": pub.get("gc2_max_ms", 0),
                    "gc_young_max_ms": pub.get("gc_young_max_ms", 0),
                    "lost": sum(r["lost"] for r in reports),
                    "notes": sorted({n for r in reports for n in r["notes"]}),
                }

            def stall() -> None:
                t0 = time.time() + 0.3
                a0 = t0 + a.warmup
                b0 = a0 + a.duration
                b1 = b0 + a.stall_s
                c1 = b1 + a.duration
                ask_all(clients, f"measure {a0} {b0} {b0} {b1} {b1} {c1}")
                ask_all(clients, f"stall {b0} {b1}")
                rss: list[tuple[float, float]] = []
                done = threading.Event()

                def sample() -> None:
                    while not done.is_set():
                        rss.append((time.time(), rss_mb(server.pid)))
                        time.sleep(0.1)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                try:
                    server.ask(f"pub {a.stall_rate} {t0} {c1} 1")
                    ask_all(clients, f"quiet 0.5 {a.drain_s}")
                finally:
                    done.set()
                    sampler.join()
                reports = ask_all(clients, "report")
                before = [m for t, m in rss if a0 <= t < b0]
                during = [m for t, m in rss if b0 <= t < b1]
                after = [m for t, m in rss if b1 + 1 <= t]
                p99 = {}
                for i, name in enumerate(("before", "during", "after")):
                    p99[name] = percentile(merge(reports, i, (0,))[0], 0.99)
                out["stall"] = {
                    "p99_others_before": p99["before"], "p99_others_during": p99["during"],
                    "p99_others_after": p99["after"],
                    "p99_stallers_after": percentile(merge(reports, 2, (1,))[0], 0.99),
                    "rss_before": statistics.median(before) if before else 0.0,
                    "rss_during_max": max(during, default=0.0),
                    "rss_after": statistics.median(after) if after else 0.0,
                    "lost": sum(r["lost"] for r in reports),
                }

            def saturate() -> None:
                t0 = time.time() + 0.3
                m0, m1 = t0 + a.warmup, t0 + a.warmup + a.duration
                ask_all(clients, f"measure {m0} {m1}")
                cpu0 = [cpu_s(p.pid) for p in (server, *clients)]
                busy0 = machine_busy()
                pub = server.ask(f"pub {a.sat_rate} {t0} {m1} 0")
                busy1 = machine_busy()
                cpu1 = [cpu_s(p.pid) for p in (server, *clients)]
                rss_end = rss_mb(server.pid)
                ask_all(clients, f"quiet 0.5 {a.drain_s}")
                reports = ask_all(clients, "report")
                hist, delivered = merge(reports, 0)
                wall = m1 - t0
                out["sat"] = {
                    "deliveries": delivered / a.duration, "p50": percentile(hist, 0.5),
                    "p99": percentile(hist, 0.99), "published": pub["rate"],
                    "server_cpu": (cpu1[0] - cpu0[0]) / wall,
                    "clients_cpu": sum(b - c for b, c in zip(cpu1[1:], cpu0[1:], strict=True))
                    / wall, "rss_end": rss_end,
                    "machine": (busy1[0] - busy0[0]) / (busy1[1] - busy0[1]),
                    "per_cpu": delivered / a.duration / max((cpu1[0] - cpu0[0]) / wall, 1e-9),
                    "coalesced": pub.get("coalesced", 0), "dropped": pub.get("dropped", 0),
                    "gc2": pub.get("gc2", 0), "gc2_max_ms": pub.get("gc2_max_ms", 0),
                    "gc_young_max_ms": pub.get("gc_young_max_ms", 0),
                    "lost": sum(r["lost"] for r in reports), "notes": [],
                }

            want = set(a.scenarios.split(","))
            if want & {"f100", "f1000"}:
                connect(a.bbox_deg)
                for name, rate in (("f100", 100), ("f1000", 1000)):
                    if name in want:
                        steady(name, rate)
            connect(0)
            for name, rate in (("u100", 100), ("u1000", 1000)):
                if name in want:
                    steady(name, rate)
            if "stall" in want:
                stall()
            if "sat" in want:
                saturate()
            return out
        finally:
            for c in clients:
                c.stop()
            server.stop()


SCENARIOS = [
    ("f100", "viewport-filtered, 100 ev/s"),
    ("f1000", "viewport-filtered, 1,000 ev/s"),
    ("u100", "unfiltered, 100 ev/s"),
    ("u1000", "unfiltered, 1,000 ev/s"),
    ("sat", "saturation (unfiltered, max rate)"),
]


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in runs[0].items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            vals = [r[k] for r in runs if r.get(k) is not None]
            out[k] = statistics.median(vals) if vals else None
        else:
            out[k] = v
    return out


def ms(v: float | None) -> str:
    return "      -" if v is None else f"{v:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--vehicles", type=int, default=500,
                        help="distinct vehicle ids (500 at 100 ev/s: a fix every 5 s each)")
    parser.add_argument("--bbox-deg", type=float, default=0.06,
                        help="side of each client's viewport in the filtered runs")
    parser.add_argument("--duration", type=float, default=6.0, help="measured seconds a run")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--stall-s", type=float, default=10.0)
    parser.add_argument("--stall-rate", type=float, default=50.0)
    parser.add_argument("--sat-rate", type=float, default=2000.0,
                        help="offered events/s in the saturation run (above both servers)")
    parser.add_argument("--drain-s", type=float, default=10.0,
                        help="longest wait for queued frames after a run")
    parser.add_argument("--scenarios", default="f100,f1000,u100,u1000,stall,sat")
    parser.add_argument("--servers", default="bare,hub")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; medians shown")
    parser.add_argument("--seed", type=int, default=20201)
    parser.add_argument("--deflate", action="store_true",
                        help="clients offer permessage-deflate, as browsers do (uvicorn accepts "
                        "it by default; the bare server is told to): frames compressed per client")
    parser.add_argument("--hub-gc-threshold", metavar="T0,T1,T2",
                        help="an experiment: gc.set_threshold in the hub's process instead of "
                        "the server's SERVER_GC_THRESHOLD (700,10,10 is Python's default)")
    parser.add_argument("--quick", action="store_true", help="one short run (a smoke test)")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-hub", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--clients-child", dest="child", action="store_true",
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.vehicles, args.deflate)
        return
    if args.serve_hub:
        serve_hub(args.serve_hub, args.vehicles, args.hub_gc_threshold)
        return
    if args.child:
        new_loop().run_until_complete(ClientProc().main())
        return
    if args.quick:
        args.repeat, args.duration, args.stall_s, args.drain_s = 1, 3.0, 5.0, 5.0

    print(f"{args.clients} clients in {args.client_procs} processes, {args.vehicles} vehicles, "
          f"filtered viewports {args.bbox_deg} deg square; {loop_name()} on both servers; "
          f"permessage-deflate {'offered' if args.deflate else 'not offered'}; "
          f"{args.duration:g} s measured a run after {args.warmup:g} s warm-up", flush=True)
    bench = Bench(args)
    kinds = args.servers.split(",")
    runs: dict[str, list[dict[str, dict[str, Any]]]] = {k: [] for k in kinds}
    for i in range(args.repeat):
        for kind in kinds:
            t = time.time()
            runs[kind].append(bench.run_server(kind))
            print(f"  run {i + 1}/{args.repeat} {kind}: {time.time() - t:.0f} s", flush=True)
    med = {kind: {name: median_of([r[name] for r in runs[kind]]) for name in runs[kind][0]}
           for kind in runs}
    report(args, med)


def report(args: argparse.Namespace, med: dict[str, dict[str, dict[str, Any]]]) -> None:
    kinds = list(med)
    print(f"medians of {args.repeat} runs, runs interleaved; latency = receive - scheduled "
          "publish time (saturation: - actual publish time); cpu in cores:")
    print(f"  {'scenario':<36} {'server':<5} {'published/s':>11} {'deliveries/s':>12} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'srv cpu':>7} {'per cpu-s':>9} {'cli cpu':>7} {'busy':>5}")
    for name, title in SCENARIOS:
        for kind in kinds:
            r = med[kind].get(name)
            if r is None:
                continue
            extra = ""
            if kind == "hub" and (r["coalesced"] or r["dropped"]):
                extra = f"  coalesced {r['coalesced']:.0f} dropped {r['dropped']:.0f}"
            if kind == "hub":
                extra += (f"  full GCs {r['gc2']:.0f} (longest {r['gc2_max_ms']:.0f} ms), "
                          f"young GC longest {r['gc_young_max_ms']:.0f} ms")
            print(f"  {title:<36} {kind:<5} {r['published']:11.0f} {r['deliveries']:12.0f} "
                  f"{ms(r['p50'])} {ms(r['p99'])} {r['server_cpu']:7.2f} "
                  f"{r['per_cpu']:9.0f} {r['clients_cpu']:7.2f} {r['machine']:5.0%}{extra}")
    if all("stall" in med[k] for k in kinds):
        print(f"stall: 10 % of clients stop reading for {args.stall_s:g} s "
              f"({args.stall_rate:g} ev/s, unfiltered):")
        for kind in kinds:
            s = med[kind]["stall"]
            print(f"  {kind:<5} others' p99 before {ms(s['p99_others_before'])} ms, during "
                  f"{ms(s['p99_others_during'])} ms, after {ms(s['p99_others_after'])} ms; "
                  f"stallers' p99 after {ms(s['p99_stallers_after'])} ms; server RSS before "
                  f"{s['rss_before']:.0f} MB, peak during {s['rss_during_max']:.0f} MB, after "
                  f"{s['rss_after']:.0f} MB")
    hub, bare = med.get("hub", {}), med.get("bare", {})
    print("ratios and targets:")
    if "sat" in hub and "sat" in bare:
        print(f"  saturation deliveries/s hub / bare = "
              f"{hub['sat']['deliveries'] / bare['sat']['deliveries']:.2f}   (target >= 0.8); "
              f"per server CPU-second {hub['sat']['per_cpu'] / bare['sat']['per_cpu']:.2f}")
    if "u1000" in hub and "u1000" in bare:
        print(f"  unfiltered 1,000 ev/s deliveries/s hub / bare = "
              f"{hub['u1000']['deliveries'] / bare['u1000']['deliveries']:.2f}")
    if "f1000" in hub:
        print(f"  1,000 clients x 1,000 ev/s, viewport-filtered, coalescing: hub p99 = "
              f"{ms(hub['f1000']['p99']).strip()} ms   (target <= 250 ms)")
    if "stall" in hub:
        s = hub["stall"]
        print(f"  hub stall: others' p99 during / before = "
              f"{(s['p99_others_during'] or 0) / max(s['p99_others_before'] or 1, 1):.1f}   "
              f"(target ~1); RSS peak during - before = "
              f"{s['rss_during_max'] - s['rss_before']:+.0f} MB, after - before = "
              f"{s['rss_after'] - s['rss_before']:+.0f} MB   (target: bounded)")

if __name__ == "__main__":
    main()
