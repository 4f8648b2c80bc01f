"""Terrain tiles from an elevation COG: terrain-RGB (Mapbox) and Terrarium encodings, as PNG or
lossless WebP, for MapLibre's raster-dem source.

Heights are resampled bilinearly (a DEM is a continuous surface: nearest-neighbour steps show
as terraces in the hillshade); no-data encodes as 0 m, sea level.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tiles.encode import TERRAIN_ENCODINGS, encode_rgb_lossless, encode_terrain
from tiles.errors import UnsupportedFormat
from tiles.raster import Locate, RasterSourceBase

TERRAIN_FORMATS = ("png", "webp")


class DemSource(RasterSourceBase):
    """Elevation as terrain tiles; `variants` are the encodings (the first is the default)."""

    def __init__(
        self, id: str, minzoom: int, maxzoom: int, locate: Locate,
        formats: tuple[str, ...] = TERRAIN_FORMATS,
        encodings: tuple[str, ...] = TERRAIN_ENCODINGS,
    ) -> None:
        super().__init__(id, minzoom, maxzoom, locate)
        if not formats or set(formats) - set(TERRAIN_FORMATS):
            raise ValueError(f"{id}: terrain formats must be among {TERRAIN_FORMATS}")
        if not encodings or set(encodings) - set(TERRAIN_ENCODINGS):
            raise ValueError(f"{id}: terrain encodings must be among {TERRAIN_ENCODINGS}")
        self.formats = tuple(formats)
        self.variants = tuple(encodings)

    def heights(self, z: int, x: int, y: int) -> NDArray[np.float64] | None:
        """The tile's heights in metres (256 x 256, NaN where there is no data), or None when
        the DEM has nothing there."""
        opened = self._opened(z, x, y)
        if opened is None:
            return None
        read = opened.read(z, x, y, resampling="bilinear", out_dtype="float32")
        if read is None:
            return None
        data, valid = read
        if not valid.any():
            return None
        h = data[0].astype(np.float64)
        h[~valid | ~np.isfinite(h)] = np.nan
        return h

    def get_tile(
        self, z: int, x: int, y: int, fmt: str, variant: str | None = None
    ) -> bytes | None:
        self._check_format(fmt)
        encoding = variant or self.variants[0]
        if encoding not in self.variants:
            raise UnsupportedFormat(f"Layer {self.id!r} has no {encoding!r} encoding; it "
                                    f"gives: {', '.join(self.variants)}", list(self.variants))
        h = self.heights(z, x, y)
        if h is None:
            return None
        return encode_rgb_lossless(encode_terrain(h, encoding), fmt)
