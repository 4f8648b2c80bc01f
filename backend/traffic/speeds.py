"""Segment speeds: what the probe engine publishes per directed segment and time window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SegmentSpeed:
    segment: int          # directed segment key (backend.traffic.network.segment_key)
    start: datetime       # window start, UTC
    end: datetime         # window end, UTC (start + 5 min for a stored bucket)
    speed_kmh: float      # space-mean: total length travelled / total traversal time
    vehicles: int         # distinct vehicles (published only when >= min_vehicles)
    traversals: int
