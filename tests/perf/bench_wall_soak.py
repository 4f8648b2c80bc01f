"""The wall left running (`make bench`): does its memory or its DOM grow, does it call out?

A scratch database (`--database`, dropped at the end) gets the migrations and the demo county
at `--scale`; the real app runs under uvicorn with the demo's live scenarios inside it (the
bus scenario against its own JT/T 808 gateway, the traffic scenario against its own HTTP
ingest, as `cityops demo` runs them), `--vehicles` more vehicles moving along the roads at one
fix a second through the HTTP ingest, and a case reported every `--case-every` seconds. Debian's
Chromium opens the wall (`--page`, default /wall, else the console) at 1920x1080 as the wall's
account for `--minutes` (default 30), and every `--every` seconds forces a garbage collection
and samples the JS heap in use and the DOM node and listener counts through the DevTools
protocol, while logging every request whose host is not the app's.

Quoted: growth per hour after `--warmup` seconds (least-squares slopes of the heap in MB and
of the node count), the maxima, and the requests that left the origin (must be 0). The issue's
24-hour behaviour is the slope times 24: a bounded page has slopes near zero.

Measured (issue 14, /wall, scale 0.02, 4 min, every 15 s, warm-up 60 s): heap 15-16 MB
(+11.6 MB/h, within noise of a 3-minute fit), DOM nodes 498-606 after warm-up (+966/h from
one 606 spike of a rolling list), listeners 111-123; 0 requests left the origin.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from tests.perf.common import ScratchDatabase, free_port, start_app, stop_process
from tests.perf.wall_browser import (
    CaseReporter,
    Feeder,
    Sampler,
    growth,
    movers,
    open_wall,
    wall_path,
)

INGEST_TOKEN = "bench-soak-ingest"
WALL_USER, WALL_PASSWORD = "soak-wall", "sixian-screen-4417-pass"
DESK_USER, DESK_PASSWORD = "soak-desk", "sixian-desk-9023-pass"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database", default="cityops_bench_soak")
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=120.0, help="seconds left out of slopes")
    ap.add_argument("--vehicles", type=int, default=300)
    ap.add_argument("--case-every", type=float, default=20.0)
    ap.add_argument("--page", help="the page to soak (default /wall, else /)")
    args = ap.parse_args(argv)

    import httpx
    from playwright.sync_api import sync_playwright

    from backend.auth.users import create_user

    db = ScratchDatabase(args.database, args.scale, "bench_wall_soak", pool_size=2)
    port, gateway = free_port(), free_port()
    env = {"CITYOPS_DATABASE_NAME": args.database, "CITYOPS_INGEST_TOKEN": INGEST_TOKEN,
           "CITYOPS_PORT": str(port), "CITYOPS_JT808_ENABLED": "true",
           "CITYOPS_JT808_PORT": str(gateway), "CITYOPS_LIVE_SCENARIO": "bus-morning-peak",
           "CITYOPS_LIVE_TRAFFIC_SCENARIO": "traffic-peak"}
    full = {**os.environ, **env}
    full.pop("DATABASE_URL", None)
    server = None
    try:
        with db.engine.begin() as conn:
            create_user(conn, WALL_USER, WALL_PASSWORD, ["viewer"], display_name="大屏 soak")
            create_user(conn, DESK_USER, DESK_PASSWORD, ["supervisor"])
        fleet = movers(db.engine, args.vehicles)
        server = start_app(port, full)
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(f"{base}/api/auth/login", json={
            "username": DESK_USER, "password": DESK_PASSWORD}).json()["token"]
        feeder = Feeder(base, INGEST_TOKEN, fleet, prefix="SOAK")
        cases = CaseReporter(base, None, {"Authorization": f"Bearer {token}"}, args.case_every)
        with sync_playwright() as p:
            path = wall_path(base, args.page)
            browser, context, page, outside = open_wall(p, base, WALL_USER,
                                                        WALL_PASSWORD)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(base + path, wait_until="load")
            feeder.start()
            cases.start()
            sampler = Sampler(context, page)
            end = time.monotonic() + args.minutes * 60
            while True:
                s = sampler.sample()
                print(f"  {s.t / 60:6.1f} min  heap {s.heap / 2**20:7.1f} MB  nodes {s.nodes:6d}"
                      f"  listeners {s.listeners:5d}", flush=True)
                if time.monotonic() + args.every > end:
                    break
                time.sleep(args.every)
            feeder.stop()
            cases.stop()
            browser.close()
    finally:
        if server is not None:
            stop_process(server)
        db.drop()
    g = growth(sampler.samples, args.warmup)
    print(f"wall soak, page {path}, {args.minutes:g} min, sample every {args.every:g} s, "
          f"warm-up {args.warmup:g} s")
    print(f"  JS heap: {g['heap_mb_per_h']:+.2f} MB/h after warm-up, max {g['heap_mb_max']:.1f} MB")
    print(f"  DOM nodes: {g['nodes_per_h']:+.0f} /h after warm-up, max {g['nodes_max']}, band "
          f"{g['nodes_min_after_warmup']}-{g['nodes_max_after_warmup']} after warm-up")
    print(f"  listeners: {g['listeners_per_h']:+.0f} /h, max {g['listeners_max']}")
    print(f"  load: {feeder.sent:,} fixes from {args.vehicles} vehicles, {cases.made} cases "
          f"reported (+ the bus and traffic scenarios); page errors: {len(errors)}")
    print(f"  requests leaving the origin: {len(outside.urls)}")
    return 0 if not outside.urls else 1


if __name__ == "__main__":
    sys.exit(main())
