"""A web-optimized COG's levels as tiles: read as blocks, or served as stored.

A COG written on the WebMercatorQuad grid with 256 px blocks (rio-cogeo's web-optimized output,
all levels aligned) stores, at the full resolution and at each overview, exactly the tiles of
one zoom. Such a tile is read as one block, without resampling. When it is asked in the file's
own compression, the stored block is the tile itself: a WEBP block is a complete WebP file; a
JPEG block is an abbreviated JPEG stream whose quantisation tables (GDAL's default
JPEGTABLESMODE) live once per image in the TIFF's JPEGTables tag and are merged back in.

Only blocks whose mask is fully valid are served this way: an edge block's no-data pixels are
opaque inside the stored block (WebP and JPEG keep no mask), so those go through the decoding
path that makes them transparent. GDAL reports where each block is (metadata items
BLOCK_OFFSET_<x>_<y> / BLOCK_SIZE_<x>_<y> in the "TIFF" domain, per overview when the file is
opened with overview_level); JPEGTables is read from the TIFF directories here (GDAL does not
expose it).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.enums import ColorInterp, Compression, MaskFlags, PhotometricInterp
from rasterio.io import DatasetReader
from rasterio.windows import Window

from tiles.tms import ORIGIN

BLOCK = 256
MAX_BLOCK_BYTES = 4 * 1024 * 1024  # a 256 px block is far smaller; anything bigger is damage
# Relative tolerance on a level's resolution and origin when matching them to the tile grid.
GRID_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Level:
    """One resolution level of the file that is exactly the tiles of `zoom`: block (0, 0) is
    tile (col0, row0), and the level is cols x rows blocks."""

    zoom: int
    overview: int | None  # None: full resolution; else rasterio's overview_level
    col0: int
    row0: int
    cols: int
    rows: int
    width: int  # pixels, to find the level's TIFF directory (JPEGTables)
    height: int


def grid_level(ds: DatasetReader, overview: int | None) -> Level | None:
    """The level's place on the web-mercator tile grid, or None when it is not on it."""
    t = ds.transform
    if t.b != 0 or t.d != 0 or t.a <= 0 or abs(t.a + t.e) > GRID_TOLERANCE * t.a:
        return None
    zoom_f = np.log2(2 * ORIGIN / (BLOCK * t.a))
    zoom = round(float(zoom_f))
    if not 0 <= zoom <= 30 or abs(zoom_f - zoom) > GRID_TOLERANCE:
        return None
    tile = 2 * ORIGIN / (1 << zoom)
    col_f, row_f = (t.c + ORIGIN) / tile, (ORIGIN - t.f) / tile
    col0, row0 = round(col_f), round(row_f)
    if abs(col_f - col0) > GRID_TOLERANCE or abs(row_f - row0) > GRID_TOLERANCE:
        return None
    if any(shape != (BLOCK, BLOCK) for shape in ds.block_shapes):
        return None
    return Level(zoom, overview, col0, row0, ds.width // BLOCK, ds.height // BLOCK,
                 ds.width, ds.height)


def stored_format(ds: DatasetReader) -> str | None:
    """The tile format the file's blocks already are, or None when they are not tiles."""
    if ds.crs is None or ds.crs.to_epsg() != 3857 or ds.dtypes[0] != "uint8":
        return None
    if ds.interleaving is not None and ds.interleaving.name != "pixel" and ds.count > 1:
        return None
    if ds.compression == Compression.webp and ds.count in (3, 4):
        return "webp"
    # A JFIF decoder reads 3 components as YCbCr: an RGB-photometric JPEG block would show
    # wrong colours, so only YCbCr ones (what GDAL writes for PHOTOMETRIC=YCBCR) qualify.
    if ds.compression == Compression.jpeg and ds.count == 3 and \
            ds.photometric == PhotometricInterp.ycbcr:
        return "jpg"
    return None


