"""Tiles of any Source kind: zoom and format checks, caching, ETags, gzip and single-flight,
written once for every kind (vector, imagery, terrain)."""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from tiles.cache import DataVersions, TileCache, make_etag
from tiles.errors import TileError, UnknownLayer, UnsupportedFormat
from tiles.source import COMPRESSIBLE, MEDIA_TYPES, Source
from tiles.tms import check_tile

GZIP_LEVEL = 6
MERGED_KEPT = 256  # merged sources remembered (one per distinct list of layers asked for)

Merge = Callable[[Sequence[Source]], Source]


@dataclass(frozen=True)
class Tile:
    """`data` is the tile (gzip-compressed when `gzipped`), or None when there is nothing
    here (204) or the client already has it (304)."""

    data: bytes | None
    etag: str
    media_type: str
    gzipped: bool


class TileService:
    def __init__(
        self,
        sources: Sequence[Source],
        versions: DataVersions,
        cache: TileCache | None = None,
        merge: Merge | None = None,
    ) -> None:
        self.sources = {source.id: source for source in sources}
        self.versions = versions
        self.cache = cache
        self._merge = merge
        self._merged: OrderedDict[tuple[str, ...], Source] = OrderedDict()
        self._inflight: dict[str, Future[bytes]] = {}
        self._lock = threading.Lock()
        self.renders = 0  # tiles rendered (cold)
        self.joined = 0  # requests that waited for a render another request had started

    def resolve(self, layer_ids: Sequence[str]) -> Source:
        """The source for one layer, or the merged source for several (vector layers only)."""
        ids = tuple(dict.fromkeys(layer_ids))  # de-duplicated, in order
        unknown = [i for i in ids if i not in self.sources]
        if unknown or not ids:
            raise UnknownLayer(unknown or ["(none)"], sorted(self.sources))
        if len(ids) == 1:
            return self.sources[ids[0]]
        with self._lock:
            merged = self._merged.get(ids)
            if merged is not None:
                self._merged.move_to_end(ids)
                return merged
        if self._merge is None:
            raise TileError("These layers cannot be merged into one tile; ask for each alone")
        merged = self._merge([self.sources[i] for i in ids])
        with self._lock:
            self._merged[ids] = merged
            while len(self._merged) > MERGED_KEPT:
                self._merged.popitem(last=False)
        return merged

    @staticmethod
    def _check(source: Source, fmt: str, variant: str | None) -> str | None:
        if fmt not in source.formats:
            formats = list(source.formats)
            raise UnsupportedFormat(
                f"Layer {source.id!r} has no {fmt!r} tiles; it gives: "
                f"{', '.join(formats) or 'none (it is drawn live from the hub)'}", formats)
        if not source.variants:
            if variant is not None:
                raise UnsupportedFormat(f"Layer {source.id!r} has one rendering; drop the"
                                        f" encoding {variant!r}", [])
            return None
        if variant is None:
            return source.variants[0]
        if variant not in source.variants:
            raise UnsupportedFormat(f"Layer {source.id!r} has no {variant!r} encoding; it gives: "
                                    f"{', '.join(source.variants)}", list(source.variants))
        return variant

    def etag(
        self, layer_ids: Sequence[str], z: int, x: int, y: int, fmt: str = "mvt",
        variant: str | None = None,
    ) -> tuple[str, Source, str | None]:
        """The ETag of a tile without rendering it (for a 304), its source and variant."""
        check_tile(z, x, y)
        source = self.resolve(layer_ids)
        variant = self._check(source, fmt, variant)
        versions = self.versions.get(source.version_keys)
        tag = make_etag([source.id, fmt, variant or ""], versions, z, x, y)
        return tag, source, variant

    def _tile(self, data: bytes | None, etag: str, fmt: str) -> Tile:
        return Tile(data or None, etag, MEDIA_TYPES[fmt], fmt in COMPRESSIBLE)

    def _known(self, etag: str, source: Source, z: int, fmt: str) -> Tile | None:
        """The tile without rendering: empty outside the zoom range, or from the cache."""
        if not source.minzoom <= z <= source.maxzoom:
            return self._tile(None, etag, fmt)
        cached = self.cache.get((etag,)) if self.cache is not None else None
        return None if cached is None else self._tile(cached, etag, fmt)

    def peek(
        self, layer_ids: Sequence[str], z: int, x: int, y: int, fmt: str = "mvt",
        variant: str | None = None,
    ) -> Tile | None:
        """The tile if it can be answered without touching the database or a file (versions
        fresh and the tile cached), else None. Cheap enough to call on an event loop."""
        if self.cache is None or not self.versions.fresh():
            return None
        etag, source, _ = self.etag(layer_ids, z, x, y, fmt, variant)
        return self._known(etag, source, z, fmt)

    def get(
        self, layer_ids: Sequence[str], z: int, x: int, y: int, fmt: str = "mvt",
        variant: str | None = None, if_none_match: str | None = None,
    ) -> Tile:
        """The tile, rendered if need be (blocking: call from a worker thread). When
        `if_none_match` is the current ETag the client already has it: nothing is rendered
        and the returned data is None (answer 304)."""
        etag, source, variant = self.etag(layer_ids, z, x, y, fmt, variant)
        known = self._known(etag, source, z, fmt)
        if known is not None:
            return known
        if if_none_match == etag:
            return self._tile(None, etag, fmt)
        return self._tile(self._render_once(etag, source, z, x, y, fmt, variant), etag, fmt)

    def _render_once(
        self, etag: str, source: Source, z: int, x: int, y: int, fmt: str, variant: str | None
    ) -> bytes:
        """Render a cold tile once however many ask for it at the same time: the first asker
        renders, the others wait for its result (single-flight)."""
        with self._lock:
            pending = self._inflight.get(etag)
            if pending is None:
                self._inflight[etag] = mine = Future()
        if pending is not None:
            self.joined += 1
            return pending.result()
        try:
            raw = source.get_tile(z, x, y, fmt, variant) or b""
            if raw and fmt in COMPRESSIBLE:
                raw = gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)
            self.renders += 1
            if self.cache is not None:
                self.cache.put((etag,), raw)
            mine.set_result(raw)
            return raw
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        finally:
            with self._lock:
                del self._inflight[etag]
