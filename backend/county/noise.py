"""Deterministic noise for the demo rasters: every value is a hash of (seed, global grid
position), so a pixel's texture does not depend on which strip or extent it was rendered in,
and the same seed always gives the same bytes."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np

_M1, _M2, _M3 = np.uint32(0x8DA6B343), np.uint32(0xD8163841), np.uint32(0xCB1AB31F)


def hash2(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """Uniform values in [0, 1) from integer grid positions (broadcast together)."""
    with np.errstate(over="ignore"):
        h = (np.asarray(ix).astype(np.uint32) * _M1) ^ (np.asarray(iy).astype(np.uint32) * _M2)
        h ^= np.uint32(seed & 0xFFFFFFFF) * _M3
        h ^= h >> np.uint32(15)
        h *= np.uint32(0x2C1B3C6D)
        h ^= h >> np.uint32(12)
        h *= np.uint32(0x297A2D39)
        h ^= h >> np.uint32(15)
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / (1 << 24))


def key_hash(keys: Iterable[str], seed: int) -> np.ndarray:
    """A value in [0, 1) per feature key (source_key): stable across reloads of the same data."""
    crc = np.fromiter((zlib.crc32(k.encode()) for k in keys), dtype=np.uint32)
    return hash2(crc, np.zeros_like(crc), seed)


def white(cols: np.ndarray, rows: np.ndarray, seed: int) -> np.ndarray:
    """Per-pixel noise in [0, 1) for global pixel columns and rows: shape (rows, cols)."""
    return hash2(cols[None, :], rows[:, None], seed)


def _axis(pos: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Lattice index below each position and the smoothstep weight of the next one."""
    f = pos / cell
    i = np.floor(f).astype(np.int64)
    t = (f - i).astype(np.float32)
    return i, t * t * (3 - 2 * t)


def value(cols: np.ndarray, rows: np.ndarray, cell: float, seed: int,
          period: int | None = None) -> np.ndarray:
    """Smooth value noise in [0, 1) with features about `cell` pixels across, shape
    (rows, cols). Interpolated separably (rows first) from the hashed lattice, which keeps
    coarse noise over tens of millions of pixels cheap. With `period` (in lattice cells) the
    noise repeats seamlessly every period * cell pixels."""
    ix, tx = _axis(cols.astype(np.float64) + 0.5, cell)
    iy, ty = _axis(rows.astype(np.float64) + 0.5, cell)
    gx = np.arange(ix.min(), ix.max() + 2)
    gy = np.arange(iy.min(), iy.max() + 2)
    if period:
        grid = hash2((gx % period)[None, :], (gy % period)[:, None], seed)
    else:
        grid = hash2(gx[None, :], gy[:, None], seed)
    ry = iy - gy[0]
    a = grid[ry] * (1 - ty)[:, None] + grid[ry + 1] * ty[:, None]
    rx = ix - gx[0]
    return a[:, rx] * (1 - tx) + a[:, rx + 1] * tx


def fractal(cols: np.ndarray, rows: np.ndarray, cell: float, seed: int,
            octaves: int = 3, period: int | None = None) -> np.ndarray:
    """Octaves of value noise (halving size, halving weight), normalised to [0, 1)."""
    total = np.zeros((len(rows), len(cols)), dtype=np.float32)
    weight = 0.0
    for k in range(octaves):
        w = 0.5**k
        c = cell / 2**k
        if c < 1.0:
            break
        total += w * value(cols, rows, c, seed + 7919 * k, period * 2**k if period else None)
        weight += w
    return total / weight


class Bank:
    """Seamless square noise textures of `size` pixels, looked up by global pixel position
    (wrapping): a strip of tens of millions of pixels costs one gather per texture instead of
    interpolating several octaves. Feature sizes are in pixels, rounded so that they divide
    the square."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self.textures: dict[str, np.ndarray] = {}
        self._idx = np.arange(size)

    def _cells(self, cell: float) -> tuple[float, int]:
        period = max(1, round(self.size / max(cell, 1.0)))
        return self.size / period, period

    def add_value(self, name: str, cell: float, seed: int) -> None:
        c, period = self._cells(cell)
        self.textures[name] = value(self._idx, self._idx, c, seed, period)

    def add_fractal(self, name: str, cell: float, seed: int, octaves: int = 3) -> None:
        c, period = self._cells(cell)
        self.textures[name] = fractal(self._idx, self._idx, c, seed, octaves, period)

    def add_white(self, name: str, seed: int) -> None:
        self.textures[name] = white(self._idx, self._idx, seed)

    def take(self, name: str, cols: np.ndarray, rows: np.ndarray,
             shift: tuple[int, int] = (0, 0)) -> np.ndarray:
        """The texture at global (rows, cols), both runs of consecutive positions, optionally
        read from a shifted place (one texture serves several surfaces without them
        matching). Wrapped slices, not gathers: a copy at memory speed."""
        tex = _wrapped(self.textures[name], int(rows[0]) + shift[0], len(rows), 0)
        return _wrapped(tex, int(cols[0]) + shift[1], len(cols), 1)


def _wrapped(a: np.ndarray, start: int, n: int, axis: int) -> np.ndarray:
    """n consecutive positions of a periodic array along `axis`, from `start` (wrapping)."""
    size = a.shape[axis]
    start %= size
    if start + n <= size:
        return a[start:start + n] if axis == 0 else a[:, start:start + n]
    pieces = []
    while n > 0:
        k = min(n, size - start)
        pieces.append(a[start:start + k] if axis == 0 else a[:, start:start + k])
        n -= k
        start = 0
    return np.concatenate(pieces, axis=axis)
