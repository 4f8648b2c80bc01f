"""Raster tile benchmark (`make bench`): our tile server against TiTiler, same run, same COG.

TiTiler (titiler.application, the reference COG tiler built on the same rio-tiler) is
installed only for this benchmark, in its own virtualenv under var/bench/titiler-venv, and
served by uvicorn in one process on 127.0.0.1 like ours. Both serve the same files: the
demo orthophoto and DEM COGs that our raster ingest registered (`cityops demo` renders and
ingests them). The same seeded tile list (inside the data's footprint, z13-z18 for imagery,
z9-z14 for terrain) is fetched by the same client (keep-alive http.client connections, a few
at once).

Figures (medians over interleaved repeats; never asserted, machines are noisy):
  imagery tiles/s, PNG and WebP: ours with the tile cache off / TiTiler (target >= 1.5)
  cold p95: the first request of each distinct tile on a fresh server (target <= 150 ms)
  terrain tiles/s: our /tiles/dem/..png (terrain-RGB) / TiTiler's algorithm=terrainrgb
  cache on / cache off (target >= 10). Where the stored COG's blocks are served as they are
  (WebP at its stored zooms, no decoding), a cache-off tile is already a block copy and the
  cache has little left to save: expect a small ratio there.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from backend.settings import Settings, get_settings
from tests.perf.common import free_port, median_of, pct, start_app, stop_process
from tiles.tms import lonlat_to_tile

TITILER_REQUIREMENTS = ("titiler.application>=0.18,<1", "uvicorn>=0.30")
IMAGERY_ZOOMS = {13: 1, 14: 2, 15: 3, 16: 4, 17: 4, 18: 3}
TERRAIN_ZOOMS = {9: 1, 10: 2, 11: 3, 12: 4, 13: 3, 14: 2}


# ---- TiTiler in its own environment --------------------------------------------------------

def titiler_python(settings: Settings) -> Path:
    """The TiTiler virtualenv's python, created and filled on first use (PyPI)."""
    venv = settings.var_dir / "bench" / "titiler-venv"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    wanted = "\n".join(TITILER_REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"installing TiTiler into {venv} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *TITILER_REQUIREMENTS],
                   check=True)
    stamp.write_text(wanted)
    return python


def titiler_version(python: Path) -> str:
    out = subprocess.run([str(python), "-c", "import titiler.core, rio_tiler, rasterio; "
                          "print(titiler.core.__version__, rio_tiler.__version__, "
                          "rasterio.__gdal_version__)"],
                         check=True, capture_output=True, text=True).stdout.split()
    return f"titiler {out[0]} (rio-tiler {out[1]}, GDAL {out[2]})"


@contextmanager
def titiler_server(python: Path) -> Iterator[str]:
    """TiTiler under uvicorn (one process) on a free port; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CITYOPS_", "PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONWARNINGS"] = "ignore"  # numpy casts at nodata edges: noise in our output
    proc = subprocess.Popen(
        [str(python), "-m", "uvicorn", "titiler.application.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("TiTiler exited at start")
            time.sleep(0.1)
        else:
            raise RuntimeError("TiTiler did not start")
        yield base
    finally:
        stop_process(proc, 10)


# ---- the tile list and the client ----------------------------------------------------------

def tile_list(bounds: tuple[float, float, float, float], zooms: dict[int, int], n: int,
              seed: int) -> list[tuple[int, int, int]]:
    """Deterministic: n tiles at weighted zooms around uniform points inside `bounds`
    (shrunk by 10 % so that every tile holds data)."""
    rng = np.random.default_rng(seed)
    w, s, e, nn = bounds
    dx, dy = (e - w) * 0.1, (nn - s) * 0.1
    z_all = np.array(list(zooms))
    p = np.array(list(zooms.values()), dtype=float)
    out = []
    for _ in range(n):
        z = int(rng.choice(z_all, p=p / p.sum()))
        lon, lat = rng.uniform(w + dx, e - dx), rng.uniform(s + dy, nn - dy)
        out.append((z, *lonlat_to_tile(lon, lat, z)))
    return out


@dataclass
class Target:
    """One server's URL for a tile: base + path(z, x, y)."""

    name: str
    base: str
    path: Callable[[int, int, int], str]
    headers: dict[str, str]


