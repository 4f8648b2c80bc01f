"""Imagery tiles from Cloud-Optimized GeoTIFFs (rio-tiler), with stored-block passthrough.

A source does not own its file: `locate()` (supplied by the backend) names the raster currently
registered for the layer, so an ingest that registers a new file takes effect at the next tile
(the cache is keyed by the `raster:<id>` data version the ingest bumps).

Opening a COG costs about as much as reading a tile from it, so each worker thread keeps the
located file open and reuses it (rasterio datasets are not thread-safe: one per thread); it is
re-opened when the located file changes.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import rasterio
from numpy.typing import NDArray
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

from tiles.cog_blocks import GridLevels
from tiles.encode import encode_image
from tiles.errors import UnsupportedFormat
from tiles.tms import ORIGIN, tile_bounds

TILE_SIZE = 256
IMAGE_FORMATS = ("webp", "png", "jpg")
MAX_LAT = 85.05112878


@dataclass(frozen=True)
class RasterFile:
    """A registered raster: where it is and what the tile path needs to know without opening
    it. `bounds` is the data's footprint (west, south, east, north) in EPSG:4326; minzoom and
    maxzoom are the zooms of its coarsest overview and of its full resolution."""

    path: Path
    sha256: str
    bounds: tuple[float, float, float, float]
    minzoom: int
    maxzoom: int
    bands: int
    dtype: str
    nodata: float | None = None

    def mercator_bounds(self) -> tuple[float, float, float, float]:
        w, s, e, n = self.bounds
        x0, y0 = lonlat_to_mercator(w, s)
        x1, y1 = lonlat_to_mercator(e, n)
        return x0, y0, x1, y1

    def touches_tile(self, z: int, x: int, y: int) -> bool:
        """Whether the tile overlaps the footprint (sharing only an edge does not count)."""
        tx0, ty0, tx1, ty1 = tile_bounds(z, x, y)
        fx0, fy0, fx1, fy1 = self.mercator_bounds()
        return tx0 < fx1 and fx0 < tx1 and ty0 < fy1 and fy0 < ty1


def lonlat_to_mercator(lon: float, lat: float) -> tuple[float, float]:
    lat = max(min(lat, MAX_LAT), -MAX_LAT)
    x = math.radians(lon) * ORIGIN / math.pi
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * ORIGIN / math.pi
    return x, y


Locate = Callable[[], RasterFile | None]


class OpenRaster:
    """One thread's open handles on one registered file: a rio-tiler Reader and, lazily, the
    file's levels that lie on the tile grid."""

    def __init__(self, file: RasterFile) -> None:
        self.file = file
        # A registered COG has no side-car files: GDAL need not list its folder to look for
        # them (var/rasters holds every version of every layer).
        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), \
                warnings.catch_warnings():  # a small file without overviews is fine
            warnings.simplefilter("ignore")
            self.reader = Reader(str(file.path))
        self._levels: GridLevels | None = None

    @property
    def levels(self) -> GridLevels:
        if self._levels is None:
            with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
                self._levels = GridLevels(self.file.path, self.reader.dataset)
        return self._levels

    def close(self) -> None:
        if self._levels is not None:
            self._levels.close()
        self.reader.close()

    def read(
        self, z: int, x: int, y: int, *, resampling: str, out_dtype: str | None = None
    ) -> tuple[NDArray[Any], NDArray[np.bool_]] | None:
        """Pixels (bands, 256, 256) and where they are valid, or None when outside the file.
        A tile that is one block of a level is read as it is stored; any other goes through
        rio-tiler, which resamples (its windows are fractional, so even an aligned tile would
        be interpolated, at ~50x the cost of the plain read)."""
        aligned = self.levels.read(z, x, y, out_dtype=out_dtype)
        if aligned is not None:
            return aligned
        try:
            img = self.reader.tile(x, y, z, tilesize=TILE_SIZE, resampling_method=resampling,
                                   reproject_method=resampling, out_dtype=out_dtype)
        except TileOutsideBounds:
            return None
        return img.data, img.mask > 0


