"""What the wall benchmarks (and the short soak test) share: Debian's Chromium driven by
Playwright, a page logged in as the wall's account, the wall page or the console as a fallback,
a frame counter in the page, a log of every request that leaves the origin, and simulated
vehicles moving along the county's roads, posted through the real HTTP ingest."""

from __future__ import annotations

import math
import random
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import httpx
import shapely
import sqlalchemy as sa
from shapely.geometry import LineString

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-unsafe-swiftshader",
    # a hidden or occluded headless tab must not be throttled while it is measured
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
WALL_SIZE = {"width": 1920, "height": 1080}
# Frames counted by requestAnimationFrame, one sample per second (the page's own
# window.__wallFps is read instead when the wall defines it).
FPS_PROBE = """(() => {
  if (window.__fpsProbe) return;
  const probe = window.__fpsProbe = {samples: [], frames: 0, t0: performance.now()};
  const tick = (t) => {
    probe.frames += 1;
    if (t - probe.t0 >= 1000) {
      probe.samples.push(probe.frames * 1000 / (t - probe.t0));
      probe.frames = 0; probe.t0 = t;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})()"""
DEGREE_M = 111_000.0  # metres per degree of latitude (a benchmark's approximation)


@dataclass
class Outside:
    """Requests whose host is not the app's (must stay empty)."""

    origin: str
    urls: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        host = urlparse(self.origin).netloc

        def seen(request: Any) -> None:
            parsed = urlparse(request.url)
            if parsed.scheme in ("http", "https", "ws", "wss") and parsed.netloc != host:
                self.urls.append(request.url)

        page.on("request", seen)


def login(context: Any, base: str, username: str, password: str) -> None:
    answer = context.request.post(f"{base}/api/auth/login",
                                  data={"username": username, "password": password})
    if not answer.ok:
        raise RuntimeError(f"login as {username} failed: {answer.status} {answer.text()}")


def open_wall(playwright: Any, base: str, username: str, password: str
              ) -> tuple[Any, Any, Any, Outside]:
    """Chromium at the wall's size, logged in as `username`, with the page's requests that
    leave the origin logged: (browser, context, page, outside)."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
    context = browser.new_context(viewport=WALL_SIZE, device_scale_factor=1)
    login(context, base, username, password)
    page = context.new_page()
    outside = Outside(base)
    outside.watch(page)
    return browser, context, page, outside


def wall_path(base: str, page: str | None) -> str:
    """`page` when given; else /wall when the build has it, else the console (/)."""
    if page:
        return page
    answer = httpx.get(f"{base}/wall", follow_redirects=True, timeout=10)
    return "/wall" if answer.status_code == 200 else "/"


def sample_fps(page: Any, seconds: float) -> list[float]:
    """Frames per second, one sample a second for `seconds`: the wall's own counter
    (window.__wallFps) when it has one, else the requestAnimationFrame probe."""
    page.evaluate(FPS_PROBE)
    own = page.evaluate("typeof window.__wallFps === 'number'")
    if own:
        out = []
        for _ in range(int(seconds)):
            time.sleep(1.0)
            out.append(float(page.evaluate("window.__wallFps")))
        return out
    start = page.evaluate("window.__fpsProbe.samples.length")
    time.sleep(seconds)
    return [float(v) for v in page.evaluate("window.__fpsProbe.samples")[start:]]


# ---- vehicles moving along the roads -------------------------------------------------------

@dataclass
class Mover:
    line: LineString
    length: float          # in degrees along the line
    at: float
    step: float            # degrees a second (speed)


def movers(engine: sa.Engine, count: int, seed: int = 14) -> list[Mover]:
    """`count` vehicles, each on one of the county's longer roads, at 20-50 km/h."""
    with engine.connect() as conn:
        wkbs = conn.execute(sa.text(
            "SELECT ST_AsBinary(ST_LineMerge(geom)) FROM roads "
            "WHERE GeometryType(ST_LineMerge(geom)) = 'LINESTRING' "
            "ORDER BY ST_Length(geom) DESC LIMIT 400")).scalars().all()
    if not wkbs:
        raise RuntimeError("no roads in the database: load the demo county first")
    lines = [shapely.from_wkb(bytes(w)) for w in wkbs]
    rng = random.Random(seed)
    out = []
    for i in range(count):
        line = lines[i % len(lines)]
        speed_ms = rng.uniform(20, 50) / 3.6
        out.append(Mover(line, line.length, rng.uniform(0, line.length),
                         speed_ms / DEGREE_M * rng.choice((1, -1))))
    return out


