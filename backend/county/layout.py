"""Rectangle accumulators and cutting helpers for parcel layouts (local frame)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Layout:
    px: list[np.ndarray] = field(default_factory=list)  # (n, 4) parcel rects x0 y0 x1 y1
    pu: list[np.ndarray] = field(default_factory=list)  # land-use codes
    pc: list[np.ndarray] = field(default_factory=list)  # cell kind
    bx: list[np.ndarray] = field(default_factory=list)  # building rects
    bf: list[np.ndarray] = field(default_factory=list)  # floors
    bh: list[np.ndarray] = field(default_factory=list)  # height m
    bu: list[np.ndarray] = field(default_factory=list)  # building use
    blocks: list[np.ndarray] = field(default_factory=list)  # block rects (for the canal)
    n: int = 0

    def parcels(self, rects: np.ndarray, use: object, kind: int) -> np.ndarray:
        rects = np.asarray(rects, dtype=float).reshape(-1, 4)
        self.px.append(rects)
        self.pu.append(np.broadcast_to(np.asarray(use, dtype=object), (len(rects),)).copy())
        self.pc.append(np.full(len(rects), kind, dtype=np.int8))
        ids = np.arange(self.n, self.n + len(rects))
        self.n += len(rects)
        return ids

    def buildings(self, rects: np.ndarray, floors: np.ndarray, height: np.ndarray,
                  use: object) -> None:
        rects = np.asarray(rects, dtype=float).reshape(-1, 4)
        ok = (rects[:, 2] - rects[:, 0] > 2.0) & (rects[:, 3] - rects[:, 1] > 2.0)
        self.bx.append(rects[ok])
        self.bf.append(np.asarray(floors, dtype=np.int16).reshape(-1)[ok])
        self.bh.append(np.asarray(height, dtype=float).reshape(-1)[ok])
        self.bu.append(np.broadcast_to(np.asarray(use, dtype=object), (len(rects),))[ok].copy())


def cuts(lo: float, hi: float, width: float, g: np.random.Generator,
         jitter: float = 0.25) -> np.ndarray:
    """Edges cutting [lo, hi] into pieces of about `width`, each jittered by +-jitter."""
    n = max(1, int(round((hi - lo) / max(width, 1e-6))))
    w = 1.0 + g.uniform(-jitter, jitter, n)
    return lo + np.concatenate([[0.0], np.cumsum(w) / w.sum()]) * (hi - lo)


def grid(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """All rectangles of a grid given its x and y edges."""
    a, b = np.meshgrid(np.arange(len(x) - 1), np.arange(len(y) - 1), indexing="ij")
    return np.column_stack([x[a].ravel(), y[b].ravel(), x[a + 1].ravel(), y[b + 1].ravel()])


def pick(mix: dict[str, float], g: np.random.Generator, n: int) -> np.ndarray:
    keys = list(mix)
    p = np.array([mix[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[g.choice(len(keys), size=n, p=p / p.sum())]