class GridLevels:
    """One thread's view of a COG's levels that lie on the tile grid: a tile at such a zoom is
    one block, read without resampling (or served as stored). Not thread-safe (rasterio
    datasets are not): each thread keeps its own."""

    def __init__(self, path: Path, base: DatasetReader) -> None:
        self.path = path
        self.format = stored_format(base)
        self._datasets: list[DatasetReader] = []
        self._levels: dict[int, tuple[Level, DatasetReader]] = {}
        self._all_valid = all(MaskFlags.all_valid in flags for flags in base.mask_flag_enums)
        self._fd: int | None = None
        self._jpeg_tables: dict[tuple[int, int], bytes | None] | None = None
        if base.crs is None or base.crs.to_epsg() != 3857:
            return
        candidates: list[tuple[int | None, DatasetReader]] = [(None, base)]
        for i in range(len(base.overviews(1))):
            ov = rasterio.open(path, overview_level=i)
            self._datasets.append(ov)
            candidates.append((i, ov))
        for overview, ds in candidates:
            level = grid_level(ds, overview)
            if level is not None:
                self._levels[level.zoom] = (level, ds)
        if self._levels and self.format is not None:
            self._fd = os.open(path, os.O_RDONLY)

    @property
    def zooms(self) -> list[int]:
        return sorted(self._levels)

    def close(self) -> None:
        for ds in self._datasets:
            ds.close()
        self._datasets.clear()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _block(self, z: int, x: int, y: int) -> tuple[Level, DatasetReader, int, int] | None:
        entry = self._levels.get(z)
        if entry is None:
            return None
        level, ds = entry
        bx, by = x - level.col0, y - level.row0
        if not (0 <= bx < level.cols and 0 <= by < level.rows):
            return None
        return level, ds, bx, by

    def read(
        self, z: int, x: int, y: int, out_dtype: str | None = None
    ) -> tuple[NDArray[Any], NDArray[np.bool_]] | None:
        """The tile's pixels (non-alpha bands, 256, 256) and where they are valid, read from
        its block; None when z/x/y is not one block of a level."""
        found = self._block(z, x, y)
        if found is None:
            return None
        _, ds, bx, by = found
        window = Window(bx * BLOCK, by * BLOCK, BLOCK, BLOCK)
        indexes = [i for i, c in zip(ds.indexes, ds.colorinterp, strict=True)
                   if c != ColorInterp.alpha]
        data = ds.read(indexes, window=window, out_dtype=out_dtype)
        valid = ds.dataset_mask(window=window) > 0
        return data, valid

    def stored(self, z: int, x: int, y: int) -> bytes | None:
        """The stored bytes of tile z/x/y when they are a complete tile, else None (the caller
        decodes instead): not the file's format, no level at z, sparse, or not fully valid."""
        found = self._block(z, x, y) if self._fd is not None else None
        if found is None:
            return None
        level, ds, bx, by = found
        offset = ds.get_tag_item(f"BLOCK_OFFSET_{bx}_{by}", "TIFF", bidx=1)
        size = ds.get_tag_item(f"BLOCK_SIZE_{bx}_{by}", "TIFF", bidx=1)
        if not offset or not size or not 0 < int(size) <= MAX_BLOCK_BYTES:
            return None
        if not self._all_valid:
            mask = ds.read_masks(1, window=Window(bx * BLOCK, by * BLOCK, BLOCK, BLOCK))
            if not bool((mask == 255).all()):
                return None
        assert self._fd is not None
        raw = os.pread(self._fd, int(size), int(offset))
        if len(raw) != int(size):
            return None
        if self.format == "webp":
            return raw if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP" else None
        tables = self._tables(level)
        return merge_jpeg(tables, raw) if tables else None

    def _tables(self, level: Level) -> bytes | None:
        if self._jpeg_tables is None:
            assert self._fd is not None
            self._jpeg_tables = read_jpeg_tables(self._fd)
        return self._jpeg_tables.get((level.width, level.height))