class Feeder(threading.Thread):
    """Every second, each vehicle's next fix along its road, posted in batches to
    /api/ingest/positions with the machine credential (the same path as a gateway's feed)."""

    def __init__(self, base: str, token: str, vehicles: list[Mover], *, prefix: str = "WALL",
                 batch: int = 500, period_s: float = 1.0,
                 on_error: Callable[[str], None] | None = None) -> None:
        super().__init__(daemon=True)
        self.base, self.vehicles, self.batch, self.period = base, vehicles, batch, period_s
        self.headers = {"Authorization": f"Bearer {token}"}
        self.prefix = prefix
        self.stop_event = threading.Event()
        self.sent = 0
        self.late = 0  # ticks that took longer than the period (the feed fell behind)
        self.errors: list[str] = []
        self.on_error = on_error

    def fixes(self) -> list[dict[str, Any]]:
        now = datetime.now(UTC).isoformat()
        out = []
        for i, v in enumerate(self.vehicles):
            v.at += v.step
            if not 0 <= v.at <= v.length:  # turn round at the road's end
                v.step = -v.step
                v.at = min(max(v.at, 0.0), v.length)
            p = v.line.interpolate(v.at)
            q = v.line.interpolate(min(v.length, max(0.0, v.at + v.step)))
            heading = (90 - math.degrees(math.atan2(q.y - p.y, q.x - p.x))) % 360
            out.append({"vehicle_id": f"{self.prefix}-{i:05d}", "time": now,
                        "lon": round(p.x, 6), "lat": round(p.y, 6),
                        "speed_kmh": round(abs(v.step) * DEGREE_M * 3.6, 1),
                        "heading_deg": round(heading, 1)})
        return out

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=30) as http:
            while not self.stop_event.is_set():
                t0 = time.monotonic()
                fixes = self.fixes()
                for i in range(0, len(fixes), self.batch):
                    answer = http.post("/api/ingest/positions",
                                       json={"positions": fixes[i:i + self.batch]})
                    if answer.status_code != 200:
                        self.errors.append(f"{answer.status_code} {answer.text[:200]}")
                    else:
                        self.sent += int(answer.json().get("accepted", 0))
                spent = time.monotonic() - t0
                self.late += spent > self.period
                self.stop_event.wait(max(0.0, self.period - spent))

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=30)


# ---- memory and DOM over time (the soak) ---------------------------------------------------

@dataclass
class Sample:
    t: float            # seconds since the first sample
    heap: float         # JS heap used after a forced GC (bytes)
    nodes: int          # DOM nodes
    listeners: int      # JS event listeners


class Sampler:
    """Samples the page through the DevTools protocol: a forced GC, then the JS heap in use
    (Performance.getMetrics) and the DOM counters (Memory.getDOMCounters)."""

    def __init__(self, context: Any, page: Any) -> None:
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("Performance.enable")
        self.samples: list[Sample] = []
        self.t0 = time.monotonic()

    def sample(self) -> Sample:
        self.cdp.send("HeapProfiler.collectGarbage")
        metrics = {m["name"]: m["value"]
                   for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        dom = self.cdp.send("Memory.getDOMCounters")
        s = Sample(time.monotonic() - self.t0, float(metrics["JSHeapUsedSize"]),
                   int(dom["nodes"]), int(dom["jsEventListeners"]))
        self.samples.append(s)
        return s


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """The least-squares slope of (seconds, value), per hour (0 with fewer than 2 points)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mx) * (v - my) for t, v in points) / var * 3600


def growth(samples: list[Sample], warmup_s: float) -> dict[str, float]:
    """Heap and DOM growth per hour after the warm-up, and the maxima over the whole run."""
    late = [s for s in samples if s.t >= warmup_s] or samples
    return {"heap_mb_per_h": slope_per_hour([(s.t, s.heap / 2**20) for s in late]),
            "nodes_per_h": slope_per_hour([(s.t, s.nodes) for s in late]),
            "listeners_per_h": slope_per_hour([(s.t, s.listeners) for s in late]),
            "heap_mb_max": max(s.heap for s in samples) / 2**20,
            "nodes_max": max(s.nodes for s in samples),
            "nodes_min_after_warmup": min(s.nodes for s in late),
            "nodes_max_after_warmup": max(s.nodes for s in late),
            "listeners_max": max(s.listeners for s in samples)}


class CaseReporter(threading.Thread):
    """A case reported near the county seat every `period_s` (the wall's case panels and
    pulses have something to show), through the real API as a supervisor."""

    def __init__(self, base: str, cookies: dict[str, str] | None, headers: dict[str, str],
                 period_s: float, seat: tuple[float, float] = (117.88003, 33.47922)) -> None:
        super().__init__(daemon=True)
        self.base, self.cookies, self.headers, self.period = base, cookies, headers, period_s
        self.seat = seat
        self.stop_event = threading.Event()
        self.made = 0
        self.errors: list[str] = []

    def run(self) -> None:
        rng = random.Random(7)
        with httpx.Client(base_url=self.base, headers=self.headers, cookies=self.cookies,
                          timeout=30) as http:
            while not self.stop_event.wait(self.period):
                answer = http.post("/api/incidents", json={
                    "category_code": "E0101", "description": "示意 soak 路边暴露垃圾",
                    "lon": self.seat[0] + rng.uniform(-0.01, 0.01),
                    "lat": self.seat[1] + rng.uniform(-0.01, 0.01)})
                if answer.status_code in (200, 201):
                    self.made += 1
                else:
                    self.errors.append(f"{answer.status_code} {answer.text[:200]}")

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=30)
