"""Tiles for one or several layers: zoom checks, caching, ETags and gzip, written once."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass

from tiles.cache import DataVersions, TileCache, make_etag
from tiles.errors import UnknownLayer
from tiles.postgis import PostGISRenderer, VectorLayer
from tiles.tms import check_tile

GZIP_LEVEL = 6


@dataclass(frozen=True)
class Tile:
    """`data` is gzip-compressed MVT, or None when no layer has anything here (204)."""

    data: bytes | None
    etag: str
    layers: tuple[str, ...]  # the layers actually included (those in their zoom range)


class TileService:
    def __init__(
        self,
        layers: Sequence[VectorLayer],
        renderer: PostGISRenderer,
        versions: DataVersions,
        cache: TileCache | None = None,
    ) -> None:
        self.layers = {layer.id: layer for layer in layers}
        self.renderer = renderer
        self.versions = versions
        self.cache = cache

    def resolve(self, layer_ids: Sequence[str]) -> list[VectorLayer]:
        unknown = [i for i in layer_ids if i not in self.layers]
        if unknown or not layer_ids:
            raise UnknownLayer(unknown or ["(none)"], sorted(self.layers))
        return [self.layers[i] for i in dict.fromkeys(layer_ids)]  # de-duplicated, in order

    def etag(
        self, layer_ids: Sequence[str], z: int, x: int, y: int
    ) -> tuple[str, list[VectorLayer]]:
        """The ETag of a tile without rendering it (for a 304), and the layers it covers."""
        check_tile(z, x, y)
        active = [layer for layer in self.resolve(layer_ids) if layer.in_zoom(z)]
        tables = [t for layer in active for t in layer.tables]
        versions = self.versions.get(tables)
        return make_etag([la.id for la in active], versions, z, x, y), active

    def _known(self, etag: str, active: list[VectorLayer]) -> Tile | None:
        """The tile without rendering: empty when no layer is in range, or from the cache."""
        ids = tuple(layer.id for layer in active)
        if not active:
            return Tile(None, etag, ids)
        cached = self.cache.get((etag,)) if self.cache is not None else None
        return None if cached is None else Tile(cached or None, etag, ids)

    def peek(self, layer_ids: Sequence[str], z: int, x: int, y: int) -> Tile | None:
        """The tile if it can be answered without touching the database (versions fresh and
        the tile cached), else None. Cheap enough to call on an event loop."""
        if self.cache is None or not self.versions.fresh():
            return None
        return self._known(*self.etag(layer_ids, z, x, y))

    def get(
        self, layer_ids: Sequence[str], z: int, x: int, y: int, if_none_match: str | None = None
    ) -> Tile:
        """The tile, rendered if need be. When `if_none_match` is the current ETag the client
        already has it: nothing is rendered and the returned data is None (answer 304)."""
        etag, active = self.etag(layer_ids, z, x, y)
        known = self._known(etag, active)
        if known is not None:
            return known
        ids = tuple(layer.id for layer in active)
        if if_none_match == etag:
            return Tile(None, etag, ids)
        raw = self.renderer.render(active, z, x, y)
        data = gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0) if raw else b""
        if self.cache is not None:
            self.cache.put((etag,), data)
        return Tile(data or None, etag, ids)
