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


class InvalidTile(TileError):
    pass
