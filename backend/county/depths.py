"""Depth profiles of generated pipes: cover (surface to the pipe's top) at every boundary
between the pieces of one line, in whole centimetres, so that consecutive pieces meet at the
same depth and a stored slope is exact, not a rounding away from the minimum."""

from __future__ import annotations

import numpy as np

from backend.county.recipe import Span


def _cm(metres: float) -> int:
    return int(round(metres * 100))


def pressure_profile(n: int, g: np.random.Generator, *, depth: Span, drift_m: float
                     ) -> np.ndarray:
    """Depths (cm) at the n + 1 boundaries of a pressure pipe: roughly level, a random walk of
    at most drift_m per piece inside the range."""
    lo, hi, step = _cm(depth.lo), _cm(depth.hi), _cm(drift_m)
    out = np.empty(n + 1, dtype=np.int64)
    out[0] = g.integers(lo, hi + 1)
    for k in range(n):
        out[k + 1] = np.clip(out[k] + g.integers(-step, step + 1), lo, hi)
    return out


def _runs(need: np.ndarray, lengths: np.ndarray, cap: int, target: np.ndarray) -> list[int]:
    """Boundaries (piece indices, 0 and n included) splitting the line into runs whose least
    fall fits in `cap` cm and whose length stays under the run's drawn target."""
    bounds, fall, run_len = [0], 0, 0.0
    for k in range(len(need)):
        r = len(bounds) - 1
        if run_len > 0 and (fall + need[k] > cap or run_len + lengths[k] > target[r]):
            bounds.append(k)
            fall, run_len = 0, 0.0
        fall += int(need[k])
        run_len += float(lengths[k])
    bounds.append(len(need))
    return bounds


def gravity_profile(lengths: np.ndarray, g: np.random.Generator, *, depth: Span, slope: Span,
                    head_share: float) -> tuple[np.ndarray, np.ndarray]:
    """(depths in cm at the n + 1 boundaries, flow along the line's direction? per piece) of a
    gravity sewer along one line cut into pieces of `lengths` metres.

    The line is split into runs of whole pieces; runs alternate in direction, so that the depth
    is one continuous zigzag along the line: a head (shallow, drawn in the shallowest
    `head_share` of the range) where two runs part, an outfall (deep) where two meet, as sewers
    on a flat street drain both ways to the cross streets. Every piece falls at least slope.lo
    of its length in its direction of flow, and every depth stays in the range."""
    n = len(lengths)
    lo, hi = _cm(depth.lo), _cm(depth.hi)
    head_hi = lo + int(head_share * (hi - lo))
    cap = hi - head_hi  # the most a run may fall from its deepest possible head
    # Least fall per piece in whole cm (rounded up: never under the minimum slope); a piece
    # longer than the range allows (an offset curve outside a bend) is held to it.
    need = np.minimum(np.ceil(slope.lo * 100.0 * lengths - 1e-9).astype(np.int64), cap)
    run_cap = cap / (slope.lo * 100.0)
    bounds = _runs(need, lengths, cap, g.uniform(min(run_cap, 200.0), run_cap, n + 1))
    m = len(bounds) - 1
    forward = np.empty(m, dtype=bool)
    forward[0] = g.random() < 0.5
    forward[1:] = forward[0] ^ (np.arange(1, m) % 2 == 1)
    # Boundary j of the runs is a head when the run after it flows forwards (or the run before
    # it flows backwards); heads get a drawn depth, outfalls the deepest that either run needs.
    at = np.zeros(m + 1, dtype=np.int64)
    is_head = np.array([forward[j] if j < m else not forward[j - 1] for j in range(m + 1)])
    at[is_head] = g.integers(lo, head_hi + 1, int(is_head.sum()))
    steeper = g.uniform(slope.lo, slope.hi, m)
    for j in np.flatnonzero(~is_head):
        want = []
        for r in (j - 1, j):  # the runs on either side
            if 0 <= r < m:
                head = r if forward[r] else r + 1
                run = slice(bounds[r], bounds[r + 1])
                extra = (steeper[r] - slope.lo) * 100.0 * float(lengths[run].sum())
                want.append(int(at[head]) + int(need[run].sum()) + max(int(extra), 0))
        at[j] = min(hi, max(want))
    out = np.empty(n + 1, dtype=np.int64)
    flow = np.empty(n, dtype=bool)
    for r in range(m):
        a, b = bounds[r], bounds[r + 1]
        head, tail = (at[r], at[r + 1]) if forward[r] else (at[r + 1], at[r])
        order = np.arange(a, b) if forward[r] else np.arange(b - 1, a - 1, -1)
        surplus = int(tail - head - need[order].sum())  # >= 0: the outfall met every need
        share = np.cumsum(lengths[order]) / lengths[order].sum()
        share[-1] = 1.0  # the whole surplus, whatever the float sum
        spread = np.diff(np.concatenate([[0], np.floor(surplus * share + 1e-9).astype(np.int64)]))
        depths = head + np.concatenate([[0], np.cumsum(need[order] + spread)])
        if forward[r]:
            out[a:b + 1] = depths
        else:
            out[a:b + 1] = depths[::-1]
        flow[a:b] = forward[r]
    return out, flow
