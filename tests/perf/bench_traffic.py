"""Fix-to-level latency (`make bench`): how long after a GPS fix reaches the server its effect
is on the hub's `traffic.segments` channel, measured on the real app under uvicorn.

A scratch database (`--database`, dropped at the end) gets the migrations and the demo county
at `--scale`; the app runs with its default traffic cadence (`--publish-s`, 30 s) and its own
HTTP ingest. The traffic-peak scenario's first `--minutes` are posted in real time (each tick's
fixes when the tick ends, as `cityops scenario run traffic-peak` does) while a websocket client
with the hub token records when each `traffic.segments` event arrives.

A fix counts in a level once the probe engine has decided it, which happens when the vehicle's
next fix arrives (the matcher decides one fix late), and once a publication has been computed
after that: its data's `time` is the window end, the server's clock when it began. So a fix
posted at p, whose vehicle's next fix was acknowledged at d, reaches the hub with the first
event whose window end is >= d, received at r: latency = r - p. Quoted: median, p95, max; the
ratio of the p95 to the issue's target (60 s) and to the cadence's own bound (publish_s plus
one fix interval).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import threading
import time
from datetime import UTC, datetime, timedelta

import orjson
import websockets

from backend.catalog.scenarios import SCENARIOS_DIR
from backend.catalog.traffic_scenarios import load_traffic_file
from backend.simulation.traffic_run import IngestClient, plan_for
from tests.perf.common import ScratchDatabase, app_server, pct

INGEST_TOKEN = "bench-traffic-ingest"
HUB_TOKEN = "bench-traffic-hub"
TARGET_P95_S = 60.0


class Listener(threading.Thread):
    """Records (receive wall time, window end) of every traffic.segments event."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.events: list[tuple[float, float]] = []
        self.ready = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        asyncio.run(self._listen())

    async def _listen(self) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{self.port}/ws",
                                      max_size=2**24) as ws:
            await ws.send(orjson.dumps({"type": "auth", "token": HUB_TOKEN}).decode())
            await ws.send(orjson.dumps({"type": "subscribe",
                                        "channel": "traffic.segments"}).decode())
            self.ready.set()
            while not self.stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                received = time.time()
                msg = orjson.loads(raw)
                if msg.get("type") == "ping":
                    await ws.send('{"type": "pong"}')
                elif msg.get("type") == "event":
                    end = datetime.fromisoformat(msg["data"]["time"]).timestamp()
                    self.events.append((received, end))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="cityops_bench_traffic")
    parser.add_argument("--scale", type=float, default=0.02, help="demo county scale")
    parser.add_argument("--minutes", type=float, default=4.0, help="scenario minutes posted")
    parser.add_argument("--publish-s", type=float, default=30.0, help="traffic_publish_s")
    args = parser.parse_args()

    db = ScratchDatabase(args.database, args.scale, "bench_traffic", pool_size=2)
    try:
        scenario = load_traffic_file(SCENARIOS_DIR / "traffic-peak" / "scenario.yaml")
        env = {"CITYOPS_INGEST_TOKEN": INGEST_TOKEN, "CITYOPS_HUB_TOKEN": HUB_TOKEN,
               "CITYOPS_TRAFFIC_PUBLISH_S": str(args.publish_s)}
        with app_server(args.database, **env) as (_pid, port):
            start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
            plan = plan_for(db.engine, scenario, start)
            listener = Listener(port)
            listener.start()
            listener.ready.wait(10)
            client = IngestClient(f"http://127.0.0.1:{port}", INGEST_TOKEN)
            posted = [0.0] * len(plan.fixes)     # wall time each fix was posted
            acked = [0.0] * len(plan.fixes)      # wall time its batch was acknowledged
            rejected = 0
            horizon = args.minutes * 60
            t0 = start.timestamp()
            for end_s, lo, hi in plan.ticks():
                if end_s > horizon:
                    break
                time.sleep(max(0.0, t0 + end_s - time.time()))
                sent = time.time()
                status, body = client.post(plan.records(lo, hi))
                done = time.time()
                if status != 200:
                    raise SystemExit(f"ingest answered {status}: {body}")
                rejected += len(body.get("rejected", []))
                posted[lo:hi] = [sent] * (hi - lo)
                acked[lo:hi] = [done] * (hi - lo)
            last = max(acked)
            time.sleep(args.publish_s + 5)
            listener.stop.set()
            listener.join(5)
            client.close()
        latencies = fix_latencies(plan.fixes.vehicle, posted, acked, listener.events, last)
    finally:
        db.drop()
    report(args, len([p for p in posted if p]), rejected, listener.events, latencies,
           scenario.fix_interval_s)


def fix_latencies(vehicle: object, posted: list[float], acked: list[float],
                  events: list[tuple[float, float]], last_ack: float) -> list[float]:
    """Per fix with a next fix of its vehicle: first event with window end >= the next fix's
    acknowledgement, received minus the fix's post time."""
    ends = [end for _r, end in events]
    received = [r for r, _end in events]
    next_of: dict[int, int] = {}
    out = []
    for i in range(len(posted) - 1, -1, -1):  # fixes are in time order; walk back per vehicle
        v = int(vehicle[i])  # type: ignore[index]
        nxt = next_of.get(v)
        next_of[v] = i
        if not posted[i] or nxt is None or not acked[nxt] or acked[nxt] > last_ack:
            continue
        k = bisect.bisect_left(ends, acked[nxt])
        if k < len(ends):
            out.append(received[k] - posted[i])
    return out


def report(args: argparse.Namespace, fixes: int, rejected: int, events: list[tuple[float, float]],
           latencies: list[float], fix_interval_s: float) -> None:
    bound = args.publish_s + fix_interval_s
    p50, p95 = pct(latencies, 0.5), pct(latencies, 0.95)
    print(f"traffic fix-to-level latency: {args.minutes:g} scenario minutes in real time, "
          f"{fixes} fixes posted ({rejected} rejected), {len(events)} traffic.segments events "
          f"(publish every {args.publish_s:g} s)")
    print(f"  latency over {len(latencies)} fixes: median {p50:.1f} s, p95 {p95:.1f} s, "
          f"max {max(latencies, default=float('nan')):.1f} s")
    print(f"  p95 / target {TARGET_P95_S:.0f} s = {p95 / TARGET_P95_S:.2f}; "
          f"p95 / cadence bound (publish {args.publish_s:g} s + one fix interval "
          f"{fix_interval_s:g} s) = {p95 / bound:.2f}")


if __name__ == "__main__":
    main()
