"""Frames per second of the wall with 2,000 moving vehicles against the same page with none, in
one run (`make bench`).

A scratch database (`--database`, dropped at the end) gets the migrations and the demo county
at `--scale`; the real app runs under uvicorn with an ingest credential. Debian's Chromium
(Playwright, headless) opens the wall page (`--page`, default /wall when the build has it,
else the console /) at 1920x1080 logged in as the wall's account (role viewer), waits for it to
settle, and counts frames for `--seconds` (the wall's own window.__wallFps when present, else
requestAnimationFrame callbacks): first with no vehicle, then while `--vehicles` simulated
vehicles move along the county's roads at 1 report a second each, posted in batches through
the HTTP ingest (the feed a gateway uses), after `--warmup` seconds of feed.

Headless Chromium renders WebGL with SwiftShader on the CPU, and the app, the feed and the
browser share this machine's cores: the absolute fps is a floor (a wall PC with a GPU shows
more); the ratio with / without is the figure. Quoted: median and p10 fps of each phase, the
ratio of the medians, the fixes the feed posted and how often it fell behind.

Measured (issue 14, /wall, scale 0.02-0.05, load average ~5 on 2 shared cores): deck
interleaved with MapLibre (every frame repainted the whole map): 58.0 fps without vehicles,
4.0 with 2,000 (ratio 0.07); deck in its own canvas over the map: 61.0 and 10.5 (0.17), 20 s
phases; 0 requests left the origin either way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from tests.perf.common import ScratchDatabase, app_server, pct
from tests.perf.wall_browser import (
    Feeder,
    movers,
    open_wall,
    sample_fps,
    wall_path,
)

INGEST_TOKEN = "bench-wall-ingest"
USER, PASSWORD = "wall-bench", "sixian-screen-7781-pass"


def summary(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    return (f"median {statistics.median(samples):5.1f} fps, p10 {pct(samples, 0.1):5.1f}, "
            f"max {max(samples):5.1f} ({len(samples)} s)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database", default="cityops_bench_wall")
    ap.add_argument("--scale", type=float, default=0.05, help="demo county size (roads)")
    ap.add_argument("--vehicles", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=30.0, help="measured per phase")
    ap.add_argument("--warmup", type=float, default=15.0, help="feed before measuring")
    ap.add_argument("--page", help="the page to measure (default /wall, else /)")
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from backend.auth.users import create_user

    db = ScratchDatabase(args.database, args.scale, "bench_wall_fps", pool_size=2)
    try:
        with db.engine.begin() as conn:
            create_user(conn, USER, PASSWORD, ["viewer"], display_name="大屏 bench")
        fleet = movers(db.engine, args.vehicles)
        with app_server(args.database, CITYOPS_INGEST_TOKEN=INGEST_TOKEN) as (_pid, port), \
                sync_playwright() as p:
            base = f"http://127.0.0.1:{port}"
            path = wall_path(base, args.page)
            browser, _context, page, outside = open_wall(p, base, USER, PASSWORD)
            page.goto(base + path, wait_until="load")
            time.sleep(args.warmup)  # the map's first tiles and the panels' first data
            idle = sample_fps(page, args.seconds)
            feeder = Feeder(base, INGEST_TOKEN, fleet)
            feeder.start()
            time.sleep(args.warmup)
            busy = sample_fps(page, args.seconds)
            feeder.stop()
            browser.close()
    finally:
        db.drop()
    ratio = statistics.median(busy) / statistics.median(idle) if idle and busy else float("nan")
    print(f"wall fps at 1920x1080, page {path} (SwiftShader: a floor; the ratio is the figure)")
    print(f"  no vehicles:        {summary(idle)}")
    print(f"  {args.vehicles:,} vehicles:   {summary(busy)}")
    print(f"  ratio with / without: {ratio:.2f}")
    print(f"  feed: {feeder.sent:,} fixes posted ({feeder.sent / max(1, args.vehicles):.0f} "
          f"per vehicle), {feeder.late} late ticks, {len(feeder.errors)} errors")
    print(f"  requests leaving the origin: {len(outside.urls)}")
    if feeder.errors:
        print("  first error: " + feeder.errors[0])
    return 0 if not outside.urls and not feeder.errors else 1


if __name__ == "__main__":
    sys.exit(main())
