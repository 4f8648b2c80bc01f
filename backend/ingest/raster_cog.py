"""Convert a checked raster into the stored COG: Web Mercator on the tile grid at every level,
256 px blocks, overviews, compressed; written under a temporary name, fsynced, renamed to its
SHA-256."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import morecantile
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.vrt import WarpedVRT
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.utils import get_maximum_overview_level

from backend.errors import CityOpsError, InvalidInput
from backend.ingest.raster_checks import MAX_PIXELS, Layout, gdal_reason
from tiles.encode import QUALITY

TMS = morecantile.tms.get("WebMercatorQuad")
BLOCK = 256
IMAGERY_PROFILE: dict[str, Any] = {
    "driver": "GTiff", "interleave": "pixel", "tiled": True, "blockxsize": BLOCK,
    "blockysize": BLOCK, "compress": "WEBP", "WEBP_LEVEL": QUALITY, "BIGTIFF": "IF_SAFER",
}
# Floating-point predictor + DEFLATE: lossless, ~2x smaller than plain DEFLATE on heights.
DEM_PROFILE: dict[str, Any] = {
    "driver": "GTiff", "interleave": "band", "tiled": True, "blockxsize": BLOCK,
    "blockysize": BLOCK, "compress": "DEFLATE", "predictor": 3, "zlevel": 6,
    "BIGTIFF": "IF_SAFER",
}
DEM_NODATA = -9999.0  # for integer DEMs that declare none (the warp's edges need one)
HASH_CHUNK = 1 << 20
MAX_OUTPUT_PIXELS = 4 * MAX_PIXELS  # reprojection and the tile-grid margin may grow a file
# Aligning a level to its zoom's tiles pads the image to whole tiles of that zoom: all levels
# aligned would pad a 7 km town to four z12 tiles (4x the pixels to warp and store). Levels are
# aligned from the finest down while the padding stays within this share of the image.
MAX_PADDING = 1.5
HALF_WORLD = 20037508.342789244


@dataclass(frozen=True)
class StoredCog:
    path: Path
    sha256: str
    created: bool  # False when an identical file was already stored (another layer's)
    aligned: int  # levels below full resolution on their zoom's tile grid
    bytes: int
    width: int
    height: int
    bands: int
    dtype: str
    nodata: float | None
    minzoom: int
    maxzoom: int
    overviews: int
    compression: str


def aligned_levels(bounds: tuple[float, float, float, float], zoom: int, levels: int) -> int:
    """How many levels below full resolution lie on their zoom's tile grid: the most whose
    padding to whole tiles keeps the image within MAX_PADDING of its own area. Tiles at an
    aligned zoom are read as one block (stored blocks served as they are)."""
    left, bottom, right, top = bounds
    cell = TMS.matrix(zoom).cellSize
    area = (right - left) * (top - bottom)
    for level in range(levels, 0, -1):
        span = BLOCK * 2**level * cell  # one tile of zoom - level, in metres
        cols = math.ceil((right + HALF_WORLD) / span) - math.floor((left + HALF_WORLD) / span)
        rows = math.ceil((HALF_WORLD - bottom) / span) - math.floor((HALF_WORLD - top) / span)
        if cols * rows * span * span <= MAX_PADDING * area:
            return level
    return 0


def grid_for(src: DatasetReader | WarpedVRT) -> tuple[int, int, int, float]:
    """The zoom whose pixel size is closest to the source's, the number of overviews down to
    a 256 px image, how many of them lie on the tile grid (aligned_levels), and the source's
    size in Web Mercator metres per pixel. Refuses a file
    whose Web Mercator copy would be far larger than the file (a CRS stretched near a pole,
    tiny pixels over a large extent)."""
    with WarpedVRT(src, crs=TMS.rasterio_crs) as vrt:
        res = max(abs(vrt.transform.a), abs(vrt.transform.e))
        zoom = TMS.zoom_for_res(res, max_z=24, zoom_level_strategy="auto")
        scale = res / TMS.matrix(zoom).cellSize
        width, height = math.ceil(vrt.width / scale), math.ceil(vrt.height / scale)
        bounds = tuple(vrt.bounds)
    if width * height > MAX_OUTPUT_PIXELS:
        raise InvalidInput(
            f"In Web Mercator at zoom {zoom} this raster would be {width} x {height} pixels, "
            f"above the limit of {MAX_OUTPUT_PIXELS:,}. Check its CRS and pixel size, or "
            "split it into tiles.")
    levels = get_maximum_overview_level(width, height, minsize=BLOCK)
    return zoom, levels, aligned_levels(bounds, zoom, levels), res  # type: ignore[arg-type]


def write_cog(ds: DatasetReader, layout: Layout, kind: str, raster_dir: Path
              ) -> tuple[StoredCog, float]:
    """Convert `ds` and store it; returns the stored file and the source's resolution in Web
    Mercator metres. Nothing is left behind on failure."""
    raster_dir.mkdir(parents=True, exist_ok=True)
    tmp = raster_dir / f".ingest-{uuid.uuid4().hex}.tif"
    try:
        with contextlib.ExitStack() as stack:
            src: DatasetReader | WarpedVRT = ds
            if kind == "cog" and not layout.has_mask:
                # The file marks nothing as no-data, so the warp would fill the area around it
                # with opaque black: an alpha band from the warp becomes the mask instead.
                src = stack.enter_context(WarpedVRT(ds, add_alpha=True))
            zoom, levels, aligned, res = grid_for(src)
            options: dict[str, Any] = {
                "indexes": layout.indexes, "tms": TMS, "zoom_level": zoom,
                "aligned_levels": aligned, "overview_level": levels, "resampling": "bilinear",
                "overview_resampling": "average", "quiet": True,
            }
            if kind == "dem":
                nodata = layout.nodata
                if nodata is None:
                    nodata = float("nan") if ds.dtypes[0].startswith("float") else DEM_NODATA
                profile = {**DEM_PROFILE}
                options.update(dtype="float32", nodata=nodata)
            else:
                profile = {**IMAGERY_PROFILE}
                options.update(add_mask=True)
            with warnings.catch_warnings():  # rio-cogeo's notices about WebP and nodata
                warnings.simplefilter("ignore")
                cog_translate(src, tmp, profile, **options)
        valid, errors, _ = cog_validate(tmp, quiet=True)
        if not valid:
            raise CityOpsError(f"The converted file is not a valid COG ({'; '.join(errors)}); "
                               "nothing was loaded. Please report it.")
        return _store(tmp, raster_dir, aligned), res
    except (RasterioError, CPLE_BaseError) as exc:
        raise InvalidInput(f"The raster could not be converted: {gdal_reason(exc)}. The file "
                           "is damaged or truncated; nothing was loaded.") from None
    finally:
        tmp.unlink(missing_ok=True)  # renamed away on success; rio-cogeo removes its own


def _store(tmp: Path, raster_dir: Path, aligned: int) -> StoredCog:
    digest = hashlib.sha256()
    with tmp.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
        os.fsync(fh.fileno())
    sha = digest.hexdigest()
    with rasterio.open(tmp) as out:
        maxzoom = int(out.tags().get("TILING_SCHEME_ZOOM_LEVEL", 0))
        overviews = len(out.overviews(1))
        facts = dict(bytes=tmp.stat().st_size, width=out.width, height=out.height,
                     bands=out.count, dtype=out.dtypes[0], nodata=out.nodata,
                     minzoom=max(0, maxzoom - overviews), maxzoom=maxzoom, overviews=overviews,
                     aligned=min(aligned, overviews),
                     compression=(out.compression.name.upper() if out.compression else "NONE"))
    final = raster_dir / f"{sha}.tif"
    created = not final.exists()
    if created:
        os.replace(tmp, final)
        dir_fd = os.open(raster_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash
        finally:
            os.close(dir_fd)
    return StoredCog(path=final, sha256=sha, created=created, **facts)  # type: ignore[arg-type]
