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


def value(cols: np.ndarray, rows: np.ndarray, cell: float, seed: int) -> np.ndarray:
    """Smooth value noise in [0, 1) with features about `cell` pixels across, shape
    (rows, cols). Interpolated separably (rows first) from the hashed lattice, which keeps
    coarse noise over tens of millions of pixels cheap."""
    ix, tx = _axis(cols.astype(np.float64) + 0.5, cell)
    iy, ty = _axis(rows.astype(np.float64) + 0.5, cell)
    gx = np.arange(ix.min(), ix.max() + 2)
    gy = np.arange(iy.min(), iy.max() + 2)
    grid = hash2(gx[None, :], gy[:, None], seed)
    ry = iy - gy[0]
    a = grid[ry] * (1 - ty)[:, None] + grid[ry + 1] * ty[:, None]
    rx = ix - gx[0]
    return a[:, rx] * (1 - tx) + a[:, rx + 1] * tx


def fractal(cols: np.ndarray, rows: np.ndarray, cell: float, seed: int,
            octaves: int = 3) -> np.ndarray:
    """Octaves of value noise (halving size, halving weight), normalised to [0, 1)."""
    total = np.zeros((len(rows), len(cols)), dtype=np.float32)
    weight = 0.0
    for k in range(octaves):
        w = 0.5**k
        total += w * value(cols, rows, max(cell / 2**k, 1.0), seed + 7919 * k)
        weight += w
    return total / weight