def merge_jpeg(tables: bytes, block: bytes) -> bytes | None:
    """A complete JPEG from the JPEGTables stream (SOI, DQT/DHT..., EOI) and an abbreviated
    block (SOI, SOF, SOS, data, EOI): the tables go between the block's SOI and the rest."""
    if tables[:2] != b"\xff\xd8" or tables[-2:] != b"\xff\xd9" or block[:2] != b"\xff\xd8":
        return None
    return b"\xff\xd8" + tables[2:-2] + block[2:]


# --- the TIFF directories (only what JPEGTables needs) ---------------------------------------
TAG_WIDTH, TAG_HEIGHT, TAG_SUBFILE, TAG_JPEGTABLES = 256, 257, 254, 347
MAX_IFDS = 64
MAX_TABLES = 64 * 1024
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 7: 1, 16: 8}


@dataclass(frozen=True)
class _Entry:
    typ: int
    count: int
    value: bytes  # the entry's value field (the value itself when it fits, else its offset)


def _directories(fd: int) -> list[tuple[str, bool, dict[int, _Entry]]]:
    """Each TIFF directory's entries (classic TIFF or BigTIFF), with the byte order."""
    head = os.pread(fd, 16, 0)
    if len(head) < 16 or head[:2] not in (b"II", b"MM"):
        return []
    e = "<" if head[:2] == b"II" else ">"
    magic = struct.unpack(e + "H", head[2:4])[0]
    if magic not in (42, 43):
        return []
    big = magic == 43
    count_f, off_f, n_size, e_size = ("Q", "Q", 8, 20) if big else ("H", "I", 2, 12)
    offset = struct.unpack_from(e + off_f, head, 8 if big else 4)[0]
    out: list[tuple[str, bool, dict[int, _Entry]]] = []
    seen: set[int] = set()
    while offset and offset not in seen and len(seen) < MAX_IFDS:
        seen.add(offset)
        n = struct.unpack(e + count_f, os.pread(fd, n_size, offset))[0]
        if not 0 < n < 1000:
            break
        raw = os.pread(fd, n * e_size + (8 if big else 4), offset + n_size)
        entries: dict[int, _Entry] = {}
        for i in range(n):
            chunk = raw[i * e_size:(i + 1) * e_size]
            tag, typ = struct.unpack_from(e + "HH", chunk)
            count = struct.unpack_from(e + ("Q" if big else "I"), chunk, 4)[0]
            entries[tag] = _Entry(typ, count, chunk[12:] if big else chunk[8:])
        out.append((e, big, entries))
        offset = struct.unpack_from(e + off_f, raw, n * e_size)[0]
    return out


def _scalar(e: str, entry: _Entry) -> int:
    fmt = {3: "H", 16: "Q"}.get(entry.typ, "I")
    return int(struct.unpack_from(e + fmt, entry.value)[0])


def read_jpeg_tables(fd: int) -> dict[tuple[int, int], bytes | None]:
    """(width, height) of each image (not mask) directory -> its JPEGTables bytes."""
    out: dict[tuple[int, int], bytes | None] = {}
    for e, big, entries in _directories(fd):
        if TAG_WIDTH not in entries or TAG_HEIGHT not in entries:
            continue
        if TAG_SUBFILE in entries and _scalar(e, entries[TAG_SUBFILE]) & 4:
            continue  # a mask directory
        tables = None
        entry = entries.get(TAG_JPEGTABLES)
        if entry is not None:
            size = entry.count * TYPE_SIZES.get(entry.typ, 1)
            if 0 < size <= len(entry.value):
                tables = entry.value[:size]
            elif 0 < size <= MAX_TABLES:
                where = struct.unpack_from(e + ("Q" if big else "I"), entry.value)[0]
                tables = os.pread(fd, size, where)
        size_key = (_scalar(e, entries[TAG_WIDTH]), _scalar(e, entries[TAG_HEIGHT]))
        out.setdefault(size_key, tables)
    return out
