"""The one Source protocol every tile kind implements (vector tables, SQL, COG imagery, DEM
terrain), so that zoom checks, caching, ETags and single-flight are written once, in
tiles.service.TileService.

A source renders one tile in one of its formats. It never caches: the service does, keyed by
the data versions the source names (rows of layer_versions, bumped by whatever changes the
data: a table trigger, a raster ingest)."""

from __future__ import annotations

from typing import Any, Protocol

MEDIA_TYPES = {
    "mvt": "application/vnd.mapbox-vector-tile",
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
}
# Formats whose bytes compress well; the service stores them gzipped (images are compressed).
COMPRESSIBLE = frozenset({"mvt"})


class Source(Protocol):
    id: str
    minzoom: int
    maxzoom: int
    # What get_tile can give; the first is the default advertised in TileJSON.
    formats: tuple[str, ...]
    # Named renderings of the same data (a DEM's "mapbox" and "terrarium" encodings); the first
    # is the default. Empty for sources with one rendering.
    variants: tuple[str, ...]
    # Keys of layer_versions whose versions decide cache validity (a table name, or
    # "raster:<layer id>" for a registered raster file).
    version_keys: tuple[str, ...]

    def tilejson(self, tile_url: str, bounds: list[float] | None) -> dict[str, Any]: ...

    def get_tile(
        self, z: int, x: int, y: int, fmt: str, variant: str | None = None
    ) -> bytes | None:
        """The encoded tile, or None when the source has nothing there (answered 204).
        Blocking: the service calls it from a worker thread, never on an event loop."""
        ...