def run(target: Target, tiles: list[tuple[int, int, int]], concurrency: int) -> dict:
    """Fetch every tile (status 200 or 204) over `concurrency` keep-alive connections;
    tiles/s, latency percentiles, the latency of the first request of each distinct tile,
    bytes. http.client, one connection per thread: the lightest Python client, so that a
    cached tile measures the server rather than the load generator (httpx costs ~1 ms of
    client CPU a request, which caps a cache-on run on two cores)."""
    latencies: list[float] = [0.0] * len(tiles)
    first = {t: i for i, t in reversed(list(enumerate(tiles)))}
    host, port = target.base.removeprefix("http://").split(":")
    local = threading.local()

    def fetch(i: int) -> int:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        t0 = time.perf_counter()
        conn.request("GET", target.path(*tiles[i]), headers=target.headers)
        response = conn.getresponse()
        body = response.read()
        latencies[i] = time.perf_counter() - t0
        if response.status not in (200, 204):
            raise RuntimeError(f"{target.name} {tiles[i]}: {response.status} {body[:200]!r}")
        return len(body)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        sizes = list(pool.map(fetch, range(len(tiles))))
    elapsed = time.perf_counter() - start
    ms = [x * 1000 for x in latencies]
    cold = [ms[i] for i in first.values()]
    return {"rate": len(tiles) / elapsed, "p50": statistics.median(ms), "p95": pct(ms, 0.95),
            "cold_p95": pct(cold, 0.95), "bytes": float(sum(sizes))}


def tile_size(target: Target, tile: tuple[int, int, int]) -> tuple[int, int]:
    """Pixel size of one tile (the two servers must answer the same tile grid)."""
    response = httpx.get(target.base + target.path(*tile), headers=target.headers, timeout=60)
    response.raise_for_status()
    return Image.open(io.BytesIO(response.content)).size


def fmt(name: str, r: dict) -> str:
    return (f"  {name:<40} {r['rate']:8.1f} tiles/s   p50 {r['p50']:7.1f} ms   "
            f"p95 {r['p95']:7.1f} ms   cold p95 {r['cold_p95']:7.1f} ms   "
            f"{r['bytes'] / 1e6:6.1f} MB")


# ---- the servers ----------------------------------------------------------------------------

@contextmanager
def our_server(cache: bool) -> Iterator[str]:
    """`cityops serve`'s app (one uvicorn process) with the tile cache on or off."""
    port = free_port()
    env = {**os.environ, "CITYOPS_TILE_CACHE_ENABLED": "true" if cache else "false"}
    proc = start_app(port, env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc, 10)


def ours(base: str, layer: str, fmt: str, token: str, query: str = "") -> Target:
    return Target(f"ours {layer} {fmt}", base,
                  lambda z, x, y: f"/tiles/{layer}/{z}/{x}/{y}.{fmt}{query}",
                  {"Authorization": f"Bearer {token}"})


def titiler(base: str, cog: Path, fmt: str, size: int, query: str = "") -> Target:
    url = httpx.QueryParams({"url": str(cog), "tilesize": size})
    return Target(f"titiler {cog.name} {fmt}", base,
                  lambda z, x, y: f"/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.{fmt}?{url}{query}",
                  {})


@dataclass
class Plan:
    imagery: list[tuple[int, int, int]]
    terrain: list[tuple[int, int, int]]
    formats: tuple[str, ...]
    concurrency: int
    ortho: Path
    dem: Path
    size: int
    token: str


def one_round(plan: Plan, tt: str, runs: dict[str, list[dict]]) -> None:
    """One measurement of every figure; the caller interleaves rounds."""
    warm = plan.imagery[:20]
    for fmt in plan.formats:
        target = titiler(tt, plan.ortho, fmt, plan.size)
        run(target, warm, plan.concurrency)
        runs[f"titiler {fmt}"].append(run(target, plan.imagery, plan.concurrency))
    target = titiler(tt, plan.dem, "png", plan.size, "&algorithm=terrainrgb")
    run(target, plan.terrain[:20], plan.concurrency)
    runs["titiler terrain"].append(run(target, plan.terrain, plan.concurrency))

    with our_server(cache=False) as base:
        for fmt in plan.formats:
            target = ours(base, "ortho", fmt, plan.token)
            run(target, warm, plan.concurrency)
            runs[f"off {fmt}"].append(run(target, plan.imagery, plan.concurrency))
        target = ours(base, "dem", "png", plan.token, "?encoding=mapbox")
        run(target, plan.terrain[:20], plan.concurrency)
        runs["off terrain"].append(run(target, plan.terrain, plan.concurrency))

    with our_server(cache=True) as base:
        for fmt in plan.formats:  # first pass fills the cache: its latencies are the cold ones
            target = ours(base, "ortho", fmt, plan.token)
            runs[f"cold {fmt}"].append(run(target, plan.imagery, plan.concurrency))
            runs[f"on {fmt}"].append(run(target, plan.imagery, plan.concurrency))


