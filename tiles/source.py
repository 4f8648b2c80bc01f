"""The one Source protocol every tile kind implements (vector now, raster later), so that
zoom checks, caching and ETags are written once, in tiles.service."""

from __future__ import annotations

from typing import Any, Protocol


class Source(Protocol):
    id: str
    minzoom: int
    maxzoom: int
    # Tables whose data version decides cache validity (empty for static sources).
    tables: tuple[str, ...]

    def tilejson(self, tile_url: str, bounds: list[float] | None) -> dict[str, Any]: ...