class OpenFiles(threading.local):
    """Per thread: the file each source has open (one per source, replaced when it changes)."""

    def __init__(self) -> None:
        self.by_source: dict[str, OpenRaster] = {}

    def get(self, source_id: str, file: RasterFile) -> OpenRaster:
        current = self.by_source.get(source_id)
        # The file's identity is its path and hash (a NaN nodata would make == fail).
        if current is not None and (current.file.path, current.file.sha256) == \
                (file.path, file.sha256):
            return current
        if current is not None:
            current.close()
        opened = self.by_source[source_id] = OpenRaster(file)
        return opened


class RasterSourceBase:
    """What imagery and terrain sources share: the located file, kept open per thread."""

    formats: tuple[str, ...]
    variants: tuple[str, ...] = ()

    def __init__(self, id: str, minzoom: int, maxzoom: int, locate: Locate) -> None:
        self.id = id
        self.minzoom = minzoom
        self.maxzoom = maxzoom
        self.locate = locate
        self.version_keys = (f"raster:{id}",)
        self._open = OpenFiles()

    def _check_format(self, fmt: str) -> None:
        """TileService checks first; this keeps a direct caller (a benchmark, a test) honest."""
        if fmt not in self.formats:
            raise UnsupportedFormat(f"Layer {self.id!r} has no {fmt!r} tiles; it gives: "
                                    f"{', '.join(self.formats)}", list(self.formats))

    def _opened(self, z: int, x: int, y: int) -> OpenRaster | None:
        """The located file, open in this thread, when it has anything at z/x/y."""
        file = self.locate()
        if file is None or not file.touches_tile(z, x, y):
            return None
        return self._open.get(self.id, file)

    def tilejson(self, tile_url: str, bounds: list[float] | None) -> dict[str, Any]:
        file = self.locate()
        # The file's own footprint, not the area the caller suggests (the county): a map asks
        # for no tile outside it (a raster-dem source cannot decode an empty answer).
        if file is not None:
            bounds = list(file.bounds)
        elif bounds is None:
            bounds = [-180.0, -MAX_LAT, 180.0, MAX_LAT]
        minzoom, maxzoom = self.minzoom, self.maxzoom
        center_zoom = min(max(file.minzoom if file else minzoom, minzoom), maxzoom)
        ext = Path(urlsplit(tile_url).path).suffix.lstrip(".")
        doc: dict[str, Any] = {
            "tilejson": "3.0.0",
            "name": self.id,
            "tiles": [tile_url],
            "minzoom": minzoom,
            "maxzoom": maxzoom,
            "bounds": bounds,
            "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, center_zoom],
            "format": ext if ext in self.formats else self.formats[0],
            "tileSize": TILE_SIZE,
            "scheme": "xyz",
        }
        if self.variants:
            asked = parse_qs(urlsplit(tile_url).query).get("encoding", [])
            doc["encoding"] = asked[0] if asked and asked[0] in self.variants else self.variants[0]
        return doc


class CogSource(RasterSourceBase):
    """Imagery (uint8 grey or RGB, optionally masked) as WebP, PNG or JPEG tiles."""

    def __init__(
        self, id: str, minzoom: int, maxzoom: int, locate: Locate,
        formats: tuple[str, ...] = IMAGE_FORMATS,
    ) -> None:
        super().__init__(id, minzoom, maxzoom, locate)
        unknown = set(formats) - set(IMAGE_FORMATS)
        if unknown or not formats:
            raise ValueError(f"{id}: image formats must be among {IMAGE_FORMATS}, got {formats}")
        self.formats = tuple(formats)

    def get_tile(
        self, z: int, x: int, y: int, fmt: str, variant: str | None = None
    ) -> bytes | None:
        self._check_format(fmt)
        opened = self._opened(z, x, y)
        if opened is None:
            return None
        levels = opened.levels
        if fmt == levels.format:
            stored = levels.stored(z, x, y)
            if stored is not None:
                return stored
        read = opened.read(z, x, y, resampling="bilinear")
        if read is None:
            return None
        data, valid = read
        if not valid.any():
            return None
        if data.dtype != np.uint8:
            data = np.clip(data, 0, 255).astype(np.uint8)
        return encode_image(data[:3] if data.shape[0] >= 3 else data[:1], valid, fmt)
