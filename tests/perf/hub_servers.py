"""bench_hub's servers, each run as a child process (`python -m tests.perf.bench_hub
--serve-bare PORT` / `--serve-hub PORT`): a bare `websockets` broadcast server and the real hub
and /ws router under uvicorn, both with a publisher task driven by the orchestrator over stdin
(one JSON line answers each command). Also the event-loop and fd-limit helpers both sides use."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import random
import resource
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

TOKEN = "bench-hub-token"
COUNTY = (117.6286, 33.2767, 118.1804, 33.769)  # Sixian's bbox (WGS84)


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