@dataclass(frozen=True)
class Cog:
    path: Path
    bounds: tuple[float, float, float, float]  # the data's footprint, west south east north


def registered_cogs(settings: Settings) -> tuple[Cog, Cog]:
    """The COG files our raster ingest registered for the layers `ortho` and `dem`, with the
    footprint of their data (a web-optimized COG's own extent is padded to whole tiles)."""
    from backend.db.engine import create_engine, resolve_urls
    from backend.rasters.service import lookup

    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        found = {layer: lookup(engine, layer) for layer in ("ortho", "dem")}
    finally:
        engine.dispose()
    missing = [layer for layer, f in found.items() if f is None]
    if missing:
        raise SystemExit(f"no COG registered for {', '.join(missing)}: run `cityops demo`")
    return tuple(Cog(f.path, tuple(f.bounds)) for f in found.values())  # type: ignore[return-value, union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiles", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; medians shown")
    parser.add_argument("--formats", default="png,webp")
    args = parser.parse_args()

    settings = get_settings()
    from backend.cli import _prepare_database
    from backend.demo import prepare_demo, prepare_demo_rasters
    from tests.perf.bench_tiles import bench_session

    _prepare_database(settings)
    prepare_demo(settings)  # no-op when the demo county is loaded
    prepare_demo_rasters(settings)  # no-op when rendered and registered
    ortho_cog, dem_cog = registered_cogs(settings)
    ortho, dem = ortho_cog.path, dem_cog.path
    python = titiler_python(settings)
    formats = tuple(args.formats.split(","))
    imagery = tile_list(ortho_cog.bounds, IMAGERY_ZOOMS, args.tiles, seed=9001)
    terrain = tile_list(dem_cog.bounds, TERRAIN_ZOOMS, args.tiles, seed=9002)
    print(f"{titiler_version(python)} against ours, one uvicorn process each, "
          f"{args.concurrency} concurrent keep-alive connections", flush=True)
    print(f"imagery: {ortho.name}, {len(imagery)} tiles z13-z18 ({len(set(imagery))} "
          f"distinct); terrain: {dem.name}, {len(terrain)} tiles z9-z14 "
          f"({len(set(terrain))} distinct)", flush=True)

    runs: dict[str, list[dict]] = {k: [] for k in (
        *(f"{w} {f}" for w in ("titiler", "off", "cold", "on") for f in formats),
        "titiler terrain", "off terrain")}
    with bench_session(settings) as token, titiler_server(python) as tt:
        with our_server(cache=False) as base:
            size = tile_size(ours(base, "ortho", "png", token), imagery[-1])[0]
        size_tt = tile_size(titiler(tt, ortho, "png", size), imagery[-1])[0]
        print(f"tiles of {size} px from both (titiler: {size_tt} px)", flush=True)
        plan = Plan(imagery, terrain, formats, args.concurrency, ortho, dem, size, token)
        for k in range(args.repeat):
            one_round(plan, tt, runs)
            print(f"  round {k + 1}/{args.repeat} done", flush=True)
    med = {k: median_of(v) for k, v in runs.items()}
    print(f"medians of {args.repeat} runs each, runs interleaved:")
    for key in runs:
        print(fmt(key, med[key]))
    print("ratios:")
    for f in formats:
        off, on, tt_rate = med[f"off {f}"]["rate"], med[f"on {f}"]["rate"], \
            med[f"titiler {f}"]["rate"]
        print(f"  {f}: cache off / titiler = {off / tt_rate:.2f}   (target >= 1.5)")
        print(f"  {f}: cold p95 = {med[f'cold {f}']['cold_p95']:.0f} ms   (target <= 150 ms)")
        print(f"  {f}: cache on / cache off = {on / off:.1f}   (target >= 10)")
    print(f"  terrain: ours / titiler terrainrgb = "
          f"{med['off terrain']['rate'] / med['titiler terrain']['rate']:.2f}   "
          f"({med['off terrain']['rate']:.0f} vs {med['titiler terrain']['rate']:.0f} tiles/s)")


if __name__ == "__main__":
    main()
