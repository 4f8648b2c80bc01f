"""Viewport filtering for spatial channels."""

from __future__ import annotations

from dataclasses import dataclass

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
