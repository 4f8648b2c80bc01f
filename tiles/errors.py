"""Errors of the tile engine; the web layer maps them to status codes."""

from __future__ import annotations


class TileError(Exception):
    pass


class UnknownLayer(TileError):
    def __init__(self, unknown: list[str], known: list[str]) -> None:
        super().__init__(
            f"Unknown layer(s): {', '.join(unknown)}. Known layers: {', '.join(known)}"
        )
        self.unknown = unknown
        self.known = known


class UnsupportedFormat(TileError):
    """A format (or a variant, such as a DEM encoding) the layer cannot give: answered 404
    naming what it can."""

    def __init__(self, message: str, available: list[str]) -> None:
        super().__init__(message)
        self.available = available


class InvalidTile(TileError):
    pass
