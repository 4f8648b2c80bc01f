"""Raster and terrain sources without the server: milliseconds per get_tile, by format, for
stored-block passthrough, grid-aligned decoding and over-zoom (rio-tiler), against a baseline
that does what a TiTiler request does inside (open the COG, rio-tiler tile, render, close).

    python -m tests.perf.bench_raster_sources [--size 4096]

The orthophoto is synthetic (multi-scale noise, so WebP works as hard as on real imagery),
1 m in EPSG:4548 around the county seat, converted by the real ingest conversion. Figures, not
assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import morecantile
import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds
from rio_tiler.io import Reader

from backend.ingest.raster_checks import band_layout
from backend.ingest.raster_cog import write_cog
from backend.ingest.raster_report import RasterReport
from tests.rasters import dem_heights, seat_origin, write_geotiff
from tiles.raster import CogSource, RasterFile
from tiles.terrain import DemSource

TMS = morecantile.tms.get("WebMercatorQuad")


def textured(width: int, height: int, seed: int = 9) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros((3, height, width), np.float32)
    for scale, amp in ((64, 60.0), (16, 35.0), (4, 20.0), (1, 12.0)):
        small = rng.normal(0, 1, (3, height // scale + 2, width // scale + 2)).astype(np.float32)
        big = np.repeat(np.repeat(small, scale, axis=1), scale, axis=2)[:, :height, :width]
        out += amp * big
    return np.clip(out + 120, 0, 255).astype(np.uint8)


def store(src: Path, kind: str, work: Path) -> RasterFile:
    with rasterio.open(src) as ds:
        layout = band_layout(ds, src, kind, RasterReport(src.name, "bench", kind))  # type: ignore[arg-type]
        bounds = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cog, _ = write_cog(ds, layout, kind, work)
    return RasterFile(cog.path, cog.sha256, bounds, cog.minzoom, cog.maxzoom, cog.bands,
                      cog.dtype, cog.nodata)


def timed(fn: Callable[[], object], tiles: list[morecantile.Tile]) -> tuple[float, int]:
    """Median ms per tile over the list (each tile once: the first read of its blocks)."""
    times, served = [], 0
    for t in tiles:
        start = time.perf_counter()
        out = fn.__call__(t)  # type: ignore[call-arg]
        times.append((time.perf_counter() - start) * 1000)
        served += out is not None
    return statistics.median(times), served


def titiler_like(path: Path, fmt: str) -> Callable[[morecantile.Tile], bytes | None]:
    driver = {"png": "PNG", "webp": "WEBP", "jpg": "JPEG"}[fmt]

    def one(t: morecantile.Tile) -> bytes | None:
        with Reader(str(path)) as r:  # a TiTiler request opens the file each time
            img = r.tile(t.x, t.y, t.z)
            return img.render(img_format=driver)

    return one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4096, help="orthophoto width/height, px")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_raster_"))
    n = args.size
    x0, y0 = seat_origin(4548, n, n)
    ortho = write_geotiff(work / "ortho.tif", textured(n, n), crs="EPSG:4548",
                          transform=from_origin(x0, y0, 1.0, 1.0))
    dx, dy = seat_origin(4490, 1024 * 0.0003, 1024 * 0.0003)
    dem = write_geotiff(work / "dem.tif", dem_heights(1024, 1024)[None], crs="EPSG:4490",
                        transform=from_origin(dx, dy, 0.0003, 0.0003), nodata=-9999.0)
    started = time.perf_counter()
    ofile = store(ortho, "cog", work)
    print(f"orthophoto {n} x {n} px converted in {time.perf_counter() - started:.1f} s: "
          f"zooms {ofile.minzoom}-{ofile.maxzoom}, {ofile.path.stat().st_size / 1e6:.1f} MB")
    dfile = store(dem, "dem", work)
    w, s, e, nn = ofile.bounds
    inner = (w + (e - w) * 0.1, s + (nn - s) * 0.1, e - (e - w) * 0.1, nn - (nn - s) * 0.1)
    print(f"{'case':<44}{'ms/tile (median)':>18}{'tiles':>8}")
    for z in (ofile.maxzoom, ofile.maxzoom - 1, ofile.maxzoom + 1):
        tiles = list(TMS.tiles(*inner, zooms=[z]))[:120]
        what = "stored level" if z <= ofile.maxzoom else "over-zoom"
        for fmt in ("webp", "png", "jpg"):
            src = CogSource("ortho", 0, 22, lambda: ofile)
            src.get_tile(tiles[0].z, tiles[0].x, tiles[0].y, fmt)  # open the file once
            kind = "passthrough" if fmt == "webp" and z <= ofile.maxzoom else "decoded"
            ms, served = timed(lambda t, s=src, f=fmt: s.get_tile(t.z, t.x, t.y, f), tiles)
            print(f"{f'z{z} {what} {fmt} ({kind})':<44}{ms:>18.2f}{served:>8}")
            base_ms, _ = timed(titiler_like(ofile.path, fmt), tiles)  # type: ignore[arg-type]
            print(f"{f'  baseline open+rio-tiler+render {fmt}':<44}{base_ms:>18.2f}"
                  f"{'':>8}  x{base_ms / ms:.1f}")
    dtiles = list(TMS.tiles(*dfile.bounds, zooms=[dfile.maxzoom]))[:60]
    for fmt in ("png", "webp"):
        for enc in ("mapbox", "terrarium"):
            dsrc = DemSource("dem", 0, 22, lambda: dfile)
            dsrc.get_tile(dtiles[0].z, dtiles[0].x, dtiles[0].y, fmt, enc)
            ms, served = timed(lambda t, s=dsrc, f=fmt, v=enc: s.get_tile(t.z, t.x, t.y, f, v),
                               dtiles)
            print(f"{f'terrain z{dfile.maxzoom} {fmt} {enc}':<44}{ms:>18.2f}{served:>8}")


if __name__ == "__main__":
    main()
