"""GeoTIFFs made in the tests (inside the county, in its CRSs), the sample rasters, and pixel
comparisons shared by the raster ingest and tile tests."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from PIL import Image
from pyproj import Transformer
from rasterio.transform import Affine, from_origin
from rasterio.warp import Resampling, reproject

from tiles.tms import tile_bounds

DATA = Path(__file__).resolve().parent / "data" / "rasters"
RGB_SAMPLE = DATA / "rasterio_RGB.byte_utm18n.tif"  # Landsat RGB, EPSG:32618, nodata 0
DEM_SAMPLE = DATA / "titiler_dem_swiss_epsg2056.tif"  # float32 DEM, EPSG:2056, nodata -9999
SEAT = (117.88003, 33.47922)  # the county seat (lon, lat)


def write_geotiff(path: Path, data: NDArray[Any], *, crs: str | None, transform: Affine | None,
                  nodata: float | None = None, **extra: Any) -> Path:
    profile: dict[str, Any] = {"driver": "GTiff", "width": data.shape[2],
                               "height": data.shape[1], "count": data.shape[0],
                               "dtype": str(data.dtype), **extra}
    if crs is not None:
        profile["crs"] = crs
    if transform is not None:
        profile["transform"] = transform
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def seat_origin(epsg: int, width_units: float, height_units: float) -> tuple[float, float]:
    """The upper-left corner, in `epsg`, of a box of the given size centred on the seat."""
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(*SEAT)
    return x - width_units / 2, y + height_units / 2


def ortho_pixels(width: int, height: int) -> NDArray[np.uint8]:
    """A smooth RGB pattern (resampling barely changes it, so tiles can be checked tightly)."""
    cols, rows = np.meshgrid(np.arange(width), np.arange(height))
    r = 128 + 100 * np.sin(cols / 37.0)
    g = 128 + 100 * np.cos(rows / 53.0)
    b = 40 + (cols + rows) * (180.0 / (width + height))
    return np.stack([r, g, b]).round().astype(np.uint8)


def county_ortho(path: Path, *, epsg: int = 4548, width: int = 1400, height: int = 1200,
                 pixel: float = 1.0) -> Path:
    """A 1 m orthophoto-like RGB around the county seat (Gauss-Krueger 4548 by default)."""
    x0, y0 = seat_origin(epsg, width * pixel, height * pixel)
    return write_geotiff(path, ortho_pixels(width, height), crs=f"EPSG:{epsg}",
                         transform=from_origin(x0, y0, pixel, pixel))


def dem_heights(width: int, height: int) -> NDArray[np.float32]:
    """A gentle hill on the plain: 18-60 m, like the Huaibei plain's relief."""
    cols, rows = np.meshgrid(np.arange(width), np.arange(height))
    d2 = ((cols - width * 0.6) ** 2 + (rows - height * 0.4) ** 2) / (0.3 * width) ** 2
    return (18.0 + 0.01 * cols + 42.0 * np.exp(-d2)).astype(np.float32)


def county_dem(path: Path, *, epsg: int = 4490, width: int = 300, height: int = 240,
               hole: tuple[slice, slice] | None = (slice(90, 150), slice(120, 200))) -> Path:
    """A ~30 m DEM around the seat in CGCS2000 lon/lat (4490), with a no-data hole."""
    step = 0.0003 if epsg in (4326, 4490) else 30.0
    x0, y0 = seat_origin(epsg, width * step, height * step)
    h = dem_heights(width, height)
    if hole is not None:
        h[hole] = -9999.0
    return write_geotiff(path, h[None], crs=f"EPSG:{epsg}",
                         transform=from_origin(x0, y0, step, step), nodata=-9999.0)


def decode(data: bytes) -> NDArray[np.uint8]:
    """A tile's pixels as (rows, cols, RGB or RGBA)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA")
    return np.asarray(image)


def warp_to_tile(src: Path, z: int, x: int, y: int, *, resampling: Resampling,
                 bands: int | None = None, ignore_nodata: bool = False,
                 ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The source's pixels resampled into the tile's grid by GDAL, independently of the tile
    path: (bands, 256, 256) values and where they are valid (with ignore_nodata: where the
    source's rectangle covers the tile)."""
    x0, y0, x1, y1 = tile_bounds(z, x, y)
    dst_t = Affine((x1 - x0) / 256, 0, x0, 0, -(y1 - y0) / 256, y1)
    with rasterio.open(src) as ds:
        n = bands or ds.count
        out = np.zeros((n, 256, 256), np.float64)
        for i in range(n):
            if ignore_nodata:
                values = ds.read(i + 1).astype(np.float64)
                reproject(values, out[i], src_transform=ds.transform, src_crs=ds.crs,
                          dst_transform=dst_t, dst_crs="EPSG:3857", resampling=resampling,
                          src_nodata=None, dst_nodata=np.nan)
            else:
                reproject(rasterio.band(ds, i + 1), out[i], dst_transform=dst_t,
                          dst_crs="EPSG:3857", resampling=resampling, src_nodata=ds.nodata,
                          dst_nodata=np.nan)
    valid = np.isfinite(out).all(axis=0)
    return out, valid


def level_pixels(path: Path, z: int, x: int, y: int) -> NDArray[np.float64] | None:
    """Tile z/x/y's pixels as stored in the level of that zoom of a web-optimized COG (NaN
    where no data), read with plain rasterio; None when no level holds that zoom."""
    with rasterio.open(path) as base:
        maxzoom = int(base.tags()["TILING_SCHEME_ZOOM_LEVEL"])
        count = len(base.overviews(1))
    if not 0 <= maxzoom - z <= count:
        return None
    level = None if z == maxzoom else maxzoom - z - 1
    x0, _, _, y1 = tile_bounds(z, x, y)
    with rasterio.open(path, overview_level=level) as ds:
        row, col = ds.index(x0 + 1e-3, y1 - 1e-3)
        window = ((row, row + 256), (col, col + 256))
        data = ds.read(1, window=window, boundless=True, fill_value=ds.nodata).astype(np.float64)
        data[ds.read_masks(1, window=window, boundless=True) == 0] = np.nan
    return data


def eroded(mask: NDArray[np.bool_], by: int) -> NDArray[np.bool_]:
    """`mask` shrunk by `by` pixels (a pixel stays when its whole neighbourhood is set)."""
    padded = np.pad(mask, by, constant_values=False)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * by + 1, 2 * by + 1))
    return windows.all(axis=(-2, -1))  # type: ignore[no-any-return]
