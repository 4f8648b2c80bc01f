"""Viewport filtering for spatial channels."""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from backend.realtime.messages import BBox, Event


@dataclass(frozen=True, slots=True)
class View:
    """A client's map view. `bbox` None means the whole map. `zoom` is kept for
    zoom-dependent thinning later; it does not filter yet."""

    bbox: BBox | None = None
    zoom: float | None = None

    def matches(self, event: Event) -> bool:
        if self.bbox is None:
            return True
        w, s, e, n = self.bbox
        if event.point is not None:
            x, y = event.point
            return w <= x <= e and s <= y <= n
        if event.bbox is not None:
            ew, es, ee, en = event.bbox
            return ew <= e and ee >= w and es <= n and en >= s
        # An event without a location (e.g. a vehicle removed) concerns every view.
        return True


EVERYWHERE = View()


CELL_DEG = 0.05  # about 5 km: a console zoomed to a town covers a handful of cells
MAX_CELLS = 64   # a view wider than this is checked against every event instead


M = TypeVar("M", bound=Hashable)


class ViewIndex(Generic[M]):
    """Which clients' views may contain a point, so that an event with a location is offered
    to those clients rather than to every subscriber of its channel (each offer still checks
    the view exactly). Views without a bbox, or wider than MAX_CELLS cells, are `wide`."""

    def __init__(self) -> None:
        self.wide: set[M] = set()
        self.cells: dict[tuple[int, int], set[M]] = {}
        self._placed: dict[M, list[tuple[int, int]] | None] = {}  # None: in `wide`

    def put(self, member: M, view: View) -> None:
        self.remove(member)
        cells = _cells(view.bbox) if view.bbox is not None else None
        if cells is None:
            self.wide.add(member)
        else:
            for cell in cells:
                self.cells.setdefault(cell, set()).add(member)
        self._placed[member] = cells

    def remove(self, member: M) -> None:
        if member not in self._placed:
            return
        cells = self._placed.pop(member)
        if cells is None:
            self.wide.discard(member)
            return
        for cell in cells:
            members = self.cells[cell]
            members.discard(member)
            if not members:
                del self.cells[cell]

    def near(self, x: float, y: float) -> set[M] | tuple[()]:
        """The members whose view may contain (x, y), besides the `wide` ones."""
        return self.cells.get((math.floor(x / CELL_DEG), math.floor(y / CELL_DEG)), ())


def _cells(bbox: BBox) -> list[tuple[int, int]] | None:
    w, s, e, n = bbox
    x0, x1 = math.floor(w / CELL_DEG), math.floor(e / CELL_DEG)
    y0, y1 = math.floor(s / CELL_DEG), math.floor(n / CELL_DEG)
    if (x1 - x0 + 1) * (y1 - y0 + 1) > MAX_CELLS:
        return None
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
